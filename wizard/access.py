"""Who may see what: every submission query is scoped here, in the query itself."""
from flask import abort

from .extensions import db
from .models import ROLE_ADMIN, ROLE_APPLICANT, ROLE_COUNTY, Cluster, Edition, Submission


def visible_submissions(user):
    """A select() of the submissions this user may see (deny by default)."""
    q = db.select(Submission).join(Submission.cluster)
    if user.role == ROLE_ADMIN:
        return q
    if user.role == ROLE_COUNTY and user.region_id:
        return q.where(Cluster.region_id == user.region_id)
    if user.role == ROLE_APPLICANT and user.cluster_id:
        return q.where(Submission.cluster_id == user.cluster_id)
    return q.where(db.false())


def get_submission(submission_id: int, user) -> Submission:
    """The submission if this user may see it; 404 otherwise (no hint that it exists)."""
    sub = db.session.execute(visible_submissions(user).where(Submission.id == submission_id)).scalar_one_or_none()
    if sub is None:
        abort(404)
    return sub


def current_edition() -> Edition | None:
    return db.session.execute(
        db.select(Edition).order_by(Edition.is_current.desc(), Edition.id.desc()).limit(1)
    ).scalar_one_or_none()


def own_submission(user) -> Submission | None:
    edition = current_edition()
    if edition is None or user.role != ROLE_APPLICANT:
        return None
    return db.session.execute(
        visible_submissions(user).where(Submission.edition_id == edition.id)
    ).scalar_one_or_none()
