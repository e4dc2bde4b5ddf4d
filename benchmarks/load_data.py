"""The load benchmark's instance: N complete, realistic submissions spread over every state.

``build(instance, n)`` migrates a fresh database (SQLite in ``instance``, or ``database_url``:
an EMPTY PostgreSQL database, which it wipes first), adds the regions and the edition (not the
26 seeded clusters: the benchmark makes its own), then N clusters with complete reports:

- every table at its row limit, every narrative at 95 % of its limit (3,000 characters where the
  official form sets none), both rounds' reports for submissions in the final round;
- the states in a fixed pattern of 20 (a quarter drafts, and every later state), with the
  snapshots, county opinions and history rows those states carry;
- one evidence file for every slot the report needs (the declaration scan, 4.3's documents and
  every row marked 需提供佐证材料), written as evidence/storage.py writes them (random name, the
  row's size, pages and sha256 of the bytes the upload checks returned); every tenth submission's
  files carry about 200 pages (a 40-page PDF in five slots);
- one applicant account per submission, one reviewer per county that has submissions, one
  administrator; passwords hashed cheaply (pbkdf2, 1,000 rounds) so that logging in 200
  simulated users does not dominate the run.

It writes ``bench.json`` into the instance folder: the accounts and ids the load generator uses.
Reuses tests/fill.py (complete answers through the real forms) and tests/builders.py (a PDF page);
both import without pytest.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import secrets
import sys
from datetime import datetime, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (ROOT, os.path.join(ROOT, "tests")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from flask_migrate import upgrade  # noqa: E402
from pypdf import PdfReader, PdfWriter  # noqa: E402
from sqlalchemy import text  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from builders import pdf_bytes  # noqa: E402
from fill import complete_answers  # noqa: E402
from wizard import create_app  # noqa: E402
from wizard.evidence.checks import inspect_upload  # noqa: E402
from wizard.evidence.storage import limits, needs_file, slots  # noqa: E402
from wizard.extensions import db  # noqa: E402
from wizard.models import (  # noqa: E402
    Cluster,
    Edition,
    EvidenceFile,
    HistoryEntry,
    Region,
    ReviewAssignment,
    Snapshot,
    Submission,
    User,
)
from wizard.ops.seed import seed_edition, seed_regions  # noqa: E402
from wizard.report.definition import get_report  # noqa: E402
from wizard.workflow.snapshots import answers_digest  # noqa: E402
from wizard.workflow.states import FINAL, MOVES_BY_KEY, STATES  # noqa: E402

PASSWORD = "bench-password-1"
SECRET_KEY = "load-benchmark-secret-key"
#: 20 submissions in a row: a quarter drafts, then every later state
PATTERN = (["draft"] * 5 + ["submitted"] * 3 + ["county_approved"] * 2 + ["preliminary"] * 2 + ["eliminated"]
           + ["finalist"] * 2 + ["final_submitted", "final_approved", "final", "awarded", "not_awarded"])
#: the moves that lead to each state (the history a submission in that state has)
MAIN_PATH = ["submit", "county_approve", "accept", "advance", "submit_final", "county_approve_final", "enter_final",
             "award"]
PATHS = {m: MAIN_PATH[:i + 1] for i, m in enumerate(MAIN_PATH)}
PATHS.update({"eliminate": MAIN_PATH[:3] + ["eliminate"], "not_award": MAIN_PATH[:7] + ["not_award"]})
MOVES_TO = {"draft": []}
MOVES_TO.update({MOVES_BY_KEY[m].target: path for m, path in PATHS.items()})
BIG_EVERY = 10  # every tenth submission: evidence of about 200 pages
BIG_PAGES, BIG_SLOTS = 40, 5
NARRATIVE = "集群坚持创新驱动发展战略，推进产业链上下游协同，龙头企业带动作用明显，配套体系不断完善，取得显著成效。"


def state_of(i: int) -> str:
    """The i-th submission's state: every block of 20 holds the pattern's proportions (7 is prime
    to 20), and even a handful of submissions spans both rounds (draft, submitted, finalist …)."""
    return PATTERN[(i * 7) % len(PATTERN)]


def bench_app(instance: str, database_url: str | None = None):
    """The app on the benchmark's instance folder (the same settings the gunicorn workers get)."""
    uri = database_url or "sqlite:///" + os.path.join(instance, "bench.db")
    return create_app({"INSTANCE_PATH": instance, "SECRET_KEY": SECRET_KEY, "SQLALCHEMY_DATABASE_URI": uri,
                       "UPLOAD_FOLDER": os.path.join(instance, "uploads")})


# --- answers ------------------------------------------------------------------------------

def _full_table(field, rows):
    """The table at its row limit: the complete report's first row, text cells numbered."""
    first = rows[0]
    text_keys = {c.key for c in field.columns if c.kind == "text"}
    out = []
    for k in range(field.max_rows):
        row = dict(first)
        for key in text_keys & row.keys():
            row[key] = f"{row[key]}{k + 1}"[:40]
        out.append(row)
    return out


