"""The report PDF as a user gets it: through the web app, the render queue and one render consumer
(wizard/pdf/queue.py, worker.py).

Run:  .venv/bin/python benchmarks/bench_pdf.py [--runs 3] [--quick] [--case NAME] [--idle SECONDS]

Each run: a setup process migrates a fresh SQLite database and fills the full report (every
table at its row limit, every narrative with a limit at it: benchmarks/common.full_report), with
its evidence:

* ``report``: the preliminary report (附件1, a draft: with the watermark), no evidence;
* ``final report``: the final round's (附件2) of a finalist, no evidence;
* ``narratives at cap``: the preliminary report with every narrative at its cap: its limit, and
  where the form sets none (4.1, the five parts of 5.2) the technical cap, 30,000 characters;
* ``200 pages``: 10 evidence PDFs of 20 pages (text pages, as the other benchmarks);
* ``at the limits`` (not with --quick): as much evidence as the upload limits allow (config:
  20 MB a file, 300 MB a submission), 15 PDFs of about 19.5 MB, each 20 A4 pages scanned at
  200 dpi of random pixels (JPEG: nothing compresses or deduplicates them), 300 pages in all.

A second, fresh process (a page worker: the app loaded, nothing cached) logs in as the
applicant, starts a render consumer (python -m wizard.pdf.worker, a child of this process; the
first render, which starts its render process, is timed apart), then downloads the report PDF
cold (nothing cached: the request prepares the HTML and queues it, the consumer's render
process renders and binds it, the response sends the file) and then ten times cached.  With
``--idle S`` the consumer has waited S seconds on an empty queue before the cold download, as it
has between most users' requests.  The cold time is split: ``prepare`` (the request until its
job is made: the HTML), ``enqueue``, ``hand-off`` (until the render process has the job: the
consumer's poll of the queue and its bookkeeping), ``render`` (the render process, binding and
writing the file included) and ``serve`` (the file in place until the response is sent: the
request's poll and the send).  Peak RSS is read from /proc (VmHWM) for every process of the
tree: the page worker, the consumer and its render process.  Targets (issues 16 and 25): cold
under 1.5 s, every narrative at its cap under 6 s, cached under 50 ms, 200 evidence pages under
4 s, no process over 300 MB.  Timings depend on the machine: medians of the runs.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from common import PRELUDE, ROOT

TARGETS = {"cold": 1.5, "cached": 0.050, "cold_200": 4.0, "cap": 6.0, "rss_mb": 300}

SETUP = PRELUDE + r'''
import io, os


def filled(round_, fill):
    """The full report (common.full_report: every narrative with a limit at it, the others 2,600
    characters), or with every narrative at its cap: its limit, or where the form sets none the
    technical cap (Field.hard_max_chars, 30,000 characters)."""
    from wizard.report.definition import get_report
    answers = full_report(round_)
    if fill == "cap":
        text = "集群坚持创新驱动，推进产业链协同发展，取得显著成效。" * 1200
        for f in get_report(round_).fields:
            if f.kind == "longtext":
                answers[f.key] = text[: f.max_chars or f.hard_max_chars]
    return answers
from PIL import Image
from factories import ALLOY, attach, make_user, pdf_bytes
with app.app_context():
    from flask_migrate import upgrade
    from wizard.ops.seed import seed_all
    upgrade(); seed_all()
    make_user("bench-applicant", "applicant", cluster=ALLOY)
    sub = db.session.execute(db.select(Submission).join(Cluster).filter(Cluster.name == ALLOY)).scalar_one()
    sub.preliminary_answers = filled("preliminary", %(fill)r)
    if %(round)r == "final":  # a finalist edits 附件2 (its draft, with the watermark)
        sub.state = "finalist"
        sub.final_answers = filled("final", %(fill)r)
    db.session.commit()
    slots = ["listed_enterprises", "national_champions", "standards", "platforms", "green_certified"]
    if %(evidence)r == "200":
        for i in range(10):
            attach(sub, slots[i %% len(slots)], name=f"证明{i}.pdf", data=pdf_bytes(20))
    elif %(evidence)r == "limit":
        limit = app.config["UPLOAD_MAX_FILE_BYTES"]
        for i in range(app.config["UPLOAD_MAX_SUBMISSION_BYTES"] // limit):
            # 20 scanned A4 pages at 200 dpi, random pixels: nothing compresses or deduplicates them
            pages = [Image.frombytes("RGB", (1654, 2339), os.urandom(1654 * 2339 * 3)) for _ in range(20)]
            for quality in (30, 28, 26, 24, 22, 20):
                buf = io.BytesIO()
                pages[0].save(buf, "PDF", save_all=True, append_images=pages[1:], resolution=200, quality=quality)
                if buf.tell() < limit * 0.98:
                    break
            attach(sub, slots[i %% len(slots)], name=f"扫描件{i}.pdf", data=buf.getvalue())
    folder = app.config["UPLOAD_FOLDER"]
    names = os.listdir(folder) if os.path.isdir(folder) else []
    print(json.dumps({"id": sub.id, "evidence_bytes": sum(os.path.getsize(os.path.join(folder, n)) for n in names)}))
'''

MEASURE = PRELUDE + r'''
import io, os, subprocess
from factories import AuthActions
from wizard.pdf.queue import results_of
from wizard.pdf.report import render_queue

def result_of(key):
    """The consumer's record of the render of ``key`` (written after the file: waited for)."""
    for _ in range(1200):
        with app.app_context():
            found = results_of(render_queue(), app.config["PDF_CACHE_FOLDER"], key)
        if found:
            return found[-1]
        time.sleep(0.05)
    raise SystemExit(f"no render result recorded for {key}")

