"""Evidence files (佐证材料) of a submission: slots, storage, order, page references.

A *slot* is what a file supports: an indicator marked 需提供佐证材料, 4.3's
documents, the signed declaration scan, 其他佐证材料 (all read from the report
definition, in its order), and the county's sealed opinion scan.  Files are
checked by ``uploads.inspect_upload``, stored under ``UPLOAD_FOLDER`` with
random names, and bound after the report by ``evidence_pdf.merge_evidence``;
the appendix pages are numbered from 1 in slot order, so the references in the
report body (见佐证材料第 12–15 页) never depend on the report's own length.
"""
from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass, field
from functools import lru_cache

from flask import current_app

from ..auditlog import record
from ..extensions import db
from ..models import EvidenceFile, Submission
from ..report.checks import problem
from ..report.definition import COUNTY_SCAN, COUNTY_SCAN_LABEL, EVIDENCE_REF, get_report
from ..report.numbers import to_decimal
from ..workflow.states import STATES
from .checks import (
    DEFAULT_MAX_IMAGE_DECODE_BYTES,
    DEFAULT_MAX_PDF_IMAGE_COMPONENTS,
    UploadLimits,
    UploadRejected,
    inspect_upload,
    total_limit_check,
)
from .diskfull import MESSAGE as STORAGE_FULL_MESSAGE
from .diskfull import is_storage_full, report_storage_full
from .pagerefs import format_page_refs

DECLARATION_SCAN = "declaration_scan"
_REF_PREFIX, _, _REF_SUFFIX = EVIDENCE_REF.partition("{pages}")


@dataclass(frozen=True)
class Slot:
    key: str
    label: str  # as listed in the table of contents: "2.1 上市和挂牌企业数量"
    step: str | None  # the wizard step that takes its files (None: the county's scan)
    field: object = None


@lru_cache(maxsize=None)
def slots(round_: str) -> tuple[Slot, ...]:
    """Every slot of a round's report, in the report's order; the county's scan last."""
    out = []
    for step in get_report(round_).steps:
        for section in step.sections:
            for f in section.fields:
                if f.evidence or f.kind_of.uploads:
                    number = "" if f.web_only else section.number  # the system's own slots: no number
                    out.append(Slot(f.key, f"{number} {f.name}".strip(), step.key, f))
    out.append(Slot(COUNTY_SCAN, COUNTY_SCAN_LABEL, None))
    return tuple(out)


def slot(round_: str, key: str) -> Slot | None:
    return next((s for s in slots(round_) if s.key == key), None)


def step_slots(round_: str, step_key: str) -> list[Slot]:
    return [s for s in slots(round_) if s.step == step_key]


# --- reading ---------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _slot_order(round_: str) -> dict:
    return {s.key: i for i, s in enumerate(slots(round_))}


#: one round's files of one submission: built once, so a page pays for the query, not its construction
_FILES = db.select(EvidenceFile).where(EvidenceFile.submission_id == db.bindparam("submission_id"),
                                       EvidenceFile.round == db.bindparam("round"))


def files_of(submission, round_: str) -> list[EvidenceFile]:
    """The submission's files of one round in appendix order (slot order, then position).

    One query; a page that needs the list more than once (its appendix, the files still missing,
    the steps' states) reads it once and hands it on (``files=`` of ``appendix`` and ``missing``)."""
    return _in_order(submission, round_,
                     db.session.execute(_FILES, {"submission_id": submission.id, "round": round_}).scalars().all())


def _in_order(submission, round_: str, rows) -> list:
    order = _slot_order(round_)
    # the county's scan: only the one that came with the standing opinion (earlier ones stay in the history)
    scan_id = ((submission.opinions or {}).get(round_) or {}).get("scan_id")
    rows = [r for r in rows if r.slot in order and (r.slot != COUNTY_SCAN or r.id == scan_id)]
    return sorted(rows, key=lambda r: (order[r.slot], r.position, r.id))


