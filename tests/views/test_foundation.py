"""Foundation: login/logout/password, deny-by-default, seed data, CLI, accounts."""
import pytest

from factories import ALLOY, LINXIANG, PASSWORD, make_user
from wizard.extensions import db
from wizard.models import Cluster, Region, Submission, User


def test_login_page_is_chinese_with_named_fields(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page
    assert "登录" in page


def test_login_logout(client, auth, people):
    r = auth.login("applicant-a")
    assert r.status_code == 302 and r.headers["Location"].endswith("/applicant/")
    page = client.get("/applicant/").get_data(as_text=True)
    assert ALLOY in page and "填报任务" in page
    auth.logout()
    r = client.get("/applicant/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_bad_credentials_give_a_chinese_message(client, auth, people):
    page = auth.login("applicant-a", "wrong-password").get_data(as_text=True)
    assert "用户名或密码错误" in page
    page = auth.login("nobody", "whatever1").get_data(as_text=True)
    assert "用户名或密码错误" in page


def test_disabled_account_cannot_log_in(app, client, auth):
    with app.app_context():
        make_user("gone", "admin", active=False)
    assert "用户名或密码错误" in auth.login("gone").get_data(as_text=True)


def test_change_password(app, client, auth, people):
    auth.login("applicant-a")
    token = auth.csrf("/account/password")
    r = client.post("/account/password", data={"csrf_token": token, "current": "nope-nope", "new": "new-password-1",
                                                "confirm": "new-password-1"})
    assert "当前密码不正确" in r.get_data(as_text=True)
    r = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD, "new": "short",
                                                "confirm": "short"})
    assert "至少 10 个字符" in r.get_data(as_text=True)
    r = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD, "new": "new-password-1",
                                                "confirm": "new-password-1"})
    assert r.status_code == 302
    auth.logout()
    assert auth.login("applicant-a", PASSWORD).status_code == 200  # old password refused
    assert auth.login("applicant-a", "new-password-1").status_code == 302


@pytest.mark.parametrize("user,home,nav", [
    ("applicant-a", "/applicant/", "填报任务"),
    ("county-x", "/county/", "审核队列"),
    ("admin", "/admin/", "申报管理"),
])
def test_each_role_sees_its_navigation(client, auth, people, user, home, nav):
    r = auth.login(user)
    assert r.headers["Location"].endswith(home)
    page = client.get(home).get_data(as_text=True)
    assert nav in page


def test_every_route_denies_anonymous_users(app, client):
    """Deny by default: every registered route except the allow-list sends anonymous users to login."""
    from wizard.web.security import PUBLIC_ENDPOINTS

    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<int:{arg}>", "1").replace(f"<round:{arg}>", "preliminary").replace(f"<{arg}>", "basic")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            r = client.open(url, method=method)
            assert r.status_code in (302, 400), (method, url, r.status_code)
            if r.status_code == 302:
                assert "/login" in r.headers["Location"], url
            checked += 1
    assert checked > 20


def test_roles_cannot_use_other_blueprints(client, auth, people):
    auth.login("applicant-a")
    assert client.get("/admin/").status_code == 403
    assert client.get("/county/").status_code == 403
    auth.logout()
    auth.login("county-x")
    assert client.get("/admin/accounts").status_code == 403
    assert client.get("/applicant/").status_code == 403


def test_seed_regions_and_clusters(app):
    with app.app_context():
        cities = db.session.execute(db.select(Region).filter_by(level="city")).scalars().all()
        counties = db.session.execute(db.select(Region).filter_by(level="county")).scalars().all()
        assert len(cities) == 14 and len(counties) == 122
        assert {c.name for c in cities} >= {"长沙市", "湘西土家族苗族自治州", "张家界市"}
        liuyang = db.session.execute(db.select(Region).filter_by(name="浏阳市")).scalar_one()
        assert liuyang.parent.name == "长沙市"
        clusters = db.session.execute(db.select(Cluster)).scalars().all()
        assert len(clusters) == 26
        advanced = {c.name for c in clusters if c.category == "advanced"}
        sme = {c.name for c in clusters if c.category == "sme"}
        assert len(advanced) == 11 and len(sme) == 15
        assert "祁阳县轻纺制鞋-纺织产业集群" in advanced and "张家界生物医药（植物提取）产业集群" in sme
        by_name = {c.name: c for c in clusters}
        assert by_name["浏阳市生物医药产业集群"].region.name == "浏阳市"
        assert by_name["湖南省功率半导体产业集群"].region.level == "province"
        assert by_name[LINXIANG].region.name == "临湘市"
        assert all(c.designation == "第一批培育对象" for c in clusters)
        # every cluster has its submission in the current edition
        assert db.session.execute(db.select(db.func.count()).select_from(Submission)).scalar_one() == 26


