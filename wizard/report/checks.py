"""What a report still lacks (submit gating), step states, and the consistency
checks (形式审查) shown as warnings on the review page."""
from __future__ import annotations

import itertools
from decimal import Decimal

from sqlalchemy import event, inspect

from ..models import Submission
from ..workflow.states import FINAL, ROUNDS
from .definition import get_report
from .fragments import identity_of
from .model import fill_years
from .numbers import count_chars, to_decimal
from .view import effective_answers

NOT_STARTED, IN_PROGRESS, COMPLETE, ERROR = "not-started", "in-progress", "complete", "error"
OPTIONAL = "optional"  # a step of files only (佐证材料): nothing it holds blocks submitting
CARRIED_MARK = "沿用初赛内容，请按决赛要求修改"
#: The reserved key of a round's answers that keeps values typed but refused by the form's
#: checks: ``{field key: {"posted": [[name, value], ...], "errors": [message, ...]}}``.  A save
#: stores every valid value and keeps each refused one here as typed (issue #23 item 3): the
#: step shows it again with its error, and it blocks submitting until it is fixed.
TYPED = "_typed"
STATUS_LABELS = {NOT_STARTED: "未开始", IN_PROGRESS: "进行中", COMPLETE: "已完成", ERROR: "有错误", OPTIONAL: "选填"}


def typed_entries(answers: dict) -> dict:
    """The values kept as typed (refused by the checks) of a round's answers: ``TYPED``."""
    typed = (answers or {}).get(TYPED)
    return typed if isinstance(typed, dict) else {}


def typed_problems(step, answers, years) -> list:
    """A value kept as typed but refused blocks submitting until it is fixed and saved."""
    typed = typed_entries(answers)
    return [problem(step, f, f"“{qualified_name(f, years)}”填写有误（已按您填写的内容保留，尚未计入报告）："
                             f"{'；'.join(typed[f.key].get('errors') or ['请修改'])}", "error")
            for f in step.fields if f.key in typed]


def problem(step, field, message, kind="missing", anchor=None):
    return {"step": step.key, "step_title": step.title, "field": field.key if field else None,
            "anchor": anchor or (f"f-{field.key}" if field else ""), "message": message, "kind": kind}


def over_char_limits(step, answers, years) -> list[str]:
    """One sentence per text of the step over its official limit (saving is allowed; submitting not)."""
    out = []
    for f in step.fields:
        value = answers.get(f.key)
        n = count_chars(value) if f.max_chars and isinstance(value, str) else 0
        if n > (f.max_chars or 0):
            out.append(f"“{fill_years(f.name, years)}”已输入 {n} 字，超出 {f.max_chars} 字的限制，"
                       f"请删减 {n - f.max_chars} 字后再提交")
    return out


def saved_message(step, answers, years) -> tuple[str, str]:
    """(message, flash category) after a step is saved: names every text over its limit."""
    over = over_char_limits(step, answers, years)
    if not over:
        return "已保存。", "success"
    return "已保存。但" + "；".join(over) + "。", "warning"


#: (id of a definition field, the years) → (the field, its qualified name).  The definition's
#: fields live as long as the process (get_report is cached), and the entry keeps its field, so an
#: id is never taken for another field's; bounded, cleared when full.
_NAMES: dict = {}
_NAMES_MAX = 8192


def qualified_name(field, years) -> str:
    """A field's name in messages: with its group where several fields share a label
    (集群促进组织·电话), years filled in.  The review list, the step's error summary and the
    import messages all name a field this way.  Every check of every field asks it, so it is
    computed once per field and years (a pure function of the two)."""
    key = (id(field), tuple(years.items()))
    hit = _NAMES.get(key)
    if hit is not None and hit[0] is field:
        return hit[1]
    name = field.grouped(fill_years(field.name, years))
    if len(_NAMES) >= _NAMES_MAX:
        _NAMES.clear()
    _NAMES[key] = (field, name)
    return name


def field_problems(step, field, value, category, years) -> list:
    """Problems of one field against the submit rules."""
    kind = field.kind_of
    if not field.applies_to(category) or not kind.answerable:
        return []
    name = qualified_name(field, years)
    return [problem(step, field, message, severity) for message, severity in kind.problems(field, value, name, years)]


def carried_problems(step, carried, years) -> list:
    """A text still as carried over from the preliminary report blocks submitting: 附件2 asks it anew."""
    return [problem(step, f, f"“{qualified_name(f, years)}”{CARRIED_MARK}（修改后保存，或确认已按决赛要求核对）。",
                    anchor=f"carried-{f.key}") for f in step.fields if f.key in carried]


def step_problems(step, answers, category, years, carried=()) -> list:
    typed = typed_entries(answers)
    return typed_problems(step, answers, years) \
        + [p for f in step.fields if f.key not in typed
           for p in field_problems(step, f, answers.get(f.key), category, years)] \
        + carried_problems(step, carried, years)


