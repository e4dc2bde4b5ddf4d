"""`make bench`: the report PDF and the evidence merge, medians of repeated runs.

Report: a full preliminary report (every table at its row limit, every narrative
at its limit, long 5.2 parts), rendered in a fresh process each time so the cache
does not help; peak RSS of the rendering process.  Then benchmarks/bench_evidence.py.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = r'''
import json, resource, sys, time
sys.path.insert(0, %(root)r); sys.path.insert(0, %(tests)r)
from wizard import create_app
from wizard.extensions import db
from wizard.models import Submission
from wizard.report.definition import get_report
from fill import complete_answers
app = create_app({"INSTANCE_PATH": %(tmp)r, "SECRET_KEY": "b", "SQLALCHEMY_DATABASE_URI": "sqlite:///%(tmp)s/b.db"})
with app.app_context():
    from flask_migrate import upgrade
    from wizard.seed import seed_all
    import logging; logging.disable(logging.INFO)
    upgrade(); seed_all()
    sub = db.session.get(Submission, 1)
    a = complete_answers("preliminary")
    para = "集群坚持创新驱动，推进产业链协同发展，取得显著成效。" * 100
    for f in get_report("preliminary").fields:
        if f.kind == "longtext":
            a[f.key] = para[: (f.max_chars or 5000)]
        if f.kind == "table":
            row = a[f.key][0]
            a[f.key] = [dict(row) for _ in range(f.max_rows)]
    sub.preliminary_answers = a
    db.session.commit()
    from wizard.pdf.report import report_html
    from wizard.pdf.engine import render_pdf
    from wizard.pdf.fonts import register_cjk_fonts
    register_cjk_fonts()
    with app.test_request_context():
        html = report_html(sub, "preliminary")
        t = time.perf_counter()
        pdf = render_pdf(html, static_root=app.static_folder)
        dt = time.perf_counter() - t
    from pypdf import PdfReader
    import io
    print(json.dumps({"seconds": dt, "pages": len(PdfReader(io.BytesIO(pdf)).pages),
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def bench_report(runs=5):
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            code = CHILD % {"root": ROOT, "tests": os.path.join(ROOT, "tests"), "tmp": tmp}
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    secs = [r["seconds"] for r in results]
    print(f"report PDF: {results[0]['pages']} pages, median render {statistics.median(secs):.2f} s "
          f"(min {min(secs):.2f}, max {max(secs):.2f}, target 3 s, ratio {statistics.median(secs) / 3:.2f}), "
          f"peak RSS of the process {max(r['maxrss_mb'] for r in results):.0f} MB (target 200 MB)")


if __name__ == "__main__":
    bench_report()
    subprocess.run([sys.executable, os.path.join(HERE, "bench_evidence.py")], check=False)
