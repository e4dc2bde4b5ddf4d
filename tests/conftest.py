"""Fixtures: an app per database (SQLite always; PostgreSQL when
WIZARD_TEST_DATABASE_URL is set — then an unreachable server fails the tests),
a client, a CLI runner, factories and a login helper."""
import os
import shutil

import pytest
from sqlalchemy import create_engine, text

from wizard import create_app
from wizard.extensions import db
from factories import ALLOY, LINXIANG, AuthActions, make_user, submission_of
from wizard.models import EvidenceFile, HistoryEntry, Snapshot, User
PG_URL = os.environ.get("WIZARD_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _config(tmp, uri):
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "INSTANCE_PATH": str(tmp),
        "UPLOAD_FOLDER": str(tmp / "uploads"),
        "PDF_CACHE_FOLDER": str(tmp / "pdf-cache"),
        # one cheap hash per password: the tests create accounts by the hundred; the production
        # method (scrypt) is checked by tests/security/test_sessions.py::test_password_length_and_hash
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        # a download waits for its render (tests/pdf/test_render_pool.py sets 0 to see the waiting page)
        "PDF_WAIT_SECONDS": 60,
    }


def _upgrade_and_seed(app):
    from flask_migrate import upgrade

    from wizard.ops.seed import seed_all

    with app.app_context():
        upgrade()
        seed_all()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """One migrated and seeded SQLite file, copied for every test."""
    tmp = tmp_path_factory.mktemp("template")
    path = tmp / "template.db"
    app = create_app(_config(tmp, f"sqlite:///{path}"))
    _upgrade_and_seed(app)
    with app.app_context():
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_ready(tmp_path_factory):
    """Reset the PostgreSQL test database to an empty schema, then migrate and seed it once."""
    from wizard.config import normalise_db_url

    url = normalise_db_url(PG_URL)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    tmp = tmp_path_factory.mktemp("pg")
    app = create_app(_config(tmp, url))
    _upgrade_and_seed(app)
    with app.app_context():
        db.engine.dispose()
    return url


MUTABLE_TABLES = ["audit_entry", "login_attempt", "pending_save", "message", "history_entry", "snapshot",
                  "evidence_file", '"user"']


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "wizard.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        uri = f"sqlite:///{path}"
    else:
        uri = request.getfixturevalue("pg_ready")
    app = create_app(_config(tmp_path, uri))
    app.config["BACKEND"] = request.param
    with app.app_context():
        if request.param == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {', '.join(MUTABLE_TABLES)} RESTART IDENTITY CASCADE"))
                conn.execute(text(
                    "DELETE FROM submission WHERE cluster_id IN (SELECT id FROM cluster WHERE designation = 'test')"))
                conn.execute(text("DELETE FROM cluster WHERE designation = 'test'"))
                conn.execute(text("UPDATE submission SET state='draft', version=1, preliminary_answers='{}', "
                                  "final_answers='{}', opinions='{}', return_comment=NULL, deadline_override=NULL, carried_texts=NULL"))
                conn.execute(text("UPDATE edition SET preliminary_deadline='2099-01-01', final_deadline='2099-06-01', "
                                  "data_year_1=2021, data_year_2=2022, target_year_1=2023"))
        else:
            db.session.execute(text("UPDATE edition SET preliminary_deadline='2099-01-01 00:00:00', "
                                    "final_deadline='2099-06-01 00:00:00'"))
            db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def people(app):
    """Two applicants, two county reviewers and an administrator.

    applicant A (alloy, 长沙市) · applicant B (linxiang, 临湘市) · county X (长沙市) ·
    county Y (临湘市) · admin."""
    with app.app_context():
        make_user("applicant-a", "applicant", cluster=ALLOY)
        make_user("applicant-b", "applicant", cluster=LINXIANG)
        make_user("county-x", "county", region="长沙市")
        make_user("county-y", "county", region="临湘市")
        make_user("admin", "admin")
    return {"applicant_a": "applicant-a", "applicant_b": "applicant-b", "county_x": "county-x",
            "county_y": "county-y", "admin": "admin"}


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def world(app, people):
    """Submission A with a snapshot, a history row and an evidence file (with its bytes on disk)."""
    import os

    with app.app_context():
        sub = submission_of(ALLOY)
        owner = db.session.execute(db.select(User).filter_by(username="applicant-a")).scalar_one()
        snap = Snapshot(submission_id=sub.id, round="preliminary", answers={}, evidence=[], digest="0" * 64)
        hist = HistoryEntry(submission_id=sub.id, user_id=owner.id, role="applicant", move="submit",
                            from_state="draft", to_state="submitted")
        pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
        ev = EvidenceFile(submission_id=sub.id, round="preliminary", slot="basic", original_name="证明.pdf",
                          stored_name="matrix-evidence.pdf", kind="pdf", size=len(pdf), pages=1,
                          sha256="0" * 64, uploaded_by_id=owner.id)
        db.session.add_all([snap, hist, ev])
        db.session.commit()
        os.makedirs(app.config["UPLOAD_FOLDER"], exist_ok=True)
        with open(os.path.join(app.config["UPLOAD_FOLDER"], ev.stored_name), "wb") as fh:
            fh.write(pdf)
        ids = {"submission_id": sub.id, "cluster_id": sub.cluster_id, "user_id": owner.id,
               "snapshot_id": snap.id, "history_id": hist.id, "entry_id": hist.id,
               "file_id": ev.id, "evidence_id": ev.id}
    return ids
