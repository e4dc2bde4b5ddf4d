"""When the database cannot be reached, every answer is Chinese and needs no database: the
error page itself must not query it (it used to, and Flask answered its English 500)."""
import pytest

from wizard import create_app

#: a PostgreSQL server that is not there (port 9 on the loopback: nothing listens)
AWAY = "postgresql://postgres@127.0.0.1:9/nowhere"


@pytest.fixture
def app_without_database(tmp_path):
    return create_app({"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": AWAY,
                       "INSTANCE_PATH": str(tmp_path), "UPLOAD_FOLDER": str(tmp_path / "u"),
                       "PDF_CACHE_FOLDER": str(tmp_path / "p"), "WTF_CSRF_ENABLED": False})


def test_pages_and_saves_answer_in_chinese_when_the_database_is_away(app_without_database):
    client = app_without_database.test_client()
    client.set_cookie("session", "x")
    login = client.post("/login", data={"username": "admin", "password": "demo12345"})
    assert login.status_code == 503
    page = login.get_data(as_text=True)
    assert "系统暂时无法连接数据库" in page and "未保存" in page
    assert "Internal Server Error" not in page and "Traceback" not in page


def test_an_autosave_is_told_in_chinese_that_its_text_is_kept(app_without_database):
    client = app_without_database.test_client()
    response = client.post("/login", data={"username": "a", "password": "b"},
                           headers={"X-Requested-With": "fetch"})
    assert response.status_code == 503
    assert response.is_json and "已保留在此浏览器中" in response.get_json()["error"]


def test_a_connection_the_server_closed_is_replaced_not_failed(app):
    """After a PostgreSQL restart every pooled connection is dead; pool_pre_ping replaces one
    before use instead of failing the request that drew it (each such request answered 500)."""
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("a server-side disconnect is PostgreSQL's")
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from wizard.extensions import db

    with app.app_context():
        with db.engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # the pool keeps pid's connection; the "restart" ends it from outside the pool
        outside = create_engine(db.engine.url, poolclass=NullPool)
        with outside.connect() as killer:
            assert killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        outside.dispose()
        with db.engine.connect() as conn:  # the pool hands back the dead connection first
            assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_a_logged_in_user_gets_the_chinese_page_not_flasks(app, people, tmp_path):
    """Logged in, then the database goes away: the usual error page would load the user and the
    unread count (both from the database) and fail inside the error handler."""
    from factories import AuthActions

    client = app.test_client()
    AuthActions(client).login("applicant-a")
    cookie = client.get_cookie("session")
    away = create_app({"TESTING": True, "SECRET_KEY": app.config["SECRET_KEY"], "SQLALCHEMY_DATABASE_URI": AWAY,
                       "INSTANCE_PATH": str(tmp_path), "UPLOAD_FOLDER": str(tmp_path / "u"),
                       "PDF_CACHE_FOLDER": str(tmp_path / "p")})
    browser = away.test_client()
    browser.set_cookie("session", cookie.value)
    for path in ("/", "/applicant/step/basic"):
        response = browser.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 503, path
        assert "系统暂时无法连接数据库" in page and "Internal Server Error" not in page
