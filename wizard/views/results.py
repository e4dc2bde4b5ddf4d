"""Administrators: the result list of an edition (附件3 style), snapshots and the round comparison."""
from flask import Blueprint

from ..models import ROLE_ADMIN
from ..security import require_role

bp = Blueprint("results", __name__, url_prefix="/admin")
bp.before_request(require_role(ROLE_ADMIN))
