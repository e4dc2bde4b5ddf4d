"""A step page shown from the saved answers writes its sections from markup kept per process per
the section's values (report/view.filled_section): the same values show the same inputs, but
each page's evidence boxes (its files, the messages beside them) are its own, and any change of
what a section shows (a value, the cluster's name or category, the edition's years) shows on
the next page."""
import io
import re

import pytest

from builders import pdf_bytes
from factories import ALLOY, LINXIANG, AuthActions, attach, cluster_named, csrf_from, submission_of
from wizard.extensions import db
from wizard.models import Edition, Submission

SLOT = "listed_enterprises"  # an indicator row marked 需提供佐证材料: its evidence box follows the row


def logged_in(app, username):
    client = app.test_client()
    AuthActions(client).login(username)
    return client


def version_of(page_html):
    return re.search(r'name="version"[^>]*value="(\d+)"', page_html).group(1)


def value_of(page_html, name):
    m = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', page_html)
    return m.group(1) if m else None


def box_of(page_html, slot=SLOT):
    """The evidence box of ``slot`` as written."""
    m = re.search(rf'<div class="evidence-box" id="ev-{slot}">.*?<div class="evidence-upload">', page_html, re.S)
    assert m, f"no evidence box {slot}"
    return m.group(0)


def post_step(client, key, data, **kw):
    page = client.get(f"/applicant/step/{key}")
    payload = {"csrf_token": csrf_from(page), "version": version_of(page.get_data(as_text=True)),
               "action": "save", **data}
    return client.post(f"/applicant/step/{key}", data=payload, **kw)


@pytest.fixture
def two(app, people):
    """Applicants A and B with the same indicator values (one kept section for both pages)."""
    with app.app_context():
        for name in (ALLOY, LINXIANG):
            sub = submission_of(name)
            sub.preliminary_answers = {"listed_enterprises": {"y1": "3", "y2": "4"}, "revenue": {"y1": "10", "y2": "12"}}
        cluster_named(LINXIANG).category = cluster_named(ALLOY).category  # the same form
        db.session.commit()
    return logged_in(app, "applicant-a"), logged_in(app, "applicant-b")


def test_the_same_values_show_each_applicants_own_files(app, two):
    a, b = two
    with app.app_context():
        attach(submission_of(ALLOY), SLOT, name="甲的上市公司名单.pdf")
        attach(submission_of(LINXIANG), SLOT, name="乙的上市公司名单.pdf")
    for _ in range(2):  # alternately, twice: the second time from the kept sections
        page_a = a.get("/applicant/step/indicators").get_data(as_text=True)
        page_b = b.get("/applicant/step/indicators").get_data(as_text=True)
        assert value_of(page_a, "listed_enterprises-y1") == value_of(page_b, "listed_enterprises-y1") == "3"
        assert "甲的上市公司名单.pdf" in box_of(page_a) and "乙的" not in page_a
        assert "乙的上市公司名单.pdf" in box_of(page_b) and "甲的" not in page_b


def test_a_file_uploaded_or_removed_shows_on_the_next_page(app, two):
    a, _ = two
    before = a.get("/applicant/step/indicators").get_data(as_text=True)
    assert "evidence-files" not in box_of(before)
    r = post_step(a, "indicators", {f"evidence-{SLOT}": (io.BytesIO(pdf_bytes(2)), "新名单.pdf")},
                  content_type="multipart/form-data")
    assert r.status_code == 302
    page = a.get(r.headers["Location"]).get_data(as_text=True)
    box = box_of(page)
    assert "新名单.pdf" in box and "2 页" in box
    assert "已上传“新名单.pdf”" in box  # the upload's message, beside its file (this request's)
    again = a.get("/applicant/step/indicators").get_data(as_text=True)
    assert "新名单.pdf" in box_of(again) and "已上传" not in again  # a message shows once
    file_id = re.search(r'value="remove:(\d+)"', again).group(1)
    r = post_step(a, "indicators", {"evidence_action": f"remove:{file_id}"})
    assert r.status_code == 302
    box = box_of(a.get("/applicant/step/indicators").get_data(as_text=True))
    assert "evidence-files" not in box and "已删除“新名单.pdf”" in box


def test_a_saved_value_shows_on_the_next_page(app, two):
    a, b = two
    a.get("/applicant/step/indicators")
    r = post_step(a, "indicators", {"revenue-y1": "10", "revenue-y2": "99.5"})
    assert r.status_code == 302
    assert value_of(a.get("/applicant/step/indicators").get_data(as_text=True), "revenue-y2") == "99.5"
    assert value_of(b.get("/applicant/step/indicators").get_data(as_text=True), "revenue-y2") == "12"


def test_answers_changed_without_a_save_show_too(app, two):
    """Kept per the values themselves, not per the version: a row changed behind the page's back
    (an import, a repair) shows as well."""
    a, _ = two
    a.get("/applicant/step/indicators")
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = {**sub.preliminary_answers, "revenue": {"y1": "77", "y2": "12"}}
        db.session.commit()
    assert value_of(a.get("/applicant/step/indicators").get_data(as_text=True), "revenue-y1") == "77"


def test_the_clusters_name_category_and_the_editions_years_show(app, two):
    a, _ = two
    page = a.get("/applicant/step/basic").get_data(as_text=True)
    assert value_of(page, "cluster_name") == ALLOY
    indicators = a.get("/applicant/step/indicators").get_data(as_text=True)
    assert 'name="sme_share-y1"' not in indicators  # 中小企业 only
    with app.app_context():
        cluster = cluster_named(ALLOY)
        cluster.name, cluster.category = "长沙新合金集群<&>", "sme"
        edition = db.session.get(Edition, db.session.get(Submission, submission_of("长沙新合金集群<&>").id).edition_id)
        edition.data_year_1, edition.data_year_2 = edition.data_year_1 - 1, edition.data_year_2 - 1
        y1 = edition.data_year_1
        db.session.commit()
    page = a.get("/applicant/step/basic").get_data(as_text=True)
    assert value_of(page, "cluster_name") == "长沙新合金集群&lt;&amp;&gt;"
    indicators = a.get("/applicant/step/indicators").get_data(as_text=True)
    assert 'name="sme_share-y1"' in indicators
    assert f"{y1}年" in indicators and value_of(indicators, "revenue-y1") == "10"


def test_a_value_holding_the_box_mark_is_shown_as_typed(app, two):
    a, _ = two
    with app.app_context():
        attach(submission_of(ALLOY), "declaration_scan", name="声明.pdf")
    text = "甲\ue002乙"
    r = post_step(a, "basic", {"org_head": text})
    assert r.status_code == 302
    for _ in range(2):
        page = a.get("/applicant/step/basic").get_data(as_text=True)
        assert value_of(page, "org_head") == text
    page = a.get("/applicant/step/declaration").get_data(as_text=True)
    assert "声明.pdf" in page
