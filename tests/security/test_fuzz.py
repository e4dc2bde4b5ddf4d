"""Hypothesis fuzzing of what users type: every wizard step of both rounds, the login form,
the administrator's submission search, and the county's and administrator's forms (moves with
comments and scans, bulk moves, accounts, clusters, deadlines).  Never a 500; saved answers are
shown again; refused input gets a Chinese message; nothing invalid is stored."""
import html
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from factories import ALLOY, LINXIANG, PASSWORD, AuthActions, csrf_from, submission_of
from wizard.extensions import db
from wizard.report.definition import get_report
from wizard.text import _CONTROL, clean_text

FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CJK = re.compile(r"[\u4e00-\u9fff]")

NASTY = [
    "", " ", "-1", "-0", "-0.0001", "NaN", "nan", "inf", "-Infinity", "1e308", "1e-7", "0x1F", "１２３４．５",
    "1,234.5", "12.34567", "9" * 40, "100.0001", "101", "−5", "\x00", "a\x00b", "\x07\x1b[31m", "\u202etxet",
    "\u200b", "\ufeff", "\r\n\r\n", "<script>alert(1)</script>", "\"'><img src=x>", "{{ 7*7 }}", "' OR 1=1 --",
    "%", "_", "\\", "字" * 6000, "x" * 70000, "🀄️👨‍👩‍👧", "国家级", "省级", "y", "on", "None",
    "10²", "²", "①", "١٢", "𝟏", "1,5", "12,345,678", "２１４７４８３６４８", str(2**31), str(2**63),
    "\u2066x\u2069", "a\u200db", "\u061c\u200e\u200f",
]
VALUE = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=80),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=6).map(str),
)


def leaf_names(form):
    """The input names a step form has (sub-forms and table rows included)."""
    from wtforms import FieldList, FormField

    names = []

    def walk(field):
        if isinstance(field, FormField):
            for sub in field.form:
                walk(sub)
        elif isinstance(field, FieldList):
            for entry in field.entries:
                walk(entry)
            names.append(f"{field.name}-{len(field.entries)}-x")  # a row the form did not offer
        else:
            names.append(field.name)

    for field in form:
        if field.name not in ("csrf_token", "version"):
            walk(field)
    return names


def step_names(app, round_, category):
    from wizard.report.forms import make_step_form

    years = {"y1": 2021, "y2": 2022, "t1": 2023, "t2": 2024, "t3": 2025}
    with app.test_request_context():
        return {s.key: leaf_names(make_step_form(round_, s.key, category, years, meta={"csrf": False}))
                for s in get_report(round_).steps}


def posted(names):
    """Arbitrary values for any of the step's fields, random extra fields, row buttons."""
    known = st.dictionaries(st.sampled_from(names), VALUE, max_size=len(names)) if names else st.just({})
    extra = st.dictionaries(st.text(min_size=1, max_size=20).filter(lambda k: k not in ("csrf_token", "version")),
                            VALUE, max_size=3)
    tables = sorted({n.split("-")[0] for n in names if n.count("-") >= 2}) or ["nope"]
    rows = sorted({n.rsplit("-", 1)[0] for n in names if n.count("-") >= 2}) or ["nope-0"]
    plain = sorted({n.split("-")[0] for n in names}) or ["nope"]
    buttons = st.one_of(
        st.just({}),
        st.fixed_dictionaries({"add_row": st.sampled_from(tables + plain + ["nope", ""])}),
        st.fixed_dictionaries({"remove_row": st.sampled_from(rows + [f"{p}-0" for p in plain] + ["x-0", "-", ""])}),
    )
    return st.tuples(known, extra, buttons).map(lambda t: {**t[1], **t[0], **t[2]})


def text_keys(round_):
    return {f.key for f in get_report(round_).fields if f.kind in ("text", "phone", "longtext")}


