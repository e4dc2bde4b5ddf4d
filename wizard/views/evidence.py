"""Evidence files (佐证材料): download, for everyone who may see the submission."""
from flask import Blueprint

bp = Blueprint("evidence", __name__, url_prefix="/evidence")
