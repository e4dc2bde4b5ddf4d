"""Hypothesis fuzzing of what users type: every wizard step of both rounds, the login form and
the administrator's submission search.  Never a 500; saved answers are shown again; refused
input gets a Chinese message."""
import html
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from factories import ALLOY, LINXIANG, PASSWORD, AuthActions, csrf_from, submission_of
from wizard.extensions import db
from wizard.report.definition import get_report
from wizard.report.numbers import _CONTROL, clean_text

FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CJK = re.compile(r"[\u4e00-\u9fff]")

NASTY = [
    "", " ", "-1", "-0", "-0.0001", "NaN", "nan", "inf", "-Infinity", "1e308", "1e-7", "0x1F", "１２３４．５",
    "1,234.5", "12.34567", "9" * 40, "100.0001", "101", "−5", "\x00", "a\x00b", "\x07\x1b[31m", "\u202etxet",
    "\u200b", "\ufeff", "\r\n\r\n", "<script>alert(1)</script>", "\"'><img src=x>", "{{ 7*7 }}", "' OR 1=1 --",
    "%", "_", "\\", "字" * 6000, "x" * 70000, "🀄️👨‍👩‍👧", "国家级", "省级", "y", "on", "None",
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

    @FUZZ
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


def test_fuzz_login_form(app, client, people):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 10_000  # exercise the form, not the throttle
    app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] = 10_000
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
