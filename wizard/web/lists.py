"""The administrators' lists: their filters (kept across pages and in a form's ``back`` field,
worded in Chinese for the audit log), the order of Chinese names (pinyin) and a page of rows in
that order."""
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode

from flask import request
from flask_login import current_user
from pypinyin import Style, lazy_pinyin
from sqlalchemy import and_, bindparam, case
from sqlalchemy.orm import aliased

from ..access import visible_submissions
from ..extensions import db
from ..models import CATEGORY_LABELS, Cluster, Region, Submission
from ..params import clean_param, is_digits, parse_id
from ..workflow.states import STATES, state_label
from .templating import url_once

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
def pinyin_key(name: str) -> str:
    """The sort key of a Chinese name: its syllables with tone numbers (lower case), then the
    name itself, in that order of precedence.  One flat string, so that sorting a list of
    thousands compares strings, not tuples of tuples (several times faster): the syllables and
    the name are written so that comparing two keys as strings gives the order of comparing
    ``(syllables, name)`` as tuples (each string ends with NUL, a NUL inside one is written NUL
    0xFF, each syllable starts with 0x02, the syllables end with another NUL)."""
    name = name or ""
    syllables = "".join(f"\x02{_sortable(s.lower())}\x00" for s in lazy_pinyin(name, style=Style.TONE3))
    return f"{syllables}\x00\x02{_sortable(name)}\x00"


def _sortable(text: str) -> str:
    """``text`` for pinyin_key: NUL (the end of a string there) written as NUL 0xFF."""
    return text.replace("\x00", "\x00\xff")


def by_pinyin(items, name=lambda item: item.cluster.name) -> list:
    """``items`` in the pinyin order of their names."""
    return sorted(items, key=lambda item: pinyin_key(name(item)))


def sorted_like_the_list(subs: list, filters: dict) -> list:
    """An export's rows in the list's order: by the pinyin of the cluster names when the list
    sorts by name (the SQL order is by character code)."""
    return by_pinyin(subs) if filters.get("sort") in ("", "name") else subs


#: an id no row has (the largest the database holds): the link of every row of a page is built
#: from one link to it (url_for for each row cost ~0.1 ms)
ID_MARK = 2**31 - 1


def id_links(endpoint: str, key: str = "submission_id"):
    """A function of an id giving ``url_for(endpoint, **{key: id})``: the link is built once
    (per process and application root, url_once) with ``ID_MARK`` for the id, which is then
    put in its place."""
    head, mark, tail = url_once(endpoint, **{key: ID_MARK}).rpartition(str(ID_MARK))
    if not mark:
        raise ValueError(f"{endpoint}: no {key} in its link")
    return lambda item_id: f"{head}{int(item_id)}{tail}"


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


def pinyin_page(run, page: int, per_page: int) -> ListPage:
    """A page of filtered submissions (``run``: access.run_filtered for a user and filters) in
    the pinyin order of the cluster names: two statements, whatever the number of rows."""
    rows = run("id-name", lambda q: q.with_only_columns(Submission.id, Cluster.name).order_by(None)).all()
    ordered = sorted([(pinyin_key(name), sid) for sid, name in rows])
    ids = [sid for _, sid in ordered[(page - 1) * per_page:page * per_page]]
    return ListPage(page_rows(run, ids), page, per_page, len(ordered))


def sorted_page(run, page: int, per_page: int, times_with_ids: bool = False) -> ListPage:
    """A page of filtered submissions (``run``: access.run_filtered for a user and filters) in
    their SQL order: three short statements, whatever the number of rows.  The count and the
    page's ids read only short columns (and the indexes of the order): selecting whole rows to
    sort them made SQLite read every row's answers (the columns after them sit behind hundreds
    of kB of JSON).  With ``times_with_ids`` (the list in the order of update times) the page's
    times come with its ids, from the index that order reads, and the rows' statement leaves
    them out (reading a column stored after the answers walks through their pages)."""
    total = run("count", _count).scalar()
    if not total:
        return ListPage([], page, per_page, total)
    window = {"page_limit": per_page, "page_offset": (page - 1) * per_page}
    if times_with_ids:
        found = run("ids-times", _page_ids_times, **window).all()
        ids, times = [sid for sid, _ in found], dict(found)
    else:
        ids, times = run("ids", _page_ids, **window).scalars().all(), None
    return ListPage(page_rows(run, ids, times), page, per_page, total)


def _count(query):
    return db.select(db.func.count()).select_from(query.with_only_columns(Submission.id).order_by(None).subquery())


def _page_ids(query):
    return query.with_only_columns(Submission.id).limit(bindparam("page_limit")).offset(bindparam("page_offset"))


def _page_ids_times(query):
    return (query.with_only_columns(Submission.id, Submission.updated_at)
            .limit(bindparam("page_limit")).offset(bindparam("page_offset")))


#: a cluster's region and that region's parent, for a list row
PLACE, PLACE_PARENT = aliased(Region, name="place"), aliased(Region, name="place_parent")
#: the region's full name (Region.full_name) in SQL: the city's name before a county's
PLACE_FULL_NAME = case((and_(PLACE.level == "county", PLACE_PARENT.id.is_not(None)), PLACE_PARENT.name + PLACE.name),
                       else_=PLACE.name)
#: a list row: what it shows of a submission and its cluster, as columns (id, state, updated_at,
#: cluster name, category key, region's full name): no JSON (opinions...) is read nor decoded
#: for a list, and building objects for a page of rows cost more than its statement
ROW_COLUMNS = (Submission.id, Submission.state, Submission.updated_at, Cluster.name, Cluster.category, PLACE_FULL_NAME)


def _rows(query, columns=ROW_COLUMNS):
    return (query.with_only_columns(*columns)
            .join(PLACE, PLACE.id == Cluster.region_id).outerjoin(PLACE_PARENT, PLACE_PARENT.id == PLACE.parent_id)
            .where(Submission.id.in_(bindparam("page_ids", expanding=True))).order_by(None))


def _untimed_rows(query):
    return _rows(query, tuple(c for c in ROW_COLUMNS if c is not Submission.updated_at))


def page_rows(run, ids: list[int], times: dict | None = None) -> list[tuple]:
    """The rows (tuples of ROW_COLUMNS) of the filtered submissions ``ids`` names, in that
    order (one statement, none when no id); with ``times`` (id → updated_at) already read,
    the statement leaves them out."""
    if not ids:
        return []
    if times is None:
        found = {row[0]: tuple(row) for row in run("rows", _rows, page_ids=ids)}
    else:
        found = {sid: (sid, state, times[sid], *rest)
                 for sid, state, *rest in run("rows-untimed", _untimed_rows, page_ids=ids)}
    return [found[sid] for sid in ids if sid in found]
