"""The report as PDF, read back with pypdf: labels of the official forms, values, growth,
watermark only on drafts, the embedded font, access, the CLI."""
import io
import re
import shutil

import pytest
from pypdf import PdfReader

from factories import ALLOY, LINXIANG, attach_declarations, submission_of
from fill import complete_answers
from wizard.extensions import db
from wizard.report.definition import get_report


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


@pytest.mark.parametrize("round_", ["preliminary", "final"])
def test_blank_template_has_every_label(app, client, auth, people, round_):
    auth.login("applicant-a")
    r = client.get(f"/report/blank/{round_}.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    text = squash(text_of(r.data))
    report = get_report(round_)
    assert squash(report.title) in text
    for heading in report.parts.values():
        assert squash(heading) in text, heading
    missing = [f.label for f in report.fields
               if f.kind not in ("agree",) and not f.web_only and squash(f.print_label or f.label) not in text]
    assert missing == []
    for s in report.sections:
        if s.heading:
            assert squash(s.heading) in text, s.heading


def test_filled_report_shows_values_growth_and_watermark(app, client, auth, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary")
        db.session.commit()
    auth.login("applicant-a")
    r = client.get("/applicant/report.pdf")
    assert r.status_code == 200
    text = text_of(r.data)
    flat = squash(text)
    assert "集群主导产业示例" in flat and "0731-88888888" in flat
    assert "25.50" in flat and "+1.20个百分点" in flat  # computed growth and percentage points
    assert "草稿" in flat  # draft watermark
    pages = len(PdfReader(io.BytesIO(r.data)).pages)
    assert f"共{pages}页" in flat and "校验码" in flat
    assert ALLOY in flat  # running header


def test_submitted_report_has_no_watermark(app, client, auth, people):
    from wizard.models import User
    from wizard.workflow import apply_move

    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary")
        db.session.commit()
        attach_declarations(sub)
        apply_move(sub, "submit", db.session.execute(db.select(User).filter_by(username="applicant-a")).scalar_one())
        sid = sub.id
    auth.login("county-x")
    r = client.get(f"/county/submissions/{sid}/report.pdf")
    assert r.status_code == 200 and "草稿" not in squash(text_of(r.data))


def test_pdf_access_is_scoped(app, client, auth, people):
    with app.app_context():
        alloy = submission_of(ALLOY).id
    auth.login("county-y")
    assert client.get(f"/county/submissions/{alloy}/report.pdf").status_code == 404
    auth.logout()
    auth.login("applicant-b")
    assert client.get(f"/admin/submissions/{alloy}/report.pdf").status_code == 403


@pytest.mark.skipif(shutil.which("pdffonts") is None, reason="poppler-utils not installed")
def test_chinese_font_is_embedded_when_installed(app, tmp_path, runner):
    import subprocess

    from wizard.pdf.fonts import find_cjk_font

    if find_cjk_font() is None:
        pytest.skip("no CJK TrueType font on this machine")
    out = tmp_path / "blank.pdf"
    r = runner.invoke(args=["pdf", "--blank", "--round", "preliminary", "-o", str(out)])
    assert r.exit_code == 0, r.output
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout
    assert any("TrueType" in line and " yes " in line for line in fonts.splitlines()[2:]), fonts


def test_hostile_values_are_printed_as_text(app, runner, tmp_path):
    payload = '<img src="http://127.0.0.1:9/x"> <unichar code="0x41"/> <para><font color="[[1 for x in []]] and \'red\'">x</font></para>'
    with app.app_context():
        sub = submission_of(LINXIANG)
        answers = complete_answers("preliminary", "sme")
        answers["industry_field"] = payload
        answers["self_assessment"] = payload * 3
        answers["top10"][0]["name"] = payload
        sub.preliminary_answers = answers
        db.session.commit()
        sid = sub.id
    out = tmp_path / "r.pdf"
    r = runner.invoke(args=["pdf", str(sid), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "unichar" in squash(text_of(out.read_bytes()))


def test_second_download_is_served_from_cache(app, client, auth, people):
    auth.login("applicant-a")
    first = client.get("/applicant/report.pdf").data
    import os

    files = os.listdir(app.config["PDF_CACHE_FOLDER"])
    assert len(files) == 1
    assert client.get("/applicant/report.pdf").data == first
    assert os.listdir(app.config["PDF_CACHE_FOLDER"]) == files
