"""Issue #22, item 7: a report not submitted by its deadline is read-only.  Every write path of
the applicant's blueprints is refused (the list is taken from the URL map, so a new write route
is covered without editing this file), nothing is stored, the pages say so and whom to ask, and
an extension given by an administrator opens the report again."""
import io
import os
import re
from datetime import timedelta

import pytest

from builders import pdf_bytes
from factories import ALLOY, attach, csrf_from, submission_of, user_named
from fill import complete_answers
from urlmap import APPLICANTS, expectation, routes
from wizard.evidence.storage import files_of
from wizard.extensions import db
from wizard.models import Edition, EvidenceFile, HistoryEntry, local_now
from wizard.workflow.deadlines import extend_deadline

FETCH = {"X-Requested-With": "fetch"}
LOCKED = "提交截止时间"
WHOM = "省级管理员"
TEXT = "截止之后才写下的内容"


@pytest.fixture
def open_report(app, client, auth, people):
    """Submission A, a complete draft with one evidence file, its applicant logged in, and the
    tokens a browser tab holds (step page, Excel preview) from before the deadline."""
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary", "advanced")
        db.session.commit()
        file_id = attach(sub, "listed_enterprises", name="上市公告.pdf").id
    auth.login("applicant-a")
    page = client.get("/applicant/step/innovation")
    token = csrf_from(page)
    version = re.search(r'name="version"[^>]*value="(\d+)"', page.get_data(as_text=True)).group(1)
    template = client.get("/applicant/workbook/template.xlsx").data
    preview = client.post("/applicant/workbook/upload", content_type="multipart/form-data",
                          data={"csrf_token": token, "file": (io.BytesIO(_changed(template)), "填报模板.xlsx")})
    assert preview.status_code == 200, preview.get_data(as_text=True)[:500]
    preview_token = re.search(r'name="token" value="([^"]+)"', preview.get_data(as_text=True)).group(1)
    # before the deadline an autosave is saved (the lock below is the deadline's doing)
    r = client.post("/applicant/step/innovation", headers=FETCH,
                    data={"csrf_token": token, "version": version, "carriers-0-name": "截止前"})
    assert r.status_code == 200 and r.get_json()["ok"]
    return {"token": token, "version": str(r.get_json()["version"]), "file_id": file_id,
            "preview": preview_token, "template": template}


def _changed(template: bytes) -> bytes:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(template))
    ws = wb["基本信息"]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "f:industry_field")
    ws[f"C{row}"] = "模板中改写的产业领域"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _pass_deadline(app, hours=1):
    with app.app_context():
        db.session.execute(db.update(Edition).values(preliminary_deadline=local_now() - timedelta(hours=hours)))
        db.session.commit()


def snapshot_of_a(app):
    """What any write would change: answers, version, history, evidence rows and files on disk."""
    with app.app_context():
        sub = submission_of(ALLOY)
        history = db.session.execute(db.select(db.func.count()).select_from(HistoryEntry)
                                     .filter_by(submission_id=sub.id)).scalar_one()
        rows = sorted((f.id, f.slot, f.position) for f in files_of(sub, "preliminary"))
    on_disk = sorted(os.path.relpath(os.path.join(d, n), app.config["UPLOAD_FOLDER"])
                     for d, _, names in os.walk(app.config["UPLOAD_FOLDER"]) for n in names)
    return sub.preliminary_answers, sub.version, history, rows, on_disk


def write_paths(o):
    """Every way the applicant's pages change a report, as the browser sends it."""
    base = {"csrf_token": o["token"], "version": o["version"]}
    pdf = lambda: (io.BytesIO(pdf_bytes(1)), "新证书.pdf")  # noqa: E731
    return {
        "step save": ("/applicant/step/plan", {**base, "plan_background": TEXT, "action": "save"}, {}),
        "autosave": ("/applicant/step/plan", {**base, "plan_background": TEXT}, FETCH),
        "table row add": ("/applicant/step/innovation", {**base, "carriers-0-name": TEXT, "add_row": "carriers"}, {}),
        "table row delete": ("/applicant/step/innovation", {**base, "carriers-0-name": "截止前",
                                                            "remove_row": "carriers-0"}, {}),
        "evidence upload": ("/applicant/step/indicators", {**base, "action": "upload",
                                                            "evidence-listed_enterprises": pdf()}, {}),
        "evidence delete": ("/applicant/step/indicators", {**base, "evidence_action": f"remove:{o['file_id']}"}, {}),
        "bulk evidence form": ("/applicant/step/evidence", {**base, "action": "bulk_upload", "return_to": "review",
                                                            "bulk-file-0": pdf(), "bulk-slot-0": "listed_enterprises"}, {}),
        "carried-text confirm": ("/applicant/step/plan", {**base, "confirm_carried": "plan_background"}, {}),
        "template import": ("/applicant/workbook/upload", {"csrf_token": o["token"],
                                                           "file": (io.BytesIO(_changed(o["template"])), "填报模板.xlsx")}, {}),
        "template confirm": ("/applicant/workbook/confirm", {"csrf_token": o["token"], "token": o["preview"]}, {}),
        "submit": ("/applicant/submit", base, {}),
    }