def peaks():
    """VmHWM (peak RSS, MB) of this process and every process below it."""
    kids = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                kids.setdefault(int(fh.read().rsplit(")", 1)[1].split()[1]), []).append(int(pid))
        except OSError:
            pass
    out, todo = {}, [os.getpid()]
    while todo:
        pid = todo.pop()
        todo += kids.get(pid, [])
        try:
            with open(f"/proc/{pid}/status") as fh:
                status = dict(line.split(":", 1) for line in fh if ":" in line)
            out[f"{status['Name'].strip()}:{pid}"] = int(status["VmHWM"].split()[0]) / 1024
        except (OSError, KeyError):
            pass
    return out

def download(path):
    """The response streamed and counted, as a browser would save it (never held whole here)."""
    r = client.get(path, buffered=False)
    size = sum(len(chunk) for chunk in r.response)
    r.close()
    return r.status_code, size


import wizard.pdf.queue as render_queue_module
enqueued = []
_enqueue = render_queue_module.enqueue


def timed_enqueue(*args, **kwargs):
    """When the request had its job ready (its HTML made) and when it was on the queue."""
    enqueued.append(time.time())
    _enqueue(*args, **kwargs)
    enqueued.append(time.time())


render_queue_module.enqueue = timed_enqueue


def split(asked, done, result):
    """A cold download's time, in seconds: the request's part (the HTML), the hand-off to a render
    process (the consumer's poll, its bookkeeping), the render (binding and writing included), and
    from the file in place to the response sent (the request's poll, the send)."""
    if not getattr(result, "started_at", 0) or len(enqueued) < 2:
        return {}
    return {"prepare": enqueued[-2] - asked, "enqueue": enqueued[-1] - enqueued[-2],
            "hand-off": result.started_at - enqueued[-1], "render": result.written_at - result.started_at,
            "serve": done - result.written_at}


