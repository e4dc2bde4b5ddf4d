"""The ranking of one round: pure arithmetic on the experts' submitted totals (no database, no Flask).

``rank_round(entries, method=…, panel_size=…, cuts=…)`` ranks each category (先进制造业集群 and
中小企业特色产业集群 apart) and returns, per report, the columns the administrator decides from:

official score (``score``)
    ``'trimmed'``: 去掉一个最高分和一个最低分后取平均 — the lowest and the highest total are
    dropped (one each, even when several experts gave the same total) and the rest averaged.
    It needs at least ``TRIM_MIN_SCORES`` (5) totals; with fewer the plain mean is used and
    ``Row.note`` says so.  ``'mean'``: the plain mean.  Reports without a score are not ranked.

rank, ties
    Competition ranking (1, 2, 2, 4) on the official scores rounded to 2 decimals, the
    precision every page, PDF and workbook shows: what looks equal is equal.  Tied rows share
    the rank, are marked ``tied`` and flagged 并列; their order on the page (by name) decides
    nothing.

normalised score (``normalised``)
    Each total is turned into a z-score against the expert's own totals in the round (every
    report the expert scored, both categories): z = (total − expert mean) / expert SD, mapped
    back onto the pool (every total in the round): pool mean + z × pool SD; a report's value is
    the plain mean of its mapped totals.  A lenient or a harsh expert therefore moves no
    report up or down.  Edge cases: an expert with a single total, or whose totals are all
    equal (SD 0), says nothing about how the report compares with the expert's others: z = 0,
    i.e. the total counts as the pool mean.  When the pool's SD is 0 every value is the pool
    mean.  The official score is never replaced by it: it is shown beside it.

rank range (``rank_best`` … ``rank_worst``)
    Leave one expert out: for each expert who scored in the category, that expert's totals are
    dropped everywhere, the official scores recomputed (the trimmed mean falling back to the
    mean where fewer than 5 remain) and the category ranked again.  The range spans the full
    ranking and all of these.  A report that loses its only score in one of them has no rank
    there, and that ranking does not widen its range.  With ``cuts[category] = N`` (the top N
    advance) a row whose range crosses the cut line (best ≤ N < worst) is flagged; so is a tie
    that straddles it (a shared rank ≤ N whose group runs past N).

outliers
    An expert's total more than 2 SD from the mean of the other experts' totals on that report
    (SD of the others).  It needs at least 3 other totals (4 scores): with 2 others the extremes
    of any three evenly spread totals would be flagged.  The SD is taken as no less than
    ``OUTLIER_SD_FLOOR`` (0.5, the step a score moves in): a spread finer than the form can
    express is no spread, so when the others agree exactly (SD 0) a total more than 1 point away
    from them is flagged, and one within a point is not.

Standard deviations are sample SDs (``statistics.stdev``, n − 1) throughout: a panel's totals
and an expert's totals are a sample of how they judge.  (With it, a panel whose totals are
evenly spread — 70, 80, 90, 100 — flags none of them; the population SD would flag the ends.)
An SD of fewer than 2 values is undefined: it counts as 0 (z = 0 above).  Stored values
(score, mean, normalised) are rounded to 2 decimals.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Mapping

TRIMMED, MEAN = "trimmed", "mean"
METHODS = (TRIMMED, MEAN)
TRIM_MIN_SCORES = 5
PRECISION = 2
OUTLIER_SDS = 2
OUTLIER_MIN_OTHERS = 3
OUTLIER_SD_FLOOR = 0.5
EPSILON = 1e-9  # float noise at the 2 SD boundary: "more than" means more than

NOTE_FALLBACK = f"评分不足 {TRIM_MIN_SCORES} 个，按算术平均"
FLAG_FEW = "评分不足 {k} 份"
FLAG_OUTLIER = "评分偏离"
FLAG_TIE = "并列"
FLAG_CUT = "名次区间跨越分数线"
FLAG_TIE_CUT = "并列跨越分数线"


@dataclass(frozen=True)
class Entry:
    """One report of the round: expert id → that expert's submitted total (active assignments only)."""
    submission_id: int
    name: str
    category: str
    totals: Mapping[int, float]


@dataclass
class Row:
    submission_id: int
    name: str
    category: str
    n_scores: int
    score: float | None  # the official score by the method
    note: str  # why the method was not applied as named (too few scores), else ""
    mean: float | None
    normalised: float | None
    rank: int | None  # ties share a rank: 1, 2, 2, 4; None: no score
    tied: bool
    rank_best: int | None
    rank_worst: int | None
    flags: list[str] = field(default_factory=list)
    outliers: list[int] = field(default_factory=list)  # expert ids
    totals: dict[int, float] = field(default_factory=dict)


