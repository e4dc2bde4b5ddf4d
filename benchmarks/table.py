"""The load benchmark's tables, in markdown, FROM a result file (benchmarks/load.py's JSON): the
tables docs/benchmarks.md quotes are this script's output for a committed result file, so every
figure there can be traced to the run that measured it.

    python benchmarks/table.py benchmarks/results/issue25-record.json            # print them
    python benchmarks/table.py benchmarks/results/issue25-record.json --update docs/benchmarks.md

``--update`` replaces what lies between the markers ``<!-- load-table: begin -->`` and
``<!-- load-table: end -->`` in that file (the source file's path is written above the tables).
load.py prints the same tables at the end of a run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

BEGIN, END = "<!-- load-table: begin -->", "<!-- load-table: end -->"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: issue #25: p99 of every page and save in the open loop under this
OPEN_P99_MS = 150.0


def fmt(value, spec: str = ".0f") -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    return format(value, spec)


def row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def server_line(report: dict) -> str:
    s = next((x.get("server") for x in report["sizes"] if x.get("server")), None)
    if not s:
        return "server: gunicorn, 2 sync workers (before the production config was measured)"
    threads = f" × {s['threads']} threads" if s.get("threads", 1) != 1 else ""
    return (f"server: gunicorn `{s['worker_class']}`, {s['workers']} workers{threads} ({s['config']}), "
            f"and one PDF render consumer")


def operations_table(size: dict) -> list[str]:
    lines = [f"**N = {size['n']:,}** (bare route: {fmt(size['bare_rps'])} req/s, p50 {fmt(size['bare_p50_ms'], '.1f')} ms)",
             "",
             row(["operation", "req/s", "p50 ms", "p99 ms", "ratio to bare", "SQL", "errors", "generator",
                  "generator CPU (cores)"]),
             row(["---"] + ["---:"] * 8)]
    ops = size["operations"]
    names = ["bare_before", "bare_after"] + [k for k in ops if k not in ("bare_before", "bare_after")]
    for name in names:
        r = ops.get(name)
        if r is None:
            continue
        label = {"bare_before": "bare route (before)", "bare_after": "bare route (after)"}.get(name, name)
        lines.append(row([label, fmt(r.get("rps")), fmt(r.get("p50_ms"), ".1f"), fmt(r.get("p99_ms"), ".1f"),
                          fmt(r.get("ratio"), ".3f"), fmt(r.get("sql"), "d"), fmt(r.get("errors"), "d"),
                          r.get("generator", "Python"), fmt(r.get("client_cpu"), ".2f")]))
    return lines


def memory_table(sizes: list) -> list[str]:
    lines = [row(["N", "page workers", "RSS after the first requests (MB, each worker)", "RSS at the end (MB, each)",
                  "peak of a worker (MB)", "peak of the PDF renderer (MB)"]),
             row(["---:", "---:", "---", "---", "---:", "---:"])]
    for s in sizes:
        mem = s.get("worker_memory") or {}
        start, end = mem.get("start", []), mem.get("end", [])
        hwm = s.get("rss_hwm", {})
        lines.append(row([f"{s['n']:,}", len(start) or "—", ", ".join(fmt(w["rss_mb"]) for w in start) or "—",
                          ", ".join(fmt(w["rss_mb"]) for w in end) or "—", fmt(hwm.get("workers_mb")),
                          fmt(hwm.get("others_mb"))]))
    return lines


def is_page_or_save(name: str) -> bool:
    """The operations issue #25's p99 target covers: pages and saves, not the PDF download."""
    return "PDF" not in name