#: what a page shows of a round's files: the columns alone, not the ORM rows (about half the cost)
_LISTED = db.select(EvidenceFile.id, EvidenceFile.slot, EvidenceFile.position, EvidenceFile.original_name,
                    EvidenceFile.pages, EvidenceFile.size).where(
    EvidenceFile.submission_id == db.bindparam("submission_id"), EvidenceFile.round == db.bindparam("round"))


def listed_files(submission, round_: str) -> list:
    """files_of as a page shows them (the appendix, the files still missing, the steps' states):
    rows of the file's id, slot, position, original_name, pages and size, in the same order.  For
    reading only: a file to change is loaded as a row of its own (get_own).

    Run on the session's connection, not through the session: plain rows need none of the ORM's
    execution (about half the statement's cost); the session's pending changes are flushed first,
    as ``Session.execute`` would (a file added in this request is listed)."""
    session = db.session
    if session.autoflush:
        session.flush()
    rows = session.connection().execute(_LISTED, {"submission_id": submission.id, "round": round_}).all()
    return _in_order(submission, round_, rows)


def manifest(submission, round_: str) -> list[dict]:
    """The evidence list frozen in a snapshot (and part of the verification digest)."""
    return [{"id": r.id, "slot": r.slot, "name": r.original_name, "pages": r.pages, "sha256": r.sha256,
             "size": r.size} for r in files_of(submission, round_)]


def path_of(row: EvidenceFile) -> str:
    return os.path.join(current_app.config["UPLOAD_FOLDER"], row.stored_name)


def read(row: EvidenceFile) -> bytes:
    with open(path_of(row), "rb") as fh:
        return fh.read()


@dataclass
class Placed:
    file: EvidenceFile
    slot: Slot
    start: int
    end: int

    @property
    def pages_text(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}–{self.end}"


@dataclass
class Appendix:
    """Where every file lands in the appendix, and the reference text per slot."""

    placed: list = field(default_factory=list)
    refs: dict = field(default_factory=dict)  # slot key -> "见佐证材料第 12–15 页"
    by_slot: dict = field(default_factory=dict)  # slot key -> [Placed]
    links: bool = True  # web pages link the files; the PDF does not


def appendix(submission, round_: str, links: bool = True, files: list | None = None) -> Appendix:
    """``files``: ``files_of(submission, round_)`` when the caller has it already."""
    result = Appendix(links=links)
    if submission is None:
        return result
    by_key = {s.key: s for s in slots(round_)}
    n = 1
    ranges: dict = {}
    for row in files_of(submission, round_) if files is None else files:
        placed = Placed(row, by_key[row.slot], n, n + row.pages - 1)
        n += row.pages
        result.placed.append(placed)
        result.by_slot.setdefault(row.slot, []).append(placed)
        ranges.setdefault(row.slot, []).append((placed.start, placed.end))
    result.refs = {k: format_page_refs(v, prefix=_REF_PREFIX, suffix=_REF_SUFFIX) for k, v in ranges.items()}
    return result


# --- writing ---------------------------------------------------------------------------

def limits() -> UploadLimits:
    cfg = current_app.config
    decode_bytes = cfg.get("UPLOAD_MAX_IMAGE_DECODE_BYTES", DEFAULT_MAX_IMAGE_DECODE_BYTES)
    pdf_image = cfg.get("UPLOAD_MAX_PDF_IMAGE_COMPONENTS", DEFAULT_MAX_PDF_IMAGE_COMPONENTS)
    return UploadLimits(max_file_bytes=cfg["UPLOAD_MAX_FILE_BYTES"], max_pdf_pages=cfg["UPLOAD_MAX_PDF_PAGES"],
                        max_image_pixels=cfg["UPLOAD_MAX_IMAGE_PIXELS"], max_image_decode_bytes=decode_bytes,
                        max_pdf_image_components=pdf_image)


