"""Who may see what: every submission query is scoped here, in the query itself."""
from flask import abort
from sqlalchemy import and_, bindparam, case, inspect, or_
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
from .workflow.states import ROUNDS, STATES, round_of


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


def _answers_by_state(round_of_state):
    """A submission's answers of the round ``round_of_state(state)`` names, chosen in SQL (None
    where it names none).  The states are compared one by one (``state = :s OR …``), not with
    ``IN``: an ``IN`` list is an expanding parameter, rendered anew into the SQL at every run."""
    return case(
        *((or_(*(Submission.state == k for k in STATES if round_of_state(k) == r)), getattr(Submission, f"{r}_answers"))
          for r in ROUNDS if any(round_of_state(k) == r for k in STATES)),
        else_=None)


def _keep_answers(sub: Submission, round_: str | None, answers) -> None:
    """Give ``sub`` the answers of ``round_`` read with it (a deferred column, so the ORM left
    them out), unless the session holds them already (the object was loaded before, perhaps
    changed: what the session has stays, as the ORM itself would keep it)."""
    key = f"{round_}_answers"
    if round_ is not None and key in inspect(sub).unloaded:
        set_committed_value(sub, key, answers)


#: the answers of the round a submission is in now (workflow.states.round_of)
CURRENT_ANSWERS = _answers_by_state(round_of)


def _one_submission(scope_user):
    return (visible_submissions(scope_user).options(joinedload(Submission.edition))
            .where(Submission.id == bindparam("submission_id")).add_columns(CURRENT_ANSWERS))


def get_submission(submission_id: int, user) -> Submission:
    """The submission if this user may see it; 404 otherwise (no hint that it exists).  Its
    edition comes in the same statement (every page of one submission reads its years), and
    so do the answers of the round it is in now (all a reviewer's page of it shows); the other
    round's (hundreds of kB of JSON) load only if something reads them (the round comparison)."""
    row = scoped_once("one", user, _one_submission, submission_id=submission_id).one_or_none()
    if row is None:
        abort(404)
    sub, answers = row
    _keep_answers(sub, round_of(sub.state) if sub.state in STATES else None, answers)
    return sub


#: which edition is current: the one marked so, else the newest
CURRENT_FIRST = (Edition.is_current.desc(), Edition.id.desc())
#: the current edition's id, as a subquery: a statement that needs it asks in itself (no query of its own)
CURRENT_EDITION_ID = db.select(Edition.id).order_by(*CURRENT_FIRST).limit(1).scalar_subquery()


#: the current edition (a statement built once)
CURRENT_EDITION = db.select(Edition).order_by(*CURRENT_FIRST).limit(1)


def current_edition() -> Edition | None:
    return db.session.execute(CURRENT_EDITION).scalar_one_or_none()


def edition_or_404() -> Edition:
    """The current edition, or 404 (the review and score-sheet pages have nothing without one)."""
    edition = current_edition()
    if edition is None:
        abort(404)
    return edition


#: the answers of the round a state lets the applicant edit, chosen in SQL (None when read-only)
EDITABLE_ANSWERS = _answers_by_state(lambda state: STATES[state].editable_round)


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
    _keep_answers(sub, STATES[sub.state].editable_round, answers)
    return sub


def filtered_submissions(user, *, state: str = "", category: str = "", city: str = "", q: str = "",
                         edition_id: int | None = None, sort: str = "name", answers: bool = False):
    """A select() of the submissions this user may see, with the administrator list's filters:
    state key, category key, city region code (the city and its counties), name search, edition."""
    shape, values = list_filter(state=state, category=category, city=city, q=q, edition_id=edition_id, sort=sort,
                                answers=answers)
    return _filtered(user, shape).params(**values)


