"""Advancing clusters from the experts' ranking: the ranking is frozen (RankingSnapshot: the
method, every submitted score, the ranking with all its columns, a SHA-256 of its canonical
JSON), then the administrator's move of the round's scoring state (the workflow table's:
晋级决赛 / 初赛未胜出 after 初赛, 认定为培育对象 / 未认定 after 决赛) is applied to each ticked
report through workflow.moves.apply_move, whose history entry points to the snapshot."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from ..auditlog import record
from ..extensions import db
from ..models import CATEGORY_LABELS, ROLE_ADMIN, RankingSnapshot, ReviewAssignment, Submission, User, utcnow
from ..report.model import ROUND_LABELS
from ..workflow.moves import apply_move
from ..workflow.states import MOVES_BY_KEY, Move, MoveRefused, moves_from, scoring_state
from .results import round_ranking
from .scheme import METHOD_LABELS, scheme_for

STALE_MESSAGE = "排名在您打开页面后已有变化（有新的评分提交或撤回），本次操作未执行。请查看最新排名后重新勾选。"


class AdvanceRefused(Exception):
    """Nothing was moved; ``message`` says why (Chinese)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def round_moves(round_: str) -> list[Move]:
    """The administrator's moves out of the round's scoring state (the workflow table's)."""
    return moves_from(scoring_state(round_), ROLE_ADMIN)


def canonical(data) -> bytes:
    """The canonical JSON of a snapshot's data: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def digest_of(data) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()


def row_data(row) -> dict:
    """A ranking row as JSON (expert ids as text keys, as JSON has them)."""
    data = asdict(row)
    data["totals"] = {str(k): v for k, v in sorted(row.totals.items())}
    return data


def ranking_digest(ranking) -> str:
    """What the page showed: the method and every row's totals.  The advance form carries it,
    and a POST whose ranking has changed since is refused."""
    rows = [(cat, r.submission_id, sorted((str(k), v) for k, v in r.totals.items()))
            for cat, rows in sorted(ranking.rows_by_category.items()) for r in rows]
    return digest_of({"method": ranking.method, "rows": rows})


def round_scores(submission_ids, round_: str) -> list[dict]:
    """Every submitted, active score of these reports in the round: expert × dimension."""
    ids = list(submission_ids)
    rows = db.session.execute(
        db.select(ReviewAssignment).where(ReviewAssignment.submission_id.in_(ids), ReviewAssignment.round == round_,
                                          ReviewAssignment.status == "active",
                                          ReviewAssignment.submitted_at.is_not(None))
        .order_by(ReviewAssignment.submission_id, ReviewAssignment.expert_id)).scalars() if ids else []
    return [{"submission_id": a.submission_id, "expert_id": a.expert_id, "scores": a.scores, "total": a.total,
             "submitted_at": a.submitted_at.isoformat(timespec="seconds")} for a in rows]


def freeze_ranking(edition, round_: str, category: str, ranking, move: Move, picked: list[int],
                   actor: User) -> RankingSnapshot:
    """The category's ranking as it stands, frozen with every score it came from (flushed)."""
    rows = ranking.rows_by_category.get(category, [])
    scheme, now = ranking.scheme, utcnow()
    data = {
        "edition": {"id": edition.id, "name": edition.name}, "round": round_, "category": category,
        "method": ranking.method, "method_label": METHOD_LABELS.get(ranking.method, ranking.method),
        "panel_size": scheme.panel_size, "dimensions": scheme.dimensions,
        "experts": {str(e.id): e.display_name or e.username for e in ranking.experts.values()},
        "rows": [row_data(r) for r in rows], "scores": round_scores([r.submission_id for r in rows], round_),
        "move": move.key, "move_label": move.label, "picked": picked,
        "frozen_at": now.isoformat(timespec="seconds"), "by": actor.username,
    }
    snap = RankingSnapshot(edition_id=edition.id, round=round_, category=category, method=ranking.method,
                           data=data, digest=digest_of(data), created_at=now, created_by_id=actor.id)
    db.session.add(snap)
    db.session.flush()
    return snap


@dataclass
class AdvanceResult:
    move: Move
    moved: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    snapshots: list[RankingSnapshot] = field(default_factory=list)


def _picked(ranking, ids: list[int]) -> dict[str, list[int]]:
    """The ticked ids per category, in ranking order; an id not in the ranking is refused."""
    by_category = {}
    for category, rows in ranking.rows_by_category.items():
        chosen = [r.submission_id for r in rows if r.submission_id in ids]
        if chosen:
            by_category[category] = chosen
    known = {sid for chosen in by_category.values() for sid in chosen}
    if set(ids) - known:
        raise AdvanceRefused("勾选的申报中有不在本轮排名中的，本次操作未执行。请刷新页面后重新勾选。")
    return by_category


def advance(edition, round_: str, move_key: str, ids: list[int], actor: User, *, comment: str | None = None,
            seen: str = "", address: str = "") -> AdvanceResult:
    """Freeze the ranking of each category with ticked reports and apply ``move_key`` to each
    of them (in ranking order), its history entry pointing to its category's snapshot.  Refused
    as a whole (nothing frozen, nothing moved) for a move not of this round, a missing required
    comment, no ticks, or a ranking that changed since the page showed it (``seen``)."""
    move = MOVES_BY_KEY.get(move_key)
    if move is None or move not in round_moves(round_):
        raise AdvanceRefused("请选择要执行的操作。")
    if move.comment_required and not (comment or "").strip():
        raise AdvanceRefused(f"「{move.label}」须填写{move.comment_label}。")
    if not ids:
        raise AdvanceRefused("请先勾选要操作的申报（可用“选前 N 名”）。")
    ranking = round_ranking(edition, round_)
    if seen != ranking_digest(ranking):
        raise AdvanceRefused(STALE_MESSAGE)
    picked = _picked(ranking, ids)
    scheme_for(edition, round_)  # the scheme a decision was taken on is stored with it (pages only read it)
    result = AdvanceResult(move)
    snap_of = {}
    for category, chosen in picked.items():
        snap = freeze_ranking(edition, round_, category, ranking, move, chosen, actor)
        result.snapshots.append(snap)
        snap_of.update({sid: snap for sid in chosen})
        record(actor, "review_advance", f"ranking:{snap.id}",
               f"{ROUND_LABELS[round_]}·{CATEGORY_LABELS.get(category, category)}：依据排名快照 {snap.code}"
               f"（{METHOD_LABELS.get(ranking.method, ranking.method)}）对 {len(chosen)} 个集群执行「{move.label}」",
               address)
    db.session.commit()
    subs = {s.id: s for s in db.session.execute(
        db.select(Submission).where(Submission.id.in_(list(snap_of)))).scalars()}
    for sid, snap in snap_of.items():
        sub = subs[sid]
        name = sub.cluster.name  # read before the move: a refused move rolls the session back
        try:
            apply_move(sub, move.key, actor, comment=comment, address=address, ranking_id=snap.id)
        except MoveRefused as refused:
            result.refused.append((name, refused.message))
        else:
            result.moved.append(name)
    return result
