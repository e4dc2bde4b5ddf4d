"""A download (a GET) writes an audit row.  On SQLite its transaction is a deferred reader; once
another request has committed since it began, it can no longer become a writer, and SQLite says
"database is locked" at once (the load benchmark saw 3 of 12 PDF downloads answer 500 that way
among 200 applicants saving).  The row is written in a transaction of its own instead."""
from sqlalchemy import text

from factories import ALLOY
from wizard.extensions import db
from wizard.models import AuditEntry, Cluster, Submission
from wizard.web.security import audit


def test_a_download_audits_after_another_request_has_written(app, people):
    with app.test_request_context("/submissions/1/report.pdf", method="GET"):
        sid = db.session.execute(db.select(Submission.id).join(Cluster).filter(Cluster.name == ALLOY)).scalar_one()
        # this request's reader transaction has begun; another request saves meanwhile
        with db.engine.begin() as other:
            other.execute(text("UPDATE submission SET version = version + 1 WHERE id = :id"), {"id": sid})
        audit("report_download", f"submission:{sid}", "preliminary")
        db.session.commit()
        rows = db.session.execute(db.select(AuditEntry).filter_by(action="report_download")).scalars().all()
    assert [r.target for r in rows] == [f"submission:{sid}"]
