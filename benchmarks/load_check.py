"""The open loop's "nothing lost" check (issue #25): after the run, every autosave the server
acknowledged must be in the database.

The open loop's autosaves each send a new value in one input (``output_total-y1`` of 经济指标,
a different number every time) and log every attempt (load_client.autosave's ``log``):
{username, field, value, version, acked}.  An applicant's saves go one after another, so for each
applicant the database must hold:

- a version at least the highest version acknowledged, and no two acknowledged saves with the
  same version (that would be one save overwriting another);
- in the field, the value of the last acknowledged save, or the value of an attempt sent after it
  whose answer never arrived (a timeout may still have been committed).

``check_saves(instance, attempts)`` reads the submissions (preliminary round: the open loop's
applicants are drafts) and returns what it found: ``lost``, the number of applicants with an
acknowledged save the database does not hold, and ``problems``, one line for each of them.
"""
from __future__ import annotations

from collections import defaultdict

from load_data import bench_app
from wizard.extensions import db
from wizard.models import Submission, User


def _stored(answers: dict, field: str):
    """The stored text of a posted input name: ``key-year`` (a figure per year) or ``key``."""
    key, _, year = field.partition("-")
    value = (answers or {}).get(key)
    if year:
        return value.get(year) if isinstance(value, dict) else None
    return value


def check_saves(instance: str, attempts: list, database_url: str | None = None) -> dict:
    """Compare the logged autosave attempts with what the database holds (see the module's doc)."""
    by_user = defaultdict(list)
    for a in attempts:
        by_user[a["username"]].append(a)
    app = bench_app(instance, database_url)
    with app.app_context():
        rows = db.session.execute(
            db.select(User.username, Submission.version, Submission.preliminary_answers)
            .join(Submission, Submission.cluster_id == User.cluster_id)
            .where(User.username.in_(list(by_user)))).all()
        db.session.remove()
    stored = {r.username: (r.version, r.preliminary_answers) for r in rows}
    problems = []
    acked_total = 0
    for username, tries in sorted(by_user.items()):
        acked = [a for a in tries if a["acked"]]
        acked_total += len(acked)
        if not acked:
            continue
        if username not in stored:
            problems.append(f"{username}: {len(acked)} acknowledged saves, but no submission in the database")
            continue
        version, answers = stored[username]
        notes = []
        versions = [int(a["version"]) for a in acked]
        twice = sorted({v for v in versions if versions.count(v) > 1})
        if twice:
            notes.append(f"versions {twice} acknowledged for two saves each (one overwrote the other)")
        if version < max(versions):
            notes.append(f"the database holds version {version}, but version {max(versions)} was acknowledged")
        last = max(i for i, a in enumerate(tries) if a["acked"])
        allowed = {tries[last]["value"]} | {a["value"] for a in tries[last + 1:] if not a["acked"]}
        found = _stored(answers, tries[last]["field"])
        if found not in allowed:
            notes.append(f"{tries[last]['field']} = {tries[last]['value']!r} acknowledged (version "
                         f"{tries[last]['version']}), the database holds {found!r}")
        if notes:
            problems.append(f"{username}: " + "; ".join(notes))
    return {"applicants": len(by_user), "attempts": len(attempts), "acknowledged": acked_total,
            "unacknowledged": len(attempts) - acked_total, "problems": problems[:50],
            "lost": len(problems), "nothing_lost": not problems}
