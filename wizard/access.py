"""Who may see what: every submission query is scoped here, in the query itself."""
from flask import abort
from sqlalchemy import and_, bindparam, case
from sqlalchemy.orm import contains_eager, defer, joinedload, undefer
from sqlalchemy.orm.attributes import set_committed_value

from .extensions import db
from .models import (
    CATEGORY_LABELS,
    ROLE_ADMIN,
    ROLE_APPLICANT,
    ROLE_COUNTY,
    ROLE_EXPERT,
    Cluster,
    Edition,
    Region,
    ReviewAssignment,
    Submission,
)
from .text import clean_text
from .workflow.states import ROUNDS, STATES


#: a submission's cluster, its region and the region's city come with it (lists: no query per row)
WITH_CLUSTER = joinedload(Submission.cluster).joinedload(Cluster.region).joinedload(Region.parent)
#: both rounds' answers: hundreds of kB of JSON per submission, which no list shows.  The queries
#: here leave them out unless asked (a list page decoded 20 reports, the county queue its whole
#: region's); the pages of one submission load them with it, and so should any caller that reads
#: the answers of many rows (``answers=True``: an export), or each row costs a statement of its own.
ANSWERS = (Submission.preliminary_answers, Submission.final_answers)


def visible_submissions(user, answers: bool = False):
    """A select() of the submissions this user may see (deny by default), with their clusters;
    with ``answers``, their answers too (else loaded when first read)."""
    load = undefer if answers else defer
    q = db.select(Submission).join(Submission.cluster).options(WITH_CLUSTER, *(load(c) for c in ANSWERS))
    if user.role == ROLE_ADMIN:
        return q
    if user.role == ROLE_COUNTY and user.region_id is not None:
        return q.where(Cluster.region_id == user.region_id)
    if user.role == ROLE_APPLICANT and user.cluster_id is not None:
        return q.where(Submission.cluster_id == user.cluster_id)
    if user.role == ROLE_EXPERT:
        # an expert sees the reports it is assigned to score, and nothing else
        return q.where(Submission.id.in_(assigned_to(user)))
    return q.where(db.false())


def assigned_to(expert):
    """A select() of the ids of the submissions this expert is (actively) assigned to score."""
    return db.select(ReviewAssignment.submission_id).where(
        ReviewAssignment.expert_id == expert.id, ReviewAssignment.status == "active")


class _BoundUser:
    """Stands for every user of a role: its id, cluster and region are bound parameters, so a
    statement ``visible_submissions`` scopes for it is built once and run with each real user's
    values (``scoped_once``).  A value the real user lacks binds NULL, which matches no row."""

    def __init__(self, role):
        self.role = role
        self.id = bindparam("scope_user_id")
        self.cluster_id = bindparam("scope_cluster_id")
        self.region_id = bindparam("scope_region_id")


#: (what the statement is, role) → the statement scoped for ``_BoundUser(role)``.  Statements only
#: (no value of any user): building and keying a select with its joins and options anew cost more
#: than running it (about 0.5 ms a page).  Bounded by the callers' keys × the roles.
_SCOPED: dict = {}


def scoped_once(key: str, user, build, **params):
    """Run the statement ``build(scope_user)`` builds (``build`` is called once per role with a
    ``_BoundUser``; keep ``key`` unique to it) scoped for ``user``; returns the Result."""
    statement = _SCOPED.get((key, user.role))
    if statement is None:
        statement = _SCOPED[(key, user.role)] = build(_BoundUser(user.role))
    return db.session.execute(statement, {"scope_user_id": user.id, "scope_cluster_id": user.cluster_id,
                                          "scope_region_id": user.region_id, **params})


def _one_submission(scope_user):
    return (visible_submissions(scope_user, answers=True).options(joinedload(Submission.edition))
            .where(Submission.id == bindparam("submission_id")))


def get_submission(submission_id: int, user) -> Submission:
    """The submission if this user may see it; 404 otherwise (no hint that it exists).  Its
    edition comes in the same statement (every page of one submission reads its years)."""
    sub = scoped_once("one", user, _one_submission, submission_id=submission_id).scalar_one_or_none()
    if sub is None:
        abort(404)
    return sub


#: which edition is current: the one marked so, else the newest
CURRENT_FIRST = (Edition.is_current.desc(), Edition.id.desc())
#: the current edition's id, as a subquery: a statement that needs it asks in itself (no query of its own)
CURRENT_EDITION_ID = db.select(Edition.id).order_by(*CURRENT_FIRST).limit(1).scalar_subquery()


