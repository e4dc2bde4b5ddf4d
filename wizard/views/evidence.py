"""Evidence files (佐证材料): download, for everyone who may see the submission."""
from flask import Blueprint, Response, abort
from flask_login import current_user

from ..access import get_submission
from ..evidence.storage import read
from ..extensions import db
from ..models import EvidenceFile
from ..web.http import content_disposition
from ..web.security import audit

bp = Blueprint("evidence", __name__, url_prefix="/evidence")

MIME_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg"}


@bp.route("/<int:file_id>")
def download(file_id):
    """The stored file under its original name; any file outside the user's scope answers 404."""
    row = db.session.get(EvidenceFile, file_id)
    if row is None:
        abort(404)
    get_submission(row.submission_id, current_user)  # 404 unless the user may see the submission
    try:
        data = read(row)
    except OSError:
        abort(404)
    audit("evidence_download", f"evidence:{row.id}", row.original_name)
    db.session.commit()
    return Response(data, mimetype=MIME_TYPES.get(row.kind, "application/octet-stream"),
                    headers={"Content-Disposition": content_disposition(row.original_name),
                             "X-Content-Type-Options": "nosniff"})
