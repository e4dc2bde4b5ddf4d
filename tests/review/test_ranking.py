"""The ranking arithmetic (wizard/review/ranking.py) against tables computed by hand, as a person
would on paper, then properties that hold for any table (Hypothesis).

SDs are sample SDs (n − 1), as ranking.py documents."""
import math
import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from wizard.review.ranking import (
    FLAG_CUT,
    FLAG_OUTLIER,
    FLAG_TIE,
    FLAG_TIE_CUT,
    NOTE_FALLBACK,
    Entry,
    competition_ranks,
    normalised_scores,
    official_score,
    outlier_experts,
    rank_round,
)


def table(rows, category="advanced"):
    """{name: {expert: total}} → entries (submission ids 1, 2, … in the order written)."""
    return [Entry(i, name, category, totals) for i, (name, totals) in enumerate(rows.items(), 1)]


def by_name(rows):
    return {r.name: r for r in rows}


# --- the official score ----------------------------------------------------------------

def test_trimmed_mean_of_five_drops_one_highest_and_one_lowest():
    #   totals          sorted               dropped    kept            trimmed mean   mean
    #   78 85 90 75 95  75 78 85 90 95       75, 95     78 85 90        253 / 3 = 84.33  423 / 5 = 84.60
    #   90 90 70 80 75  70 75 80 90 90       70, one 90 75 80 90        245 / 3 = 81.67  405 / 5 = 81.00
    rows = by_name(rank_round(table({
        "甲": {1: 78, 2: 85, 3: 90, 4: 75, 5: 95},
        "乙": {1: 90, 2: 90, 3: 70, 4: 80, 5: 75},
    }), method="trimmed", panel_size=5)["advanced"])
    assert (rows["甲"].score, rows["甲"].mean, rows["甲"].note) == (84.33, 84.60, "")
    assert (rows["乙"].score, rows["乙"].mean, rows["乙"].note) == (81.67, 81.00, "")
    assert rows["甲"].flags == [] and rows["乙"].flags == []  # 5 scores, none beyond 2 SD of the others
    assert (rows["甲"].rank, rows["乙"].rank) == (1, 2)


def test_trimmed_mean_with_four_scores_falls_back_to_the_mean_and_says_so():
    #   totals       n   method used   score
    #   80 85 90 70  4   mean          325 / 4 = 81.25   (trimmed would be (80 + 85) / 2 = 82.50)
    [row] = rank_round(table({"甲": {1: 80, 2: 85, 3: 90, 4: 70}}), method="trimmed", panel_size=5)["advanced"]
    assert row.score == 81.25 and row.n_scores == 4
    assert row.note == NOTE_FALLBACK == "评分不足 5 个，按算术平均"
    assert "评分不足 5 份" in row.flags  # fewer than the panel's 5


def test_plain_mean_method_uses_all_five():
    assert official_score([80, 85, 90, 70, 95], "mean") == (84.0, "")
    assert official_score([], "trimmed") == (None, "")


def test_a_report_without_scores_is_listed_last_without_a_rank():
    rows = rank_round(table({"无评分": {}, "甲": {1: 80}}), method="trimmed", panel_size=5)["advanced"]
    assert [r.name for r in rows] == ["甲", "无评分"]
    assert (rows[1].rank, rows[1].score, rows[1].rank_best, rows[1].normalised) == (None, None, None, None)
    assert rows[1].flags == ["评分不足 5 份"]


# --- normalisation -------------------------------------------------------------------------

