"""Report PDFs are rendered by a render consumer (wizard/pdf/queue.py, worker.py: the real consumer
process of tests/conftest.py's render_consumer) in another process, once per file:
two requests start one render, a submitted report's PDF is stored and sent again as it is, a
request that cannot wait gets a page that refreshes itself, and a failed render says so in
Chinese and can be tried again.  PDFs are read back with pypdf, as in test_report_pdf.py."""
import io
import os
import threading
import time

import pytest
from pypdf import PdfReader

from factories import ALLOY, AuthActions, submission_of, submitted
from rendering import LONG, cached, fill_alloy, pages_of, renders, text_of, until
from wizard.extensions import db
from wizard.models import EvidenceFile
from wizard.pdf.queue import slot_of, under_way
from wizard.pdf.report import TEMPLATE_VERSION, render_queue
from wizard.workflow.snapshots import latest_snapshot



@pytest.fixture
def waiting(app):
    """Requests wait for the render (the tests' machines are slow and shared)."""
    app.config["PDF_WAIT_SECONDS"] = LONG
    return app














def test_the_report_is_rendered_in_another_process(waiting, client, auth, people):
    fill_alloy(waiting, evidence=1)
    auth.login("applicant-a")
    r = client.get("/applicant/report.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "草稿" in text_of(r.data) and "佐证材料第1页" in text_of(r.data)
    [name] = cached(waiting)
    until(lambda: renders(waiting, name[:-4]))  # recorded just after the file is in place
    [result] = renders(waiting, name[:-4])
    assert result.pid != os.getpid()
    assert cached(waiting, ".lock") == [] and cached(waiting, ".tmp") == []


def test_two_requests_at_once_start_one_render(waiting, people):
    fill_alloy(waiting)
    clients = [waiting.test_client() for _ in range(2)]
    for c in clients:
        AuthActions(c).login("applicant-a")
    before = len(renders(waiting))
    bodies = [None, None]
    start = threading.Barrier(2)

    def download(i):
        start.wait()
        bodies[i] = clients[i].get("/applicant/report.pdf")

    threads = [threading.Thread(target=download, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LONG)
    assert [b.status_code for b in bodies] == [200, 200]
    assert bodies[0].data == bodies[1].data and bodies[0].data.startswith(b"%PDF")
    until(lambda: len(renders(waiting)) > before)  # recorded just after the file is in place
    assert len(renders(waiting)) == before + 1
    assert len(cached(waiting)) == 1


def test_a_render_under_way_in_another_worker_is_not_started_again(app, client, auth, people):
    """Another consumer is rendering the file (its running record beats): this request waits for
    it and queues nothing."""
    fill_alloy(app)
    auth.login("applicant-a")
    app.config["PDF_WAIT_SECONDS"] = 0
    first = client.get("/applicant/report.pdf")  # starts the render, answers at once
    assert first.status_code == 202
    until(lambda: cached(app) and renders(app))  # rendered by the pool, and its result recorded
    [name] = cached(app)
    os.remove(os.path.join(app.config["PDF_CACHE_FOLDER"], name))
    with app.app_context():  # as another consumer's record says while it renders
        queue = render_queue()
        slot = slot_of(app.config["PDF_CACHE_FOLDER"], f"draft-{submission_of(ALLOY).id}-preliminary")
        queue.put(f"running:{slot}", {"key": name[:-4], "beat": time.time() + 3600, "token": "other"})
    before = len(renders(app))
    assert client.get("/applicant/report.pdf").status_code == 202
    time.sleep(2)  # the consumer would have taken a queued job by now
    assert len(renders(app)) == before and cached(app) == []
    with app.app_context():  # that render ended without a file (its consumer died): the next request renders
        render_queue().pop(f"running:{slot}")
    app.config["PDF_WAIT_SECONDS"] = LONG
    assert client.get("/applicant/report.pdf").status_code == 200
    until(lambda: len(renders(app)) > before)  # recorded just after the file is in place
    assert len(renders(app)) == before + 1


def test_a_submitted_report_is_rendered_once_and_then_sent_from_the_file(waiting, client, auth, people):
    with waiting.app_context():
        sub = submitted()
        sid, digest = sub.id, latest_snapshot(sub, "preliminary").digest
    auth.login("county-x")
    first = client.get(f"/submissions/{sid}/report.pdf")
    assert first.status_code == 200 and "草稿" not in text_of(first.data)
    [name] = cached(waiting)
    assert name.startswith(f"report-{digest[:32]}-t{TEMPLATE_VERSION}-")
    path = os.path.join(waiting.config["PDF_CACHE_FOLDER"], name)
    stamp = os.stat(path).st_mtime_ns
    until(lambda: renders(waiting, name[:-4]))  # recorded just after the file is in place
    before = len(renders(waiting))
    again = client.get(f"/submissions/{sid}/report.pdf")
    assert again.status_code == 200 and again.data == first.data
    auth.logout()
    auth.login("applicant-a")
    mine = client.get("/applicant/report.pdf")
    assert mine.status_code == 200 and mine.data == first.data
    assert len(renders(waiting)) == before and os.stat(path).st_mtime_ns == stamp and cached(waiting) == [name]


def test_a_snapshot_pdf_is_stored_under_its_digest(waiting, client, auth, people):
    with waiting.app_context():
        sub = submitted()
        snap = latest_snapshot(sub, "preliminary")
        snap_id, digest = snap.id, snap.digest
    auth.login("admin")
    first = client.get(f"/admin/snapshots/{snap_id}.pdf")
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    [name] = cached(waiting)
    assert name.startswith(f"snapshot-{digest[:32]}-t{TEMPLATE_VERSION}-")
    stamp = os.stat(os.path.join(waiting.config["PDF_CACHE_FOLDER"], name)).st_mtime_ns
    until(lambda: renders(waiting, name[:-4]))  # recorded just after the file is in place
    before = len(renders(waiting))
    assert client.get(f"/admin/snapshots/{snap_id}.pdf").data == first.data
    assert len(renders(waiting)) == before
    assert os.stat(os.path.join(waiting.config["PDF_CACHE_FOLDER"], name)).st_mtime_ns == stamp


def test_a_request_that_cannot_wait_gets_a_page_that_refreshes(app, client, auth, people):
    fill_alloy(app)
    app.config["PDF_WAIT_SECONDS"] = 0
    auth.login("applicant-a")
    r = client.get("/applicant/report.pdf")
    assert r.status_code == 202 and r.mimetype == "text/html"
    assert r.headers["Cache-Control"] == "no-store"
    page = r.get_data(as_text=True)
    assert "报告 PDF 正在生成…" in page
    assert 'http-equiv="refresh"' in page and "url=/applicant/report.pdf" in page
    assert r.headers["Refresh"].endswith("url=/applicant/report.pdf")
    assert 'href="/applicant/report.pdf"' in page and "<script>" not in page
    until(lambda: cached(app))
    done = client.get("/applicant/report.pdf")
    assert done.status_code == 200 and done.data.startswith(b"%PDF") and pages_of(done.data) > 1


def test_a_failed_render_says_so_and_can_be_tried_again(waiting, client, auth, people):
    fill_alloy(waiting, evidence=1)
    with waiting.app_context():
        row = db.session.execute(db.select(EvidenceFile)).scalars().first()
        path = os.path.join(waiting.config["UPLOAD_FOLDER"], row.stored_name)
    with open(path, "rb") as fh:
        good = fh.read()
    with open(path, "wb") as fh:  # the stored file damaged on disk
        fh.write(b"%PDF-1.4\n" + b"\x00garbage" * 50)
    auth.login("applicant-a")
    r = client.get("/applicant/report.pdf")
    page = r.get_data(as_text=True)
    assert r.status_code == 503 and r.headers["Cache-Control"] == "no-store"
    assert "报告 PDF 生成失败" in page and "证明0.pdf" in page and "Traceback" not in page
    assert 'href="/applicant/report.pdf?retry=1"' in page and 'http-equiv="refresh"' not in page
    [failed] = cached(waiting, ".failed")
    assert client.get("/applicant/report.pdf").status_code == 503  # said again, not rendered again
    with waiting.app_context():
        slot = slot_of(waiting.config["PDF_CACHE_FOLDER"], f"draft-{submission_of(ALLOY).id}-preliminary")
        assert not under_way(render_queue(), slot, failed[:-len(".failed")])
    with open(path, "wb") as fh:  # the administrator restores the file
        fh.write(good)
    r = client.get("/applicant/report.pdf?retry=1")
    assert r.status_code == 200 and "佐证材料第1页" in text_of(r.data)
    assert cached(waiting, ".failed") == []


def test_a_missing_evidence_file_is_named_as_missing(waiting, client, auth, people):
    fill_alloy(waiting, evidence=1)
    with waiting.app_context():
        row = db.session.execute(db.select(EvidenceFile)).scalars().first()
        os.remove(os.path.join(waiting.config["UPLOAD_FOLDER"], row.stored_name))
    auth.login("applicant-a")
    r = client.get("/applicant/report.pdf")
    assert r.status_code == 503 and "佐证材料文件缺失" in r.get_data(as_text=True)


def test_every_page_prints_the_right_page_count_as_the_report_changes(waiting, client, auth, people):
    """共 N 页 is stamped after the one layout pass (engine._render_stamped): every page of each new
    draft prints its own total, and the report text changed with the draft."""
    import re

    fill_alloy(waiting)
    auth.login("applicant-a")
    for value in ("第一稿", "第二稿" * 400):
        with waiting.app_context():
            sub = submission_of(ALLOY)
            sub.preliminary_answers = {**sub.preliminary_answers, "industry_field": value}
            db.session.commit()
        pdf = client.get("/applicant/report.pdf").data
        pages = pages_of(pdf)
        assert pages > 3 and value[:3] in text_of(pdf)
        assert re.findall(r"共(\d+)页", text_of(pdf)) == [str(pages)] * pages


def test_evidence_written_to_a_file_is_the_same_as_in_memory(tmp_path):
    """merge_evidence(out=...) (a rendering process: large streams wait on disk) gives the PDF the
    in-memory merge gives: same pages, stamps, images, and two identical scans stored once."""
    from PIL import Image

    from wizard.evidence.binding import EvidenceSource, merge_evidence

    scan = Image.frombytes("RGB", (600, 800), os.urandom(600 * 800 * 3))
    buf = io.BytesIO()
    scan.save(buf, "PDF", save_all=True, append_images=[scan.rotate(90)], resolution=100)
    photo = io.BytesIO()
    scan.save(photo, "JPEG", quality=80)
    (tmp_path / "scan.pdf").write_bytes(buf.getvalue())
    items = [EvidenceSource(b"", "pdf", label="扫描件", path=str(tmp_path / "scan.pdf")),
             EvidenceSource(photo.getvalue(), "jpeg", label="照片"),
             EvidenceSource(b"", "pdf", label="同一扫描件", path=str(tmp_path / "scan.pdf"))]
    in_memory = merge_evidence(None, None, items)
    with open(tmp_path / "out.pdf", "wb") as fh:
        assert merge_evidence(None, None, items, out=fh) == b""
    on_disk = (tmp_path / "out.pdf").read_bytes()
    a, b = PdfReader(io.BytesIO(in_memory)), PdfReader(io.BytesIO(on_disk))
    assert len(a.pages) == len(b.pages) == 5
    assert [p.extract_text().strip() for p in a.pages] == [p.extract_text().strip() for p in b.pages] == [
        f"- {n} -" for n in range(1, 6)]
    assert [[i.data for i in p.images] for p in a.pages] == [[i.data for i in p.images] for p in b.pages]
    assert len(on_disk) < 2.5 * len(buf.getvalue())  # the second copy of the scan is not stored again
