"""The applicant's wizard: task list, one route for every step, review, submit."""
import hashlib
import json
from contextlib import nullcontext

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from ..access import own_submission
from ..dbsetup import reads_deferred, write_window
from ..evidence import storage as evidence
from ..evidence.checks import UploadRejected
from ..evidence.storage import appendix
from ..extensions import db
from ..kept import Kept
from ..models import ROLE_APPLICANT, HistoryEntry, Submission, local_now
from ..params import parse_id, parse_version
from ..pdf.declaration import declaration_filename, declaration_request, declaration_step_key
from ..report.checks import (
    CARRIED_MARK,
    STATUS_LABELS,
    carried_of,
    qualified_name,
    saved_message,
    typed_entries,
)
from ..report.compare import step_changes
from ..report.definition import get_report
from ..report.forms import DeferredShownForm, form_to_answers, make_step_form, split_answers
from ..report.service import StaleSave, answer_digest, answers_to_formdata, save_answers, step_digests
from ..report.view import effective_answers, step_defaults
from ..web.deadline_lock import readonly_message, refuse_writes_after_deadline, writable_round
from ..web.security import client_address, require_role
from ..workflow.deadlines import deadline_text, effective_deadline
from ..workflow.moves import apply_move
from ..workflow.readiness import missing_files_by_step, review_lists, review_problems, step_states
from ..workflow.snapshots import has_snapshot, latest_snapshot
from ..workflow.states import MoveRefused, current_round, submit_move
from .shared import send_page_pdf, send_report_pdf, send_snapshot_pdf, shown_answers

bp = Blueprint("applicant", __name__, url_prefix="/applicant")
bp.before_request(require_role(ROLE_APPLICANT))
bp.before_request(refuse_writes_after_deadline)  # past the deadline the report is read-only (issue #22, 7)


def _submission(editable_only: bool = False) -> Submission:
    if editable_only and "own_editable_submission" in g:  # a POST: loaded by refuse_writes_after_deadline
        sub = g.own_editable_submission
    else:
        sub = own_submission(current_user, editable_only)
    if sub is None:
        abort(404)
    return sub


def _editable_round(sub):
    return writable_round(sub)  # the state's editable round, unless its deadline has passed


@bp.route("/")
def tasks():
    """The task list: every step with its state, the return comment, the deadline."""
    sub = _submission()
    round_ = current_round(sub)
    report = get_report(round_)
    answers, files = effective_answers(sub, round_), evidence.listed_files(sub, round_)  # once per page
    steps = step_states(sub, round_, missing_files_by_step(sub, round_, files, answers))
    next_step = next((s for s, st, _ in steps if st not in ("complete", "optional")), None)
    editable = _editable_round(sub) is not None
    problems = review_problems(sub, round_, answers, files) if editable else []
    marks = carried_of(sub, round_)
    carried = [(report.step_of(f.key), f) for f in report.fields if f.key in marks]  # in the report's order
    return render_template("applicant/tasks.html", sub=sub, report=report, steps=steps, next_step=next_step,
                           status_labels=STATUS_LABELS, editable=editable, problems=problems, carried=carried,
                           carried_mark=CARRIED_MARK, qualified_name=qualified_name,
                           deadline=effective_deadline(sub, round_), round_=round_,
                           deadline_text=deadline_text(sub, round_),
                           submitted=has_snapshot(sub, round_))


def step_field(step, key):
    return next((f for f in step.fields if f.key == key), None)


def _render_step(sub, round_, step, form, status=200, stale=None, choices=None, stored=None):
    """``stored``: the step's saved answers with their defaults (step_defaults), when the caller
    has them already (a GET: the form was made from them; from them alone when the step holds no
    value kept as typed, and the page's sections are then kept per their values: view.section_html)."""
    report = get_report(round_)
    shown = None
    if stored is None:
        stored = step_defaults(step, sub, sub.answers_for(round_))
    elif not _typed_of(step, stored):
        shown = stored
    files = evidence.listed_files(sub, round_)  # one query: the files, what is missing, the steps' states
    missing = missing_files_by_step(sub, round_, files)
    ev = appendix(sub, round_, files=files)
    idx = list(report.steps).index(step)
    nav = step_states(sub, round_, missing)
    return render_template("applicant/step.html", sub=sub, report=report, step=step, form=form, round_=round_,
                           nav=nav, status_labels=STATUS_LABELS, stale=stale, carried=carried_of(sub, round_),
                           choices=choices or {}, loaded=_loaded(step, stored), shown=shown,
                           errors=_errors_of(form),
                           carried_mark=CARRIED_MARK, qualified_name=qualified_name,
                           prev_step=report.steps[idx - 1] if idx > 0 else None,
                           next_step=report.steps[idx + 1] if idx + 1 < len(report.steps) else None,
                           saved_ok=g.get("saved_ok", False), ev=ev,
                           missing_files=missing.get(step.key, []),
                           bulk=bulk_choices(sub, round_, missing) if step.key == BULK_STEP else None,
                           declaration=step.key == declaration_step_key(report)), status


