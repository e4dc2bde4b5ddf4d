"""The load benchmark's record (issues #20 and #25): the tables docs/benchmarks.md quotes are
printed from a result file (benchmarks/table.py), and the open loop's "nothing lost" check
(benchmarks/load_check.py) finds an acknowledged autosave the database does not hold."""
import json
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARKS = os.path.join(ROOT, "benchmarks")
sys.path.insert(0, BENCHMARKS)

from factories import csrf_from  # noqa: E402
from load_check import check_saves  # noqa: E402
from load_data import PASSWORD, bench_app, build  # noqa: E402
from table import BEGIN, END, main as table_main, markdown  # noqa: E402


def small_result() -> dict:
    """A result file as benchmarks/load.py writes it, one size, a few operations."""
    op = {"requests": 600, "errors": 0, "seconds": 5.0, "generator": "wrk", "client_cpu": 0.05}
    return {
        "when": "2026-12-07T12:00:00", "host": "bench-host", "cpus": 2, "python": "3.11",
        "args": {"seconds": 5.0, "concurrency": 8}, "verdicts": ["open loop: nothing lost"],
        "sizes": [{
            "n": 2000, "bare_rps": 4321.0, "bare_p50_ms": 1.7,
            "server": {"config": "wizard/ops/gunicorn_conf.py", "worker_class": "gthread-like", "workers": 4,
                       "threads": 16},
            "operations": {
                "bare_before": dict(op, rps=4321.0, p50_ms=1.7, p99_ms=4.2, ratio=1.0, sql=None),
                "bare_after": dict(op, rps=4100.0, p50_ms=1.8, p99_ms=4.9, ratio=0.949, sql=None),
                "step indicators": dict(op, rps=271.4, p50_ms=28.6, p99_ms=61.3, ratio=0.0628, sql=7),
                "autosave POST (indicators)": dict(op, rps=310.0, p50_ms=8.1, p99_ms=20.5, ratio=0.0717, sql=8,
                                                   generator="Python", client_cpu=0.41),
            },
            "rss_hwm": {"workers_mb": 233.4, "others_mb": 218.0},
            "worker_memory": {"start": [{"pid": 1, "rss_mb": 151.2, "cpu_s": 0.4},
                                        {"pid": 2, "rss_mb": 149.8, "cpu_s": 0.3}],
                              "end": [{"pid": 1, "rss_mb": 212.0, "cpu_s": 40.0},
                                      {"pid": 2, "rss_mb": 208.6, "cpu_s": 39.0}]},
            "open_loop": {
                "seconds": 120.0, "applicants": 500, "reviewers": 5, "admins": 2, "pdf_every_s": 5.0,
                "pdfs_asked": 24, "pdf_ready_s": [2.5, 3.0, 4.5], "pdf_unfinished": 0, "errors": [],
                "peak_worker_rss_mb": 230.0, "peak_other_rss_mb": 218.0, "client_cpu": 0.31,
                "send_lag_ms": {"events": 9100, "p50": 0.4, "p99": 3.2, "max": 9.9},
                "operations": {
                    "autosave POST": {"requests": 3000, "errors": 0, "seconds": 120.0, "rps": 25.0,
                                      "p50_ms": 12.0, "p99_ms": 97.5, "max_ms": 140.0},
                    "review page": {"requests": 500, "errors": 2, "seconds": 120.0, "rps": 4.2,
                                    "p50_ms": 40.0, "p99_ms": 180.25, "max_ms": 260.0},
                },
                "saves_check": {"applicants": 500, "attempts": 3000, "acknowledged": 3000, "unacknowledged": 0,
                                "problems": [], "lost": 0, "nothing_lost": True},
            },
        }],
    }


def test_the_tables_hold_the_figures_of_the_result_file(tmp_path, capsys):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(small_result()), encoding="utf-8")

    assert table_main([str(path)]) == 0
    out = capsys.readouterr().out

    assert "| step indicators | 271 | 28.6 | 61.3 | 0.063 | 7 | 0 | wrk | 0.05 |" in out
    assert "| autosave POST (indicators) | 310 | 8.1 | 20.5 | 0.072 | 8 | 0 | Python | 0.41 |" in out
    assert "bare route: 4321 req/s" in out
    assert "4 workers × 16 threads (wizard/ops/gunicorn_conf.py)" in out
    # each page worker's memory after its first requests and at the end
    assert "| 2,000 | 2 | 151, 150 | 212, 209 | 233 | 218 |" in out
    # the open loop: p99 of every page and save against issue #25's 150 ms
    assert "| autosave POST | 3000 | 25.0 | 12.0 | 97.5 | 140.0 | 0 | met |" in out
    assert "| review page | 500 | 4.2 | 40.0 | 180.2 | 260.0 | 2 | NOT met |" in out
    assert "send lag (due → sent) p50 0.4 ms, p99 3.2 ms" in out and "CPU 0.31 cores" in out
    assert "3000 autosaves acknowledged" in out and "**nothing lost**" in out
    assert "- open loop: nothing lost" in out  # the verdicts, as the file has them


