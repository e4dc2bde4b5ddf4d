"""The truthfulness declaration (真实性声明) alone, as a one-page PDF: the declaration text of
the report definition, the cluster's, promotion organisation's and park's names filled in, and
room for each leader's signature (3 cm high) and each unit's seal (a 4 cm square).  The
applicant prints it, has it signed and sealed, and uploads the scan on the declaration step.

No 草稿 watermark: the page is printed while the report is still a draft, and the signed scan
is part of the submitted report.  Rendered by the render consumer like the report (pdf/report.py
``page_request``: named by its HTML, so it is rendered once until a name on it changes)."""
from __future__ import annotations

from flask import render_template

from ..report.definition import get_report
from ..report.model import Report, Section
from ..report.view import effective_answers
from .report import Prepared, page_pdf, page_request

# The names printed above the declaration (field keys of the definition; labels come from it):
# the cluster's registered name, then the promotion organisation and the park as typed.
NAME_FIELDS = ("cluster_name", "promo_org_name", "park_name")


def declaration_section(report: Report) -> Section:
    """The section with the declaration text and its signature fields."""
    return next(s for s in report.sections if s.layout == "declaration")


def declaration_step_key(report: Report) -> str:
    """The wizard step that holds the declaration (its page links to the printable page)."""
    return report.step_of(declaration_section(report).fields[0].key).key


def declaration_html(submission, round_: str) -> str:
    report = get_report(round_)
    section = declaration_section(report)
    typed = {k: v for k, v in effective_answers(submission, round_).items() if v}
    answers = {**typed, NAME_FIELDS[0]: submission.cluster.name}  # the cluster's registered name
    names = [(report.field(key).label, answers.get(key, "")) for key in NAME_FIELDS if report.field(key)]
    signers = [(f, answers.get(f.key) or "") for f in section.fields if f.kind_of.one_line]
    return render_template("print_declaration.html", report=report, section=section, names=names, signers=signers,
                           sub=submission)


def declaration_request(submission, round_: str) -> Prepared:
    """The declaration page's PDF for :func:`wizard.pdf.report.fetch` (a web page)."""
    return page_request(declaration_html(submission, round_), "declaration")


def declaration_pdf(submission, round_: str) -> bytes:
    """The declaration page's PDF rendered now (scripts and tests)."""
    return page_pdf(declaration_html(submission, round_), "declaration")


def declaration_filename(submission, round_: str) -> str:
    section = declaration_section(get_report(round_))
    return f"{submission.cluster.name}-{section.title}.pdf"