def applicant_write_rules(app):
    """The state-changing routes of the applicant's blueprints, from the URL map."""
    return [(rule, method) for rule, method in routes(app)
            if method != "GET" and expectation(rule.endpoint) is APPLICANTS]


def test_every_write_path_is_refused_after_the_deadline(app, client, open_report):
    rules = applicant_write_rules(app)
    endpoints = {rule.endpoint for rule, _ in rules}
    assert {"applicant.step", "applicant.submit", "workbook.upload", "workbook.confirm"} <= endpoints
    _pass_deadline(app)
    before = snapshot_of_a(app)
    for name, (path, data, headers) in write_paths(open_report).items():
        r = client.post(path, data=data, headers=headers, content_type="multipart/form-data")
        text = r.get_json()["error"] if headers else r.get_data(as_text=True)
        assert r.status_code == 409 and LOCKED in text and WHOM in text and "未保存" in text, (name, r.status_code)
        assert snapshot_of_a(app) == before, name
    # and whatever write route the URL map holds, with any form: refused before its view runs
    for rule, method in rules:
        path = rule.rule.replace("<step_key>", "plan")
        assert "<" not in path, f"give {rule.rule} a value here"
        r = client.open(path, method=method, data={"csrf_token": open_report["token"]})
        assert r.status_code == 409 and LOCKED in r.get_data(as_text=True), (method, path, r.status_code)
    assert snapshot_of_a(app) == before
    with app.app_context():
        assert TEXT not in str(submission_of(ALLOY).preliminary_answers)


def test_the_pages_show_the_report_read_only_and_whom_to_ask(app, client, open_report):
    _pass_deadline(app)
    tasks = client.get("/applicant/").get_data(as_text=True)
    notice = re.search(r'<p class="flash flash-warning" id="deadline-lock">([^<]+)</p>', tasks)
    assert notice and LOCKED in notice.group(1) and WHOM in notice.group(1) and "只读" in notice.group(1)
    assert 'href="/applicant/step/' not in tasks and "上传填好的模板" not in tasks
    r = client.get("/applicant/step/plan")  # no form to type into: the review page, with the reason on top
    assert r.status_code == 302 and r.headers["Location"].endswith("/applicant/review")
    review = client.get(r.headers["Location"]).get_data(as_text=True)
    assert review.count(LOCKED) >= 1 and 'id="deadline-lock"' in review
    assert 'action="/applicant/submit"' not in review and 'name="bulk-file-0"' not in review
    assert "<textarea" not in review and 'type="file"' not in review
    r = client.get("/applicant/workbook/upload")
    assert r.status_code == 302 and LOCKED in client.get(r.headers["Location"]).get_data(as_text=True)


def test_an_extension_opens_the_report_again(app, client, open_report):
    _pass_deadline(app)
    path, data, headers = write_paths(open_report)["autosave"]
    assert client.post(path, data=data, headers=headers).status_code == 409
    with app.app_context():
        extend_deadline(submission_of(ALLOY), user_named("admin"), local_now() + timedelta(days=3), "材料补充")
    r = client.post(path, data=data, headers=headers)
    assert r.status_code == 200 and r.get_json()["ok"], r.get_data(as_text=True)
    with app.app_context():
        assert submission_of(ALLOY).preliminary_answers["plan_background"] == TEXT
    assert 'id="deadline-lock"' not in client.get("/applicant/").get_data(as_text=True)


def test_a_submitted_report_is_unaffected(app, client, auth, people):
    """The lock concerns reports still being edited; a submitted one keeps its own read-only page."""
    from factories import submitted

    with app.app_context():
        submitted()
    _pass_deadline(app)
    auth.login("applicant-a")
    page = client.get("/applicant/").get_data(as_text=True)
    assert "报告已提交，当前为只读。" in page and 'id="deadline-lock"' not in page