def test_the_earlier_records_still_print():
    with open(os.path.join(BENCHMARKS, "results", "reference.json"), encoding="utf-8") as fh:
        reference = json.load(fh)
    text = markdown(reference, "benchmarks/results/reference.json")
    assert text.startswith("From `benchmarks/results/reference.json`.")
    assert f"bare route: {reference['sizes'][0]['bare_rps']:.0f} req/s" in text
    assert "2 sync workers" in text


def test_update_replaces_only_the_generated_block(tmp_path):
    result = tmp_path / "result.json"
    result.write_text(json.dumps(small_result()), encoding="utf-8")
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Benchmarks\n\nBefore.\n\n{BEGIN}\nold table\n{END}\n\nAfter.\n", encoding="utf-8")

    table_main([str(result), "--update", str(doc)])

    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nBefore.\n\n" + BEGIN + "\n")
    assert text.endswith(END + "\n\nAfter.\n")
    assert "old table" not in text
    assert "| step indicators | 271 |" in text


def test_the_tables_in_docs_are_those_of_the_named_result_file():
    """Every figure of the generated block in docs/benchmarks.md comes from the committed result
    file it names: regenerating it from that file gives the same text."""
    with open(os.path.join(ROOT, "docs", "benchmarks.md"), encoding="utf-8") as fh:
        doc = fh.read()
    assert BEGIN in doc and END in doc
    block = doc.split(BEGIN, 1)[1].split(END, 1)[0].lstrip("\n")
    source = re.match(r"From `([^`]+)`\.", block)
    if source is None:
        pytest.skip("docs/benchmarks.md holds no recorded run yet")
    with open(os.path.join(ROOT, source.group(1)), encoding="utf-8") as fh:
        assert markdown(json.load(fh), source.group(1)) == block


# --- nothing lost -------------------------------------------------------------------------

def autosave(client, value: str, version: int) -> int:
    """The autosave static/js/wizard.js sends for one changed figure; the version it answers."""
    token = csrf_from(client.get("/applicant/step/indicators"))
    r = client.post("/applicant/step/indicators",
                    data={"csrf_token": token, "version": str(version), "output_total-y1": value,
                          "output_total-y2": "125", "fields": "output_total"},
                    headers={"X-Requested-With": "fetch", "Accept": "application/json"})
    assert r.status_code == 200 and r.get_json()["ok"], r.get_data(as_text=True)[:300]
    return r.get_json()["version"]


def attempt(value, version, acked=True):
    return {"username": "bench-app-0000", "field": "output_total-y1", "value": value, "version": version,
            "acked": acked}


def test_the_check_finds_an_acknowledged_save_the_database_lacks(tmp_path):
    instance = str(tmp_path / "bench")
    info = build(instance, 5)
    assert info["applicants"][0]["state"] == "draft"
    client = bench_app(instance).test_client()
    token = csrf_from(client.get("/login"))
    assert client.post("/login", data={"csrf_token": token, "username": "bench-app-0000",
                                       "password": PASSWORD}).status_code == 302
    first = autosave(client, "500001", 1)
    second = autosave(client, "500002", first)

    # what the server acknowledged is what the database holds
    result = check_saves(instance, [attempt("500001", first), attempt("500002", second)])
    assert result["nothing_lost"] and result["acknowledged"] == 2 and result["problems"] == []

    # a save acknowledged after those, that the database does not hold: lost
    result = check_saves(instance, [attempt("500001", first), attempt("500002", second),
                                    attempt("500003", second + 1)])
    assert not result["nothing_lost"] and result["lost"] == 1
    assert "500003" in result["problems"][0] and "500002" in result["problems"][0]

    # two acknowledged saves with the same version: one overwrote the other
    result = check_saves(instance, [attempt("500001", second), attempt("500002", second)])
    assert not result["nothing_lost"]
    assert f"versions [{second}] acknowledged for two saves each" in result["problems"][0]

    # a save whose answer never came may or may not be stored: not counted as lost
    result = check_saves(instance, [attempt("500001", first), attempt("500002", None, acked=False)])
    assert result["nothing_lost"] and result["unacknowledged"] == 1