#: step_digests per step and a digest of the step's values (a function of them alone; bounded,
#: oldest out first)
_LOADED = Kept(256)


def _loaded(step, stored: dict) -> str:
    """The page's ``loaded`` field (service.step_digests), kept per step and the step's values."""
    values = repr(tuple(stored.get(f.key) for f in step.fields)).encode("utf-8", "surrogatepass")
    key = (step.key, hashlib.blake2b(values, digest_size=20).digest())  # a few bytes an entry, whatever the values
    hit = _LOADED.get(key)
    if hit is None or hit[0] is not step:
        hit = (step, step_digests(step, stored))
        _LOADED.put(key, hit)
    return hit[1]


def _errors_of(form) -> list:
    """The form's inputs with errors, for the summary atop the page (a form made from the saved
    answers alone has none)."""
    if isinstance(form, DeferredShownForm):
        return []
    return [f for f in form if f.short_name not in ("csrf_token", "version") and f.errors]


def _row_edit(form):
    """Add or remove a table row when JavaScript is off (buttons named add_row/remove_row)."""
    add = request.form.get("add_row")
    remove = request.form.get("remove_row")
    tables = {f.key for f in form._definition_fields if f.kind_of.has_rows and f.key in form}
    if add in tables:
        fl = form[add]
        if len(fl.entries) < fl.max_entries:
            fl.append_entry()
        else:
            flash(f"最多 {fl.max_entries} 行。", "warning")
        return True
    if remove and "-" in remove:
        key, _, idx = remove.rpartition("-")
        if key in tables:
            fl = form[key]
            fl.entries = [e for e in fl.entries if e.name != f"{key}-{idx}"]
            if not fl.entries:
                fl.append_entry()
            return True
    return False


def _evidence_actions(sub, round_, step) -> tuple[str | None, list]:
    """Store the files chosen on this step and apply one remove/up/down button.

    Runs before the answers are validated, so a file is kept even when a typed value needs
    fixing.  Returns the slot touched (for the page anchor) and what happened to the files:
    (slot key or None, flash category, message) notes, shown before what happened to the typed values."""
    touched, notes = _store_uploads(sub, round_, step)
    bulk_touched, bulk_notes = _store_bulk(sub, round_)
    touched, notes = touched or bulk_touched, notes + bulk_notes
    if not notes and request.form.get("action") in ("upload", "bulk_upload"):  # 上传 pressed, no file chosen
        notes.append((None, "warning", "文件未上传：请先选择要上传的文件。"))
    verb, _, file_id = (request.form.get("evidence_action") or "").partition(":")
    if verb in ("remove", "up", "down"):
        slot, note = _file_button(sub, round_, step, verb, file_id)
        notes.append(note)
        touched = slot or touched
    return touched, notes


def _store_uploads(sub, round_, step) -> tuple[str | None, list]:
    touched, notes = None, []
    actor = current_user._get_current_object()
    for slot in evidence.step_slots(round_, step.key):
        for upload in request.files.getlist(f"evidence-{slot.key}"):
            if not upload or not upload.filename:
                continue
            touched = slot.key
            try:
                row = evidence.store(sub, round_, slot.key, upload.filename, upload.read(), actor,
                                     address=client_address())
            except UploadRejected as exc:
                db.session.rollback()
                notes.append((slot.key, "error", f"文件未上传：{exc}"))
                continue
            notes.append((slot.key, "success", f"已上传“{row.original_name}”（{row.pages} 页）。"))
    return touched, notes


#: the rows of the many-files form (佐证材料 step, review page): file ``bulk-file-<i>`` for slot ``bulk-slot-<i>``
BULK_ROWS_MAX = 40
BULK_STEP = "evidence"  # the 佐证材料 step: its page (and the review page's gap list) offer the many-files form
BULK_ANCHOR = "bulk-evidence"