def _narrative(field) -> str:
    limit = int((field.max_chars or 3158) * 0.95)  # no official limit: about 3,000 characters
    return (NARRATIVE * (limit // len(NARRATIVE) + 1))[:limit]


def full_answers(round_: str, category: str) -> dict:
    """A complete report of one round at the form's limits (needs an app context)."""
    answers = complete_answers(round_, category)
    for f in get_report(round_).fields:
        if f.kind == "table" and answers.get(f.key):
            answers[f.key] = _full_table(f, answers[f.key])
        elif f.kind == "longtext" and answers.get(f.key):
            answers[f.key] = _narrative(f)
    return answers


# --- evidence files -----------------------------------------------------------------------

def _pdf_of(pages: int) -> bytes:
    """One small page repeated (pypdf): a large page count, cheaply."""
    page = PdfReader(io.BytesIO(pdf_bytes(1, text="bench evidence"))).pages[0]
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class Masters:
    """The checked bytes of the two evidence files (as the upload checks return them), written
    once; every stored file is a hard link to one of them (each under its own random name)."""

    def __init__(self, folder: str):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.files = {}
        for key, pages in (("small", 1), ("big", BIG_PAGES)):
            checked = inspect_upload(_pdf_of(pages), f"佐证材料{pages}页.pdf", limits())
            path = os.path.join(folder, f".master-{key}")
            with open(path, "wb") as fh:
                fh.write(checked.data)
            self.files[key] = (path, checked)

    def store(self, key: str) -> tuple[str, object]:
        path, checked = self.files[key]
        stored = secrets.token_hex(16)
        os.link(path, os.path.join(self.folder, stored))
        return stored, checked


def _evidence_rows(masters, sub, round_, answers, big, user_id):
    rows = []
    needed = [s for s in slots(round_) if needs_file(s, sub.cluster.category, answers)]
    for n, s in enumerate(needed):
        stored, checked = masters.store("big" if big and n < BIG_SLOTS else "small")
        rows.append(EvidenceFile(submission_id=sub.id, round=round_, slot=s.key, position=1,
                                 original_name=f"{s.key}.pdf", stored_name=stored, kind=checked.kind,
                                 size=checked.size, pages=checked.page_count, sha256=checked.sha256,
                                 uploaded_by_id=user_id))
    return rows


def _manifest(rows):
    return [{"id": r.id, "slot": r.slot, "name": r.original_name, "pages": r.pages, "sha256": r.sha256,
             "size": r.size} for r in rows]


# --- one submission -----------------------------------------------------------------------

def _history(sub, state, applicant, reviewer, admin, start):
    """History rows, opinions and snapshot times of the moves that lead to ``state``."""
    entries, at = [], start
    actors = {"applicant": applicant, "county": reviewer, "admin": admin}
    for key in MOVES_TO[state]:
        move = MOVES_BY_KEY[key]
        at += timedelta(hours=5)
        actor = actors[move.role]
        entries.append(HistoryEntry(submission_id=sub.id, at=at, user_id=actor.id, role=move.role, move=key,
                                    from_state=move.source, to_state=move.target,
                                    comment="同意。" if move.comment_required else None))
    return entries


def _opinions(state, reviewer_region, day):
    rounds = []
    moves = MOVES_TO[state]
    if "county_approve" in moves:
        rounds.append("preliminary")
    if "county_approve_final" in moves:
        rounds.append("final")
    return {r: {"text": "经审核，该集群申报材料真实、完整，同意推荐。", "date": day.isoformat(),
                "by": reviewer_region.government_name} for r in rounds}


def _add_submission(ctx, i):
    """Cluster, account, submission, files, snapshots and history of the i-th submission."""
    state = state_of(i)
    category = "sme" if i % 3 == 0 else "advanced"
    county = ctx["counties"][i % len(ctx["counties"])]
    cluster = Cluster(name=f"基准测试{county.name}产业集群{i:04d}", category=category, region_id=county.id,
                      designation="benchmark")
    db.session.add(cluster)
    db.session.flush()
    applicant = User(username=f"bench-app-{i:04d}", display_name=f"{cluster.name}促进组织", role="applicant",
                     cluster_id=cluster.id, password_hash=ctx["hash"])
    in_final = STATES[state].round == FINAL
    pre = dict(ctx["answers"][("preliminary", category)], cluster_name=cluster.name,
               output_total={"y1": str(100 + i), "y2": str(125 + i)})
    fin = dict(ctx["answers"][("final", category)], cluster_name=cluster.name) if in_final else {}
    reviewer = ctx["reviewers"][county.id]
    start = datetime(2026, 3, 1) + timedelta(minutes=i)
    sub = Submission(cluster_id=cluster.id, edition_id=ctx["edition"].id, state=state, preliminary_answers=pre,
                     final_answers=fin, opinions=_opinions(state, county, (start + timedelta(days=2)).date()),
                     created_at=start, updated_at=start + timedelta(days=3))
    db.session.add_all([applicant, sub])
    db.session.flush()
    sub.cluster = cluster
    big = i % BIG_EVERY == 0
    for round_, answers, submitted_by in (("preliminary", pre, "submit"), ("final", fin, "submit_final")):
        if not answers:
            continue
        files = _evidence_rows(ctx["masters"], sub, round_, answers, big, applicant.id)
        db.session.add_all(files)
        db.session.flush()
        if submitted_by in MOVES_TO[state]:
            evidence = _manifest(files)
            db.session.add(Snapshot(submission_id=sub.id, round=round_, answers=answers, evidence=evidence,
                                    digest=answers_digest(answers, evidence), created_at=start,
                                    created_by_id=applicant.id))
    db.session.add_all(_history(sub, state, applicant, reviewer, ctx["admin"], start))
    return {"username": applicant.username, "submission_id": sub.id, "state": state, "category": category,
            "county": reviewer.username, "big_evidence": big}


# --- the instance -------------------------------------------------------------------------

def _wipe(app) -> None:
    """An external database starts empty: drop every table the app (and Alembic) made."""
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _setup(n: int) -> dict:
    upgrade()
    seed_regions()
    edition = seed_edition()
    db.session.commit()
    counties = db.session.execute(db.select(Region).filter_by(level="county").order_by(Region.code)).scalars().all()
    counties = counties[:max(1, min(len(counties), n // 4))]  # about four submissions per county at least
    cheap = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    admin = User(username="bench-admin", display_name="基准测试管理员", role="admin", password_hash=cheap)
    reviewers = {c.id: User(username=f"bench-county-{c.code}", display_name=f"{c.government_name}审核人",
                            role="county", region_id=c.id, password_hash=cheap) for c in counties}
    db.session.add_all([admin, *reviewers.values()])
    db.session.flush()
    answers = {(r, c): full_answers(r, c) for r in ("preliminary", "final") for c in ("advanced", "sme")}
    return {"counties": counties, "hash": cheap, "admin": admin, "reviewers": reviewers, "answers": answers,
            "edition": edition}


def _add_expert(ctx) -> list[int]:
    """One expert (评审专家) assigned to up to 50 reports in the 初赛 scoring state: the expert's
    scoring page is measured like the wizard's steps (issue #21)."""
    city = ctx["counties"][0].parent
    expert = User(username="bench-expert", display_name="基准测试评审专家", role="expert", region_id=city.id,
                  employer="基准测试大学", expert_categories="both", password_hash=ctx["hash"])
    db.session.add(expert)
    db.session.flush()
    ids = db.session.execute(db.select(Submission.id).filter_by(state="preliminary").order_by(Submission.id)
                             .limit(50)).scalars().all()
    rows = [ReviewAssignment(submission_id=i, expert_id=expert.id, round="preliminary") for i in ids]
    db.session.add_all(rows)
    db.session.commit()
    return [r.id for r in rows]


def build(instance: str, n: int, database_url: str | None = None, log=None) -> dict:
    """Build the instance; returns (and writes to ``instance``/bench.json) what the load needs."""
    os.makedirs(instance, exist_ok=True)
    logging.disable(logging.INFO)
    app = bench_app(instance, database_url)
    if database_url:
        _wipe(app)
    with app.app_context():
        ctx = _setup(n)
        ctx["masters"] = Masters(app.config["UPLOAD_FOLDER"])
        applicants = []
        for i in range(n):
            applicants.append(_add_submission(ctx, i))
            if i % 100 == 99:
                db.session.commit()
                if log:
                    log(f"  {i + 1}/{n} submissions")
        db.session.commit()
        expert_assignments = _add_expert(ctx)
        info = {"n": n, "password": PASSWORD, "secret_key": SECRET_KEY, "admin": "bench-admin",
                "expert": "bench-expert", "expert_assignments": expert_assignments,
                "database_url": app.config["SQLALCHEMY_DATABASE_URI"], "instance": instance,
                "upload_folder": app.config["UPLOAD_FOLDER"], "applicants": applicants,
                "counties": sorted({a["county"] for a in applicants}),
                "answers_bytes": len(json.dumps(ctx["answers"][("preliminary", "advanced")])),
                "edition_id": db.session.execute(db.select(Edition.id)).scalars().first()}
    with open(os.path.join(instance, "bench.json"), "w") as fh:
        json.dump(info, fh, ensure_ascii=False)
    return info


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Build the load benchmark's instance.")
    parser.add_argument("instance")
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    result = build(args.instance, args.n, args.database_url, log=print)
    print(f"{result['n']} submissions in {args.instance}")
