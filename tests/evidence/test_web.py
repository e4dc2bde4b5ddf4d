"""Evidence files (佐证材料) through the web: attached beside their indicator, listed, reordered,
removed, downloaded only by who may see the submission, bound into the report PDF with computed
page references, and frozen once submitted.  The tests that render a PDF are marked `pdf`
(not in `make test-fast`)."""
import io
import os
import re

import pytest
from pypdf import PdfReader, PdfWriter

from builders import encrypted_pdf, image_bytes, pdf_bytes, write_pdf
from factories import ALLOY, attach, csrf_from, submission_of, submitted
from fill import complete_answers, step_data
from wizard.evidence.storage import files_of
from wizard.extensions import db
from wizard.models import EvidenceFile, Snapshot


@pytest.fixture
def applicant(client, auth, people):
    auth.login("applicant-a")
    return client


def post_step(client, key, data):
    page = client.get(f"/applicant/step/{key}")
    version = re.search(r'name="version"[^>]*value="(\d+)"', page.get_data(as_text=True)).group(1)
    return client.post(f"/applicant/step/{key}", data={"csrf_token": csrf_from(page), "version": version,
                                                      "action": "upload", **data})


def upload(client, key, slot, *files, **fields):
    data = dict(fields)
    data[f"evidence-{slot}"] = [(io.BytesIO(content), name) for name, content in files]
    return post_step(client, key, data)


def stored(app, slot=None):
    with app.app_context():
        rows = files_of(submission_of(ALLOY), "preliminary")
        return [(r.slot, r.original_name, r.pages) for r in rows if slot is None or r.slot == slot]


def text_of(pdf: bytes) -> list[str]:
    return [(p.extract_text() or "") for p in PdfReader(io.BytesIO(pdf)).pages]


def test_files_attach_beside_their_indicator_and_are_listed(app, applicant):
    r = upload(applicant, "indicators", "listed_enterprises", ("上市公告.pdf", pdf_bytes(3)), ("挂牌证书.png", image_bytes()))
    assert r.status_code == 302 and r.headers["Location"].endswith("#ev-listed_enterprises")
    page = applicant.get(r.headers["Location"]).get_data(as_text=True)
    box = page[page.find('id="ev-listed_enterprises"'):]
    box = box[:box.find('id="ev-', 10)]
    assert "上市公告.pdf" in box and "3 页" in box and "挂牌证书.png" in box and "1 页" in box
    assert "已上传“上市公告.pdf”（3 页）" in page
    assert stored(app) == [("listed_enterprises", "上市公告.pdf", 3), ("listed_enterprises", "挂牌证书.png", 1)]


def test_a_refused_file_says_why_in_chinese_and_keeps_what_was_typed(app, applicant):
    data = step_data("preliminary", "indicators")
    data["evidence-listed_enterprises"] = [(io.BytesIO(b"<html><script>alert(1)</script></html>"), "伪装.pdf")]
    page = post_step(applicant, "indicators", data)
    html = applicant.get(page.headers["Location"]).get_data(as_text=True) if page.status_code == 302 else page.get_data(as_text=True)
    assert "伪装.pdf" in html and "HTML" in html
    assert stored(app) == []
    with app.app_context():  # the typed values were saved all the same
        assert submission_of(ALLOY).preliminary_answers["revenue"]["y2"] == data["revenue-y2"]


def test_encrypted_pdf_is_refused(app, applicant):
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    r = upload(applicant, "indicators", "listed_enterprises", ("加密.pdf", encrypted_pdf(writer, "secret")))
    assert "已加密或设有密码" in applicant.get(r.headers["Location"]).get_data(as_text=True)
    assert stored(app) == []


def test_reorder_and_remove(app, applicant):
    upload(applicant, "indicators", "listed_enterprises", ("一.pdf", pdf_bytes(1)), ("二.pdf", pdf_bytes(2)))
    with app.app_context():
        first, second = files_of(submission_of(ALLOY), "preliminary")
        first_id, second_id, first_path = first.id, second.id, os.path.join(app.config["UPLOAD_FOLDER"], first.stored_name)
    assert os.path.exists(first_path)
    post_step(applicant, "indicators", {"evidence_action": f"down:{first_id}"})
    assert [n for _, n, _ in stored(app)] == ["二.pdf", "一.pdf"]
    r = post_step(applicant, "indicators", {"evidence_action": f"remove:{first_id}"})
    assert "已删除“一.pdf”" in applicant.get(r.headers["Location"]).get_data(as_text=True)
    assert [n for _, n, _ in stored(app)] == ["二.pdf"]
    assert not os.path.exists(first_path)  # removing evidence removes the file
    # a file of this slot cannot be removed from another step's page
    post_step(applicant, "org", {"evidence_action": f"remove:{second_id}"})
    assert [n for _, n, _ in stored(app)] == ["二.pdf"]


