"""Bulk onboarding (issue #26): importing 1,000 accounts from the account workbook, preview and
confirm, with the password hashing measured on its own.

A setup process migrates a fresh SQLite database and writes an account workbook of 1,000 rows
(county reviewers of every county- and city-level government, applicants of every cluster,
experts).  A second, fresh process (like a web worker) previews it (the shared file checks, the
reading, every row checked against the database) and confirms it (accounts created with one-time
passwords, audit rows, the commit), several runs on a fresh copy of the database each.  Then the
hashing alone: the one-time passwords' method (ONE_TIME_PASSWORD_HASH_METHOD, what the import
uses) and the production method for passwords people choose (PASSWORD_HASH_METHOD, scrypt), and
the account letters (账号通知书) PDF per page.
Run alone with `python benchmarks/bench_accounts.py`; `make bench` runs it from benchmarks/run.py.
"""
import statistics
import sys

from common import PRELUDE, last_json, setup_and_measure

TARGET_SECONDS = 10.0
ACCOUNTS = 1000

SETUP = PRELUDE + r'''
import shutil
from io import BytesIO
from openpyxl import load_workbook
from wizard.exports.accounts import template_workbook
with app.app_context():
    from flask_migrate import upgrade
    from wizard.ops.seed import seed_all
    upgrade(); seed_all()
    regions = [r.full_name for r in db.session.execute(db.select(Region).where(Region.level.in_(("city", "county")))).scalars()]
    cities = [r.name for r in db.session.execute(db.select(Region).filter_by(level="city")).scalars()]
    clusters = list(db.session.execute(db.select(Cluster.name)).scalars())
    wb = load_workbook(BytesIO(template_workbook()))
    ws = wb["账号"]
    for i in range(%(n)d):
        if i %% 10 < 6:
            row = [f"gov-{i:04d}", "政府审核人", "", regions[i %% len(regions)], "", "", ""]
        elif i %% 10 < 9:
            row = [f"org-{i:04d}", "申报单位", clusters[i %% len(clusters)], "", "", "", ""]
        else:
            row = [f"exp-{i:04d}", "评审专家", "", "", "湖南大学", cities[i %% len(cities)], "两类均可"]
        row += [f"联系人{i}", f"139{i:08d}", f"user{i}@example.cn"]
        for c, v in enumerate(row, start=1):
            ws.cell(row=i + 2, column=c, value=v)
    wb.save(%(tmp)r + "/accounts.xlsx")
    db.session.remove()
    db.engine.dispose()  # the last connection closed folds the WAL into b.db
shutil.copy(%(tmp)r + "/b.db", %(tmp)r + "/pristine.db")
print(json.dumps({"rows": %(n)d}))
'''

MEASURE = PRELUDE + r'''
import os, shutil
from werkzeug.security import generate_password_hash
from wizard.accounts import generate_password
from wizard.exports.accounts import apply_import, preview_import
from wizard.pdf.letters import letter_for, letters_pdf
data = open(%(tmp)r + "/accounts.xlsx", "rb").read()
previews, confirms = [], []
for _ in range(%(runs)d):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        for suffix in ("-wal", "-shm"):
            if os.path.exists(%(tmp)r + "/b.db" + suffix):
                os.remove(%(tmp)r + "/b.db" + suffix)
        shutil.copy(%(tmp)r + "/pristine.db", %(tmp)r + "/b.db")
        t = time.perf_counter()
        preview = preview_import(data, 10 * 1024 * 1024)
        previews.append(time.perf_counter() - t)
        t = time.perf_counter()
        preview = preview_import(data, 10 * 1024 * 1024)  # the confirm checks the kept file again
        issued = apply_import(preview, None, "bench")
        db.session.commit()
        confirms.append(time.perf_counter() - t)
        assert len(issued) == %(n)d and not preview.problems
        with app.test_request_context():
            letters = [letter_for(u, p) for u, p in issued[:50]]  # plain data, kept for the letters below
with app.app_context():
    one_time, production = app.config["ONE_TIME_PASSWORD_HASH_METHOD"], app.config["PASSWORD_HASH_METHOD"]
    t = time.perf_counter()
    for _ in range(200):
        generate_password_hash(generate_password(), method=one_time)
    one_time_each = (time.perf_counter() - t) / 200
    t = time.perf_counter()
    for _ in range(5):
        generate_password_hash("a-chosen-password", method=production)
    production_each = (time.perf_counter() - t) / 5
    with app.test_request_context():
        letters_pdf(letters[:1])  # fonts loaded once per process
        t = time.perf_counter()
        pdf = letters_pdf(letters)
        letters_each = (time.perf_counter() - t) / len(letters)
print(json.dumps({"previews": previews, "confirms": confirms, "one_time": one_time, "production": production,
                  "one_time_each": one_time_each, "production_each": production_each,
                  "letters_each": letters_each, "bytes": len(data),
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def bench_accounts(runs=3):
    _, r = setup_and_measure(SETUP, MEASURE, runs=runs, n=ACCOUNTS)
    preview, confirm = statistics.median(r["previews"]), statistics.median(r["confirms"])
    total = preview + confirm
    hashing = ACCOUNTS * r["one_time_each"]
    print(f"account import: {ACCOUNTS} accounts ({r['bytes'] / 1e3:.0f} KB .xlsx), preview median {preview:.2f} s, "
          f"confirm median {confirm:.2f} s (checks again + create + commit), together {total:.2f} s "
          f"(target {TARGET_SECONDS:.0f} s, ratio {total / TARGET_SECONDS:.2f}), peak RSS {r['maxrss_mb']:.0f} MB")
    print(f"  password hashing: one-time ({r['one_time']}) {r['one_time_each'] * 1e3:.1f} ms each → "
          f"{hashing:.2f} s for {ACCOUNTS} ({hashing / confirm:.0%} of the confirm); production "
          f"({r['production']}) {r['production_each'] * 1e3:.0f} ms each → {ACCOUNTS * r['production_each']:.0f} s "
          f"for {ACCOUNTS} if the import used it")
    print(f"  account letters PDF: {r['letters_each'] * 1e3:.0f} ms per page → "
          f"{ACCOUNTS * r['letters_each']:.0f} s for {ACCOUNTS} letters")
    return r


if __name__ == "__main__":
    bench_accounts(runs=2 if "--quick" in sys.argv[1:] else 3)  # make bench ARGS=--quick