def step_status(round_, step, answers, category, years, carried=()) -> str:
    """未开始, 进行中 (gaps, or a text still carried over), 有错误 or 已完成: the task list and the
    step pages' sidebar ask this one function."""
    applicable = [f for f in step.fields if f.applies_to(category) and f.kind_of.answerable]
    if not applicable:
        return OPTIONAL
    typed = typed_entries(answers)
    if not any(f.kind_of.answered(answers.get(f.key)) or f.key in typed for f in applicable):
        return NOT_STARTED
    problems = step_problems(step, answers, category, years, carried)
    if any(p["kind"] == "error" for p in problems):
        return ERROR
    return IN_PROGRESS if problems else COMPLETE


def report_problems(round_, answers, category, years, carried=()) -> list:
    report = get_report(round_)
    return [p for step in report.steps for p in step_problems(step, answers, category, years, carried)]


def carried_of(submission, round_) -> list[str]:
    """The texts of this round still as carried over from the preliminary report (final round only)."""
    return list(submission.carried_texts or []) if round_ == FINAL else []


def submit_problems(submission, round_) -> list:
    return report_problems(round_, effective_answers(submission, round_), submission.cluster.category,
                           submission.edition.years, carried_of(submission, round_))


# --- consistency checks (warnings, never blocking) --------------------------------------

def _v(answers, key, sub):
    return to_decimal((answers.get(key) or {}).get(sub))


def consistency_warnings(round_, answers, years) -> list:
    report = get_report(round_)
    warnings = []

    def warn(field_key, message):
        step = report.step_of(field_key)
        field = report.field(field_key)
        if step and field:
            warnings.append(problem(step, field, message, "warning"))

    def name(key):
        return report.field(key).name

    year_keys = (("y1", years["y1"]), ("y2", years["y2"]))
    for sub, year in year_keys:
        pairs = [("above_scale_enterprises", "enterprises"), ("leading_output", "output_total")]
        for small, big in pairs:
            a, b = _v(answers, small, sub), _v(answers, big, sub)
            if a is not None and b is not None and a > b:
                warn(small, f"{year}年“{name(small)}”（{a}）大于“{name(big)}”（{b}）。")
        rows = answers.get("top10") or []
        col = "revenue_y1" if sub == "y1" else "revenue_y2"
        total = sum((to_decimal(r.get(col)) or Decimal(0)) for r in rows)
        revenue = _v(answers, "revenue", sub)
        if rows and revenue is not None and total > revenue:
            warn("top10", f"{year}年营业收入排名前十企业的营业收入合计（{total}）大于“{name('revenue')}”（{revenue}）。")
        employees, patents, per10k = _v(answers, "employees", sub), _v(answers, "invention_patents", sub), _v(answers, "patents_per_10k", sub)
        if employees and patents is not None and per10k is not None:
            expected = patents / employees * 10000
            if abs(expected - per10k) > max(Decimal("0.05"), expected * Decimal("0.01")):
                warn("patents_per_10k", f"{year}年“{name('patents_per_10k')}”（{per10k}）与按发明专利数量和从业人员数量计算的值"
                                        f"（{expected.quantize(Decimal('0.01'))}）不一致。")
    for field in report.fields:
        if not field.kind_of.splits_total:
            continue
        for y, year in year_keys:
            total, part = _v(answers, field.key, f"{y}_total"), _v(answers, field.key, f"{y}_cluster")
            if total is not None and part is not None and part > total:
                warn(field.key, f"{year}年“{field.name}”的集群产业数（{part}）大于园区总额（{total}）。")
    a, b = _v(answers, "rd_funds", "y1"), _v(answers, "rd_funds", "y2")
    stated = _v(answers, "rd_growth", "y2")
    if a and b is not None and stated is not None:
        computed = (b - a) / abs(a) * 100
        if abs(computed - stated) > Decimal("0.5"):
            warn("rd_growth", f"{years['y2']}年“{name('rd_growth')}”（{stated}%）与按集群研发经费计算的增速"
                              f"（{computed.quantize(Decimal('0.01'))}%）不一致。")
    return warnings


#: (submission id, round) → (what the statuses were computed from, the report, the statuses in the
#: report's step order): the latest statuses of each submission's round.  Checking every field of
#: the whole report costs about 0.4 ms a page (a complete report, issue #25) and the step list of
#: every step page and the task list ask it.  Bounded, cleared when full.
_STATUSES: dict = {}
_STATUSES_MAX = 4096