def test_a_lenient_and_a_harsh_expert_do_not_move_the_normalised_ranking():
    # Two fair experts (1, 2), a lenient one (3: +15) and a harsh one (4: −15); each scores two reports.
    #            expert 1  expert 2  expert 3 (lenient)  expert 4 (harsh)   raw mean
    #   A          80                                      65               72.5
    #   B          70                  85                                   77.5
    #   C                    80        95                                   87.5
    #   D                    70                            55               62.5
    # Raw means rank C > B > A > D: the lenient expert lifts B above A, though expert 1 scored A higher.
    # Each expert has two totals, so each total's z = ±(d / 2) / (d / √2) = ±1/√2 = ±0.7071:
    #   A: +0.7071, +0.7071 · B: −, − · C: +, + · D: −, −
    # Pool: 80 70 80 70 85 95 65 55, mean 600 / 8 = 75;
    #   squares of deviations 25+25+25+25+100+400+100+400 = 1100, sample SD √(1100/7) = 12.5357
    # normalised: A = C = 75 + 0.7071 × 12.5357 = 83.86 ; B = D = 75 − 8.8641 = 66.14
    entries = table({"A": {1: 80, 4: 65}, "B": {1: 70, 3: 85}, "C": {2: 80, 3: 95}, "D": {2: 70, 4: 55}})
    rows = by_name(rank_round(entries, method="mean", panel_size=2)["advanced"])
    assert [rows[n].mean for n in "ABCD"] == [72.5, 77.5, 87.5, 62.5]
    assert [rows[n].rank for n in "CBAD"] == [1, 2, 3, 4]  # the official (raw) ranking, moved by expert 3
    assert [rows[n].normalised for n in "ABCD"] == [83.86, 66.14, 83.86, 66.14]
    # by the normalised score A and C (the better reports of every expert) lead, as the fair experts say
    assert min(rows["A"].normalised, rows["C"].normalised) > max(rows["B"].normalised, rows["D"].normalised)


def test_normalisation_pools_both_categories_and_an_expert_with_one_score_counts_as_the_pool_mean():
    # expert 1: 80 (X, advanced) and 70 (Y, sme): mean 75, SD √50 = 7.0711, z = ±0.7071
    # expert 2: 60 (X) only: no spread, z = 0 → the pool mean
    # pool 80 60 70: mean 70, sample SD √(200/2) = 10
    #   X = (70 + 0.7071 × 10 + 70) / 2 = 73.54 ;  Y = 70 − 7.0711 = 62.93
    entries = [Entry(1, "X", "advanced", {1: 80, 2: 60}), Entry(2, "Y", "sme", {1: 70})]
    assert normalised_scores(entries) == {1: 73.54, 2: 62.93}
    ranked = rank_round(entries, method="mean", panel_size=1)
    assert list(ranked) == ["advanced", "sme"]  # ranked apart
    assert ranked["advanced"][0].normalised == 73.54 and ranked["sme"][0].normalised == 62.93
    assert ranked["advanced"][0].rank == ranked["sme"][0].rank == 1


def test_an_expert_giving_every_report_the_same_total_counts_as_the_pool_mean():
    # expert 2 gives 90 twice (SD 0, z = 0); expert 1: 80, 60 (z = ±0.7071)
    # pool 80 60 90 90: mean 80, sample SD √((0 + 400 + 100 + 100) / 3) = √200 = 14.1421
    #   P = (80 + 10 + 80) / 2 = 85.00 ; Q = (80 − 10 + 80) / 2 = 75.00
    assert normalised_scores(table({"P": {1: 80, 2: 90}, "Q": {1: 60, 2: 90}})) == {1: 85.0, 2: 75.0}


# --- leave one expert out, and the cut line ---------------------------------------------------

LOO = {"P": {1: 90, 2: 70, 3: 80}, "Q": {1: 78, 2: 82, 3: 79}, "R": {1: 60, 2: 95, 3: 70}}
# method: mean (3 scores)     P       Q       R       ranks
#   all three experts         80.00   79.67   75.00   P 1  Q 2  R 3
#   without expert 1          75.00   80.50   82.50   R 1  Q 2  P 3
#   without expert 2          85.00   78.50   65.00   P 1  Q 2  R 3
#   without expert 3          80.00   80.00   77.50   P 1  Q 1  R 3   (P and Q tie)
#   range (best … worst)      1 … 3   1 … 2   1 … 3