def _store_bulk(sub, round_) -> tuple[str | None, list]:
    """Store the files of the many-files form, each in the slot chosen beside it (any slot of
    the round's wizard, not only this step's)."""
    touched, notes = None, []
    actor = current_user._get_current_object()
    for i in range(BULK_ROWS_MAX):
        upload = request.files.get(f"bulk-file-{i}")
        if not upload or not upload.filename:
            continue
        touched = BULK_ANCHOR
        target = evidence.slot(round_, request.form.get(f"bulk-slot-{i}", ""))
        if target is None or target.step is None:
            notes.append((None, "error", f"文件“{upload.filename}”未上传：请在它旁边选择所属的指标或材料。"))
            continue
        try:
            row = evidence.store(sub, round_, target.key, upload.filename, upload.read(), actor, address=client_address())
        except UploadRejected as exc:
            db.session.rollback()
            notes.append((None, "error", f"文件未上传：{exc}"))
            continue
        notes.append((None, "success", f"已上传“{row.original_name}”（{row.pages} 页），作为“{target.label}”的佐证材料。"))
    return touched, notes


def bulk_choices(sub, round_, missing: dict) -> tuple[list, list]:
    """(every slot a file can go to, the slot keys still missing a file in report order): the
    choices beside each file of the many-files form, and its rows' preselection.  ``missing``:
    ``missing_files_by_step`` of the page."""
    category = sub.cluster.category
    choices = [s for s in evidence.slots(round_) if s.step is not None and s.field.applies_to(category)]
    return choices, [p["field"] for ps in missing.values() for p in ps]


def _file_button(sub, round_, step, verb, file_id) -> tuple[str | None, tuple]:
    """One remove/up/down button on a file of this step: (its slot, the note)."""
    file_id = parse_id(file_id)  # ASCII digits within the id column's range, else no file
    row = evidence.get_own(sub, round_, file_id) if file_id else None
    slot = evidence.slot(round_, row.slot) if row else None
    if slot is None or slot.step != step.key:
        return None, (None, "warning", "该文件不存在或已被删除。")
    try:
        if verb == "remove":
            name = row.original_name
            evidence.remove(row, current_user._get_current_object(), client_address())
            return slot.key, (slot.key, "success", f"已删除“{name}”。")
        evidence.move(row, -1 if verb == "up" else 1)
        return slot.key, (slot.key, "success", f"已{'上移' if verb == 'up' else '下移'}“{row.original_name}”。")
    except UploadRejected as exc:  # the report was submitted meanwhile
        db.session.rollback()
        return slot.key, (slot.key, "error", str(exc))


def _flash_notes(notes, typed: str, category: str | None = None) -> None:
    """What happened to the files, then (in the last message) what happened to the typed values.
    A refused file shows as an error only: no green 已保存 beside it."""
    for i, (slot, kind, text) in enumerate(notes):
        last = i == len(notes) - 1
        if last and kind == "success" and category:  # e.g. a text over its limit: a warning
            kind = category
        flash(text + (typed if last else ""), kind + (f" ev-{slot}" if slot else ""))


def _flash_saved(step, values, years, notes, confirmed) -> None:
    """The message after a saved step: files first, then the typed values (texts over their limit)."""
    message, category = saved_message(step, values, years)
    if notes:
        message = "您填写的内容" + message
    if confirmed:
        names = "、".join(f"“{qualified_name(f, years)}”" for f in step.fields if f.key in confirmed)
        message = f"已确认{names}已按决赛要求核对。{message}"
    if notes:
        _flash_notes(notes, message, category if category != "success" else None)
    else:
        flash(message, category)


