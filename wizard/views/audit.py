"""The audit log for administrators (logins, moves, downloads, exports, account changes)."""
from flask import Blueprint

from ..models import ROLE_ADMIN
from ..security import require_role

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
bp.before_request(require_role(ROLE_ADMIN))