def _statuses_key(submission, category, years, carried) -> tuple | None:
    """What a round's statuses are computed from, as a key: the saved answers stand for their
    row's (id, created_at, version, updated_at) — every save and move makes the UPDATE
    ``version + 1`` and a new ``updated_at``, and created_at tells a database restored or built
    anew from the one the statuses came from; an answer assigned on the object (a script, a
    test) drops the entry when flushed (``_forget_statuses``).  None: not stored yet."""
    if submission.id is None or submission.version is None:
        return None
    return (submission.created_at, submission.version, submission.updated_at, category,
            tuple(years.items()), tuple(carried))


def step_statuses(submission, round_) -> list:
    """(step, status) of every step, from what the applicant has saved: the one answer the task
    list and the step pages' sidebar give (a step nobody saved is 未开始, pre-filled defaults or not).
    Kept per submission and round until the row changes (``_STATUSES``)."""
    category, years = submission.cluster.category, submission.edition.years
    carried = carried_of(submission, round_)
    report = get_report(round_)
    key = _statuses_key(submission, category, years, carried)
    hit = _STATUSES.get((submission.id, round_)) if key is not None else None
    if hit is not None and hit[0] == key and hit[1] is report:
        return list(zip(report.steps, hit[2]))
    answers = submission.answers_for(round_)
    statuses = tuple(step_status(round_, step, answers, category, years, carried) for step in report.steps)
    if key is not None:
        if len(_STATUSES) >= _STATUSES_MAX:
            _STATUSES.clear()
        _STATUSES[(submission.id, round_)] = (key, report, statuses)
    return list(zip(report.steps, statuses))


def shown_answers_identity(submission, round_) -> str | None:
    """A name of the round's answers as the pages show them (``effective_answers``: the saved
    answers and the defaults pre-filled from them or from the cluster's name) that changes
    whenever they could: the row key of ``_statuses_key``, the number of this process's latest
    write of the row through the ORM (``_WRITES``) and the cluster's name.  None: not
    stored yet, or changed on the object and not written (then nothing is kept under it)."""
    if submission.id is None or submission.version is None or inspect(submission).modified:
        return None
    return (f"submission:{submission.id}:{round_}:{submission.created_at}:{submission.version}:"
            f"{submission.updated_at}:{_WRITES.get(submission.id, _WRITES_FLOOR[0])}:{submission.cluster.name}")


#: submission id → a number taken anew each time this process writes the row through the ORM
#: (``_forget_statuses``: answers assigned on the object keep the version and the time); a row
#: this process never wrote has the floor, raised past every number given when the map is cleared
#: (bounded), so a number once part of a name never comes back for other answers.
_WRITES: dict = {}
_WRITES_FLOOR = [0]
_WRITES_MAX = 65536
_WRITE_NUMBERS = itertools.count(1)


#: (submission id, round) → (what the lists were computed from, the report, the problems, the
#: warnings): the latest review lists of each submission's round (report_problems and
#: consistency_warnings of the whole report: several ms a page on the county's, the
#: administrator's and the review page).  Bounded, cleared when full.
_CHECKS: dict = {}
_CHECKS_MAX = 4096


def review_checks(submission, round_, answers) -> tuple[list, list]:
    """(report_problems, consistency_warnings) of the round's ``answers``.  Kept per submission
    and round when the page named its answers (fragments.known_answers: a name that changes
    with the saved row), until the name, the category, the years or the carried texts change;
    answers the page did not name are checked every time.  Each call gets its own lists and
    dicts (a caller may add to them)."""
    category, years = submission.cluster.category, submission.edition.years
    carried = carried_of(submission, round_)
    report = get_report(round_)
    identity = identity_of(answers)
    key = None if identity is None else (identity, category, tuple(years.items()), tuple(carried))
    hit = _CHECKS.get((submission.id, round_)) if key is not None else None
    if hit is None or hit[0] != key or hit[1] is not report:
        hit = (key, report, tuple(report_problems(round_, answers, category, years, carried)),
               tuple(consistency_warnings(round_, answers, years)))
        if key is not None:
            if len(_CHECKS) >= _CHECKS_MAX:
                _CHECKS.clear()
            _CHECKS[(submission.id, round_)] = hit
    return [dict(p) for p in hit[2]], [dict(w) for w in hit[3]]


@event.listens_for(Submission, "after_update")
def _forget_statuses(mapper, connection, target) -> None:
    """A submission written through the ORM (its answers assigned, not saved by save_answers or
    a move) may keep its version and time: its kept statuses and review lists go, and the name of
    its answers (``shown_answers_identity``) changes."""
    for round_ in ROUNDS:
        _STATUSES.pop((target.id, round_), None)
        _CHECKS.pop((target.id, round_), None)
    number = next(_WRITE_NUMBERS)
    if len(_WRITES) >= _WRITES_MAX:
        _WRITES.clear()
        _WRITES_FLOOR[0] = number
        number = next(_WRITE_NUMBERS)
    _WRITES[target.id] = number
