"""The administrators' lists: their filters (kept across pages and in a form's ``back`` field,
worded in Chinese for the audit log), the order of Chinese names (pinyin) and a page of rows in
that order."""
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode

from flask import request
from flask_login import current_user
from pypinyin import Style, lazy_pinyin

from ..access import visible_submissions
from ..extensions import db
from ..models import CATEGORY_LABELS, Cluster, Submission
from ..params import clean_param, is_digits, parse_id
from ..workflow.states import STATES, state_label

LIST_FILTERS = ("state", "category", "city", "q", "sort")
BACK_KEYS = LIST_FILTERS + ("page",)

#: the list's filters as the audit log words them (no English key or value reaches it)
FILTER_WORDS = {"state": "状态", "category": "类别", "city": "市州代码", "q": "搜索", "sort": "排序",
                "edition": "届次编号", "page": "页码"}
SORT_WORDS = {"name": "按名称（拼音）", "state": "按状态", "updated": "按更新时间"}


def list_filters(values=None) -> dict:
    """The administrators' list filters (state, category, city, q, sort) of ``values`` (default:
    this request's query string)."""
    values = request.args if values is None else values
    return {k: clean_param(values.get(k), 64) for k in LIST_FILTERS}


def filters_text(values) -> str:
    """The filters of a download in Chinese for its audit row (状态=入围决赛; 类别=…), or 全部."""
    words = []
    for key, value in values.items():
        if not value or key not in FILTER_WORDS:
            continue
        value = clean_param(value, 64)
        if key == "state":
            value = state_label(value) if value in STATES else value
        elif key == "category":
            value = CATEGORY_LABELS.get(value, value)
        elif key == "sort":
            value = SORT_WORDS.get(value, value)
        words.append(f"{FILTER_WORDS[key]}={value}")
    return "；".join(words) or "全部"


def list_query(values) -> str:
    """The list's filters and page as a query string, for a form's hidden ``back`` field."""
    return urlencode({k: clean_param(values.get(k), 64) for k in BACK_KEYS if values.get(k)})


def back_args(raw) -> dict:
    """The list arguments a ``back`` field carried: known keys only, cleaned (never a URL, so
    返回申报管理 cannot lead anywhere but the list)."""
    pairs = dict(parse_qsl(clean_param(raw, 512)))
    return {k: clean_param(pairs[k], 64) for k in BACK_KEYS if pairs.get(k)}


def selected_submissions(raw_ids) -> tuple[list[Submission], list[str]]:
    """The ticked submissions this administrator may see, in the order ticked (one statement),
    and the ticked values that name none."""
    wanted = [(raw, parse_id(raw)) for raw in raw_ids if is_digits(raw)][:500]  # ASCII ids only
    ids = [sid for _, sid in wanted if sid]  # None beyond 2³¹−1: no such row, no query PostgreSQL refuses
    found = {s.id: s for s in db.session.execute(
        visible_submissions(current_user).where(Submission.id.in_(ids))).unique().scalars()} if ids else {}
    subs = list(dict.fromkeys(found[sid] for sid in ids if sid in found))
    missing = [f"#{raw}" for raw, sid in wanted if sid not in found]
    return subs, missing


# Chinese names sort by pinyin (then tone), as Chinese readers expect; code-point order (what
# SQL's ORDER BY gives on SQLite, and on PostgreSQL without an ICU collation) is meaningless to
# them.  The order is computed in Python, not in SQL: SQLite (the default backend) has no Chinese
# collation, PostgreSQL's "zh-x-icu" exists only on servers built with ICU, and a stored sort-key
# column would need a migration.  It stays bounded: one statement reads (id, name) of the filtered
# rows (two short columns; a province has hundreds of clusters, not millions), a second loads the
# page's rows; pypinyin runs once per distinct name (lru_cache), so a page costs a sort of
# cached keys.
@lru_cache(maxsize=16384)
def pinyin_key(name: str) -> tuple:
    """The sort key of a Chinese name: its syllables with tone numbers, then the name itself."""
    return tuple(s.lower() for s in lazy_pinyin(name or "", style=Style.TONE3)), name or ""


def by_pinyin(items, name=lambda item: item.cluster.name) -> list:
    """``items`` in the pinyin order of their names."""
    return sorted(items, key=lambda item: pinyin_key(name(item)))


def sorted_like_the_list(subs: list, filters: dict) -> list:
    """An export's rows in the list's order: by the pinyin of the cluster names when the list
    sorts by name (the SQL order is by character code)."""
    return by_pinyin(subs) if filters.get("sort") in ("", "name") else subs


@dataclass
class ListPage:
    """One page of a list, with what templates ask of Flask-SQLAlchemy's pagination."""
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return -(-self.total // self.per_page)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def pinyin_page(query, page: int, per_page: int) -> ListPage:
    """A page of ``query`` (a filtered_submissions() select) in the pinyin order of the cluster
    names: two statements, whatever the number of rows."""
    rows = db.session.execute(query.with_only_columns(Submission.id, Cluster.name).order_by(None)).all()
    ordered = [sid for sid, name in sorted(rows, key=lambda row: (pinyin_key(row[1]), row[0]))]
    ids = ordered[(page - 1) * per_page:page * per_page]
    items = db.session.execute(query.where(Submission.id.in_(ids))).unique().scalars().all() if ids else []
    position = {sid: i for i, sid in enumerate(ids)}
    return ListPage(sorted(items, key=lambda s: position[s.id]), page, per_page, len(ordered))
