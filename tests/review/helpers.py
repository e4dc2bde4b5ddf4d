"""Builders shared by the expert-review tests (tests/review/): experts and assignments.
Shared by several test modules: add to it, don't rewrite it."""
from factories import PASSWORD, region_named
from wizard.extensions import db
from wizard.models import ReviewAssignment, User


def make_expert(username, city, employer="某大学", categories="both", password=PASSWORD):
    """An expert (评审专家) of a city (所在市州) and employer (工作单位); committed."""
    user = User(username=username, role="expert", display_name=username, employer=employer,
                expert_categories=categories, region_id=region_named(city).id)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def assign(sub, expert, round_="preliminary", **values) -> ReviewAssignment:
    """An active assignment of ``expert`` to ``sub``'s report of ``round_``; committed."""
    row = ReviewAssignment(submission_id=sub.id, expert_id=expert.id, round=round_, **values)
    db.session.add(row)
    db.session.commit()
    return row


# --- added by the administrators' review tests (test_assign.py, test_admin_review.py) ------------

def put_state(state, *names):
    """Set submissions' states directly (cluster names); the moves under test are real. Returns them."""
    from factories import submission_of

    subs = [submission_of(name) for name in names]
    for sub in subs:
        sub.state = state
    db.session.commit()
    return subs


def scored(row: ReviewAssignment, scores: dict, overall="总体评价：符合申报条件。") -> ReviewAssignment:
    """Store ``scores`` ({dimension key: number}) on an assignment as submitted (the expert's UI is
    not what these tests test); committed."""
    from wizard.models import utcnow

    row.scores, row.overall = dict(scores), overall
    row.total = float(sum(scores.values()))
    row.saved_at = row.submitted_at = utcnow()
    db.session.commit()
    return row
