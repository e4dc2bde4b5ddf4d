"""Snapshots: the report of a round frozen at each submit, with a digest (校验码)."""
from __future__ import annotations

import hashlib
import json

from ..evidence.storage import manifest
from ..extensions import db
from ..models import Snapshot, Submission
from ..report.definition import COUNTY_SCAN


def answers_digest(answers: dict, evidence: list) -> str:
    payload = json.dumps({"answers": answers, "evidence": evidence}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def latest_snapshot(submission: Submission, round_: str) -> Snapshot | None:
    """The round's report as last submitted (None before the first submit)."""
    return db.session.execute(
        db.select(Snapshot).filter_by(submission_id=submission.id, round=round_).order_by(Snapshot.id.desc()).limit(1)
    ).scalar_one_or_none()


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