def test_leave_one_expert_out_rank_range():
    rows = by_name(rank_round(table(LOO), method="mean", panel_size=3)["advanced"])
    assert [(rows[n].score, rows[n].rank) for n in "PQR"] == [(80.0, 1), (79.67, 2), (75.0, 3)]
    assert [(rows[n].rank_best, rows[n].rank_worst) for n in "PQR"] == [(1, 3), (1, 2), (1, 3)]


def test_a_range_across_the_cut_line_is_flagged():
    # top 2 advance: P (1 … 3) and R (1 … 3) straddle the line between 2 and 3; Q (1 … 2) stays above it
    rows = by_name(rank_round(table(LOO), method="mean", panel_size=3, cuts={"advanced": 2})["advanced"])
    assert [FLAG_CUT in rows[n].flags for n in "PQR"] == [True, False, True]
    # top 1: every range crosses it
    rows = by_name(rank_round(table(LOO), method="mean", panel_size=3, cuts={"advanced": 1})["advanced"])
    assert all(FLAG_CUT in rows[n].flags for n in "PQR")
    # a cut for the other category changes nothing here
    rows = by_name(rank_round(table(LOO), method="mean", panel_size=3, cuts={"sme": 1})["advanced"])
    assert not any(FLAG_CUT in rows[n].flags for n in "PQR")


# --- ties --------------------------------------------------------------------------------------

def test_equal_scores_share_a_rank_and_are_shown_as_ties():
    #   report   mean     rank
    #   甲       90.00    1
    #   乙       85.00    2 (并列)
    #   丙       85.00    2 (并列)
    #   丁       80.00    4
    rows = rank_round(table({"丁": {1: 80}, "丙": {1: 85}, "乙": {1: 85}, "甲": {1: 90}}),
                      method="mean", panel_size=1)["advanced"]
    assert [(r.name, r.rank, r.tied) for r in rows] == [
        ("甲", 1, False), ("丙", 2, True), ("乙", 2, True), ("丁", 4, False)]
    assert [FLAG_TIE in r.flags for r in rows] == [False, True, True, False]


def test_scores_equal_at_the_two_decimals_shown_tie():
    # 85.004 and 84.996 both print as 85.00: a tie, not a silent order
    rows = rank_round(table({"甲": {1: 85.004}, "乙": {1: 84.996}}), method="mean", panel_size=1)["advanced"]
    assert [r.score for r in rows] == [85.0, 85.0] and [r.rank for r in rows] == [1, 1]
    assert competition_ranks({1: 85.006, 2: 84.996}) == {1: 1, 2: 2}  # 85.01 vs 85.00: no tie


def test_a_tie_straddling_the_cut_line_is_flagged():
    # ranks 1, 2, 2 and the top 2 advance: the two at rank 2 compete for one place
    rows = rank_round(table({"甲": {1: 90}, "乙": {1: 85}, "丙": {1: 85}}), method="mean", panel_size=1,
                      cuts={"advanced": 2})["advanced"]
    assert [FLAG_TIE_CUT in r.flags for r in rows] == [False, True, True]
    rows = rank_round(table({"甲": {1: 90}, "乙": {1: 85}, "丙": {1: 85}}), method="mean", panel_size=1,
                      cuts={"advanced": 3})["advanced"]
    assert not any(FLAG_TIE_CUT in r.flags for r in rows)


# --- outliers -----------------------------------------------------------------------------------

def test_a_total_more_than_two_sd_from_the_others_is_flagged():
    # expert 5 gives 50; the others 80 82 78 80: mean 80, sample SD √(8/3) = 1.63, 2 SD = 3.27; |50 − 80| = 30
    # expert 1 (80): others 82 78 80 50, mean 72.5, SD √(683/3) = 15.09; |80 − 72.5| = 7.5 < 30.2 — not flagged
    totals = {1: 80, 2: 82, 3: 78, 4: 80, 5: 50}
    assert outlier_experts(totals) == [5]
    [row] = rank_round(table({"甲": totals}), method="trimmed", panel_size=5)["advanced"]
    assert row.outliers == [5] and FLAG_OUTLIER in row.flags
    assert row.score == 79.33  # 50 and 82 dropped: (78 + 80 + 80) / 3