def test_download_is_scoped_and_safe(app, client, auth, people):
    with app.app_context():
        row = attach(submission_of(ALLOY), "listed_enterprises", name="证书\r\n附件.pdf")
        fid = row.id
    expected = {"applicant-a": 200, "applicant-b": 404, "county-x": 200, "county-y": 404, "admin": 200}
    for who, status in expected.items():
        auth.login(who)
        r = client.get(f"/evidence/{fid}")
        assert r.status_code == status, who
        if status == 200:
            assert r.data.startswith(b"%PDF-") and r.mimetype == "application/pdf"
            disposition = r.headers["Content-Disposition"]
            assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
            assert "\r" not in disposition and "\n" not in disposition
            assert r.headers["X-Content-Type-Options"] == "nosniff"
        auth.logout()
    assert client.get(f"/evidence/{fid}").status_code == 302  # anonymous: to the login page


@pytest.mark.pdf  # renders the report PDF (the render consumer)
def test_report_pdf_binds_evidence_with_computed_page_references(app, applicant):
    upload(applicant, "indicators", "listed_enterprises", ("公告.pdf", pdf_bytes(3, "alpha")), ("补充.pdf", pdf_bytes(2, "beta")))
    upload(applicant, "indicators", "national_champions", ("冠军证书.png", image_bytes()),
           ("冠军证书2.jpg", image_bytes((80, 60), (10, 120, 200), format="JPEG")))
    upload(applicant, "innovation", "standards", ("标准.pdf", pdf_bytes(1, "gamma")))
    r = applicant.get("/applicant/report.pdf")
    assert r.status_code == 200
    pages = text_of(r.data)
    squashed = [re.sub(r"\s+", "", p) for p in pages]
    body = "".join(squashed[:-8])
    assert "见佐证材料第1–5页" in body and "见佐证材料第6–7页" in body and "见佐证材料第8页" in body
    # the table of contents lists each file with the indicator it supports and its pages
    assert "公告.pdf" in body and "冠军证书2.jpg" in body and "2.2国家级单项冠军数量" in body
    evidence = squashed[-8:]
    assert "alphapage1" in evidence[0] and "betapage2" in evidence[4] and "gammapage1" in evidence[7]
    for n, page in enumerate(evidence, start=1):
        assert f"佐证材料第{n}页" in page, (n, page)