def sd(values: list[float]) -> float:
    """The sample SD; 0 for fewer than 2 values."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, PRECISION)


def official_score(totals: Iterable[float], method: str) -> tuple[float | None, str]:
    """(the official score, a note when the method fell back to the mean); (None, "") without totals."""
    values = sorted(totals)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    if not values:
        return None, ""
    if method == TRIMMED:
        if len(values) >= TRIM_MIN_SCORES:
            return statistics.fmean(values[1:-1]), ""
        return statistics.fmean(values), NOTE_FALLBACK
    return statistics.fmean(values), ""


def competition_ranks(scores: Mapping[int, float | None]) -> dict[int, int]:
    """id → rank, highest score first; scores equal at 2 decimals share a rank (1, 2, 2, 4); None unranked."""
    ordered = sorted((round(s, PRECISION), sid) for sid, s in scores.items() if s is not None)
    ordered.sort(key=lambda pair: -pair[0])
    ranks: dict[int, int] = {}
    previous, rank = None, 0
    for position, (value, sid) in enumerate(ordered, 1):
        if value != previous:
            rank, previous = position, value
        ranks[sid] = rank
    return ranks


def normalised_scores(entries: Iterable[Entry]) -> dict[int, float | None]:
    """submission id → the mean of its totals mapped from each expert's scale onto the pool's."""
    entries = list(entries)
    by_expert: dict[int, list[float]] = defaultdict(list)
    for entry in entries:
        for expert, total in entry.totals.items():
            by_expert[expert].append(total)
    pool = [t for totals in by_expert.values() for t in totals]
    if not pool:
        return {e.submission_id: None for e in entries}
    pool_mean, pool_sd = statistics.fmean(pool), sd(pool)
    scale = {x: (statistics.fmean(ts), sd(ts)) for x, ts in by_expert.items()}

    def mapped(expert: int, total: float) -> float:
        mean, spread = scale[expert]
        z = (total - mean) / spread if spread > 0 else 0.0
        return pool_mean + z * pool_sd

    return {e.submission_id: rounded(statistics.fmean(mapped(x, t) for x, t in e.totals.items()))
            if e.totals else None for e in entries}


def outlier_experts(totals: Mapping[int, float]) -> list[int]:
    """Expert ids whose total is more than 2 SD (of the others, at least 0.5) from the others' mean
    (only with 3 others or more)."""
    if len(totals) < OUTLIER_MIN_OTHERS + 1:
        return []
    found = []
    for expert, total in totals.items():
        others = [t for x, t in totals.items() if x != expert]
        spread = max(sd(others), OUTLIER_SD_FLOOR)
        if abs(total - statistics.fmean(others)) - OUTLIER_SDS * spread > EPSILON:
            found.append(expert)
    return sorted(found)


def rank_ranges(entries: list[Entry], method: str, full: Mapping[int, int]) -> dict[int, tuple[int, int]]:
    """submission id → (best, worst) rank over the full ranking and every leave-one-expert-out one."""
    scores = {e.submission_id: official_score(e.totals.values(), method)[0] for e in entries}
    ranges = {sid: (rank, rank) for sid, rank in full.items()}
    for expert in sorted({x for e in entries for x in e.totals}):
        without = dict(scores)
        for e in entries:
            if expert in e.totals:
                without[e.submission_id] = official_score(
                    [t for x, t in e.totals.items() if x != expert], method)[0]
        for sid, rank in competition_ranks(without).items():
            best, worst = ranges[sid]
            ranges[sid] = (min(best, rank), max(worst, rank))
    return ranges


def rank_round(entries: Iterable[Entry], *, method: str, panel_size: int,
               cuts: Mapping[str, int] | None = None) -> dict[str, list[Row]]:
    """Category key → its rows, by rank (ties by name; reports without a score last, by name)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    entries = list(entries)
    normalised = normalised_scores(entries)
    cuts = cuts or {}
    return {category: rank_category([e for e in entries if e.category == category], method, panel_size,
                                    normalised, cuts.get(category))
            for category in sorted({e.category for e in entries})}


def rank_category(entries: list[Entry], method: str, panel_size: int, normalised: Mapping[int, float | None],
                  cut: int | None) -> list[Row]:
    rows = [row_of(e, method, panel_size, normalised.get(e.submission_id)) for e in entries]
    full = competition_ranks({r.submission_id: r.score for r in rows})
    ranges = rank_ranges(entries, method, full)
    group_size: dict[int, int] = defaultdict(int)
    for rank in full.values():
        group_size[rank] += 1
    for row in rows:
        row.rank = full.get(row.submission_id)
        if row.rank is None:
            continue
        row.rank_best, row.rank_worst = ranges[row.submission_id]
        row.tied = group_size[row.rank] > 1
        if row.tied:
            row.flags.append(FLAG_TIE)
        if cut is not None and row.rank_best <= cut < row.rank_worst:
            row.flags.append(FLAG_CUT)
        if cut is not None and row.tied and row.rank <= cut < row.rank + group_size[row.rank] - 1:
            row.flags.append(FLAG_TIE_CUT)
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.name, r.submission_id))
    return rows


def row_of(entry: Entry, method: str, panel_size: int, normalised: float | None) -> Row:
    totals = dict(entry.totals)
    score, note = official_score(totals.values(), method)
    outliers = outlier_experts(totals)
    flags = []
    if len(totals) < panel_size:
        flags.append(FLAG_FEW.format(k=panel_size))
    if outliers:
        flags.append(FLAG_OUTLIER)
    return Row(submission_id=entry.submission_id, name=entry.name, category=entry.category, n_scores=len(totals),
               score=rounded(score), note=note, mean=rounded(statistics.fmean(totals.values())) if totals else None,
               normalised=normalised, rank=None, tied=False, rank_best=None, rank_worst=None, flags=flags,
               outliers=outliers, totals=totals)