def test_evenly_spread_totals_are_not_outliers():
    # 100: others 70 80 90, mean 80, SD 10, 2 SD = 20 = |100 − 80|: not more than 2 SD
    assert outlier_experts({1: 70, 2: 80, 3: 90, 4: 100}) == []


def test_when_the_others_agree_exactly_the_sd_counts_as_half_a_point():
    # others 80 80 80: SD 0 → 0.5, so 2 SD = 1 point
    assert outlier_experts({1: 80, 2: 80, 3: 80, 4: 81}) == []
    assert outlier_experts({1: 80, 2: 80, 3: 80, 4: 81.5}) == [4]
    assert outlier_experts({1: 80, 2: 80, 3: 80, 4: 40}) == [4]


def test_no_outlier_test_with_fewer_than_three_others():
    assert outlier_experts({1: 90, 2: 70, 3: 30}) == []


# --- properties ------------------------------------------------------------------------------

TOTAL = st.integers(0, 200).map(lambda n: n / 2)  # 0 … 100 in steps of 0.5
PANELS = st.lists(st.dictionaries(st.integers(1, 8), TOTAL, max_size=6), min_size=1, max_size=12)


def entries_of(panels):
    return [Entry(i, f"集群{i:02d}", "advanced" if i % 3 else "sme", totals) for i, totals in enumerate(panels, 1)]


@settings(max_examples=150, deadline=None)
@given(PANELS, st.sampled_from(["trimmed", "mean"]), st.integers(1, 12))
def test_ranks_are_a_permutation_with_ties_inside_the_range(panels, method, cut):
    ranked = rank_round(entries_of(panels), method=method, panel_size=5, cuts={"advanced": cut, "sme": cut})
    for rows in ranked.values():
        scored = [r for r in rows if r.score is not None]
        assert all(r.rank is None for r in rows if r.score is None)
        # competition ranking: rank = 1 + the number of strictly better scores
        for r in scored:
            assert r.rank == 1 + sum(1 for o in scored if o.score > r.score)
            assert r.tied == any(o is not r and o.score == r.score for o in scored)
            assert r.rank_best <= r.rank <= r.rank_worst <= len(scored)
            assert (FLAG_CUT in r.flags) == (r.rank_best <= cut < r.rank_worst)
        assert [r.rank for r in scored] == sorted(r.rank for r in scored)


@settings(max_examples=100, deadline=None)
@given(PANELS, st.integers(1, 8), st.integers(-20, 20), st.sampled_from([0.5, 1, 2]))
def test_shifting_or_stretching_one_experts_totals_keeps_the_normalised_order(panels, expert, shift, factor):
    entries = entries_of(panels)
    before = normalised_scores(entries)
    moved = [Entry(e.submission_id, e.name, e.category,
                   {x: (t * factor + shift if x == expert else t) for x, t in e.totals.items()}) for e in entries]
    after = normalised_scores(moved)
    ids = [e.submission_id for e in entries if e.totals]
    for a in ids:
        for b in ids:
            # the order by the (unrounded) z-mean survives; rounding may only merge near neighbours
            if before[a] - before[b] > 0.05 + 0.01 * abs(shift):
                assert after[a] >= after[b] - 0.01, (a, b)


@settings(max_examples=100, deadline=None)
@given(st.lists(TOTAL, min_size=5, max_size=9))
def test_trimmed_mean_lies_between_the_dropped_extremes(totals):
    score, note = official_score(totals, "trimmed")
    assert min(totals) <= score <= max(totals) and note == ""
    assert math.isclose(score, statistics.fmean(sorted(totals)[1:-1]))