@pytest.mark.pdf  # renders the report PDF (the render consumer)
def test_javascript_in_an_uploaded_pdf_never_reaches_the_report(app, applicant):
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    writer = PdfWriter()
    writer.add_blank_page(300, 300)
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject({
        NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert('x');")})
    upload(applicant, "indicators", "listed_enterprises", ("脚本.pdf", write_pdf(writer)))
    pdf = applicant.get("/applicant/report.pdf").data
    assert b"/JavaScript" not in pdf and b"app.alert" not in pdf
    assert len(PdfReader(io.BytesIO(pdf)).pages) > 1


def test_missing_evidence_and_the_declaration_scan_block_submit(app, client, auth, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary")
        db.session.commit()
    auth.login("applicant-a")
    review = client.get("/applicant/review").get_data(as_text=True)
    assert "请上传签字盖章的真实性声明页扫描件" in review
    assert "已填报“上市和挂牌企业数量”，请上传佐证材料（数值为 0 的可不上传）。" in review
    version = re.search(r'name="version" value="(\d+)"', review).group(1)
    client.post("/applicant/submit", data={"csrf_token": auth.csrf("/applicant/review"), "version": version})
    with app.app_context():
        assert submission_of(ALLOY).state == "draft"
        sid = submitted().id
    auth.logout()
    auth.login("county-x")  # every file is there once submitted: nothing is missing
    assert "尚未上传佐证材料" not in client.get(f"/county/submissions/{sid}").get_data(as_text=True)


def test_evidence_cannot_change_after_submit(app, client, auth, people):
    with app.app_context():
        attach(submission_of(ALLOY), "listed_enterprises", name="公告.pdf", pages=2)
        sub = submitted()
        fid = files_of(sub, "preliminary")[0].id
        snap = db.session.execute(db.select(Snapshot).filter_by(submission_id=sub.id)).scalar_one()
        frozen = [(e["slot"], e["name"], e["pages"]) for e in snap.evidence]
        # the file for every non-zero row marked 需提供佐证材料 and 4.3's documents lie in between
        assert frozen[0] == ("listed_enterprises", "公告.pdf", 2) and frozen[-1] == ("declaration_scan", "声明页扫描件.pdf", 1)
        names = [f.original_name for f in files_of(sub, "preliminary")]
        assert all(len(e["sha256"]) == 64 for e in snap.evidence)
    auth.login("applicant-a")
    token = auth.csrf("/applicant/")
    r = client.post("/applicant/step/indicators", data={
        "csrf_token": token, "version": "99", "evidence_action": f"remove:{fid}",
        "evidence-listed_enterprises": (io.BytesIO(pdf_bytes(1)), "新.pdf")})
    assert r.status_code == 409
    with app.app_context():
        assert [f.original_name for f in files_of(submission_of(ALLOY), "preliminary")] == names


def test_a_failed_database_write_leaves_no_file(app, monkeypatch):
    from wizard.evidence.storage import store

    with app.app_context():
        sub = submission_of(ALLOY)

        def broken_flush(*a, **kw):
            raise RuntimeError("disk full")

        monkeypatch.setattr(db.session, "commit", broken_flush)
        with pytest.raises(RuntimeError):
            store(sub, "preliminary", "listed_enterprises", "a.pdf", pdf_bytes(1), None)
        monkeypatch.undo()
        assert db.session.execute(db.select(db.func.count()).select_from(EvidenceFile)).scalar_one() == 0
    folder = app.config["UPLOAD_FOLDER"]
    assert not os.path.isdir(folder) or os.listdir(folder) == []


def test_limits_per_submission_and_request(app, applicant):
    app.config["UPLOAD_MAX_SUBMISSION_BYTES"] = len(pdf_bytes(2)) + 10
    upload(applicant, "indicators", "listed_enterprises", ("一.pdf", pdf_bytes(2)))
    r = upload(applicant, "indicators", "listed_enterprises", ("二.pdf", pdf_bytes(2)))
    html = applicant.get(r.headers["Location"]).get_data(as_text=True)
    assert "二.pdf" not in "".join(re.findall(r'<ul class="evidence-files">.*?</ul>', html, re.S))
    assert "佐证材料总大小不能超过" in html
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    r = upload(applicant, "indicators", "listed_enterprises", ("大.pdf", pdf_bytes(1) + b"%" * 60_000))
    assert r.status_code == 413 and "单次上传不能超过 48.8 KB" in r.get_data(as_text=True)


@pytest.mark.pdf  # renders the report PDF (the render consumer)
def test_county_attaches_its_sealed_opinion_and_a_bad_file_refuses_the_approval(app, client, auth, people):
    with app.app_context():
        sid = submitted().id
    auth.login("county-x")

    def approve(scan_name, scan):
        page = client.get(f"/county/submissions/{sid}")
        version = re.search(r'name="version" value="(\d+)"', page.get_data(as_text=True)).group(1)
        return client.post(f"/submissions/{sid}/move", data={
            "csrf_token": csrf_from(page), "move": "county_approve", "comment": "同意。", "version": version,
            "scan": (io.BytesIO(scan), scan_name)})

    r = approve("意见.pdf", b"MZ\x90\x00 not a pdf")
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert "操作未执行" in html and "意见.pdf" in html and ">同意。</textarea>" in html  # the opinion is kept
    with app.app_context():
        assert submission_of(ALLOY).state == "submitted"
    r = approve("意见.jpg", image_bytes((80, 60), (10, 120, 200), format="JPEG"))
    assert r.status_code == 302
    pdf = client.get(f"/submissions/{sid}/report.pdf").data
    pages = [re.sub(r"\s+", "", t) for t in text_of(pdf)]
    assert "县级以上人民政府审核意见盖章扫描件" in "".join(pages)
    with app.app_context():
        before = sum(f.pages for f in files_of(submission_of(ALLOY), "preliminary") if f.slot != "county_opinion_scan")
    assert f"佐证材料第{before + 1}页" in pages[-1]  # the applicant's files (1 page each), then the opinion scan


def test_upload_limits_come_from_the_environment(monkeypatch, tmp_path):
    from wizard import create_app

    monkeypatch.setenv("WIZARD_UPLOAD_MAX_FILE_MB", "5")
    monkeypatch.setenv("WIZARD_UPLOAD_MAX_REQUEST_MB", "12")
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                      "SECRET_KEY": "x"})
    assert app.config["UPLOAD_MAX_FILE_BYTES"] == 5 * 1024 * 1024 and app.config["MAX_CONTENT_LENGTH"] == 12 * 1024 * 1024
    monkeypatch.setenv("WIZARD_UPLOAD_MAX_FILE_MB", "lots")
    with pytest.raises(RuntimeError, match="WIZARD_UPLOAD_MAX_FILE_MB"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"})


def test_a_refused_file_keeps_the_user_on_the_step_even_with_next(app, applicant):
    data = {"action": "next", "evidence-listed_enterprises": [(io.BytesIO(b"<html></html>"), "网页.pdf")]}
    r = post_step(applicant, "indicators", data)
    assert r.status_code == 302 and "/applicant/step/indicators" in r.headers["Location"]
    assert "网页.pdf" in applicant.get(r.headers["Location"]).get_data(as_text=True)


def scans(sub):
    """The signed scans among a submission's files (the evidence of its rows left out)."""
    return [f.slot for f in files_of(sub, "preliminary") if f.slot in ("declaration_scan", "county_opinion_scan")]


def test_an_earlier_approval_scan_and_opinion_leave_with_a_return(app, client, auth, people):
    from factories import user_named
    from wizard.workflow.moves import apply_move

    with app.app_context():
        sub = submitted()
        apply_move(sub, "county_approve", user_named("county-x"), comment="第一次同意。",
                   attachment=("旧意见.pdf", pdf_bytes(1)))
        assert scans(sub) == ["declaration_scan", "county_opinion_scan"]
        apply_move(sub, "admin_return", user_named("admin"), comment="请补充。")
        assert "preliminary" not in (sub.opinions or {})  # the draft no longer carries the old opinion
        assert scans(sub) == ["declaration_scan"]
        apply_move(sub, "submit", user_named("applicant-a"))
        apply_move(sub, "county_approve", user_named("county-x"), comment="第二次同意。")
        assert scans(sub) == ["declaration_scan"]
        assert sub.opinions["preliminary"]["text"] == "第二次同意。"


def test_files_carried_into_the_final_round_do_not_count_twice(app, people):
    from factories import user_named
    from wizard.workflow.moves import apply_move

    with app.app_context():
        big = pdf_bytes(3)
        attach(submission_of(ALLOY), "listed_enterprises", data=big)
        sub = submitted()
        used = sum(f.size for f in files_of(sub, "preliminary"))
        app.config["UPLOAD_MAX_SUBMISSION_BYTES"] = used + len(pdf_bytes(1)) + 100
        for move, who in (("county_approve", "county-x"), ("accept", "admin"), ("advance", "admin")):
            apply_move(sub, move, user_named(who), comment="同意。")
        store_ok = attach(sub, "declaration_scan", round_="final", name="决赛声明.pdf")
        assert store_ok.round == "final"


def test_a_refused_move_with_a_file_leaves_nothing_on_disk(app, people):
    from factories import user_named
    from wizard.workflow.states import MoveRefused
    from wizard.workflow.moves import apply_move

    with app.app_context():
        sub = submitted()
        for move, who in (("county_approve", "county-x"), ("accept", "admin")):
            apply_move(sub, move, user_named(who), comment="同意。")
        before = sorted(os.listdir(app.config["UPLOAD_FOLDER"]))
        with pytest.raises(MoveRefused, match="不能附加文件"):
            apply_move(sub, "advance", user_named("admin"), attachment=("x.pdf", pdf_bytes(1)))
        assert sorted(os.listdir(app.config["UPLOAD_FOLDER"])) == before and sub.state == "preliminary"


def test_no_file_enters_a_submitted_report(app, people):
    """The state is checked again, under a row lock, in the transaction that writes the file."""
    from wizard.evidence.storage import EvidenceLocked, remove, store

    with app.app_context():
        attach(submission_of(ALLOY), "listed_enterprises")
        sub = submitted()
        slots = [f.slot for f in files_of(sub, "preliminary")]
        with pytest.raises(EvidenceLocked):
            store(sub, "preliminary", "listed_enterprises", "晚到.pdf", pdf_bytes(1), None)
        with pytest.raises(EvidenceLocked):
            remove(files_of(sub, "preliminary")[0])
        db.session.rollback()
        assert [f.slot for f in files_of(sub, "preliminary")] == slots


@pytest.mark.pdf  # renders the report PDF (the render consumer)
def test_changing_the_category_renders_a_new_pdf(app, client, auth, people):
    with app.app_context():
        submission_of(ALLOY).preliminary_answers = {}
        db.session.commit()
    auth.login("applicant-a")
    first = client.get("/applicant/report.pdf").data
    with app.app_context():
        submission_of(ALLOY).cluster.category = "sme"
        db.session.commit()
    try:
        second = client.get("/applicant/report.pdf").data
        assert "中小企业特色产业集群" in "".join(text_of(second)) and first != second
    finally:  # the seeded clusters outlive a test on PostgreSQL
        with app.app_context():
            submission_of(ALLOY).cluster.category = "advanced"
            db.session.commit()