def _used_bytes(submission, round_: str) -> int:
    """Bytes of one round's files (files carried into the final round are not counted twice)."""
    return db.session.execute(
        db.select(db.func.coalesce(db.func.sum(EvidenceFile.size), 0))
        .filter_by(submission_id=submission.id, round=round_)
    ).scalar_one()


class EvidenceLocked(UploadRejected):
    """The report was submitted (or moved on) while the request was under way."""


class StorageFull(UploadRejected):
    """No space left to store the file (issue #22, item 12): the views show it as they show any
    refused upload (文件未上传：…), the rest of the form is saved, the administrators are told."""


def _lock_editable(submission_id: int, round_: str) -> None:
    """Lock the submission row and check the round is still being written; a submit waits for
    this transaction, so a file can never slip in after the snapshot."""

    state = db.session.execute(
        db.select(Submission.state).where(Submission.id == submission_id).with_for_update()
    ).scalar_one()
    if STATES[state].editable_round != round_:
        raise EvidenceLocked("报告已提交或当前状态不允许修改佐证材料，本次操作未执行。")


def store(submission, round_: str, slot_key: str, filename: str, data: bytes, user, commit: bool = True,
          check_editable: bool = True, address: str | None = None) -> EvidenceFile:
    """Check and store one upload; the file and its row (and, given the client's ``address``, its
    audit row) are written together or not at all.

    What is stored is ``checked.data`` (a sanitized PDF, a normalised image), and the row's size,
    sha256, kind, pages and name describe those stored bytes.
    Raises UploadRejected (a Chinese sentence naming the file) for anything unacceptable.
    """
    if slot(round_, slot_key) is None:
        raise UploadRejected("佐证材料类别无效。")
    checked = inspect_upload(data, filename or "", limits())  # before any lock is taken
    if check_editable:
        _lock_editable(submission.id, round_)
    total_limit_check(_used_bytes(submission, round_), checked.size, current_app.config["UPLOAD_MAX_SUBMISSION_BYTES"])
    position = db.session.execute(
        db.select(db.func.coalesce(db.func.max(EvidenceFile.position), 0))
        .filter_by(submission_id=submission.id, round=round_, slot=slot_key)
    ).scalar_one() + 1
    folder = current_app.config["UPLOAD_FOLDER"]
    os.makedirs(folder, exist_ok=True)
    stored = secrets.token_hex(16)
    path = os.path.join(folder, stored)
    tmp = f"{path}.part"
    try:
        with open(tmp, "wb") as fh:
            fh.write(checked.data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        if is_storage_full(exc):
            report_storage_full(f"storing evidence file {filename!r} in {folder}", exc)
            raise StorageFull(STORAGE_FULL_MESSAGE) from exc
        raise
    row = EvidenceFile(submission_id=submission.id, round=round_, slot=slot_key, position=position,
                       original_name=checked.safe_name, stored_name=stored, kind=checked.kind, size=checked.size,
                       pages=checked.page_count, sha256=checked.sha256, uploaded_by_id=getattr(user, "id", None))
    try:
        db.session.add(row)
        db.session.flush()
        if address is not None:
            record(user, "evidence_upload", f"evidence:{row.id}", f"{slot(round_, slot_key).label}：{row.original_name}",
                   address)
        if commit:
            db.session.commit()
    except Exception:
        db.session.rollback()
        _unlink(path)
        raise
    return row


def discard_files(rows) -> None:
    """Remove stored files of rows whose transaction failed (the caller rolled back)."""
    for row in rows:
        _unlink(os.path.join(current_app.config["UPLOAD_FOLDER"], row.stored_name))


def _unlink(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError:
        current_app.logger.exception("could not remove evidence file %s", path)


def get_own(submission, round_: str, file_id) -> EvidenceFile | None:
    try:
        file_id = int(file_id)
    except (TypeError, ValueError):
        return None
    row = db.session.get(EvidenceFile, file_id)
    if row is None or row.submission_id != submission.id or row.round != round_:
        return None
    return row


def remove(row: EvidenceFile, actor=None, address: str = "") -> None:
    """Delete the row (audited), then the file: a crash in between leaves an orphan file, never a
    dangling row."""
    _lock_editable(row.submission_id, row.round)
    path = path_of(row)
    record(actor, "evidence_delete", f"evidence:{row.id}", row.original_name, address)
    db.session.delete(row)
    db.session.commit()
    _unlink(path)


def move(row: EvidenceFile, delta: int) -> bool:
    """Move a file one place up (-1) or down (+1) within its slot."""
    _lock_editable(row.submission_id, row.round)
    siblings = db.session.execute(
        db.select(EvidenceFile).filter_by(submission_id=row.submission_id, round=row.round, slot=row.slot)
        .order_by(EvidenceFile.position, EvidenceFile.id)
    ).scalars().all()
    i = siblings.index(row)
    j = i + delta
    if not 0 <= j < len(siblings):
        return False
    siblings[i], siblings[j] = siblings[j], siblings[i]
    for pos, r in enumerate(siblings, start=1):
        r.position = pos
    db.session.commit()
    return True


def copy_round(submission, source: str, target: str) -> list[EvidenceFile]:
    """Carry files into the next round's report (for slots it has); each copy owns its own file."""
    # the declaration is signed anew for each round's report
    wanted = {s.key for s in slots(target) if s.step is not None and s.key != DECLARATION_SCAN}
    copies = []
    for row in files_of(submission, source):
        if row.slot not in wanted:
            continue
        stored = secrets.token_hex(16)
        src, dst = path_of(row), os.path.join(current_app.config["UPLOAD_FOLDER"], stored)
        try:
            os.link(src, dst)
        except OSError:

            try:
                shutil.copyfile(src, dst)
            except OSError:
                current_app.logger.warning("evidence file %s missing; not carried into %s", row.stored_name, target)
                continue
        copy = EvidenceFile(submission_id=submission.id, round=target, slot=row.slot, position=row.position,
                            original_name=row.original_name, stored_name=stored, kind=row.kind, size=row.size,
                            pages=row.pages, sha256=row.sha256, uploaded_by_id=row.uploaded_by_id)
        db.session.add(copy)
        copies.append(copy)
    return copies


# --- checks ----------------------------------------------------------------------------

def _nonzero(value) -> bool:

    if not isinstance(value, dict):
        return False
    return any((to_decimal(v) or 0) != 0 for v in value.values())


def needs_file(s: Slot, category, answers: dict) -> bool:
    """Whether a submitted report must carry a file in this slot: the declaration scan, a required
    upload slot (4.3), and a row marked 需提供佐证材料 reported as non-zero (0 needs none)."""
    if s.step is None or not s.field.applies_to(category):
        return False
    if s.field.kind_of.uploads:
        return s.field.required
    return _nonzero(answers.get(s.key))


def missing(submission, round_: str, answers: dict, files: list | None = None) -> tuple[list, list]:
    """(problems, warnings): a file missing where one is needed (``needs_file``) blocks submitting.
    ``files``: ``files_of(submission, round_)`` when the caller has it already."""

    report = get_report(round_)
    have = {r.slot for r in (files_of(submission, round_) if files is None else files)}
    category = submission.cluster.category
    problems = []
    for s in slots(round_):
        if s.key in have or not needs_file(s, category, answers):
            continue
        step = report.step(s.step)
        if s.key == DECLARATION_SCAN:
            message = f"请上传{s.field.name}。"
        elif s.field.kind_of.uploads:
            message = f"请上传“{s.label}”（至少一份文件）。"
        else:
            message = f"已填报“{s.field.name}”，请上传佐证材料（数值为 0 的可不上传）。"
        problems.append(problem(step, s.field, message, anchor=f"ev-{s.key}"))
    return problems, []