def fuzz_steps(app, client, round_, cluster, category):
    report = get_report(round_)
    names = step_names(app, round_, category)
    texts = text_keys(round_)
    token = csrf_from(client.get(f"/applicant/step/{report.steps[0].key}"))

    table_step = next(s for s in report.steps if any(f.kind == "table" for f in s.fields))
    table = next(f.key for f in table_step.fields if f.kind == "table")

    @FUZZ
    @example((table_step.key, {f"{table}-²-name": "x", f"{table}-١-name": "y", f"{table}-{2**63}-name": "z"}))
    @example((report.steps[0].key, {"add_row": report.steps[0].fields[0].key}))  # a row button naming a plain field
    @example((report.steps[0].key, {report.steps[0].fields[0].key: "a\x00b\x1b" + "字" * 100}))
    @given(st.sampled_from([s.key for s in report.steps]).flatmap(
        lambda key: st.tuples(st.just(key), posted(names[key]))))
    def run(case):
        key, data = case
        with app.app_context():
            version = submission_of(cluster).version
        r = client.post(f"/applicant/step/{key}", data={**data, "csrf_token": token, "version": str(version),
                                                        "action": "save"})
        page = r.get_data(as_text=True)
        assert r.status_code in (200, 302, 422), (r.status_code, key, data)
        if r.status_code == 422:
            messages = re.findall(r'class="error-message"[^>]*>([^<]+)<', page)
            assert messages and all(CJK.search(m) for m in messages), (key, messages)
            return
        # saved: what was stored comes back on the page, and no control character was stored
        with app.app_context():
            answers = submission_of(cluster).answers_for(round_)
        shown = html.unescape(client.get(f"/applicant/step/{key}").get_data(as_text=True))
        step_keys = {f.key for f in report.step(key).fields}
        for k in step_keys & texts & set(answers):
            value = answers[k]
            assert not _CONTROL.search(value), (k, value)
            if value:
                assert value in shown, (key, k, value[:80])

    run()


@pytest.fixture
def finalist(app, people):
    """Applicant B's submission is in the final round (the final report's steps are editable)."""
    with app.app_context():
        sub = submission_of(LINXIANG)
        sub.state = "finalist"
        db.session.commit()


def test_fuzz_preliminary_steps(app, client, auth, people):
    auth.login("applicant-a")
    fuzz_steps(app, client, "preliminary", ALLOY, "advanced")


def test_fuzz_final_steps(app, client, auth, people, finalist):
    auth.login("applicant-b")
    fuzz_steps(app, client, "final", LINXIANG, "sme")


def test_fuzz_login_form(app, client, people, monkeypatch):
    # exercise the form, not the throttle (restored after the test: the shared app is kept)
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ADDRESS", 10_000)
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 10_000)
    token = csrf_from(client.get("/login"))

    @FUZZ
    @example("a\x00b", "whatever", {})  # NUL: PostgreSQL refuses it in text columns
    @example("x" * 65, "whatever", {})  # over the 64-character limit
    @example("admin", "", {})
    @given(st.one_of(VALUE, st.just("admin")), VALUE, st.dictionaries(st.text(max_size=10), VALUE, max_size=2))
    def run(username, password, extra):
        data = {**extra, "username": username, "password": password, "csrf_token": token}
        r = client.post("/login", data=data)
        page = r.get_data(as_text=True)
        assert r.status_code == 200, (r.status_code, username, password)  # never logged in, never a crash
        errors = re.findall(r'class="(?:error-message|flash flash-error)"[^>]*>([^<]+)<', page)
        assert errors and all(CJK.search(e) for e in errors), (username[:80], errors)
        assert client.get("/admin/").status_code == 302

    run()
    assert AuthActions(client).login("admin", PASSWORD).status_code == 302  # the real password still works


def test_fuzz_admin_search(app, client, auth, people):
    auth.login("admin")

    @FUZZ
    @example({"q": "\x00"})
    @example({"q": "%"})  # LIKE wildcards are searched for literally
    @example({"q": "_"})
    @example({"page": "-3", "sort": "drop table"})
    @given(st.fixed_dictionaries({}, optional={
        "q": VALUE, "state": VALUE, "category": VALUE, "city": VALUE, "sort": VALUE,
        "page": st.one_of(VALUE, st.integers(-5, 10**9).map(str))}))
    def run(args):
        r = client.get("/admin/submissions", query_string=args)
        assert r.status_code == 200, (r.status_code, args)
        page = r.get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page and "<img src=x>" not in page
        search = clean_text(args.get("q", "")).strip()[:64]  # control characters are dropped, as from every input
        if search:
            names = re.findall(r'/admin/submissions/\d+">([^<]+)</a>', page)
            for name in names:  # every row listed really contains what was searched for
                assert search.lower() in html.unescape(name).lower(), (search, name)

    run()