def open_loop_table(n: int, ol: dict) -> list[str]:
    lines = [f"**Deadline day, open loop** (N = {n:,}): {ol['applicants']} applicants (a page every 10 s, an "
             f"autosave every 20 s), {ol.get('reviewers', '—')} county reviewers and {ol.get('admins', '—')} "
             f"administrators (a page every 10 s), one PDF every {fmt(ol.get('pdf_every_s'))} s, "
             f"{fmt(ol['seconds'])} s; latency from the moment each request was due",
             "",
             row(["operation", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors",
                  f"p99 < {OPEN_P99_MS:.0f} ms"]),
             row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---"])]
    for name, r in sorted(ol["operations"].items()):
        target = ("met" if r["p99_ms"] < OPEN_P99_MS else "NOT met") if is_page_or_save(name) else "—"
        lines.append(row([name, r["requests"], fmt(r["rps"], ".1f"), fmt(r["p50_ms"], ".1f"), fmt(r["p99_ms"], ".1f"),
                          fmt(r["max_ms"], ".1f"), r["errors"], target]))
    lines.append("")
    ready = ol.get("pdf_ready_s") or []
    if ready:
        lines.append(f"- PDFs: {len(ready)} of {ol.get('pdfs_asked', '—')} received; request → PDF median "
                     f"{ready[len(ready) // 2]:.2f} s, max {ready[-1]:.2f} s; unfinished {ol['pdf_unfinished']}")
    lag = ol.get("send_lag_ms")
    if lag:
        lines.append(f"- the client: send lag (due → sent) p50 {fmt(lag['p50'], '.1f')} ms, p99 "
                     f"{fmt(lag['p99'], '.1f')} ms, max {fmt(lag['max'], '.1f')} ms over {lag['events']} "
                     f"requests; CPU {fmt(ol.get('client_cpu'), '.2f')} cores (Python: at most 1)")
    check = ol.get("saves_check")
    if check:
        verdict = ("nothing lost" if check["nothing_lost"]
                   else f"acknowledged saves LOST for {check['lost']} applicants")
        lines.append(f"- saves: {check['acknowledged']} autosaves acknowledged ({check['unacknowledged']} not) by "
                     f"{check['applicants']} applicants, compared with the database after the run: **{verdict}**")
        lines += [f"  - {p}" for p in check["problems"][:10]]
    lines.append(f"- peak RSS: page workers {fmt(ol['peak_worker_rss_mb'])} MB, render consumer and its "
                 f"processes {fmt(ol['peak_other_rss_mb'])} MB")
    lines += [f"- error: {e}" for e in ol.get("errors", [])[:10]]
    return lines


def markdown(report: dict, source: str | None = None) -> str:
    """Every table of one result file."""
    sizes = report["sizes"]
    head = (f"Measured {report['when']} on {report.get('host', '—')} ({report.get('cpus', '—')} cores), "
            f"{server_line(report)}; {report['args'].get('seconds')} s per operation, "
            f"{report['args'].get('concurrency')} users.")
    if source:
        head = f"From `{source}`. " + head
    lines = [head, ""]
    for s in sizes:
        if s["operations"]:  # none with --open-loop-only
            lines += operations_table(s) + [""]
    lines += ["**Page workers' memory**", ""] + memory_table(sizes) + [""]
    for s in sizes:
        if s.get("open_loop"):
            lines += open_loop_table(s["n"], s["open_loop"]) + [""]
    if report.get("verdicts"):
        lines += ["**Targets**", ""] + [f"- {v}" for v in report["verdicts"]] + [""]
    return "\n".join(lines).rstrip() + "\n"


def update(doc_path: str, text: str) -> None:
    """Replace the block between the markers in ``doc_path`` with ``text``."""
    with open(doc_path, encoding="utf-8") as fh:
        doc = fh.read()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{doc_path}: the markers {BEGIN} and {END} are missing")
    before, rest = doc.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    with open(doc_path, "w", encoding="utf-8") as fh:
        fh.write(before + BEGIN + "\n" + text + END + after)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The load benchmark's markdown tables from a result file")
    parser.add_argument("result", help="a JSON file written by benchmarks/load.py")
    parser.add_argument("--update", metavar="DOC", help="replace the generated block of DOC (docs/benchmarks.md)")
    args = parser.parse_args(argv)
    with open(args.result, encoding="utf-8") as fh:
        report = json.load(fh)
    path = os.path.abspath(args.result)
    source = os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else args.result
    text = markdown(report, source)
    if args.update:
        update(args.update, text)
        print(f"{args.update}: tables regenerated from {source}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
