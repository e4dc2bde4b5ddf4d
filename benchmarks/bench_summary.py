"""The summary workbook (汇总表) of 1,000 complete submissions: median seconds and peak RSS.

A setup process migrates a fresh SQLite database in a temporary instance folder, adds 1,000
clusters spread over the counties with complete preliminary reports (half of them submitted,
with their snapshot, half drafts: both sources of answers are exercised).  A second, fresh
process (like a web worker) builds the workbook as the administrators' download does: the
filtered query, the answers, every sheet, the bytes.  Its peak RSS is that process's maximum.
Called by benchmarks/run.py (`make bench`); run alone with `python benchmarks/bench_summary.py`.
"""
import statistics
import sys

from common import PRELUDE, setup_and_measure
N = 1000
TARGET_SECONDS, TARGET_MB = 3.0, 300

SETUP = PRELUDE + r'''
from fill import complete_answers
from wizard.workflow.snapshots import answers_digest
with app.app_context():
    from flask_migrate import upgrade
    from wizard.ops.seed import seed_all
    upgrade(); seed_all()
    edition = db.session.execute(db.select(Edition).filter_by(is_current=True)).scalar_one()
    counties = db.session.execute(db.select(Region).filter_by(level="county").order_by(Region.code)).scalars().all()
    answers = {c: complete_answers("preliminary", c) for c in ("advanced", "sme")}
    admin = User(username="bench-admin", role="admin", password_hash="x")
    db.session.add(admin)
    for i in range(%(n)d):
        category = "sme" if i %% 3 == 0 else "advanced"
        cluster = Cluster(name=f"基准测试产业集群{i:04d}", category=category, region=counties[i %% len(counties)],
                          designation="bench")
        a = dict(answers[category], cluster_name=cluster.name,
                 output_total={"y1": str(100 + i), "y2": str(125 + i)})
        sub = Submission(cluster=cluster, edition=edition, state="submitted" if i %% 2 else "draft",
                         preliminary_answers=a)
        db.session.add_all([cluster, sub])
        if i %% 2:
            db.session.flush()
            db.session.add(Snapshot(submission_id=sub.id, round="preliminary", answers=a, evidence=[],
                                    digest=answers_digest(a, []), created_at=utcnow()))
    db.session.commit()
'''

MEASURE = PRELUDE + r'''
from wizard.access import filtered_submissions
from wizard.exports.summary import summary_xlsx
from wizard.models import local_now
with app.app_context():
    admin = db.session.execute(db.select(User).filter_by(username="bench-admin")).scalar_one()
    edition = db.session.execute(db.select(Edition).filter_by(is_current=True)).scalar_one()
    times = []
    for _ in range(%(runs)d):
        db.session.expire_all()
        t = time.perf_counter()
        subs = db.session.execute(filtered_submissions(admin, q="基准测试", edition_id=edition.id, answers=True)).unique().scalars().all()
        data, n = summary_xlsx(subs, "preliminary", edition, now=local_now(), filters={"q": "基准测试"})
        times.append(time.perf_counter() - t)
    print(json.dumps({"times": times, "reports": n, "bytes": len(data),
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def bench_summary(runs=5):
    _, result = setup_and_measure(SETUP, MEASURE, n=N, runs=runs)
    secs = result["times"]
    median = statistics.median(secs)
    print(f"summary workbook: {result['reports']} complete reports, {result['bytes'] / 1e6:.1f} MB .xlsx, "
          f"median {median:.2f} s over {runs} runs (min {min(secs):.2f}, max {max(secs):.2f}, "
          f"target {TARGET_SECONDS:.0f} s, ratio {median / TARGET_SECONDS:.2f}), peak RSS of the exporting process "
          f"{result['maxrss_mb']:.0f} MB (target {TARGET_MB} MB)")
    return result


if __name__ == "__main__":
    bench_summary(runs=2 if "--quick" in sys.argv[1:] else 5)  # make bench ARGS=--quick