@bp.route("/step/<step_key>", methods=["GET", "POST"])
@reads_deferred  # SQLite's write lock only for the writes: the files (below) and save_answers
def step(step_key):
    """Show and save one step.  Saving validates types and ranges, never completeness."""
    sub = _submission(editable_only=True)
    round_ = _editable_round(sub)
    if round_ is None:
        if request.method == "POST":
            return _refuse_readonly()
        flash(readonly_message(sub), "info")
        return redirect(url_for("applicant.review"))
    report = get_report(round_)
    step = report.step(step_key) or abort(404)
    years, category = sub.edition.years, sub.cluster.category
    fetch = request.headers.get("X-Requested-With") == "fetch"

    if request.method == "GET":
        stored = step_defaults(step, sub, sub.answers_for(round_))
        form = _shown_form(sub, round_, step, stored)
        form.version.data = str(sub.version)
        return _render_step(sub, round_, step, form, stored=stored)

    form = make_step_form(round_, step.key, category, years, formdata=request.form,
                          only=_named_fields(step, request.form) if fetch else None)
    if g.get("csrf_failed"):
        return _render_step(sub, round_, step, form, 400)
    touched, notes = (None, []) if fetch else _files_of_post(sub, round_, step)
    remove = bool(request.form.get("remove_row"))
    if remove:
        _row_edit(form)
    values, typed = split_answers(form) if not form.validate() else (form_to_answers(form), {})
    _keep_theirs(step, values, typed)
    expected = parse_version(form.version.data, blank=0)  # missing or not a version: a stale page
    confirmed = [k for k in request.form.getlist("confirm_carried")
                 if k in carried_of(sub, round_) and step_field(step, k)]
    try:
        version = save_answers(sub, round_, values, expected, confirmed, typed)
    except StaleSave as stale:
        diff = step_changes(step, stale.current_answers, values, years)
        if fetch:
            return jsonify(ok=False, error="另一窗口或他人已保存了此报告，自动保存已停止。请刷新页面查看最新内容。"), 409
        _flash_notes(notes, "您填写的内容尚未保存，见页首的说明。")
        choices = _conflict_choices(diff, values)
        form = _conflict_form(sub, round_, step, stale.current_answers, choices)
        form.version.data = str(stale.current_version)
        return _render_step(sub, round_, step, form, 409, stale=diff, choices=choices)
    if fetch:
        return jsonify(ok=True, version=version, saved_at=local_now().strftime("%H:%M"),
                       warning=_typed_sentence(step, typed, years) if typed else "")
    form.version.data = str(version)
    if typed:  # every valid value saved; the refused ones stay on the page as typed, with their errors
        if notes:
            _flash_notes(notes, "")
        flash(_partial_message(step, values, typed, years), "warning")
        g.saved_ok = True
        return _render_step(sub, round_, step, form, 422)
    _flash_saved(step, values, years, notes, confirmed)
    if request.form.get("add_row") and _row_edit(form) or remove:
        g.saved_ok = True
        return _render_step(sub, round_, step, form)
    return _after_save(report, step, touched)


def _files_of_post(sub, round_, step) -> tuple[str | None, list]:
    """_evidence_actions, in a write window of its own when the post stores or moves a file (the
    step's request reads without SQLite's write lock: dbsetup.reads_deferred)."""
    with write_window() if _changes_files() else nullcontext():  # each file's row committed as stored
        return _evidence_actions(sub, round_, step)


def _changes_files() -> bool:
    """Whether this post stores a file or presses a file's remove/up/down button (the writes
    besides the answers; a plain 保存 has none and never waits for the write lock before its save)."""
    return bool(request.form.get("evidence_action")) or any(
        upload.filename for _, upload in request.files.items(multi=True))


def _named_fields(step, formdata) -> frozenset | None:
    """The fields an autosave sent (``fields``: their keys, comma-separated; static/js/wizard.js
    sends the fields changed since its last save): only these are validated and saved.  None:
    the whole step was sent (no ``fields``)."""
    if "fields" not in formdata:
        return None
    keys = set(formdata.get("fields", "").split(","))
    return frozenset(f.key for f in step.fields if f.key in keys)


def _with_stored(sub, round_, step, md, named) -> MultiDict:
    """A partial post (an autosave stashed when the login expired) made whole: the named fields
    as posted, every other field of the step as stored, so nothing unsent is saved blank."""
    stored = step_defaults(step, sub, sub.answers_for(round_))
    full = answers_to_formdata(round_, step.key, {k: v for k, v in stored.items() if k not in named})
    for name, value in md.items(multi=True):
        key = name.split("-", 1)[0]
        if name != "fields" and (key in named or step_field(step, key) is None):
            full.add(name, value)
    return full


def _keep_theirs(step, values: dict, typed: dict) -> None:
    """After a conflict: the fields the applicant chose to keep as the other tab saved them
    (``keep-<key>`` = theirs) are left out of this save."""
    for f in step.fields:
        if request.form.get(f"keep-{f.key}") == "theirs":
            values.pop(f.key, None)
            typed.pop(f.key, None)


