"""评分细则: the dimensions experts score in each round of an edition.

The default for both rounds is the nine aspects that 2.8 of the official report asks the
cluster to assess itself on, summing to 100; an administrator edits a round's scheme (adding,
say, 现场答辩 to 决赛) until the round's first score is submitted, when it is frozen."""
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..auditlog import record
from ..extensions import db
from ..models import REVIEW_METHODS, ReviewScheme, User, to_local, utcnow
from ..report.model import ROUND_LABELS
from ..report.numbers import NumberError, parse_number
from ..text import clean_text
from ..workflow.states import ROUNDS

#: (key, label, maximum, guidance): 2.8's nine aspects with 2.8's own explanations where it gives one
DEFAULT_DIMENSIONS = (
    ("industry_base", "产业基础", 15, "集群主导产业规模实力、产品市场竞争力、品牌建设等情况。"),
    ("scale_industry", "规模工业培育", 10, "规模以上工业企业数量及增长、龙头企业和专精特新企业培育等情况。"),
    ("innovation", "创新能力", 15,
     "研发投入强度、发明专利、行业标准建设、从业人员（高技术人才及专家团队）情况。"),
    ("factor_agglomeration", "要素集聚", 10, "产业链上下游协作、人才、金融等集群发展的各类要素集聚情况。"),
    ("green", "绿色发展", 10, "绿色产品、绿色工厂、绿色园区、绿色供应链等情况。"),
    ("digital", "数字化", 10, "智能制造、工业互联网应用、企业数字化转型等情况。"),
    ("public_service", "集群公共服务", 10, "集群促进组织建设及运行情况，各类中介机构建设情况。"),
    ("open_cooperation", "开放合作", 10,
     "集群国际化合作、区域合作、品牌打造、吸引外资、进出口额等情况。"),
    ("organisation", "组织保障", 10, "集群领导及工作推进机制，相关规划、政策的制定落实等情况。"),
)
DEFAULT_PANEL_SIZE = 5
METHOD_LABELS = {
    "trimmed": "去掉一个最高分和一个最低分后取平均",
    "mean": "算术平均",
}


def default_dimensions() -> list[dict]:
    return [{"key": key, "label": label, "max": maximum, "guidance": guidance}
            for key, label, maximum, guidance in DEFAULT_DIMENSIONS]


def scheme_for(edition, round_: str) -> ReviewScheme:
    """The edition's scheme for a round, created with the defaults when first asked for (flushed,
    not committed: the caller's transaction decides)."""
    if round_ not in ROUNDS:
        raise ValueError(round_)
    scheme = db.session.execute(
        db.select(ReviewScheme).filter_by(edition_id=edition.id, round=round_)).scalar_one_or_none()
    if scheme is None:
        scheme = ReviewScheme(edition_id=edition.id, round=round_, dimensions=default_dimensions(), method="trimmed",
                              panel_size=DEFAULT_PANEL_SIZE)
        db.session.add(scheme)
        db.session.flush()
    return scheme


def stored_scheme(edition, round_: str) -> ReviewScheme | None:
    """The round's scheme if one is stored (reads only)."""
    return db.session.execute(
        db.select(ReviewScheme).filter_by(edition_id=edition.id, round=round_)).scalar_one_or_none()


def scheme_or_default(edition, round_: str) -> ReviewScheme:
    """The stored scheme, else the defaults, not added to the session: for pages (a GET never
    writes).  A scheme is stored by the first edit, assignment or submitted score."""
    if round_ not in ROUNDS:
        raise ValueError(round_)
    return stored_scheme(edition, round_) or ReviewScheme(
        edition_id=edition.id, round=round_, dimensions=default_dimensions(), method="trimmed",
        panel_size=DEFAULT_PANEL_SIZE)


def max_total(scheme: ReviewScheme) -> float:
    return float(sum(d["max"] for d in scheme.dimensions))


# --- editing, and the freeze at the round's first submitted score ------------------------------