# --- county and administrator forms ---------------------------------------------------------

FORM_FUZZ = settings(max_examples=20, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CHINESE_4XX = (400, 404, 409, 422)


def assert_no_crash(r, what):
    assert r.status_code < 500, (r.status_code, what)
    if r.status_code >= 400:
        assert CJK.search(r.get_data(as_text=True)), (r.status_code, what)


def stored_text_problems():
    """Every stored text a county or administrator form writes that holds a control character."""
    from wizard.models import Cluster, EvidenceFile, HistoryEntry, Submission, User

    bad = set()
    for model, cols in ((HistoryEntry, ("comment",)), (Submission, ("return_comment",)),
                        (User, ("username", "display_name", "email")), (Cluster, ("name", "designation")),
                        (EvidenceFile, ("original_name",))):
        for row in db.session.execute(db.select(model)).scalars():
            for col in cols:
                value = getattr(row, col)
                if value and _CONTROL.search(value):
                    bad.add((model.__tablename__, row.id, col, value[:40]))
    for sub in db.session.execute(db.select(Submission)).scalars():
        for opinion in (sub.opinions or {}).values():
            if _CONTROL.search(str(opinion.get("text") or "")):
                bad.add(("submission", sub.id, "opinions", str(opinion)[:60]))
    db.session.rollback()
    return bad


def scan_file():
    """An upload for the `scan` field: nothing, random bytes, or a real small PDF/PNG, under odd names."""
    from factories import pdf_bytes, png_bytes

    names = st.one_of(st.sampled_from(["意见.pdf", "scan.png", "a.jpg", "../../etc/passwd", "a\x00.pdf", "",
                                       "x" * 300 + ".pdf", "noext"]), st.text(max_size=30))
    data = st.one_of(st.binary(max_size=2048), st.just(b"%PDF-1.4\n%%EOF\n"),
                     st.builds(lambda: pdf_bytes(1, "sealed")), st.builds(lambda: png_bytes()))
    return st.one_of(st.none(), st.tuples(data, names))


MOVE_KEYS = [m.key for m in __import__("wizard.workflow.states", fromlist=["MOVES"]).MOVES] + ["undo"]


def fuzz_moves(app, client, cluster, start_states, valid_move):
    """POST /submissions/<id>/move with random moves, comments, versions and scans."""
    import io

    from wizard.models import HistoryEntry
    from wizard.workflow.states import MOVES_BY_KEY, STATES

    with app.app_context():
        sid = submission_of(cluster).id
    token = csrf_from(client.get("/messages"))

    @FORM_FUZZ
    @example(start_states[0], valid_move, "同意\x00推荐\x07", None, None)  # NUL in the opinion
    @example(start_states[0], valid_move, "x" * 5001, None, None)
    @example(start_states[0], valid_move, "同意。", None, (b"%PDF-1.4\n%%EOF\n", "意见.pdf"))
    @example(start_states[0], "drop table", None, "-1", None)
    @given(st.sampled_from(start_states), st.one_of(st.sampled_from(MOVE_KEYS), VALUE),
           st.one_of(st.none(), VALUE), st.one_of(st.none(), VALUE, st.integers().map(str)), scan_file())
    def run(start, move, comment, version, scan):
        with app.app_context():
            sub = db.session.get(__import__("wizard.models", fromlist=["Submission"]).Submission, sid)
            sub.state = start
            db.session.commit()
            before = (sub.state, sub.version)
            history = db.session.execute(db.select(db.func.count()).select_from(HistoryEntry)).scalar_one()
            dirty = stored_text_problems()
        data = {"csrf_token": token, "move": move, "version": str(before[1]) if version is None else version}
        if comment is not None:
            data["comment"] = comment
        if scan is not None:
            data["scan"] = (io.BytesIO(scan[0]), scan[1])
        r = client.post(f"/submissions/{sid}/move", data=data, content_type="multipart/form-data")
        assert_no_crash(r, (start, move, comment and comment[:40], version, scan and scan[1]))
        with app.app_context():
            sub = db.session.get(__import__("wizard.models", fromlist=["Submission"]).Submission, sid)
            after = (sub.state, sub.version)
            added = db.session.execute(db.select(db.func.count()).select_from(HistoryEntry)).scalar_one() - history
            assert sub.state in STATES
            if r.status_code == 302:  # done: exactly one history row, the state the move leads to
                assert added == 1 and after[1] == before[1] + 1
                if move != "undo":
                    assert sub.state == MOVES_BY_KEY[move].target
            else:  # refused: nothing changed
                assert r.status_code in CHINESE_4XX and after == before and added == 0, (r.status_code, after)
            assert not stored_text_problems() - dirty  # nothing new with a control character

    run()


def test_fuzz_county_move_form(app, client, auth, people):
    auth.login("county-x")
    fuzz_moves(app, client, ALLOY, ["submitted", "final_submitted", "draft", "county_approved"], "county_approve")


def test_fuzz_admin_move_form(app, client, auth, people):
    from wizard.workflow.states import STATES

    auth.login("admin")
    fuzz_moves(app, client, LINXIANG, ["county_approved", "preliminary", "final_approved", "final"] +
               [s for s in STATES if s not in ("county_approved", "preliminary", "final_approved", "final")],
               "admin_return")


def test_fuzz_admin_bulk_move(app, client, auth, people):
    """Random ids (real ones of every region, missing, negative, huge, non-integer, Unicode digits)."""
    from wizard.models import HistoryEntry, Submission
    from wizard.workflow.states import STATES

    auth.login("admin")
    with app.app_context():
        real = [str(s.id) for s in db.session.execute(db.select(Submission)).scalars()]
    token = csrf_from(client.get("/admin/submissions"))
    ids = st.one_of(st.sampled_from(real), st.sampled_from(["0", "-1", "987654", "9" * 30, "1.5", "abc", "", " 1",
                                                            "²", "١", "Ⅻ", "1e3", "0x10", "\x00"]), VALUE)

    @FORM_FUZZ
    @example(["²"], "accept", None)  # str.isdigit() is true for superscripts, int() refuses them
    @example(["9" * 30], "accept", None)
    @example(real[:3] + ["abc", "987654"], "admin_return", "退回\x00修改")
    @given(st.lists(ids, max_size=8), st.one_of(st.sampled_from(MOVE_KEYS), VALUE), st.one_of(st.none(), VALUE))
    def run(id_list, move, comment):
        with app.app_context():
            db.session.execute(db.update(Submission).values(state="county_approved"))
            db.session.commit()
            history = db.session.execute(db.select(db.func.count()).select_from(HistoryEntry)).scalar_one()
            dirty = stored_text_problems()
        data = {"csrf_token": token, "move": move, "ids": id_list}
        if comment is not None:
            data["comment"] = comment
        r = client.post("/admin/submissions/bulk", data=data)
        assert_no_crash(r, (id_list, move, comment and comment[:40]))
        with app.app_context():
            subs = db.session.execute(db.select(Submission)).scalars().all()
            assert all(s.state in STATES for s in subs)
            moved = [s for s in subs if s.state != "county_approved"]
            added = db.session.execute(db.select(db.func.count()).select_from(HistoryEntry)).scalar_one() - history
            assert added == len(moved)  # one history row per submission that really moved
            assert {str(s.id) for s in moved} <= set(id_list)  # only submissions that were named
            assert not stored_text_problems() - dirty  # nothing new with a control character

    run()


@pytest.fixture
def cleanup_clusters(app):
    """Clusters made by a test end with designation 'test', so the PostgreSQL fixture removes them."""
    from wizard.models import Cluster

    with app.app_context():
        seeded = set(db.session.execute(db.select(Cluster.id)).scalars())
    yield
    with app.app_context():
        db.session.rollback()
        db.session.execute(db.update(Cluster).where(Cluster.id.not_in(seeded)).values(designation="test"))
        db.session.commit()


def test_fuzz_admin_account_form(app, client, auth, people):
    """/admin/accounts/new and /admin/accounts/<id>: never a 500, no account with a bad role or
    binding, no control character or over-long value stored."""
    from wizard.models import ROLE_LABELS, Cluster, Region, User

    auth.login("admin")
    with app.app_context():
        cluster_ids = [str(i) for i in db.session.execute(db.select(Cluster.id).limit(3)).scalars()]
        region_ids = [str(i) for i in db.session.execute(db.select(Region.id).limit(3)).scalars()]
        target = db.session.execute(db.select(User.id).filter_by(username="applicant-b")).scalar_one()
    token = csrf_from(client.get("/admin/accounts/new"))
    field = {
        "username": st.one_of(VALUE, st.text(min_size=3, max_size=20)),
        "display_name": VALUE, "email": VALUE,
        "role": st.one_of(st.sampled_from(list(ROLE_LABELS) + ["superuser", "", "ADMIN"]), VALUE),
        "cluster_id": st.one_of(st.sampled_from(cluster_ids + ["0", "-1", "987654", "x", "9" * 30]), VALUE),
        "region_id": st.one_of(st.sampled_from(region_ids + ["0", "987654", "x"]), VALUE),
        "password": st.one_of(VALUE, st.sampled_from(["1234567", "12345678", "p" * 200])),
        "active": st.sampled_from(["y", "", "no", "0"]),
    }

    @FORM_FUZZ
    @example("new", {"username": "名字\x00带控制符", "role": "admin", "password": "password-123", "active": "y"})
    @example("new", {"username": "ok-user", "display_name": "单位\x07名称", "email": "a\x00@b.cn", "role": "admin",
                     "password": "password-123", "active": "y"})
    @example("new", {"username": "x" * 65, "role": "admin", "password": "password-123"})
    @example("edit", {"username": "applicant-b", "role": "county", "region_id": "987654", "cluster_id": "1"})
    @example("edit", {"username": "applicant-b", "role": "applicant", "cluster_id": "9" * 30})
    @given(st.sampled_from(["new", "edit"]), st.fixed_dictionaries({}, optional=field))
    def run(which, form):
        with app.app_context():
            dirty = stored_text_problems()
        url = "/admin/accounts/new" if which == "new" else f"/admin/accounts/{target}"
        r = client.post(url, data={**form, "csrf_token": token})
        assert_no_crash(r, (which, {k: str(v)[:40] for k, v in form.items()}))
        with app.app_context():
            for u in db.session.execute(db.select(User)).scalars():
                assert u.role in ROLE_LABELS
                assert (u.role != "applicant" or u.cluster is not None) and (u.role != "county" or u.region is not None)
                assert 3 <= len(u.username) <= 64 or u.username in ("admin",), u.username
                assert len(u.display_name or "") <= 128 and len(u.email or "") <= 256
                assert u.username == u.username.strip()
            assert not stored_text_problems() - dirty  # nothing new with a control character
        assert client.get("/admin/").status_code == 200  # the administrator is still logged in

    run()


def test_fuzz_admin_cluster_form(app, client, auth, people, cleanup_clusters):
    """/admin/clusters/new and /admin/clusters/<id> (of a cluster the test made)."""
    from wizard.models import CATEGORY_LABELS, Cluster, Region, Submission

    auth.login("admin")
    with app.app_context():
        region_ids = [str(i) for i in db.session.execute(db.select(Region.id).limit(3)).scalars()]
        mine = Cluster(name="模糊测试集群", category="sme", region_id=int(region_ids[0]), designation="test")
        db.session.add(mine)
        db.session.flush()
        from wizard.accounts import ensure_submissions

        ensure_submissions()
        db.session.commit()
        mine_id = mine.id
    token = csrf_from(client.get("/admin/clusters/new"))
    field = {
        "name": st.one_of(VALUE, st.just(ALLOY)), "category": st.one_of(st.sampled_from(list(CATEGORY_LABELS)), VALUE),
        "region_id": st.one_of(st.sampled_from(region_ids + ["0", "987654", "x", "9" * 30]), VALUE),
        "active": st.sampled_from(["y", ""]),
    }

    @FORM_FUZZ
    @example("new", {"name": "新\x00集群", "category": "sme", "region_id": "1"}, "test")
    @example("edit", {"name": "改名\x07集群", "category": "advanced", "region_id": "1"}, "第\x00批")
    @example("new", {"name": "x" * 129, "category": "sme", "region_id": "1"}, "test")
    @example("edit", {"name": ALLOY, "category": "sme", "region_id": "1"}, "test")  # a name that is taken
    @given(st.sampled_from(["new", "edit"]), st.fixed_dictionaries({}, optional=field),
           st.one_of(VALUE, st.just("test")))
    def run(which, form, designation):
        # new clusters always carry designation 'test' (the PostgreSQL fixture removes them)
        with app.app_context():
            dirty = stored_text_problems()
        data = {**form, "csrf_token": token, "designation": "test" if which == "new" else designation}
        url = "/admin/clusters/new" if which == "new" else f"/admin/clusters/{mine_id}"
        r = client.post(url, data=data)
        assert_no_crash(r, (which, {k: str(v)[:40] for k, v in data.items()}))
        with app.app_context():
            clusters = db.session.execute(db.select(Cluster)).scalars().all()
            assert all(c.category in CATEGORY_LABELS and c.region is not None for c in clusters)
            assert all(0 < len(c.name) <= 128 and c.name == c.name.strip() for c in clusters)
            assert len({c.name for c in clusters}) == len(clusters)
            # every active cluster has its submission
            with_sub = set(db.session.execute(db.select(Submission.cluster_id)).scalars())
            assert all(c.id in with_sub for c in clusters if c.active)
            assert not stored_text_problems() - dirty  # nothing new with a control character

    run()


def test_fuzz_deadline_form(app, client, auth, people):
    """/admin/submissions/<id>/deadline: a stored deadline is always later than before and than now."""
    from datetime import datetime

    from wizard.models import HistoryEntry, Submission, utcnow

    auth.login("admin")
    with app.app_context():
        sid = submission_of(ALLOY).id
    token = csrf_from(client.get(f"/admin/submissions/{sid}"))
    when = st.one_of(VALUE, st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).flatmap(
        lambda d: st.sampled_from([d.strftime("%Y-%m-%dT%H:%M"), d.strftime("%Y-%m-%d %H:%M"), d.isoformat()])),
        st.sampled_from(["2099-13-01T00:00", "2099-02-30", "9999-12-31T23:59", "0001-01-01", "2100-01-01T25:00"]))

    @FORM_FUZZ
    @example("2199-01-01T10:00", "原因\x00说明\x07")
    @example("9999-12-31T23:59", "最晚")
    @example("2199-01-01T10:00", "x" * 501)
    @given(st.one_of(st.none(), when), st.one_of(st.none(), VALUE))
    def run(until, reason):
        with app.app_context():
            sub = db.session.get(Submission, sid)
            sub.deadline_override, sub.state = None, "draft"
            db.session.commit()
            base = sub.edition.preliminary_deadline
            history = db.session.execute(db.select(db.func.count()).select_from(HistoryEntry)).scalar_one()
            dirty = stored_text_problems()
        data = {"csrf_token": token}
        if until is not None:
            data["deadline_until"] = until
        if reason is not None:
            data["deadline_reason"] = reason
        r = client.post(f"/admin/submissions/{sid}/deadline", data=data)
        assert_no_crash(r, (until, reason and reason[:40]))
        with app.app_context():
            sub = db.session.get(Submission, sid)
            added = db.session.execute(db.select(db.func.count()).select_from(HistoryEntry)).scalar_one() - history
            if r.status_code == 302:
                assert sub.deadline_override > max(base, utcnow()) and added == 1
            else:
                assert sub.deadline_override is None and added == 0
            assert not stored_text_problems() - dirty  # nothing new with a control character

    run()
