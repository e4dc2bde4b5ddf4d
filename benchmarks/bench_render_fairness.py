"""Issue #22, item 3: one applicant's "edit one character, request the PDF, hang up" against
another applicant's PDF, through the app, the render queue and one render consumer.

Run:  .venv/bin/python benchmarks/bench_render_fairness.py [--cycles 8]

A's report has every narrative at its limit and every table at its row limit (the slowest
render); B's is the complete report of the tests.  First B's PDF alone (cold, after an edit),
then A runs its cycles (an edit, a request that answers at once, a second's pause) and B asks
for its PDF after A's second cycle, waiting for it.  Printed: B alone, B during A's cycles, and
how many of A's renders finished before B's (the promise: at most one).  Timings depend on the
machine; the count does not.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from common import PRELUDE, ROOT

SETUP = PRELUDE + r'''
from factories import ALLOY, LINXIANG, make_user, submission_of
from fill import complete_answers
with app.app_context():
    from flask_migrate import upgrade
    from wizard.ops.seed import seed_all
    upgrade(); seed_all()
    make_user("a", "applicant", cluster=ALLOY)
    make_user("b", "applicant", cluster=LINXIANG)
    submission_of(ALLOY).preliminary_answers = full_report()
    submission_of(LINXIANG).preliminary_answers = complete_answers("preliminary")
    db.session.commit()
'''

MEASURE = PRELUDE + r'''
import os, subprocess, threading
from factories import ALLOY, LINXIANG, AuthActions, submission_of
from wizard.pdf.queue import results_of
from wizard.pdf.report import render_queue
app.config["RENDER_QUEUE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "queue.db")
consumer = subprocess.Popen([sys.executable, "-m", "wizard.pdf.worker", "--queue", app.config["RENDER_QUEUE_URL"]],
                            stderr=subprocess.DEVNULL)
a, b = app.test_client(), app.test_client()
AuthActions(a).login("a"); AuthActions(b).login("b")

def edit(cluster, n):
    with app.app_context():
        sub = submission_of(cluster)
        sub.preliminary_answers = {**sub.preliminary_answers, "industry_field": "合金材料" + "。" * n}
        db.session.commit()

def download_b():
    app.config["PDF_WAIT_SECONDS"] = 600
    t = time.perf_counter()
    assert b.get("/applicant/report.pdf").status_code == 200
    return time.perf_counter() - t

def renders():
    with app.app_context():
        return results_of(render_queue(), app.config["PDF_CACHE_FOLDER"])

assert a.get("/report/blank/final.pdf").status_code in (200, 202)  # the render process starts
while not renders():
    time.sleep(0.1)
edit(LINXIANG, 1)
alone = download_b()
edit(LINXIANG, 2)
before = len(renders())
result = {}
def b_waits():
    result["contended"] = download_b()
    result["b_done"] = len(renders())
for i in range(%(cycles)d):
    edit(ALLOY, i)
    app.config["PDF_WAIT_SECONDS"] = 0
    a.get("/applicant/report.pdf")  # hangs up at once
    if i == 1:
        waiter = threading.Thread(target=b_waits); waiter.start(); time.sleep(0.2)
    time.sleep(1)
waiter.join()
b_id = None
with app.app_context():
    b_id = submission_of(LINXIANG).id
done = renders()[before:]
b_at = next(i for i, r in enumerate(done) if r.key.startswith(f"draft-{b_id}-"))
a_before = sum(1 for r in done[:b_at] if not r.key.startswith(f"draft-{b_id}-"))
a_seconds = [r.seconds for r in done if not r.key.startswith(f"draft-{b_id}-")]
print(json.dumps({"b_alone": alone, "b_contended": result["contended"], "a_renders_before_b": a_before,
                  "a_render_seconds": a_seconds}))
consumer.terminate(); consumer.wait()
'''


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return done.stdout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        params = {"root": ROOT, "tests": os.path.join(ROOT, "tests"), "tmp": tmp, "cycles": args.cycles}
        run_python(SETUP % params)
        out = json.loads(run_python(MEASURE % params).strip().splitlines()[-1])
    print(f"B's PDF alone {out['b_alone']:.2f} s; during A's {args.cycles} cycles {out['b_contended']:.2f} s; "
          f"A's renders finished before B's: {out['a_renders_before_b']} (promise: at most 1); "
          f"A's renders that finished took {', '.join(f'{s:.1f}' for s in out['a_render_seconds'])} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