LABEL_MAX = 40
GUIDANCE_MAX = 500
DIMENSION_MAX = 100  # the maximum of one dimension
PANEL_MAX = 20
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class SchemeRefused(Exception):
    """An edit that may not happen; ``message`` is for the administrator (Chinese), ``errors``
    the messages of the rows or fields at fault ({"dimensions": {row index: [messages]}, field: [...]})."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


def frozen_message(scheme: ReviewScheme) -> str | None:
    """Why the scheme can no longer be changed, and since when (None while it can)."""
    if scheme.frozen_at is None:
        return None
    return (f"{ROUND_LABELS[scheme.round]}评分细则已于 {to_local(scheme.frozen_at):%Y-%m-%d %H:%M} 固定："
            "本轮第一份专家评分已在该时刻提交，此后评分维度、分值和计分方法不能再修改，"
            "以保证所有专家按同一细则评分。")


def freeze(scheme: ReviewScheme, now: datetime | None = None) -> None:
    """Fix the scheme: called when the round's first score is submitted (the caller commits).
    Freezing again keeps the first moment."""
    if scheme.frozen_at is None:
        scheme.frozen_at = now or utcnow()


def _half_points(raw, label: str) -> tuple[float | None, str | None]:
    """A maximum score: a number above 0, at most DIMENSION_MAX, in steps of 0.5."""
    try:
        value = parse_number(raw)
    except NumberError as exc:
        return None, f"{label}：{exc}"
    if value is None:
        return None, f"{label}：请填写满分。"
    if value <= 0 or value > DIMENSION_MAX:
        return None, f"{label}：满分应大于 0、不超过 {DIMENSION_MAX}。"
    if (value * 2) != (value * 2).to_integral_value():
        return None, f"{label}：满分以 0.5 分为单位。"
    return float(value) if value != value.to_integral_value() else int(value), None


def _free_key(used: set[str]) -> str:
    n = 1
    while f"d{n}" in used:
        n += 1
    return f"d{n}"


def parse_dimensions(rows: list[dict]) -> list[dict]:
    """The dimensions as typed (each {key, label, max, guidance}, strings), checked and cleaned;
    a row without a key is new and gets one.  Raises SchemeRefused with every row's messages."""
    errors: dict[int, list[str]] = {}
    dims, labels = [], set()
    used = {r.get("key") for r in rows if _KEY.match(r.get("key") or "")}
    for i, row in enumerate(rows):
        label = clean_text(row.get("label"))
        guidance = clean_text(row.get("guidance"), multiline=True)
        name = f"第 {i + 1} 项" + (f"「{label}」" if label else "")
        problems = []
        if not label:
            problems.append(f"{name}：请填写维度名称。")
        elif len(label) > LABEL_MAX:
            problems.append(f"{name}：名称不能超过 {LABEL_MAX} 字。")
        elif label in labels:
            problems.append(f"{name}：与前面的维度重名。")
        maximum, problem = _half_points(row.get("max"), name)
        if problem:
            problems.append(problem)
        if len(guidance) > GUIDANCE_MAX:
            problems.append(f"{name}：评分说明不能超过 {GUIDANCE_MAX} 字。")
        key = row.get("key") if _KEY.match(row.get("key") or "") else None
        if key is None:
            key = _free_key(used)
            used.add(key)
        labels.add(label)
        if problems:
            errors[i] = problems
        dims.append({"key": key, "label": label, "max": maximum, "guidance": guidance})
    if not rows:
        raise SchemeRefused("评分细则至少需要一个评分维度。", {"dimensions": {}})
    if errors:
        raise SchemeRefused("评分细则有需要修改的地方，尚未保存。", {"dimensions": errors})
    return dims


@dataclass
class SchemeChange:
    dimensions: list[dict]
    method: str
    panel_size: int
    deadline: datetime | None


def _describe(scheme: ReviewScheme, change: SchemeChange) -> list[str]:
    parts = []
    if change.dimensions != scheme.dimensions:
        parts.append("评分维度：" + "、".join(f"{d['label']} {d['max']:g} 分" for d in change.dimensions)
                     + f"（合计 {sum(Decimal(str(d['max'])) for d in change.dimensions):g} 分）")
    if change.method != scheme.method:
        parts.append(f"计分方法：{METHOD_LABELS[change.method]}")
    if change.panel_size != scheme.panel_size:
        parts.append(f"每份报告评审专家 {change.panel_size} 人")
    if change.deadline != scheme.deadline:
        parts.append("评审截止时间：" + (f"{change.deadline:%Y-%m-%d %H:%M}" if change.deadline else "不设"))
    return parts


def update_scheme(scheme: ReviewScheme, change: SchemeChange, actor: User, address: str = "") -> list[str]:
    """Apply an edit with an audit row, and commit; returns what changed (empty: nothing).

    Once frozen, the dimensions and the method (what the scores mean and how they combine) are
    refused; the panel size and the experts' deadline stay editable (a panel short of experts
    gets more, a late panel more time), each change audited."""
    if change.method not in REVIEW_METHODS:
        raise SchemeRefused("请选择计分方法。", {"method": ["请选择计分方法。"]})
    if not 1 <= change.panel_size <= PANEL_MAX:
        raise SchemeRefused(f"每份报告的评审专家人数应为 1–{PANEL_MAX} 人。",
                            {"panel_size": [f"应为 1–{PANEL_MAX} 人。"]})
    frozen = frozen_message(scheme)
    if frozen and (change.dimensions != scheme.dimensions or change.method != scheme.method):
        raise SchemeRefused(frozen)
    parts = _describe(scheme, change)
    if not parts:
        return []
    scheme.dimensions, scheme.method = change.dimensions, change.method
    scheme.panel_size, scheme.deadline, scheme.updated_at = change.panel_size, change.deadline, utcnow()
    record(actor, "review_scheme", f"edition:{scheme.edition_id}",
           f"{ROUND_LABELS[scheme.round]}评分细则：" + "；".join(parts), address)
    db.session.commit()
    return parts