def list_filter(*, state: str = "", category: str = "", city: str = "", q: str = "", edition_id: int | None = None,
                sort: str = "name", answers: bool = False) -> tuple[tuple, dict]:
    """filtered_submissions' filters as (the shape of the statement: which filters apply, the
    order; the values to bind): statements of one shape are built once (``run_filtered``).
    Unknown state or category keys filter nothing, nor does a city code no region has."""
    values = {}
    if state in STATES:
        values["f_state"] = state
    if category in CATEGORY_LABELS:
        values["f_category"] = category
    if city:
        city_id = db.session.execute(db.select(Region.id).filter_by(code=city)).scalar_one_or_none()
        if city_id is not None:
            values["f_city"] = city_id
    q = clean_text(q or "").strip()
    if q:  # "contains", as LIKE with the wildcards of the text escaped (what autoescape=True writes)
        values["f_q"] = "%" + q[:64].replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
    if edition_id is not None:
        values["f_edition"] = edition_id
    shape = (*(k in values for k in FILTER_PARAMS), sort if sort in LIST_ORDERS else "name", answers)
    return shape, values


#: the bound parameters of the filters, in the order of a shape
FILTER_PARAMS = ("f_state", "f_category", "f_city", "f_q", "f_edition")
#: the list's orders (then by id: a stable order across pages)
LIST_ORDERS = {"name": Cluster.name, "state": Submission.state, "updated": Submission.updated_at.desc()}


def _filtered(user, shape: tuple):
    """The select() of filtered_submissions for a shape of list_filter, values left to bind."""
    has_state, has_category, has_city, has_q, has_edition, sort, answers = shape
    query = visible_submissions(user, answers)
    if has_state:
        query = query.where(Submission.state == bindparam("f_state"))
    if has_category:
        query = query.where(Cluster.category == bindparam("f_category"))
    if has_city:  # the cluster's region joined for this filter only (a lookup per row saved)
        city = bindparam("f_city")
        query = query.join(Cluster.region).where((Region.id == city) | (Region.parent_id == city))
    if has_q:
        query = query.where(Cluster.name.like(bindparam("f_q"), escape="/"))
    if has_edition:
        query = query.where(Submission.edition_id == bindparam("f_edition"))
    return query.order_by(LIST_ORDERS[sort], Submission.id)


def run_filtered(user, filters: tuple[tuple, dict], part: str, derive, **params):
    """Run ``derive(select)`` (a statement made of the filtered select, e.g. its count; ``part``
    names it) for this user and these ``filters`` (a list_filter), with ``params`` bound too.
    The statement is built once per shape, part and role (scoped_once: at most 2⁵ filter sets
    × 3 orders × 2 × the parts × 4 roles); returns the Result."""
    shape, values = filters
    return scoped_once(("filtered", part, shape), user, lambda u: derive(_filtered(u, shape)), **values, **params)


#: the city (prefecture-level region) of a cluster's region, in SQL: Region.city's rule
CITY_ID = case((and_(Region.level == "county", Region.parent_id.is_not(None)), Region.parent_id), else_=Region.id)


def submission_counts(user, edition_id: int | None) -> dict:
    """Counts of the edition's submissions this user may see: in all, per state, per category
    and per city (by the city's region id; the province's own clusters under its id) in one
    statement, built once per role, and rows bounded by states × categories × cities, whatever
    the number of submissions: grouped by city in SQL, not by each cluster's own region."""
    by_state, by_category, by_city = {}, {}, {}
    total = 0
    for state, category, city_id, n in scoped_once("counts", user, _counts, edition_id=edition_id):
        total += n
        by_state[state] = by_state.get(state, 0) + n
        by_category[category] = by_category.get(category, 0) + n
        by_city[city_id] = by_city.get(city_id, 0) + n
    return {"total": total, "state": by_state, "category": by_category, "city": by_city}


def _counts(scope_user):
    return (visible_submissions(scope_user).join(Region, Region.id == Cluster.region_id)
            .where(Submission.edition_id == bindparam("edition_id"))
            .with_only_columns(Submission.state, Cluster.category, CITY_ID, db.func.count())
            .group_by(Submission.state, Cluster.category, CITY_ID))
