"""Issue #25, the report PDF cold under 1.5 s: what was cut around and inside the render keeps
what the PDF shows (ReportLab's C accelerator, cjk_patch.py, render.py, worker.py, report.py).  No timing
is asserted here (benchmarks/bench_pdf.py measures): each test holds a behaviour the speed-up
relies on, and fails if it goes."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from reportlab.lib import rl_accel
from reportlab.pdfgen import canvas

from rendering import LONG, children, until
from wizard.pdf import report as pdf_report, worker
from wizard.pdf.engine import render_pdf
from wizard.pdf.jobs import RenderJob

ROOT = Path(__file__).resolve().parents[2]


def test_reportlab_formats_its_numbers_with_its_c_accelerator():
    """rl-accel (in the lock) is what the canvas formats every number of every page with: its
    pure-Python fallback took about 6 % of a report's render."""
    assert getattr(canvas.fp_str, "__module__", None) != rl_accel.__name__, "ReportLab's pure-Python fp_str is in use"
    assert [float(x) for x in canvas.fp_str(0.5, 1, 2.25).split()] == [0.5, 1, 2.25]
    assert render_pdf("<p>1.5 2.25</p>").startswith(b"%PDF")


def command_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_consumer_starts_its_render_process_before_the_first_job(tmp_path):
    """The first PDF a user asks for after the consumer starts does not wait for a render
    process to start and load the engine: the consumer has started it already, with no job queued."""
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    consumer = subprocess.Popen([sys.executable, "-m", "wizard.pdf.worker", "--queue", url], cwd=ROOT,
                                stderr=subprocess.DEVNULL)
    try:
        until(lambda: any("wizard.pdf.render" in command_of(p) for p in children(consumer.pid)), LONG)
    finally:
        consumer.kill()
        consumer.wait()


def test_a_recycled_render_process_is_replaced_when_its_last_job_is_answered(tmp_path, monkeypatch):
    """After RECYCLE_AFTER renders a render process is replaced (its memory returned); the new one
    is started as soon as the last job is answered, not when the next job comes, and it renders."""
    monkeypatch.setattr(worker, "RECYCLE_AFTER", 1)
    renderer = worker.RenderProcess()
    page = "<html><body><p>第{n}份　共 1 页</p></body></html>"
    try:
        outcome = renderer.run(RenderJob(key="one", folder=str(tmp_path), html=page.format(n=1)),
                               time.monotonic() + LONG, lambda force=False: True)
        assert outcome[0] == "ok", outcome
        successor = renderer.pid()
        assert successor is not None and successor != outcome[1].pid
        assert renderer.proc.poll() is None  # running, waiting for a job
        again = renderer.run(RenderJob(key="two", folder=str(tmp_path), html=page.format(n=2)),
                             time.monotonic() + LONG, lambda force=False: True)
        assert again[0] == "ok" and again[1].pid == successor
        assert (tmp_path / "two.pdf").read_bytes().startswith(b"%PDF")
    finally:
        renderer.stop()


def test_a_command_renders_its_pdfs_in_one_render_process_and_recovers_from_a_killed_one(app):
    """report_pdf (the CLI, scripts) keeps its render process for the next PDF (its engine
    imported and warmed once, not once a PDF); one killed between two PDFs is started again and
    the next PDF still comes out."""
    with app.app_context(), app.test_request_context():
        first = pdf_report.report_pdf(None, "preliminary", blank=True)
        pid = pdf_report._own_renderer().pid()
        second = pdf_report.report_pdf(None, "final", blank=True)
        assert pdf_report._own_renderer().pid() == pid is not None
        os.kill(pid, 9)
        until(lambda: pdf_report._own_renderer().proc.poll() is not None, LONG)
        for path in Path(app.config["PDF_CACHE_FOLDER"]).glob("*.pdf"):  # rendered again, not read
            path.unlink()
        third = pdf_report.report_pdf(None, "preliminary", blank=True)
        assert pdf_report._own_renderer().pid() not in (None, pid)
    assert first.startswith(b"%PDF") and second.startswith(b"%PDF") and third.startswith(b"%PDF")
