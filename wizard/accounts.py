"""Accounts and clusters: the rules shared by the admin pages, the seed and the CLI."""
from .extensions import db
from .models import (
    EXPERT_CATEGORY_LABELS,
    ROLE_ADMIN,
    ROLE_APPLICANT,
    ROLE_COUNTY,
    ROLE_EXPERT,
    ROLE_LABELS,
    Cluster,
    Edition,
    Region,
    Submission,
)


def bind_account(user, *, role, cluster_id=None, region_id=None, employer=None, expert_categories=None) -> str | None:
    """Set role and binding; an applicant needs a cluster, a reviewer a region, an expert its
    所在市州 (a city-level region), 工作单位 and 擅长类别."""
    if role not in ROLE_LABELS:
        return "未知的角色。"
    if role == ROLE_EXPERT:
        error = _expert_profile(region_id, employer, expert_categories)
        if error:
            return error
        user.employer, user.expert_categories = employer.strip(), expert_categories
        cluster_id = None
    else:
        user.expert_categories = None
    if role == ROLE_APPLICANT:
        if not cluster_id or db.session.get(Cluster, cluster_id) is None:
            return "申报单位账号必须选择所属集群。"
        region_id = None
    elif role == ROLE_COUNTY:
        if not region_id or db.session.get(Region, region_id) is None:
            return "审核人账号必须选择所属政府（地区）。"
        cluster_id = None
    elif role == ROLE_ADMIN:
        cluster_id = region_id = None
    if user.role != role and user.id is not None:
        user.end_sessions()
    user.role, user.cluster_id, user.region_id = role, cluster_id, region_id
    return None


def _expert_profile(region_id, employer, categories) -> str | None:
    region = db.session.get(Region, region_id) if region_id else None
    if region is None or region.level != "city":
        return "评审专家账号必须选择所在市州（14 个市州之一）。"
    if not (employer or "").strip():
        return "评审专家账号必须填写工作单位。"
    if len(employer.strip()) > 128:
        return "工作单位不能超过 128 个字符。"
    if categories not in EXPERT_CATEGORY_LABELS:
        return "评审专家账号必须选择擅长类别。"
    return None


def ensure_submissions() -> None:
    """Every active cluster has its submission in the current edition."""
    edition = db.session.execute(db.select(Edition).filter_by(is_current=True)).scalar_one_or_none()
    if edition is None:
        return
    have = set(db.session.execute(db.select(Submission.cluster_id).filter_by(edition_id=edition.id)).scalars())
    for cluster in db.session.execute(db.select(Cluster).filter_by(active=True)).scalars():
        if cluster.id not in have:
            db.session.add(Submission(cluster_id=cluster.id, edition_id=edition.id, preliminary_answers={},
                                      final_answers={}, opinions={}))
    db.session.flush()