app.config["PDF_WAIT_SECONDS"] = 600
app.config["RENDER_QUEUE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "bench-queue.db")
consumer = subprocess.Popen([sys.executable, "-m", "wizard.pdf.worker", "--queue", app.config["RENDER_QUEUE_URL"]],
                            stderr=subprocess.DEVNULL)
client = app.test_client()
AuthActions(client).login("bench-applicant")
t = time.perf_counter()
r = client.get("/report/blank/final.pdf")  # the consumer's first render (starts its render process)
first = time.perf_counter() - t
assert r.status_code == 200, r.status_code
done = set(os.listdir(app.config["PDF_CACHE_FOLDER"]))
if %(idle)r:  # the consumer idle for a while, as between most users' requests
    time.sleep(%(idle)r)
t, cpu, asked = time.perf_counter(), time.process_time(), time.time()
status, size = download("/applicant/report.pdf")
cold, cold_cpu, done_at = time.perf_counter() - t, time.process_time() - cpu, time.time()
assert status == 200, status
cached = []
for _ in range(10):
    t = time.perf_counter()
    status, size = download("/applicant/report.pdf")
    cached.append(time.perf_counter() - t)
    assert status == 200
[key] = [n[:-4] for n in set(os.listdir(app.config["PDF_CACHE_FOLDER"])) - done if n.endswith(".pdf")]
render = result_of(key)
cold_split = split(asked, done_at, render)
count = "import sys; from pypdf import PdfReader; print(len(PdfReader(sys.argv[1]).pages))"
pages = int(subprocess.run([sys.executable, "-c", count, os.path.join(app.config["PDF_CACHE_FOLDER"], key + ".pdf")],
                           capture_output=True, text=True, check=True).stdout)
with app.app_context():  # the applicant edits a text: the next download is cold, its page count known
    sub = db.session.get(Submission, %(sub_id)d)
    if %(round)r == "final":
        sub.final_answers = {**sub.final_answers, "industry_field": "合金材料（修改后）"}
    else:
        sub.preliminary_answers = {**sub.preliminary_answers, "industry_field": "合金材料（修改后）"}
    db.session.commit()
done = set(os.listdir(app.config["PDF_CACHE_FOLDER"]))
t = time.perf_counter()
status, _ = download("/applicant/report.pdf")
edited = time.perf_counter() - t
assert status == 200
[key2] = [n[:-4] for n in set(os.listdir(app.config["PDF_CACHE_FOLDER"])) - done if n.endswith(".pdf")]
print(json.dumps({"first": first, "cold": cold, "edited": edited, "edited_cpu": result_of(key2).cpu_seconds, "cold_request_cpu": cold_cpu, "cached": statistics.median(cached),
                  "pages": pages, "split": cold_split, "render_seconds": render.seconds, "render_cpu": render.cpu_seconds,
                  "render_pid": render.pid, "size": render.size, "peaks": peaks(), "worker_pid": os.getpid()}))
consumer.terminate()
consumer.wait()
'''


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter; its standard output (its error output if it fails)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return done.stdout


def run_case(evidence: str, round_: str = "preliminary", fill: str = "full", idle: float = 0.0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        params = {"root": ROOT, "tests": os.path.join(ROOT, "tests"), "tmp": tmp, "evidence": evidence,
                  "round": round_, "fill": fill, "idle": idle}
        setup = json.loads(run_python(SETUP % params).strip().splitlines()[-1])
        params["sub_id"] = setup["id"]
        result = json.loads(run_python("import statistics\n" + MEASURE % params).strip().splitlines()[-1])
        return {**result, "evidence_bytes": setup["evidence_bytes"]}


def report(name: str, runs: list, cold_target: float) -> dict:
    cold = statistics.median(r["cold"] for r in runs)
    cached = statistics.median(r["cached"] for r in runs)
    first = statistics.median(r["first"] for r in runs)
    edited = statistics.median(r["edited"] for r in runs)
    edited_cpu = statistics.median(r["edited_cpu"] for r in runs)
    cpu = statistics.median(r["render_cpu"] + r["cold_request_cpu"] for r in runs)  # the request's and the render's
    peak = max(max(r["peaks"].values()) for r in runs)
    names = {str(runs[0]["render_pid"]): "renderer", str(runs[0]["worker_pid"]): "page worker"}
    roles = ", ".join(f"{names.get(k.split(':')[1], k.split(':')[0])} {v:.0f}"
                      for k, v in sorted(runs[0]["peaks"].items(), key=lambda kv: -kv[1]))
    goal = f"target {cold_target:g} s, ratio {cold / cold_target:.2f}; " if cold_target else "no target; "
    splits = [r["split"] for r in runs if r.get("split")]
    parts = " + ".join(f"{k} {statistics.median(p[k] for p in splits):.2f}" for k in splits[0]) if splits else "n/a"
    print(f"{name:<14} {runs[0]['pages']:>5} pages, evidence {runs[0]['evidence_bytes'] / 2**20:6.1f} MB | "
          f"cold {cold:6.2f} s (CPU {cpu:.2f} s; {goal}"
          f"render {statistics.median(r['render_seconds'] for r in runs):.2f} s in process {runs[0]['render_pid']}; "
          f"split, s: {parts}) | "
          f"cold after an edit {edited:.2f} s (render CPU {edited_cpu:.2f} s) | "
          f"cached {cached * 1000:5.1f} ms (target 50, ratio {cached / TARGETS['cached']:.2f}) | "
          f"fresh worker's first PDF {first:.2f} s | peak RSS {peak:.0f} MB (target 300; by process, MB: {roles})")
    return {"case": name, "cold": cold, "cold_cpu": cpu, "splits": splits, "edited": edited, "cached": cached, "first": first,
            "peak_rss_mb": peak, "pages": runs[0]["pages"], "peaks": runs[0]["peaks"]}


def only(case: str) -> list:
    return [c for c in CASES if c[0] == case] if case else CASES


#: name, evidence, cold target, round, fill (see ``filled``)
CASES = [("report", "none", TARGETS["cold"], "preliminary", "full"),
         ("final report", "none", TARGETS["cold"], "final", "full"),
         ("narratives at cap", "none", TARGETS["cap"], "preliminary", "cap"),
         ("200 pages", "200", TARGETS["cold_200"], "preliminary", "full"),
         ("at the limits", "limit", None, "preliminary", "full")]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="skip the evidence at the upload limits")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--case", choices=[c[0] for c in CASES], help="only this case")
    ap.add_argument("--idle", type=float, default=0.0,
                    help="seconds the consumer waits idle before the cold download (as between users' requests)")
    args = ap.parse_args()
    cases = [c for c in only(args.case) if not (args.quick and c[1] == "limit")]
    out = []
    for name, evidence, target, round_, fill in cases:
        runs = [run_case(evidence, round_, fill, args.idle) for _ in range(args.runs if evidence != "limit" else 1)]
        out.append(report(name, runs, target))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
