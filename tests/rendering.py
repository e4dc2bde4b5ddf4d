"""Helpers of the render tests (tests/pdf/test_render_pool.py, test_render_queue.py): the report
filled in, the PDF cache and the consumer's records looked at, PDFs read back (pypdf for the page
count, PDFium for the text: tests/pdfread.py)."""
import io
import os
import time

from pypdf import PdfReader

from pdfread import plain_text
from factories import ALLOY, attach, submission_of
from fill import complete_answers
from wizard.extensions import db
from wizard.pdf.queue import results_of
from wizard.pdf.report import render_queue

LONG = 180  # seconds a test lets a render take on a busy machine (never a timing assertion)


def fill_alloy(app, evidence=0):
    """applicant-a's report complete, with ``evidence`` two-page PDFs attached."""
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary")
        db.session.commit()
        for i in range(evidence):
            attach(sub, "listed_enterprises", name=f"证明{i}.pdf", pages=2)


def cached(app, suffix=".pdf"):
    """The names in this test's PDF cache ending in ``suffix``."""
    folder = app.config["PDF_CACHE_FOLDER"]
    return sorted(n for n in os.listdir(folder) if n.endswith(suffix)) if os.path.isdir(folder) else []


def renders(app, key=None):
    """The renders the consumer recorded into this test's cache folder (of ``key``)."""
    with app.app_context():
        return results_of(render_queue(), app.config["PDF_CACHE_FOLDER"], key)


def pages_of(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def text_of(pdf: bytes) -> str:
    return plain_text(pdf).replace(" ", "")


def until(condition, seconds=LONG):
    """Wait until ``condition()`` holds (a bound on a busy machine, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (render processes of a consumer, a command)."""
    out = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out
