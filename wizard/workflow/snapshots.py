"""Snapshots: the report of a round frozen at each submit, with a digest (校验码)."""
from __future__ import annotations

import hashlib
import json

from ..evidence.storage import manifest
from ..extensions import db
from ..models import Snapshot, Submission, to_local
from ..report.definition import CODE_LABEL, COUNTY_SCAN
from ..report.model import ROUND_LABELS
from ..report.view import effective_answers


def answers_digest(answers: dict, evidence: list) -> str:
    payload = json.dumps({"answers": answers, "evidence": evidence}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def latest_snapshot(submission: Submission, round_: str) -> Snapshot | None:
    """The round's report as last submitted (None before the first submit)."""
    return db.session.execute(
        db.select(Snapshot).filter_by(submission_id=submission.id, round=round_).order_by(Snapshot.id.desc()).limit(1)
    ).scalar_one_or_none()


def has_snapshot(submission: Submission, round_: str) -> bool:
    """Whether the round's report has been submitted at least once (its answers are not read)."""
    return db.session.execute(
        db.select(Snapshot.id).filter_by(submission_id=submission.id, round=round_).limit(1)
    ).first() is not None


def snapshots_of(submission: Submission) -> list[Snapshot]:
    """Every snapshot of the submission, the latest first."""
    return db.session.execute(
        db.select(Snapshot).filter_by(submission_id=submission.id).order_by(Snapshot.id.desc())
    ).scalars().all()


def snapshot_label(snap: Snapshot) -> str:
    """初赛提交快照 2026-05-01 10:00 校验码 … (its time in Beijing time)."""
    return f"{ROUND_LABELS[snap.round]}提交快照 {to_local(snap.created_at):%Y-%m-%d %H:%M} {CODE_LABEL} {snap.code}"


def round_source(submission: Submission, round_: str) -> tuple[str, dict, bool]:
    """What a comparison shows of a round, (label, answers, exists): its latest snapshot, else
    the current answers (a draft)."""
    snap = latest_snapshot(submission, round_)
    if snap is not None:
        return snapshot_label(snap), snap.answers, True
    return (f"{ROUND_LABELS[round_]}当前草稿（未提交）", effective_answers(submission, round_),
            bool(submission.answers_for(round_)))


def evidence_manifest(submission: Submission, round_: str) -> list:
    """The applicant's evidence list as frozen in a snapshot (the county's scan is not part of it)."""
    return [e for e in manifest(submission, round_) if e["slot"] != COUNTY_SCAN]


def freeze(submission: Submission, round_: str, answers: dict, actor_id: int, now) -> Snapshot:
    """Add the round's snapshot to the current transaction."""
    evidence = evidence_manifest(submission, round_)
    snap = Snapshot(submission_id=submission.id, round=round_, answers=answers, evidence=evidence,
                    digest=answers_digest(answers, evidence), created_at=now, created_by_id=actor_id)
    db.session.add(snap)
    return snap
