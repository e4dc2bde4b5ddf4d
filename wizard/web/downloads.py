"""Excel downloads: the response, and the audited summary workbook (汇总表) that the
administrators' list and the county reviewer's queue both offer."""
from flask import Response

from ..exports.summary import summary_filename, summary_xlsx
from ..extensions import db
from ..models import Edition, local_now
from ..report.model import ROUND_LABELS
from .http import content_disposition
from .lists import filters_text
from .security import audit

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(data: bytes, filename: str) -> Response:
    return Response(data, mimetype=XLSX, headers={"Content-Disposition": content_disposition(filename)})


def summary_download(subs, round_: str, edition: Edition, *, filters: dict | None = None,
                     scope: str = "全省") -> Response:
    """The summary workbook (汇总表) of the round's reports of ``subs``, audited: one download
    for the administrators' list and the county reviewer's queue."""
    now = local_now()
    data, n = summary_xlsx(subs, round_, edition, now=now, filters=filters, scope=scope)
    audit("export", f"summary-{round_}.xlsx", f"汇总表（{ROUND_LABELS[round_]}报告）；{edition.name}；{scope}；"
                                    f"{filters_text(filters or {})}；{n} 份报告")
    db.session.commit()
    return xlsx_response(data, summary_filename(round_, now))