def current_edition() -> Edition | None:
    return db.session.execute(db.select(Edition).order_by(*CURRENT_FIRST).limit(1)).scalar_one_or_none()


def edition_or_404() -> Edition:
    """The current edition, or 404 (the review and score-sheet pages have nothing without one)."""
    edition = current_edition()
    if edition is None:
        abort(404)
    return edition


#: the answers of the round a state lets the applicant edit, chosen in SQL (None when read-only)
EDITABLE_ANSWERS = case(
    *((Submission.state.in_([k for k, s in STATES.items() if s.editable_round == r]), getattr(Submission, f"{r}_answers"))
      for r in ROUNDS),
    else_=None)


def _own_submission(scope_user, editable_only: bool):
    query = (visible_submissions(scope_user, answers=not editable_only)
             .join(Submission.edition).options(contains_eager(Submission.edition))
             .where(Submission.edition_id == CURRENT_EDITION_ID))
    return query.add_columns(EDITABLE_ANSWERS) if editable_only else query


def own_submission(user, editable_only: bool = False) -> Submission | None:
    """The applicant's submission in the current edition, with that edition, in one statement.
    With ``editable_only`` (a wizard step) only the answers of the round its state lets the
    applicant edit are loaded and decoded in the same statement; the other round's (hundreds of
    kB of JSON) load only if something reads them."""
    if user.role != ROLE_APPLICANT:
        return None
    if not editable_only:
        return scoped_once("own", user, lambda u: _own_submission(u, False)).scalar_one_or_none()
    row = scoped_once("own-editable", user, lambda u: _own_submission(u, True)).one_or_none()
    if row is None:
        return None
    sub, answers = row
    round_ = STATES[sub.state].editable_round
    if round_ is not None:
        set_committed_value(sub, f"{round_}_answers", answers)
    return sub


def filtered_submissions(user, *, state: str = "", category: str = "", city: str = "", q: str = "",
                         edition_id: int | None = None, sort: str = "name", answers: bool = False):
    """A select() of the submissions this user may see, with the administrator list's filters:
    state key, category key, city region code (the city and its counties), name search, edition."""
    query = visible_submissions(user, answers).join(Cluster.region)
    if state in STATES:
        query = query.where(Submission.state == state)
    if category in CATEGORY_LABELS:
        query = query.where(Cluster.category == category)
    if city:
        city_region = db.session.execute(db.select(Region).filter_by(code=city)).scalar_one_or_none()
        if city_region:
            query = query.where((Region.id == city_region.id) | (Region.parent_id == city_region.id))
    q = clean_text(q or "").strip()
    if q:
        query = query.where(Cluster.name.contains(q[:64], autoescape=True))
    if edition_id is not None:
        query = query.where(Submission.edition_id == edition_id)
    order = {"name": Cluster.name, "state": Submission.state,
             "updated": Submission.updated_at.desc()}.get(sort, Cluster.name)
    return query.order_by(order, Submission.id)


#: the city (prefecture-level region) of a cluster's region, in SQL: Region.city's rule
CITY_ID = case((and_(Region.level == "county", Region.parent_id.is_not(None)), Region.parent_id), else_=Region.id)


def submission_counts(user, edition_id: int | None) -> dict:
    """Counts of the edition's submissions this user may see: in all, per state, per category
    and per city (two statements, and rows bounded by states × categories × cities, whatever the
    number of submissions: grouped by city in SQL, not by each cluster's own region)."""
    base = visible_submissions(user).join(Region, Region.id == Cluster.region_id) \
        .where(Submission.edition_id == edition_id)
    rows = db.session.execute(
        base.with_only_columns(Submission.state, Cluster.category, CITY_ID, db.func.count())
        .group_by(Submission.state, Cluster.category, CITY_ID)
    ).all()
    ids = {city_id for _, _, city_id, _ in rows}
    names = dict(db.session.execute(db.select(Region.id, Region.name).where(Region.id.in_(ids))).all()) if ids else {}
    counts = {"total": 0, "state": {}, "category": {}, "city": {}}
    for state, category, city_id, n in rows:
        counts["total"] += n
        for key, value in (("state", state), ("category", category), ("city", names[city_id])):
            counts[key][value] = counts[key].get(value, 0) + n
    return counts
