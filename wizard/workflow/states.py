"""The competition's workflow as one table: every state and every move, and the one
place that says which round a state belongs to.

Nothing here touches the database; the code that moves a submission is moves.py.
    draft → submitted → county_approved → preliminary → finalist → final_submitted →
    final_approved → final → awarded / not_awarded   (eliminated ends the preliminary round)
"""
from __future__ import annotations

from dataclasses import dataclass

from ..roles import ROLE_ADMIN, ROLE_APPLICANT, ROLE_COUNTY

#: the competition's two rounds (初赛 with 附件1, 决赛 with 附件2): defined here only
PRELIMINARY, FINAL = "preliminary", "final"
ROUNDS = (PRELIMINARY, FINAL)
ROUND_LABELS = {PRELIMINARY: "初赛", FINAL: "决赛"}

# Move kinds: what a move does besides changing the state (moves.py has a hook per kind).
SUBMIT, APPROVE, RETURN, ADVANCE, DECIDE = "submit", "approve", "return", "advance", "decide"


@dataclass(frozen=True)
class State:
    key: str
    label: str
    round: str  # the round whose report this state is about
    editable: bool = False  # the applicant edits that round's report
    next_actor: str = ROLE_APPLICANT  # who is told to act when a submission reaches this state
    approved: bool = True  # False: the round is back before the county's approval (its opinion goes)
    scored: bool = False  # experts (评审专家) score this round's report while a submission is in this state
    tone: str = "grey"  # its badge's colours: a .tone-<name> of static/css/app.css, each state its own

    @property
    def editable_round(self) -> str | None:
        return self.round if self.editable else None

    @property
    def badge(self) -> str:
        """The CSS class of this state's badge: its tone (static/css/app.css styles each tone)."""
        return f"tone-{self.tone}"


STATES = {s.key: s for s in (
    State("draft", "草稿", PRELIMINARY, editable=True, approved=False, tone="grey"),
    State("submitted", "待县级审核", PRELIMINARY, next_actor=ROLE_COUNTY, approved=False, tone="blue"),
    State("county_approved", "县级已审核", PRELIMINARY, next_actor=ROLE_ADMIN, tone="teal"),
    State("preliminary", "初赛", PRELIMINARY, scored=True, tone="purple"),
    State("eliminated", "初赛未胜出", PRELIMINARY, tone="slate"),
    State("finalist", "入围决赛", FINAL, editable=True, approved=False, tone="amber"),
    State("final_submitted", "决赛报告待县级审核", FINAL, next_actor=ROLE_COUNTY, approved=False, tone="blue-outline"),
    State("final_approved", "决赛报告县级已审核", FINAL, next_actor=ROLE_ADMIN, tone="teal-outline"),
    State("final", "决赛", FINAL, scored=True, tone="green"),
    State("awarded", "认定为培育对象", FINAL, tone="red"),
    State("not_awarded", "未认定", FINAL, tone="grey-outline"),
)}


@dataclass(frozen=True)
class Move:
    key: str
    label: str
    source: str
    target: str
    role: str
    kind: str = ADVANCE
    comment_label: str | None = None  # set: a comment under this label is required
    style: str = "primary"

    @property
    def comment_required(self) -> bool:
        return self.comment_label is not None

    @property
    def round(self) -> str:
        return STATES[self.source].round if self.source in STATES else PRELIMINARY

    @property
    def takes_scan(self) -> bool:
        """An approval may carry the scan of the sealed opinion."""
        return self.kind == APPROVE

    @property
    def opens_final(self) -> bool:
        """The move into the final round: the final report starts from the preliminary one."""
        return self.source in STATES and STATES[self.source].round == PRELIMINARY and self.target in STATES \
            and STATES[self.target].round == FINAL


MOVES = (
    Move("submit", "提交初赛报告", "draft", "submitted", ROLE_APPLICANT, SUBMIT),
    Move("county_approve", "审核通过", "submitted", "county_approved", ROLE_COUNTY, APPROVE, "审核意见"),
    Move("county_return", "退回修改", "submitted", "draft", ROLE_COUNTY, RETURN, "退回意见", "danger"),
    Move("accept", "纳入初赛", "county_approved", "preliminary", ROLE_ADMIN),
    Move("admin_return", "退回修改", "county_approved", "draft", ROLE_ADMIN, RETURN, "退回意见", "danger"),
    Move("advance", "晋级决赛", "preliminary", "finalist", ROLE_ADMIN),
    Move("eliminate", "初赛未胜出", "preliminary", "eliminated", ROLE_ADMIN, DECIDE, "原因", "danger"),
    Move("submit_final", "提交决赛报告", "finalist", "final_submitted", ROLE_APPLICANT, SUBMIT),
    Move("county_approve_final", "审核通过", "final_submitted", "final_approved", ROLE_COUNTY, APPROVE, "审核意见"),
    Move("county_return_final", "退回修改", "final_submitted", "finalist", ROLE_COUNTY, RETURN, "退回意见", "danger"),
    Move("enter_final", "进入决赛", "final_approved", "final", ROLE_ADMIN),
    Move("admin_return_final", "退回修改", "final_approved", "finalist", ROLE_ADMIN, RETURN, "退回意见", "danger"),
    Move("award", "认定为培育对象", "final", "awarded", ROLE_ADMIN),
    Move("not_award", "未认定", "final", "not_awarded", ROLE_ADMIN, DECIDE, "原因", "danger"),
)
MOVES_BY_KEY = {m.key: m for m in MOVES}
#: the administrator's undo of the latest move (source and target come from the history)
UNDO = Move("undo", "撤销上一步操作", "*", "*", ROLE_ADMIN, "undo", "撤销原因", "secondary")
#: history rows that are not moves
OTHER_ENTRIES = {"deadline": "延长截止时间", "import": "导入填报模板"}


def state_label(key: str) -> str:
    return STATES[key].label if key in STATES else key


def move_label(key: str) -> str:
    if key == UNDO.key:
        return UNDO.label
    if key in OTHER_ENTRIES:
        return OTHER_ENTRIES[key]
    return MOVES_BY_KEY[key].label if key in MOVES_BY_KEY else key


def round_of(state: str) -> str:
    """The round a submission in this state is in (the one place that decides it)."""
    return STATES[state].round if state in STATES else PRELIMINARY


def submit_move(round_: str) -> Move:
    """The applicant's submit move of this round."""
    return next(m for m in MOVES if m.kind == SUBMIT and m.round == round_)


def scoring_state(round_: str) -> str:
    """The state in which experts score a round's reports (初赛: preliminary; 决赛: final)."""
    return next(k for k, s in STATES.items() if s.scored and s.round == round_)


def states_waiting_for(role: str) -> tuple[str, ...]:
    """The states in which this role is the next to act."""
    return tuple(k for k, s in STATES.items() if s.next_actor == role)


def moves_from(state: str, role: str) -> list[Move]:
    """The table's moves out of ``state`` that ``role`` makes (the offer on a page, the moves
    after a scored round)."""
    return [m for m in MOVES if m.source == state and m.role == role]


class MoveRefused(Exception):
    """A move that may not happen now; ``message`` is for the user (Chinese)."""

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.message = message
        self.problems = problems or []


def current_round(submission) -> str:
    """The round a submission is in now."""
    return round_of(submission.state)
