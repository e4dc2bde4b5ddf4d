"""The report as PDF, read back with PDFium (tests/pdfread.py; pypdf for the page count): labels
of the official forms, values, growth, watermark only on drafts, the embedded font, access, the
CLI."""
import io
import os
import re

import pytest
from pypdf import PdfReader

from pdfread import plain_text
from factories import ALLOY, LINXIANG, submission_of, submitted
from fill import complete_answers
from wizard.extensions import db
from wizard.report.definition import get_report


def text_of(pdf: bytes) -> str:
    return plain_text(pdf)


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


@pytest.mark.shared_pdf_cache  # the blank templates of test_paper.py, rendered once per worker
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


@pytest.mark.shared_pdf_cache  # the filled draft of test_paper.py, rendered once per worker
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
    with app.app_context():
        sid = submitted().id
    auth.login("county-x")
    r = client.get(f"/submissions/{sid}/report.pdf")
    assert r.status_code == 200 and "草稿" not in squash(text_of(r.data))


def test_pdf_access_is_scoped(app, client, auth, people):
    with app.app_context():
        alloy = submission_of(ALLOY).id
    auth.login("county-y")
    assert client.get(f"/submissions/{alloy}/report.pdf").status_code == 404
    auth.logout()
    auth.login("applicant-b")
    assert client.get(f"/submissions/{alloy}/report.pdf").status_code == 404


@pytest.mark.shared_pdf_cache  # the blank templates of test_paper.py, rendered once per worker
@pytest.mark.needs("poppler-utils", "cjk-font")
def test_chinese_font_is_embedded_when_installed(app, tmp_path, runner):
    import subprocess

    out = tmp_path / "blank.pdf"
    r = runner.invoke(args=["pdf", "--blank", "--round", "preliminary", "-o", str(out)])
    assert r.exit_code == 0, r.output
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout
    assert any("TrueType" in line and " yes " in line for line in fonts.splitlines()[2:]), fonts


@pytest.mark.shared_pdf_cache  # the blank templates of test_paper.py, rendered once per worker
@pytest.mark.needs("poppler-utils", "fonts-wqy-microhei")
def test_headings_use_an_embedded_bold_face_when_installed(app, tmp_path, runner):
    """Song/Ming has no bold: headings are set in an embedded Hei face (fonts-wqy-microhei in CI)."""
    import subprocess

    from wizard.pdf.fonts import register_cjk_fonts

    status = register_cjk_fonts()
    if not status.embedded or status.bold_path == status.path:
        pytest.skip("no separate bold (Hei) face on this machine")
    out = tmp_path / "blank.pdf"
    assert runner.invoke(args=["pdf", "--blank", "--round", "final", "-o", str(out)]).exit_code == 0
    lines = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout.splitlines()[2:]
    families = {line.split()[0].split("+")[-1] for line in lines if " yes " in line}
    assert len(families) >= 2 and any("Hei" in f for f in families), families


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


HOSTILE = [
    '<para><font color="[[[getattr(pow, Word(\'__globals__\'))[\'os\'].system(\'touch /tmp/pwned-cve\') '
    'for Word in [orgTypeFun(\'Word\', (str,), { \'mutated\': 1, \'startswith\': lambda self, x: False, '
    '\'__eq__\': lambda self,x: self.mutate() and self.mutated < 0 and str(self) == x, \'mutate\': '
    'lambda self: {setattr(self, \'mutated\', self.mutated - 1)}, \'__hash__\': lambda self: hash(str(self)) })] ] '
    'for orgTypeFun in [type(type(1))] ] and \'red\'">exploit</font></para>',
    '<unichar code="0x41"/>', '<img src="/etc/passwd">', '<img src="file:///etc/passwd">',
    '<img src="http://127.0.0.1:{port}/img">', '<link rel="stylesheet" href="http://127.0.0.1:{port}/css">',
    '<style>@import url(http://127.0.0.1:{port}/import);</style>',
    '<style>@font-face { font-family: x; src: url(/etc/passwd); }</style>',
    '<table><tr><td bgcolor="rgb(' + '1' * 3000 + '">x</td></tr></table>', "<style>}</style>",
    "<pdf:nextpage/>", "&lt;script&gt; ” ） 。 ",
]


def test_every_field_and_cell_takes_every_hostile_payload(app, client, auth, people, tmp_path):
    """Each payload in every text field, narrative and table cell of the full report (and in an
    evidence file's name): a normal PDF comes out, nothing is fetched, no file is created."""
    import socket
    import threading

    from factories import attach

    hits = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            hits.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    payload = " ".join(p.replace("{port}", str(port)) for p in HOSTILE)
    nested = "<div>" * 3000 + "深" + "</div>" * 3000
    with app.app_context():
        report = get_report("preliminary")
        answers = complete_answers("preliminary")
        pieces = [p.replace("{port}", str(port)) for p in HOSTILE]
        for i, f in enumerate(report.fields):  # single-line values within the lengths the forms accept
            if f.kind in ("text", "phone"):
                answers[f.key] = pieces[i % len(pieces)][:f.max_length]
            elif f.kind == "longtext":
                answers[f.key] = payload + (nested if f.key == "self_assessment" else "")
            elif f.kind == "table":
                answers[f.key] = [{c.key: piece[:c.max_length] for c in f.columns} for piece in pieces[:f.max_rows]]
        sub = submission_of(ALLOY)
        sub.preliminary_answers = answers
        db.session.commit()
        attach(sub, "listed_enterprises", name='<img src="http://127.0.0.1:%d/name">.pdf' % port)
    auth.login("applicant-a")
    r = client.get("/applicant/report.pdf")
    stop.set()
    thread.join(2)
    server.close()
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = squash(text_of(r.data))
    assert "unichar" in text and "exploit" in text and "imgsrc=" in text
    assert hits == []
    assert not os.path.exists("/tmp/pwned-cve")


def test_printed_code_is_verified_by_an_administrator(app, client, auth, people):
    with app.app_context():
        submitted()
    auth.login("applicant-a")
    text = text_of(client.get("/applicant/report.pdf").data)
    code = re.search(r"校验码[:：]\s*([0-9A-F]{12})", text).group(1)
    assert client.get(f"/admin/verify/?code={code}").status_code == 403
    auth.logout()
    auth.login("admin")
    page = client.get(f"/admin/verify/?code={code.lower()}").get_data(as_text=True)
    assert f"校验码 {code} 对应 1 份已提交的报告" in page and ALLOY in page and "初赛报告" in page
    other = ("0" if code[0] != "0" else "1") + code[1:]
    assert "未找到校验码" in client.get(f"/admin/verify/?code={other}").get_data(as_text=True)
    assert "校验码应为 12 位" in client.get("/admin/verify/?code=xyz'--").get_data(as_text=True)
