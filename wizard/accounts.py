"""Account rules shared by the admin pages and the CLI."""
from .extensions import db
from .models import ROLE_ADMIN, ROLE_APPLICANT, ROLE_COUNTY, ROLE_LABELS, Cluster, Region


def bind_account(user, *, role, cluster_id=None, region_id=None) -> str | None:
    """Set role and binding; an applicant needs a cluster, a reviewer a region."""
    if role not in ROLE_LABELS:
        return "未知的角色。"
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
