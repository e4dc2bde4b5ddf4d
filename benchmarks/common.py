"""What every benchmark script shares: where the project is, the start of each measured
process (a fresh interpreter with the app created on a temporary SQLite instance) and how
such a process is run.  Scripts fill PRELUDE's %(tmp)r with their instance folder."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PRELUDE = r'''
import json, resource, sys, time, logging
sys.path.insert(0, %(root)r); sys.path.insert(0, %(tests)r)
logging.disable(logging.INFO)
from wizard import create_app
from wizard.extensions import db
from wizard.models import Cluster, Edition, Region, Snapshot, Submission, User, utcnow
app = create_app({"INSTANCE_PATH": %(tmp)r, "SECRET_KEY": "b", "SQLALCHEMY_DATABASE_URI": "sqlite:///%(tmp)s/b.db"})


def full_report(round_="preliminary"):
    """The measured report: complete, every table at its row limit, every narrative at its limit."""
    from fill import complete_answers
    from wizard.report.definition import get_report
    a = complete_answers(round_)
    para = "集群坚持创新驱动，推进产业链协同发展，取得显著成效。" * 100
    for f in get_report(round_).fields:
        if f.kind == "longtext":
            a[f.key] = para[: (f.max_chars or 5000)]
        if f.kind == "table":
            a[f.key] = [dict(a[f.key][0]) for _ in range(f.max_rows)]
    return a
'''


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter; its standard output."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def last_json(output: str):
    """The JSON object a measured process prints last."""
    return json.loads(output.strip().splitlines()[-1])


def setup_and_measure(setup: str, measure: str, **params):
    """Run ``setup`` then ``measure`` (PRELUDE scripts) in fresh interpreters on one temporary
    instance; the standard output of the setup and the JSON the measurement printed last."""
    with tempfile.TemporaryDirectory() as tmp:
        params = {"root": ROOT, "tests": os.path.join(ROOT, "tests"), "tmp": tmp, **params}
        out = run_python(setup % params)
        return out, last_json(run_python(measure % params))
