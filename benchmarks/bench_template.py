"""The applicant's Excel template (填报模板): importing a full report, and the hostile files of
issue 22 (a styles part with 420,000 formats, a shared-strings part with 1.27 million strings),
each within the size limits: seconds and memory.

A setup process migrates a fresh SQLite database in a temporary instance folder and fills one
complete preliminary report at its limits (every table at its row limit, every narrative at its
character limit), then writes that submission's template to a file and fills every cell of it
again with openpyxl (changed figures, so the import has changes to preview); the hostile files
are built from it by tests/security/xlsx_hostile.py.  For each file a fresh process (like a web
worker: the app loaded, one template already imported) previews the import as the upload does
(preview_import: the file checks and counting, the reading of every sheet in a short-lived
process, the validation by the web forms).  Memory:
the worker's RSS growth (peak and kept) and the reading process's peak RSS (its VmHWM, which the
reader reports: the children's ru_maxrss would count the worker's pages at the fork), which
together are what the upload costs the machine.  "heaviest" is the file that fills every bound
of the counting at once (tests/security/xlsx_hostile.heaviest_accepted).
Run alone with `python benchmarks/bench_template.py`; `make bench` runs it from benchmarks/run.py.
"""
import os
import statistics
import sys
import tempfile

from common import PRELUDE, ROOT, last_json, run_python

TARGET_SECONDS = 1.0  # the full template; any file the limits accept: 2 s (issue 22)
FILES = ("template", "heaviest", "styles_bomb", "strings_bomb")

SETUP = PRELUDE + r'''
from io import BytesIO
from openpyxl import load_workbook
from security.xlsx_hostile import heaviest_accepted, strings_bomb, styles_bomb
from wizard.exports.template import sheet_plans, template_xlsx
from wizard.exports.template_import import bounds
from wizard.models import local_now
with app.app_context():
    from flask_migrate import upgrade
    from wizard.ops.seed import seed_all
    upgrade(); seed_all()
    sub = db.session.get(Submission, 1)
    sub.preliminary_answers = full_report()
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
    out = BytesIO()
    wb.save(out)
    data = out.getvalue()
    sizes = {}
    heaviest = heaviest_accepted(data, bounds(sheet_plans("preliminary", sub.cluster.category, sub.edition.years)))
    for name, content in (("template", data), ("heaviest", heaviest), ("styles_bomb", styles_bomb(data)),
                          ("strings_bomb", strings_bomb(data))):
        open(%(tmp)r + f"/{name}.xlsx", "wb").write(content)
        sizes[name] = len(content)
    print(json.dumps({"changed_cells": changed, "sizes": sizes}))
'''

MEASURE = PRELUDE + r'''
from wizard.exports.template_import import TemplateRefused, preview_import


def status_mb(key):
    with open("/proc/self/status") as fh:
        return int(fh.read().split(key + ":")[1].split()[0]) / 1024


with app.app_context():
    sub = db.session.get(Submission, 1)
    data = open(%(tmp)r + "/%(name)s.xlsx", "rb").read()
    times, outcome, reader = [], "", 0
    preview_import(open(%(tmp)r + "/template.xlsx", "rb").read(), sub, "preliminary")  # a worker that has served one
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # the peak (VmHWM) starts again from here
    base = status_mb("VmRSS")
    for _ in range(%(runs)d):
        db.session.expire_all()
        t = time.perf_counter()
        try:
            preview = preview_import(data, sub, "preliminary", 5 * 2**20)
            outcome = f"{len(preview.changes)} changes, {len(preview.problems)} problems"
            reader = max(reader, getattr(preview, "reader_peak", 0))
        except TemplateRefused as refused:
            outcome = f"refused: {refused}"
        times.append(time.perf_counter() - t)
    print(json.dumps({"times": times, "bytes": len(data), "outcome": outcome, "base_mb": base,
                      "peak_mb": status_mb("VmHWM"), "kept_mb": status_mb("VmRSS"),
                      "child_peak_mb": reader / 2**20}))
'''


def bench_template(runs=5):
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        params = {"root": ROOT, "tests": os.path.join(ROOT, "tests"), "tmp": tmp}
        setup = last_json(run_python(SETUP % params))
        for name in FILES:
            results[name] = last_json(run_python(MEASURE % dict(params, name=name,
                                                                runs=runs if name == "template" else 2)))
    for name, result in results.items():
        secs = result["times"]
        median = statistics.median(secs)
        what = {"template": f"a full report ({setup['changed_cells']} figures changed)",
                "heaviest": "the heaviest file the bounds accept (every bound filled)",
                "styles_bomb": "420,000 cell formats in xl/styles.xml",
                "strings_bomb": "1.27 million shared strings"}[name]
        print(f"template import, {what}: {result['bytes'] / 1e6:.2f} MB .xlsx, {result['outcome'][:90]}; median "
              f"{median:.3f} s over {len(secs)} runs (min {min(secs):.3f}, max {max(secs):.3f}, target "
              f"{TARGET_SECONDS if name == 'template' else 2.0:.0f} s); worker RSS {result['base_mb']:.0f} MB → peak "
              f"{result['peak_mb']:.0f} MB, kept {result['kept_mb']:.0f} MB; reading process peak "
              f"{result['child_peak_mb']:.0f} MB")
    return results


if __name__ == "__main__":
    bench_template(runs=2 if "--quick" in sys.argv[1:] else 5)  # make bench ARGS=--quick
