"""需提供佐证材料 is enforced: a row reported as non-zero needs a file before the report can be
submitted (a row at 0 needs none), 4.3 needs at least one document; and a narrative saved over
its character limit is saved, with a message naming it."""
import io
import re

import pytest

from builders import pdf_bytes
from factories import ALLOY, attach, attach_declarations, csrf_from, submission_of
from fill import complete_answers, step_data
from wizard.evidence.storage import files_of
from wizard.extensions import db

ROW = "national_champions"
ROW_MESSAGE = "已填报“国家级单项冠军数量”，请上传佐证材料（数值为 0 的可不上传）。"


@pytest.fixture
def applicant(client, auth, people):
    auth.login("applicant-a")
    return client


def prepare(app, answers=None, skip=()):
    """The complete report, with every required file except those of the ``skip`` slots."""
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = answers or complete_answers("preliminary")
        db.session.commit()
        for slot in skip:  # attached first, removed after: attach_declarations skips slots that have a file
            attach(sub, slot)
        attach_declarations(sub)
        for row in files_of(sub, "preliminary"):
            if row.slot in skip:
                db.session.delete(row)
        db.session.commit()


def submit(client):
    review = client.get("/applicant/review").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', review).group(1)
    r = client.post("/applicant/submit", data={"csrf_token": csrf_from(client.get("/applicant/review")),
                                               "version": version})
    return r, client.get("/applicant/review").get_data(as_text=True)


def state(app):
    with app.app_context():
        return submission_of(ALLOY).state


def test_a_nonzero_row_without_a_file_blocks_submit(app, applicant):
    prepare(app, skip=(ROW,))
    r, review = submit(applicant)
    assert r.status_code == 302 and state(app) == "draft"
    assert "共 1 项" in review and ROW_MESSAGE in review
    assert f'href="/applicant/step/indicators#ev-{ROW}"' in review
    # after uploading the file (through the web, on the row's step), the report submits
    page = applicant.get("/applicant/step/indicators")
    version = re.search(r'name="version"[^>]*value="(\d+)"', page.get_data(as_text=True)).group(1)
    data = {**step_data("preliminary", "indicators"), "csrf_token": csrf_from(page), "version": version,
            "action": "save", f"evidence-{ROW}": (io.BytesIO(pdf_bytes(1)), "单项冠军证书.pdf")}
    assert applicant.post("/applicant/step/indicators", data=data).status_code == 302
    assert ROW_MESSAGE not in applicant.get("/applicant/review").get_data(as_text=True)
    r, _ = submit(applicant)
    assert state(app) == "submitted"


def test_a_row_at_zero_needs_no_file(app, applicant):
    with app.app_context():  # the forms build the answers (the first call in a worker builds them)
        answers = complete_answers("preliminary")
    answers[ROW] = {k: "0" for k in answers[ROW]}
    prepare(app, answers, skip=(ROW,))
    review = applicant.get("/applicant/review").get_data(as_text=True)
    assert "提交前还需处理" not in review and "国家级单项冠军数量”，请上传" not in review
    submit(applicant)
    assert state(app) == "submitted"


def test_org_documents_need_at_least_one_file(app, applicant):
    prepare(app, skip=("org_documents",))
    r, review = submit(applicant)
    assert state(app) == "draft"
    assert "请上传“4.3 相关佐证资料”（至少一份文件）。" in review
    assert 'href="/applicant/step/org#ev-org_documents"' in review
    with app.app_context():
        attach(submission_of(ALLOY), "org_documents", name="组织文件.pdf")
    submit(applicant)
    assert state(app) == "submitted"


def test_saving_a_text_over_its_limit_names_it(app, applicant):
    page = applicant.get("/applicant/step/org")
    version = re.search(r'name="version"[^>]*value="(\d+)"', page.get_data(as_text=True)).group(1)
    data = {**step_data("preliminary", "org"), "csrf_token": csrf_from(page), "version": version,
            "action": "save", "org_operation": "字" * 1088}
    r = applicant.post("/applicant/step/org", data=data, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "已保存。但“集群发展促进组织运营情况”已输入 1088 字，超出 1000 字的限制，请删减 88 字后再提交。" in html
    with app.app_context():
        assert submission_of(ALLOY).preliminary_answers["org_operation"] == "字" * 1088
    # within the limit: just saved
    page = applicant.get("/applicant/step/org")
    version = re.search(r'name="version"[^>]*value="(\d+)"', page.get_data(as_text=True)).group(1)
    data.update(csrf_token=csrf_from(page), version=version, org_operation="字" * 1000)
    html = applicant.post("/applicant/step/org", data=data, follow_redirects=True).get_data(as_text=True)
    assert "已保存。" in html and "超出" not in html