def test_seeding_twice_duplicates_nothing(app, runner):
    runner.invoke(args=["seed"])
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["seed-demo"])
    assert "applicant-alloy" in result.output
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Region)).scalar_one() == 137
        assert db.session.execute(db.select(db.func.count()).select_from(Cluster)).scalar_one() == 26
        assert db.session.execute(db.select(db.func.count()).select_from(Submission)).scalar_one() == 26
        # five demo accounts of the first three roles and the five demo experts
        assert db.session.execute(db.select(db.func.count()).select_from(User)).scalar_one() == 10


def test_demo_accounts_log_in(app, client, auth, runner):
    runner.invoke(args=["seed-demo"])
    for username, home in [("admin", "/admin/"), ("county-changsha", "/county/"), ("applicant-alloy", "/applicant/"),
                           ("applicant-linxiang", "/applicant/"), ("county-linxiang", "/county/")]:
        r = auth.login(username, "demo12345")
        assert r.status_code == 302 and r.headers["Location"].endswith(home), username
        auth.logout()


def test_seed_demo_refused_in_production(app, runner):
    app.config["PRODUCTION"] = True
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code != 0 and "生产模式" in result.output


def test_production_refuses_to_start_without_secret_key(tmp_path, monkeypatch):
    from wizard import create_app

    monkeypatch.setenv("WIZARD_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_secret_key_is_generated_into_instance(tmp_path, monkeypatch):
    from wizard import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("WIZARD_ENV", raising=False)
    a = create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    b = create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert a.config["SECRET_KEY"] == b.config["SECRET_KEY"] and len(a.config["SECRET_KEY"]) >= 32
    assert (tmp_path / "secret_key").exists()


def test_create_user_cli(app, runner):
    r = runner.invoke(args=["create-user", "county-liuyang", "--role", "county", "--region", "浏阳市",
                            "--password", "long-enough-1"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(args=["create-user", "app-x", "--role", "applicant", "--password", "long-enough-1"])
    assert r.exit_code != 0 and "必须选择所属集群" in r.output
    r = runner.invoke(args=["create-user", "app-x", "--role", "applicant", "--cluster", "不存在的集群",
                            "--password", "long-enough-1"])
    assert "没有名为" in r.output
    r = runner.invoke(args=["create-user", "app-y", "--role", "admin", "--password", "short"])
    assert r.exit_code != 0 and "至少 8 个字符" in r.output
    with app.app_context():
        u = db.session.execute(db.select(User).filter_by(username="county-liuyang")).scalar_one()
        assert u.region.name == "浏阳市" and u.check_password("long-enough-1")


def test_admin_creates_edits_and_disables_an_account(app, client, auth, people):
    auth.login("admin")
    token = auth.csrf("/admin/accounts/new")
    with app.app_context():
        cluster_id = db.session.execute(db.select(Cluster.id).filter_by(name=LINXIANG)).scalar_one()
    r = client.post("/admin/accounts/new", data={"csrf_token": token, "username": "new-applicant", "role": "applicant",
                                                 "cluster_id": 0, "region_id": 0, "password": "password-123",
                                                 "active": "y"})
    assert "必须选择所属集群" in r.get_data(as_text=True)
    r = client.post("/admin/accounts/new", data={"csrf_token": token, "username": "new-applicant", "role": "applicant",
                                                 "cluster_id": cluster_id, "region_id": 0, "password": "password-123",
                                                 "active": "y"})
    assert r.status_code == 302
    with app.app_context():
        uid = db.session.execute(db.select(User.id).filter_by(username="new-applicant")).scalar_one()
    other = app.test_client()
    from factories import AuthActions

    other_auth = AuthActions(other)
    assert other_auth.login("new-applicant", "password-123").status_code == 302
    assert other.get("/applicant/").status_code == 200
    # disable: the logged-in session ends at once
    r = client.post(f"/admin/accounts/{uid}", data={"csrf_token": token, "username": "new-applicant",
                                                    "role": "applicant", "cluster_id": cluster_id, "region_id": 0,
                                                    "display_name": "新名字"})
    assert r.status_code == 302
    assert other.get("/applicant/").status_code == 302
    assert "用户名或密码错误" in other_auth.login("new-applicant", "password-123").get_data(as_text=True)


def test_error_pages_are_chinese(client, auth, people):
    auth.login("applicant-a")
    page = client.get("/no-such-page").get_data(as_text=True)
    assert "页面不存在" in page and "Traceback" not in page
