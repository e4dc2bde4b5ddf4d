"""Administrators confirm that a printed report matches what was submitted: the footer's
verification code (校验码) is looked up among the frozen snapshots."""
import re

from flask import Blueprint, render_template, request

from ..extensions import db
from ..models import ROLE_ADMIN, Snapshot, Submission
from ..report.definition import CODE_LABEL
from ..web.security import audit, require_role

bp = Blueprint("verify", __name__, url_prefix="/admin/verify")
bp.before_request(require_role(ROLE_ADMIN))

CODE = re.compile(r"^[0-9A-F]{12}$")


@bp.route("/")
def lookup():
    code = re.sub(r"[\s\-：:]", "", request.args.get("code", "")).upper()
    error, matches = None, []
    if code:
        if not CODE.match(code):
            error = f"{CODE_LABEL}应为 12 位，由数字 0–9 和字母 A–F 组成（见报告每页页脚“{CODE_LABEL}：”之后）。"
        else:
            matches = db.session.execute(
                db.select(Snapshot, Submission).join(Submission, Submission.id == Snapshot.submission_id)
                .where(Snapshot.digest.like(f"{code.lower()}%")).order_by(Snapshot.id)
            ).all()
            audit("verify", f"code:{code}", f"{len(matches)} match(es)")
            db.session.commit()
    return render_template("admin/verify.html", code=code, error=error, matches=matches)
