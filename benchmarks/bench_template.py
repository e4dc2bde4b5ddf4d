"""The applicant's Excel template (填报模板): importing a full report, median seconds and peak RSS.

A setup process migrates a fresh SQLite database in a temporary instance folder and fills one
complete preliminary report at its limits (every table at its row limit, every narrative at its
character limit), then writes that submission's template to a file and fills every cell of it
again with openpyxl (changed figures, so the import has changes to preview).  A second, fresh
process (like a web worker) imports it as the upload does: the file checks (zip, content types,
sizes), the reading of every sheet and the validation by the web forms (preview_import).
Run alone with `python benchmarks/bench_template.py`; `make bench` runs it from benchmarks/run.py.
"""
import statistics
import sys

from common import PRELUDE, last_json, setup_and_measure

TARGET_SECONDS = 1.0

SETUP = PRELUDE + r'''
from io import BytesIO
from openpyxl import load_workbook
from fill import complete_answers
from wizard.exports.template import template_xlsx
from wizard.models import local_now
from wizard.report.definition import get_report
with app.app_context():
    from flask_migrate import upgrade
    from wizard.ops.seed import seed_all
    upgrade(); seed_all()
    sub = db.session.get(Submission, 1)
    a = complete_answers("preliminary", sub.cluster.category)
    para = "集群坚持创新驱动，推进产业链协同发展，取得显著成效。" * 100
    for f in get_report("preliminary").fields:
        if f.kind == "longtext":
            a[f.key] = para[: (f.max_chars or 5000)]
        if f.kind == "table":
            a[f.key] = [dict(a[f.key][0]) for _ in range(f.max_rows)]
    sub.preliminary_answers = a
    db.session.commit()
    wb = load_workbook(BytesIO(template_xlsx(sub, "preliminary", local_now())))
    changed = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            if isinstance(row[0].value, str) and row[0].value.startswith("f:"):
                for cell in row[2:]:
                    if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                        cell.value = cell.value + 1
                        changed += 1
    wb.save(%(tmp)r + "/template.xlsx")
    print(json.dumps({"changed_cells": changed}))
'''

MEASURE = PRELUDE + r'''
from wizard.exports.template_import import preview_import
with app.app_context():
    sub = db.session.get(Submission, 1)
    data = open(%(tmp)r + "/template.xlsx", "rb").read()
    times = []
    for _ in range(%(runs)d):
        db.session.expire_all()
        t = time.perf_counter()
        preview = preview_import(data, sub, "preliminary")
        times.append(time.perf_counter() - t)
    print(json.dumps({"times": times, "bytes": len(data), "problems": len(preview.problems),
                      "changes": len(preview.changes),
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def bench_template(runs=5):
    out, result = setup_and_measure(SETUP, MEASURE, runs=runs)
    setup = last_json(out)
    secs = result["times"]
    median = statistics.median(secs)
    print(f"template import: a full report ({result['bytes'] / 1e3:.0f} KB .xlsx, {setup['changed_cells']} figures "
          f"changed → {result['changes']} fields in the preview, {result['problems']} problems), median "
          f"{median:.3f} s over {runs} runs (first {secs[0]:.3f}, min {min(secs):.3f}, max {max(secs):.3f}, "
          f"target {TARGET_SECONDS:.0f} s, ratio {median / TARGET_SECONDS:.2f}), peak RSS {result['maxrss_mb']:.0f} MB")
    return result


if __name__ == "__main__":
    bench_template(runs=2 if "--quick" in sys.argv[1:] else 5)  # make bench ARGS=--quick
