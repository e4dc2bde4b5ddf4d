"""`make bench`: the report PDF and the evidence binding, medians of repeated runs.

Each run: a setup process migrates a fresh SQLite database, fills a full
preliminary report (every table at its row limit, every narrative at its limit,
long 5.2 parts) and stores 10 evidence PDFs of 20 pages through the web layer's
storage (wizard.evidence).  A second, fresh process (like a web worker: the app
loaded, nothing cached) renders the report and binds the evidence; its peak RSS
is the rendering process's memory.  Then benchmarks/bench_evidence.py measures
the merge library alone, benchmarks/bench_summary.py the summary workbook (汇总表)
of 1,000 complete submissions, benchmarks/bench_template.py the import of a full
Excel template, benchmarks/bench_review.py the expert-review ranking and workbook at 500
reports × 5 experts, benchmarks/bench_pdf.py the PDF through the rendering pool (cold,
cached, with 200 evidence pages, at the evidence limits), and benchmarks/load.py the
pages under load (docs/benchmarks.md).  `make bench ARGS=--quick`: every part with 2 runs
instead of 5, the PDF without the evidence-limits case and the load benchmark at N = 100 only.
A part that fails (raises, or exits non-zero) fails `make bench`, after the other parts ran.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

from common import HERE, PRELUDE, ROOT, run_python

SETUP = PRELUDE + r'''
from factories import attach
with app.app_context():
    from flask_migrate import upgrade
    from wizard.ops.seed import seed_all
    upgrade(); seed_all()
    sub = db.session.get(Submission, 1)
    sub.preliminary_answers = full_report()
    db.session.commit()
    slots = ["listed_enterprises", "national_champions", "standards", "platforms", "green_certified"]
    for i in range(10):
        attach(sub, slots[i %% len(slots)], name=f"证明{i}.pdf", pages=20)
'''

RENDER = PRELUDE + r'''
import io, os
from pypdf import PdfReader
from wizard.evidence.storage import files_of
from wizard.pdf.engine import render_pdf
from wizard.pdf.render import bind
from wizard.pdf.report import report_html, report_request
with app.app_context(), app.test_request_context():
    sub = db.session.get(Submission, 1)
    t = time.perf_counter()
    pdf = render_pdf(report_html(sub, "preliminary"), static_root=app.static_folder)
    dt = time.perf_counter() - t
    rss_report = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    job = report_request(sub, "preliminary").make_job()  # the job the app queues: its evidence, stamp, watermark
    t = time.perf_counter()
    bound = bind(pdf, job)
    dt_bind = time.perf_counter() - t
    inputs = len(pdf) + sum(os.path.getsize(os.path.join(app.config["UPLOAD_FOLDER"], r.stored_name))
                            for r in files_of(sub, "preliminary"))
    print(json.dumps({"seconds": dt, "pages": len(PdfReader(io.BytesIO(pdf)).pages), "maxrss_mb": rss_report,
                      "bind_seconds": dt_bind, "bound_pages": len(PdfReader(io.BytesIO(bound)).pages),
                      "maxrss_bound_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "size_ratio": len(bound) / inputs}))
'''


def bench_report(runs=5):
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            params = {"root": ROOT, "tests": os.path.join(ROOT, "tests"), "tmp": tmp}
            run_python(SETUP % params)
            results.append(json.loads(run_python(RENDER % params).strip().splitlines()[-1]))
    secs = [r["seconds"] for r in results]
    print(f"report PDF: {results[0]['pages']} pages, median render {statistics.median(secs):.2f} s "
          f"(min {min(secs):.2f}, max {max(secs):.2f}, target 3 s, ratio {statistics.median(secs) / 3:.2f}), "
          f"peak RSS of the rendering process {max(r['maxrss_mb'] for r in results):.0f} MB (target 200 MB)")
    binds = [r["bind_seconds"] for r in results]
    print(f"report + evidence: {results[0]['bound_pages']} pages ({results[0]['bound_pages'] - results[0]['pages']} "
          f"stamped evidence pages from 10 uploads), median binding {statistics.median(binds):.3f} s "
          f"(target 1.5 s, ratio {statistics.median(binds) / 1.5:.2f}), output/input size "
          f"{results[0]['size_ratio']:.3f}, peak RSS after binding {max(r['maxrss_bound_mb'] for r in results):.0f} MB")


# Every part after the report PDF, in order; each takes --quick (fewer runs, or N = 100 only for load.py).
PARTS = ["bench_evidence.py", "bench_summary.py", "bench_template.py", "bench_review.py",
         "bench_accounts.py",  # 1,000 accounts
         "bench_pdf.py", "load.py"]


def main(argv) -> int:
    """Run every part (a failing part does not stop the others); exit 1 naming the parts that failed."""
    quick = "--quick" in argv
    failed = []
    try:
        bench_report(runs=2 if quick else 5)
    except Exception as exc:  # noqa: BLE001 - reported below, and the run fails
        print(f"report PDF benchmark failed: {exc!r}", flush=True)
        failed.append("run.py (report PDF)")
    for part in PARTS:
        sys.stdout.flush()
        code = subprocess.run([sys.executable, os.path.join(HERE, part)] + (["--quick"] if quick else [])).returncode
        if code:
            failed.append(f"{part} (exit {code})")
    if failed:
        print("make bench FAILED: " + ", ".join(failed), flush=True)
        return 1
    print(f"make bench: all {len(PARTS) + 1} parts finished" + (" (--quick)" if quick else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