def _loaded_digests() -> dict:
    try:
        loaded = json.loads(request.form.get("loaded") or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _conflict_choices(diff, values) -> dict:
    """{field key: "theirs" | "mine"} of each field both tabs hold differently: a field this tab
    did not touch (posted as it was loaded) keeps the other tab's change by default."""
    loaded = _loaded_digests()
    return {d.key: "theirs" if d.key in loaded and loaded[d.key] == answer_digest(values.get(d.key)) else "mine"
            for d in diff}


def _conflict_form(sub, round_, step, current: dict, choices: dict):
    """The page after a conflict: this tab's values, but the other tab's where it is kept by default."""
    theirs = {k for k, v in choices.items() if v == "theirs"}
    md = MultiDict([(name, value) for name, value in request.form.items(multi=True)
                    if not any(name == k or name.startswith(k + "-") for k in theirs)])
    for name, value in answers_to_formdata(round_, step.key, {k: current.get(k) for k in theirs}).items(multi=True):
        md.add(name, value)
    form = make_step_form(round_, step.key, sub.cluster.category, sub.edition.years, formdata=md, meta={"csrf": False})
    form.validate()
    return form


def _shown_form(sub, round_, step, answers):
    """The step's form from the saved answers (``answers``: step_defaults of the stored ones);
    values kept as typed (refused by the checks) are shown again as typed, with their errors
    (report.checks.TYPED)."""
    years, category = sub.edition.years, sub.cluster.category
    typed = _typed_of(step, answers)
    if not typed:  # made only if the page reads its fields (its sections not kept yet)
        return DeferredShownForm(round_, step.key, category, years, answers)
    md = answers_to_formdata(round_, step.key, {k: v for k, v in answers.items() if k not in typed})
    for entry in typed.values():
        for name, value in entry.get("posted") or []:
            md.add(name, value)
    form = make_step_form(round_, step.key, category, years, formdata=md, meta={"csrf": False})
    form.validate()
    return form


def _typed_of(step, answers) -> dict:
    """The step's values kept as typed (refused by the checks) in ``answers``."""
    return {k: v for k, v in typed_entries(answers).items() if step_field(step, k)}


def _names(fields, years, most=8) -> str:
    names = [f"“{qualified_name(f, years)}”" for f in fields]
    return "、".join(names[:most]) + (f" 等 {len(names)} 项" if len(names) > most else "")


def _typed_sentence(step, typed, years) -> str:
    wrong = [f for f in step.fields if f.key in typed]
    return (f"有 {len(wrong)} 处填写有误：{_names(wrong, years)}，已按您填写的内容保留在本页，"
            f"尚未计入报告，修改并保存后才能提交。")


def _partial_message(step, values, typed, years) -> str:
    """After a save with refused values: which values were saved, which need fixing."""
    saved = [f for f in step.fields if f.key in values and f.kind_of.answered(values[f.key])]
    head = f"已保存本页其余内容（{len(saved)} 项：{_names(saved, years)}）。" if saved else "本页其余内容为空，无需保存。"
    return head + _typed_sentence(step, typed, years)


def _after_save(report, step, touched):
    """Where a saved page goes: beside the files just touched, the next step, or the same step."""
    if touched == BULK_ANCHOR and request.form.get("return_to") == "review":
        return redirect(url_for("applicant.review", _anchor=BULK_ANCHOR))
    if touched:  # stay beside the files, where the upload's messages are shown (also for 保存并继续)
        anchor = touched if touched == BULK_ANCHOR else f"ev-{touched}"
        return redirect(url_for("applicant.step", step_key=step.key, saved=1, _anchor=anchor))
    if request.form.get("action") == "next":
        steps = list(report.steps)
        idx = steps.index(step)
        if idx + 1 < len(steps):
            return redirect(url_for("applicant.step", step_key=steps[idx + 1].key, saved=1))
        return redirect(url_for("applicant.review", saved=1))
    return redirect(url_for("applicant.step", step_key=step.key, saved=1))


def resume_pending(pending):
    """After re-login: save what was posted when the session had expired."""
    path = pending.path or ""
    prefix = url_for("applicant.step", step_key="")
    if not path.startswith(prefix):
        return redirect(url_for("applicant.tasks"))
    step_key = path[len(prefix):].strip("/")
    md = MultiDict([(k, v) for k, values in pending.form.items() for v in values])
    md.pop("add_row", None)
    md.pop("remove_row", None)
    sub = _submission()
    round_ = _editable_round(sub)
    report = get_report(round_) if round_ else None
    if report is None or report.step(step_key) is None:
        flash("报告当前不可编辑，登录前填写的内容未能保存。", "warning")
        return redirect(url_for("applicant.tasks"))
    step = report.step(step_key)
    named = _named_fields(step, md)
    if named is not None:  # an autosave (the fields it changed): the step's other fields as stored
        md = _with_stored(sub, round_, step, md, named)
    form = make_step_form(round_, step_key, sub.cluster.category, sub.edition.years, formdata=md, meta={"csrf": False})
    values, typed = split_answers(form) if not form.validate() else (form_to_answers(form), {})
    try:
        version = save_answers(sub, round_, values, parse_version(md.get("version"), blank=0), typed=typed)
    except (StaleSave, ValueError):
        flash("登录前填写的内容已恢复，但报告在此期间已被更改，尚未保存。请核对后点击保存。", "warning")
        form.version.data = str(sub.version)
        return _render_step(sub, round_, step, form, 409)
    if typed:  # the rest is saved; the refused values stay on the page as typed
        flash("已重新登录。" + _partial_message(step, values, typed, sub.edition.years), "warning")
        form.version.data = str(version)
        return _render_step(sub, round_, step, form, 422)
    flash("已重新登录，登录过期前填写的内容已保存。", "success")
    return redirect(url_for("applicant.step", step_key=step_key, saved=1))


def _refuse_readonly():
    msg = "报告已提交或当前状态不允许修改，本次内容未保存。"
    if request.headers.get("X-Requested-With") == "fetch":
        return jsonify(ok=False, error=msg), 409
    abort(409, description=msg)


@bp.route("/review")
def review():
    """Every value, the gaps that block submitting, and the consistency warnings."""
    sub = _submission()
    round_ = current_round(sub)
    answers = shown_answers(sub, round_)  # named: the body and the lists kept until the next save
    files = evidence.listed_files(sub, round_)  # one query: the appendix and the files still missing
    problems, warnings = review_lists(sub, round_, answers, files)
    editable = _editable_round(sub) is not None
    report = get_report(round_)
    bulk = (bulk_choices(sub, round_, missing_files_by_step(sub, round_, files, answers))
            if editable and report.step(BULK_STEP) else None)
    return render_template("applicant/review.html", sub=sub, report=report, answers=answers,
                           bulk=bulk, bulk_step=BULK_STEP,
                           problems=problems, warnings=warnings, round_=round_, ev=appendix(sub, round_, files=files),
                           editable=editable, deadline=effective_deadline(sub, round_),
                           deadline_text=deadline_text(sub, round_))


@bp.route("/submit", methods=["POST"])
def submit():
    """Submit the report of the round being edited (complete reports only)."""
    sub = _submission()
    round_ = _editable_round(sub)
    if round_ is None:
        return _refuse_readonly()
    move = submit_move(round_).key
    version = parse_version(request.form.get("version"))
    try:
        apply_move(sub, move, current_user._get_current_object(), expected_version=version,
                   address=client_address())
    except MoveRefused as refused:
        if not refused.problems:
            abort(409, description=refused.message)
        flash(refused.message + f"（共 {len(refused.problems)} 项，见下方列表）", "error")
        return redirect(url_for("applicant.review"))
    flash("报告已提交，等待县级以上人民政府审核。", "success")
    return redirect(url_for("applicant.submitted"))


@bp.route("/submitted")
def submitted():
    """The receipt of the latest submit of the current round: time, 校验码, the submitted PDF."""
    sub = _submission()
    round_ = current_round(sub)
    snap = latest_snapshot(sub, round_)
    if snap is None:
        flash("本轮报告尚未提交。", "info")
        return redirect(url_for("applicant.tasks"))
    return render_template("applicant/submitted.html", sub=sub, snap=snap, report=get_report(round_),
                           editable=_editable_round(sub) is not None)


@bp.route("/submitted.pdf")
def submitted_pdf():
    """The report exactly as last submitted in the current round (its snapshot)."""
    sub = _submission()
    snap = latest_snapshot(sub, current_round(sub))
    if snap is None:
        abort(404)
    return send_snapshot_pdf(snap, sub)


@bp.route("/history")
def history():
    sub = _submission()
    entries = db.session.execute(
        db.select(HistoryEntry).filter_by(submission_id=sub.id).order_by(HistoryEntry.id.desc())
    ).scalars().all()
    return render_template("shared/history.html", sub=sub, entries=entries)


@bp.route("/report.pdf")
def report_pdf():
    """The applicant's report as PDF (草稿 watermark while it is a draft)."""
    sub = _submission()
    return send_report_pdf(sub, current_round(sub))


@bp.route("/declaration.pdf")
def declaration():
    """The declaration page alone, with the names filled in, to print, sign, seal and scan."""
    sub = _submission()
    round_ = current_round(sub)
    return send_page_pdf(declaration_request(sub, round_), declaration_filename(sub, round_))
