"""Expert review at 500 reports × 5 experts: the ranking (what the ranking page and the paper
read: review/results.round_ranking) and the round's workbook (exports/review.review_xlsx), each
the median of repeated runs in a fresh process; then, once, the 评审结果汇总表 PDF of the larger
category and one expert's 专家评分表 PDF (for information: they are rendered on request).

A setup process migrates a fresh SQLite database, adds 500 clusters (two thirds 先进制造业集群,
one third 中小企业特色产业集群) in the 初赛 state, 25 experts, and 5 submitted score sheets per
report (2,500: every dimension scored, a comment on each, a 总体评价), each expert scoring 100.
Called by benchmarks/run.py (`make bench`); run alone with `python benchmarks/bench_review.py`.
"""
import statistics
import sys

from common import PRELUDE, setup_and_measure

N, PANEL, EXPERTS = 500, 5, 25
TARGET_SECONDS = 1.0

SETUP = PRELUDE + r'''
import random
from wizard.models import ReviewAssignment
from wizard.review.scheme import scheme_for
with app.app_context():
    from flask_migrate import upgrade
    from wizard.ops.seed import seed_all
    upgrade(); seed_all()
    rng = random.Random(21)
    edition = db.session.execute(db.select(Edition).filter_by(is_current=True)).scalar_one()
    scheme = scheme_for(edition, "preliminary")
    counties = db.session.execute(db.select(Region).filter_by(level="county").order_by(Region.code)).scalars().all()
    cities = db.session.execute(db.select(Region).filter_by(level="city").order_by(Region.code)).scalars().all()
    experts = [User(username=f"bench-expert-{i}", display_name=f"专家{i:02d}", role="expert", password_hash="x",
                    employer=f"某大学{i}", expert_categories="both", region_id=cities[i %% len(cities)].id)
               for i in range(%(experts)d)]
    db.session.add_all(experts)
    db.session.add(User(username="bench-admin", role="admin", password_hash="x"))
    subs = []
    for i in range(%(n)d):
        cluster = Cluster(name=f"基准测试产业集群{i:04d}", category="sme" if i %% 3 == 0 else "advanced",
                          region=counties[i %% len(counties)], designation="bench")
        sub = Submission(cluster=cluster, edition=edition, state="preliminary")
        db.session.add_all([cluster, sub])
        subs.append(sub)
    db.session.flush()
    now = utcnow()
    for i, sub in enumerate(subs):
        quality = rng.uniform(0.5, 0.95)
        for j in range(%(panel)d):
            expert = experts[(i * %(panel)d + j) %% len(experts)]
            lean = (j - 2) * 0.02
            scores = {d["key"]: round(min(d["max"], max(0, d["max"] * (quality + lean + rng.uniform(-0.08, 0.08)))) * 2) / 2
                      for d in scheme.dimensions}
            db.session.add(ReviewAssignment(
                submission_id=sub.id, expert_id=expert.id, round="preliminary", status="active", scores=scores,
                comments={d["key"]: "该项材料翔实，数据可信，建议进一步说明增长来源。" for d in scheme.dimensions},
                overall="总体评价：集群基础较好，特色鲜明，建议入围。", total=float(sum(scores.values())),
                saved_at=now, submitted_at=now))
    scheme.frozen_at = now
    db.session.commit()
'''

MEASURE = PRELUDE + r'''
from wizard.exports.review import review_xlsx
from wizard.models import local_now
from wizard.review.results import round_ranking
with app.app_context():
    edition = db.session.execute(db.select(Edition).filter_by(is_current=True)).scalar_one()
    rank_times, xlsx_times, rank_cpu, xlsx_cpu = [], [], [], []
    for _ in range(%(runs)d):
        db.session.expire_all()
        t, c = time.perf_counter(), time.process_time()
        ranking = round_ranking(edition, "preliminary", {"advanced": 100, "sme": 50})
        rank_times.append(time.perf_counter() - t)
        rank_cpu.append(time.process_time() - c)
        db.session.expire_all()
        t, c = time.perf_counter(), time.process_time()
        ranking = round_ranking(edition, "preliminary")
        data = review_xlsx(ranking, local_now())
        xlsx_times.append(time.perf_counter() - t)
        xlsx_cpu.append(time.process_time() - c)
    rows = {c: len(r) for c, r in ranking.rows_by_category.items()}
    print(json.dumps({"rank": rank_times, "xlsx": xlsx_times, "rank_cpu": rank_cpu, "xlsx_cpu": xlsx_cpu, "rows": rows, "scores": len(ranking.assignments),
                      "bytes": len(data), "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''

PAPER = PRELUDE + r'''
from wizard.pdf.review import ranking_pdf, score_sheet_pdf
from wizard.review.sheets import expert_sheet, ranking_sheet
with app.app_context(), app.test_request_context():
    edition = db.session.execute(db.select(Edition).filter_by(is_current=True)).scalar_one()
    expert = db.session.execute(db.select(User).filter_by(username="bench-expert-0")).scalar_one()
    t = time.perf_counter()
    ranking = ranking_pdf(ranking_sheet(edition, "preliminary", "advanced"))
    t_rank = time.perf_counter() - t
    t = time.perf_counter()
    sheet = expert_sheet(edition, "preliminary", expert)
    scores = score_sheet_pdf(sheet)
    t_sheet = time.perf_counter() - t
    print(json.dumps({"ranking_pdf": t_rank, "score_sheet_pdf": t_sheet, "sheet_reports": len(sheet.items)}))
'''


def spread(secs, cpu):
    """Wall-clock figures, and the CPU seconds (what the work takes alone on a busy machine)."""
    median = statistics.median(secs)
    return (f"median {median:.3f} s (min {min(secs):.3f}, max {max(secs):.3f}, target {TARGET_SECONDS:.0f} s, "
            f"ratio {median / TARGET_SECONDS:.2f}; CPU median {statistics.median(cpu):.3f} s)")


def bench_review(runs=5, paper=True):
    _, result = setup_and_measure(SETUP, MEASURE, n=N, panel=PANEL, experts=EXPERTS, runs=runs)
    rows = ", ".join(f"{k} {v}" for k, v in result["rows"].items())
    print(f"review ranking: {N} reports ({rows}) × {PANEL} experts ({result['scores']} scores, pool of {EXPERTS}), "
          f"round_ranking with leave-one-out ranges, {spread(result['rank'], result['rank_cpu'])}")
    print(f"review workbook: raw scores + ranking sheets, {result['bytes'] / 1e6:.2f} MB .xlsx, ranking included, "
          f"{spread(result['xlsx'], result['xlsx_cpu'])}; peak RSS {result['maxrss_mb']:.0f} MB")
    if paper:
        _, out = setup_and_measure(SETUP, PAPER, n=N, panel=PANEL, experts=EXPERTS)
        print(f"review paper (information, one run): 评审结果汇总表 of the advanced category {out['ranking_pdf']:.2f} s; "
              f"专家评分表 of one expert ({out['sheet_reports']} reports, a page each) {out['score_sheet_pdf']:.2f} s")
    return result


if __name__ == "__main__":
    bench_review(runs=2 if "--quick" in sys.argv[1:] else 5)  # make bench ARGS=--quick
