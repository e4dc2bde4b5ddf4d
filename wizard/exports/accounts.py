"""The account workbook (账号导入模板): download it with the lists of the database, fill it, upload
it, see every account to be created or changed and every problem by row and column, confirm.

The upload passes the same file checks as the report template (exports/xlsx_checks.py) before
openpyxl opens it.  With any problem nothing is applied.  Confirming creates the accounts with
one-time passwords and returns them, once, to the caller (the letters PDF or the CLI); only
their hashes are stored.  Also here: the Excel list of accounts (never a password).

No Flask request here: the views and the CLI pass the bytes and the actor in."""
from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass, field as dataclass_field
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from ..accounts import (
    PASSWORD_STATUS_LABELS,
    bind_account,
    email_problem,
    issue_one_time_password,
    password_status,
    phone_problem,
)
from ..auditlog import record
from ..extensions import db
from ..models import (
    EXPERT_CATEGORY_LABELS,
    ROLE_ADMIN,
    ROLE_APPLICANT,
    ROLE_COUNTY,
    ROLE_EXPERT,
    ROLE_LABELS,
    Cluster,
    Region,
    User,
    to_local,
)
from ..text import clean_text
from .excel import put
from .xlsx_checks import Bounds, WorkbookRefused, check_file, read_in_process

SHEET = "账号"
LISTS = "列表"
WHAT = "账号导入模板"
#: the columns: key, header, width
COLUMNS = (
    ("username", "用户名", 18),
    ("role", "角色", 14),
    ("cluster", "集群（申报单位）", 34),
    ("region", "地区（审核人：县级或市级政府）", 22),
    ("employer", "工作单位（评审专家）", 24),
    ("city", "所在市州（评审专家）", 16),
    ("categories", "擅长类别（评审专家）", 20),
    ("name", "姓名", 12),
    ("phone", "手机", 16),
    ("email", "邮箱", 26),
    ("action", "操作", 10),
)
HEADERS = tuple(c[1] for c in COLUMNS)
LETTER = {key: chr(ord("A") + i) for i, (key, _, _) in enumerate(COLUMNS)}
LABEL = {key: header.split("（")[0] for key, header, _ in COLUMNS}  # 地区, not its hint
#: 角色 as the workbook writes it (short, for a drop-down list)
ROLE_WORDS = {"申报单位": ROLE_APPLICANT, "政府审核人": ROLE_COUNTY, "评审专家": ROLE_EXPERT, "省级管理员": ROLE_ADMIN}
ROLE_WORD = {v: k for k, v in ROLE_WORDS.items()}
CATEGORY_WORDS = {label: key for key, label in EXPERT_CATEGORY_LABELS.items()}
ACTION_NEW, ACTION_CHANGE = "新建", "修改"
MAX_ROWS = 5_000
MAX_READ_ROWS = 20_000  # rows read, empty or not
MAX_EXTRA_SHEETS = 5  # sheets beyond the workbook's three (a user's own notes)
FACTOR = 4  # how many times over what the workbook needs (columns, formats)
ROW_TEXT = 1_000  # a row's columns at their lengths (姓名 128, 邮箱 254, 工作单位 128, 用户名 64, …)
FIRST_ROW = 2
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{2,63}")
AUDIT_ACTION = "accounts_imported"
PENDING_FOLDER = "account-imports"  # under instance/: a previewed workbook until it is confirmed
PENDING_MAX_AGE = 3600
TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")

HEAD_FONT = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
WRAP = Alignment(wrap_text=True, vertical="top")


# --- the workbook to fill -----------------------------------------------------------------------

def _lists():
    """What the drop-down lists offer: clusters, county- and city-level regions, cities."""
    clusters = db.session.execute(db.select(Cluster.name).filter_by(active=True).order_by(Cluster.name)).scalars().all()
    regions = db.session.execute(db.select(Region).where(Region.level.in_(("city", "county")))
                                 .order_by(Region.code)).scalars().all()
    return clusters, [r.full_name for r in regions], [r.name for r in regions if r.level == "city"]


def _list_column(ws, col: int, header: str, values) -> str:
    put(ws.cell(row=1, column=col), header)
    for i, value in enumerate(values, start=2):
        put(ws.cell(row=i, column=col), value)
    letter = chr(ord("A") + col - 1)
    return f"'{LISTS}'!${letter}$2:${letter}${max(len(values) + 1, 2)}"


def template_workbook(rows: int = 500) -> bytes:
    """The empty account workbook with its validations and lists taken from the database."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    for i, (_, header, width) in enumerate(COLUMNS, start=1):
        cell = put(ws.cell(row=1, column=i), header)
        cell.font, cell.fill, cell.alignment = HEAD_FONT, HEAD_FILL, WRAP
        ws.column_dimensions[chr(ord("A") + i - 1)].width = width
    ws.freeze_panes = "A2"
    lists = wb.create_sheet(LISTS)
    clusters, regions, cities = _lists()
    ranges = {"role": _list_column(lists, 1, "角色", list(ROLE_WORDS)),
              "cluster": _list_column(lists, 2, "集群", clusters),
              "region": _list_column(lists, 3, "地区", regions),
              "city": _list_column(lists, 4, "市州", cities),
              "categories": _list_column(lists, 5, "擅长类别", list(CATEGORY_WORDS)),
              "action": _list_column(lists, 6, "操作", [ACTION_NEW, ACTION_CHANGE])}
    lists.sheet_state = "hidden"
    last = FIRST_ROW + rows - 1
    for key, source in ranges.items():
        dv = DataValidation(type="list", formula1=f"={source}", allow_blank=True, showErrorMessage=True,
                            errorTitle="请从列表中选择", error=f"“{LABEL[key]}”请从下拉列表中选择。")
        dv.add(f"{LETTER[key]}{FIRST_ROW}:{LETTER[key]}{last}")
        ws.add_data_validation(dv)
    _notes(wb)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _notes(wb) -> None:
    ws = wb.create_sheet("填写说明")
    ws.column_dimensions["A"].width = 110
    notes = (
        "每行一个账号。一个单位（集群促进组织、政府、省厅）可以有多个账号，每人一个。",
        "用户名：3–64 个字符，只能包含英文字母、数字和 . _ - @，以字母或数字开头；不能与已有账号或本表其他行重复。",
        "角色：申报单位填“集群”；政府审核人填“地区”（县级或市级政府）；评审专家填“工作单位”“所在市州”“擅长类别”；省级管理员无需所属。",
        "姓名、手机（11 位手机号或带区号的固定电话）、邮箱为选填，用于通知和联系。",
        "操作：留空或“新建”表示新建账号；“修改”表示修改已有账号的所属和联系方式（不重置密码）。",
        "导入前系统会列出将新建、修改的每个账号和每个问题（行号、列名）；有任何问题时不会导入。",
        "确认导入后，系统为每个新账号生成一次性密码，并提供一次“账号通知书”PDF 下载；之后密码不再显示。",
    )
    for i, text in enumerate(notes, start=1):
        put(ws.cell(row=i, column=1), text).alignment = WRAP


# --- reading and checking ----------------------------------------------------------------------

@dataclass
class Problem:
    row: int
    column: str  # a key of COLUMNS, or "" for the whole row
    message: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" + (f" {LETTER[self.column]} 列（{LABEL[self.column]}）" if self.column else "")
        return f"{where}：{self.message}"


@dataclass
class AccountRow:
    """One account as the workbook describes it, resolved against the database."""

    row: int
    username: str
    role: str
    action: str
    name: str = ""
    phone: str = ""
    email: str = ""
    cluster_id: int | None = None
    region_id: int | None = None
    employer: str = ""
    categories: str | None = None
    binding: str = ""  # what the preview shows as 所属
    changes: list = dataclass_field(default_factory=list)  # for ACTION_CHANGE: what differs

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


@dataclass
class Preview:
    rows: list
    problems: list

    @property
    def can_apply(self) -> bool:
        return bool(self.rows) and not self.problems

    @property
    def created(self) -> list:
        return [r for r in self.rows if r.action == ACTION_NEW]

    @property
    def changed(self) -> list:
        return [r for r in self.rows if r.action == ACTION_CHANGE]


class Lookup:
    """The database's names, read once per import (not once per row)."""

    def __init__(self):
        self.clusters = {c.name: c for c in db.session.execute(db.select(Cluster)).scalars()}
        regions = db.session.execute(db.select(Region)).scalars().all()
        self.regions = {}
        for r in regions:  # a name, the full name (市 + 县) or the code; a full name wins over a bare name
            for key in (r.name, r.code):
                self.regions.setdefault(key, r)
        for r in regions:
            self.regions[r.full_name] = r
        self.users = {u.username.lower(): u for u in db.session.execute(db.select(User)).scalars()}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number typed as a number
    return clean_text(str(value)).strip()


def bounds() -> Bounds:
    """What an account workbook may hold (exports/xlsx_checks.py counts it before openpyxl reads
    it): its three sheets and MAX_EXTRA_SHEETS of the user's own; MAX_READ_ROWS rows; the 账号
    sheet full (MAX_ROWS rows of COLUMNS) and as much again for the lists, notes and the user's
    columns (FACTOR times the columns); every column at its length (ROW_TEXT); one format per
    cell of the header and of a row of each role and action, FACTOR times over."""
    full = (MAX_ROWS + 1) * len(COLUMNS)
    return Bounds(sheets=3 + MAX_EXTRA_SHEETS, cells=2 * full, extent=2 * full + MAX_READ_ROWS, rows=MAX_READ_ROWS,
                  columns=FACTOR * len(COLUMNS), text=2 * (MAX_ROWS + 1) * ROW_TEXT,
                  formats=FACTOR * len(COLUMNS) * (1 + 2 * len(ROLE_WORDS)), kind=WHAT)


def read_rows(data: bytes) -> list[tuple[int, dict]]:
    """The filled rows of the 账号 sheet: (row number, {column key: text}), read by openpyxl in a
    short-lived process (exports/xlsx_checks.read_in_process)."""
    job = {"sheet": SHEET, "columns": len(COLUMNS), "max_read_rows": MAX_READ_ROWS, "max_rows": MAX_ROWS}
    read = read_in_process("accounts", data, job, WHAT)
    if read.get("missing"):
        raise WorkbookRefused(f"工作簿中没有“{SHEET}”工作表：请使用从本系统下载的{WHAT}。")
    header = tuple(_text(v) for v in read["header"])
    if header[:len(HEADERS)] != HEADERS:
        raise WorkbookRefused(f"“{SHEET}”工作表的第 1 行（表头）与{WHAT}不一致：请使用从本系统下载的{WHAT}，不要增删或移动列。")
    if read["stopped"] == "read":  # openpyxl yields every empty row up to the last
        raise WorkbookRefused(f"“{SHEET}”工作表的行数远多于{WHAT}所能容纳的（有内容或格式的行过多），已拒绝。")
    out = []
    for number, values in read["rows"]:
        cells = {key: _text(v) for (key, _, _), v in zip(COLUMNS, values)}
        if any(cells.values()):
            out.append((number, cells))
    if len(out) > MAX_ROWS or read["stopped"] == "rows":
        raise WorkbookRefused(f"一次最多导入 {MAX_ROWS} 个账号，请分成几个文件。")
    return out


def _check_contact(number: int, cells: dict, row: AccountRow, problems: list) -> None:
    row.name = cells["name"]
    if len(row.name) > 128:
        problems.append(Problem(number, "name", "姓名不能超过 128 个字符。"))
    for key, problem in (("phone", phone_problem(cells["phone"])), ("email", email_problem(cells["email"]))):
        if problem:
            problems.append(Problem(number, key, problem))
    row.phone, row.email = cells["phone"].replace(" ", ""), cells["email"]


def _region(lookup: Lookup, number: int, key: str, value: str, levels, problems: list):
    if not value:
        problems.append(Problem(number, key, "必须填写。"))
        return None
    region = lookup.regions.get(value)
    if region is None:
        problems.append(Problem(number, key, f"未知的地区“{value}”（请从下拉列表中选择）。"))
    elif region.level not in levels:
        wanted = "市州（14 个市州之一）" if levels == ("city",) else "县级或市级（市州）政府"
        problems.append(Problem(number, key, f"“{value}”不是{wanted}。"))
    else:
        return region
    return None


def _check_binding(lookup: Lookup, number: int, cells: dict, row: AccountRow, problems: list) -> None:
    """The role's binding: a cluster, a county- or city-level region, or an expert's profile."""
    if row.role == ROLE_APPLICANT:
        cluster = lookup.clusters.get(cells["cluster"])
        if cluster is None:
            problems.append(Problem(number, "cluster", f"未知的集群“{cells['cluster']}”（请从下拉列表中选择）。"
                                    if cells["cluster"] else "申报单位账号必须填写所属集群。"))
        else:
            row.cluster_id, row.binding = cluster.id, cluster.name
    elif row.role == ROLE_COUNTY:
        region = _region(lookup, number, "region", cells["region"], ("county", "city"), problems)
        if region:
            row.region_id, row.binding = region.id, region.government_name
    elif row.role == ROLE_EXPERT:
        region = _region(lookup, number, "city", cells["city"], ("city",), problems)
        row.employer = cells["employer"]
        if not row.employer or len(row.employer) > 128:
            problems.append(Problem(number, "employer", "评审专家必须填写工作单位（不超过 128 个字符）。"))
        row.categories = CATEGORY_WORDS.get(cells["categories"]) or (
            cells["categories"] if cells["categories"] in EXPERT_CATEGORY_LABELS else None)
        if row.categories is None:
            problems.append(Problem(number, "categories", "请从下拉列表中选择擅长类别。"))
        if region:
            row.region_id, row.binding = region.id, f"{row.employer}（{region.name}）"
    else:
        row.binding = "湖南省工业和信息化厅"


def _check_username(lookup: Lookup, number: int, cells: dict, seen: dict, problems: list) -> str | None:
    username, action = cells["username"], cells["action"] or ACTION_NEW
    if not username:
        problems.append(Problem(number, "username", "必须填写用户名。"))
        return None
    if not USERNAME.fullmatch(username):
        problems.append(Problem(number, "username", "用户名为 3–64 个字符，只能包含英文字母、数字和 . _ - @，以字母或数字开头。"))
        return None
    first = seen.setdefault(username.lower(), number)
    if first != number:
        problems.append(Problem(number, "username", f"用户名“{username}”与第 {first} 行重复。"))
        return None
    exists = username.lower() in lookup.users
    if action == ACTION_NEW and exists:
        problems.append(Problem(number, "username", f"用户名“{username}”已被系统中的账号使用。"
                                                    f"如要修改该账号，请在“操作”列选择“{ACTION_CHANGE}”。"))
    elif action == ACTION_CHANGE and not exists:
        problems.append(Problem(number, "username", f"系统中没有用户名为“{username}”的账号，不能修改。"))
    elif action not in (ACTION_NEW, ACTION_CHANGE):
        problems.append(Problem(number, "action", f"操作只能是“{ACTION_NEW}”或“{ACTION_CHANGE}”。"))
    return username


def check_row(lookup: Lookup, number: int, cells: dict, seen: dict, problems: list) -> AccountRow | None:
    username = _check_username(lookup, number, cells, seen, problems)
    role = ROLE_WORDS.get(cells["role"]) or {v: k for k, v in ROLE_LABELS.items()}.get(cells["role"])
    if role is None:
        problems.append(Problem(number, "role", f"未知的角色“{cells['role']}”（请从下拉列表中选择）。"
                                if cells["role"] else "必须填写角色。"))
        return None
    row = AccountRow(number, username or "", role, cells["action"] or ACTION_NEW)
    _check_binding(lookup, number, cells, row, problems)
    _check_contact(number, cells, row, problems)
    if username and row.action == ACTION_CHANGE and username.lower() in lookup.users:
        row.changes = _differences(lookup.users[username.lower()], row)
    return row if username else None


def _differences(user: User, row: AccountRow) -> list[str]:
    now = {"角色": user.role_label, "所属": user.binding_label, "姓名": user.display_name, "手机": user.phone,
           "邮箱": user.email}
    new = {"角色": row.role_label, "所属": row.binding, "姓名": row.name, "手机": row.phone, "邮箱": row.email}
    return [f"{k}：{now[k] or '（空）'} → {new[k] or '（空）'}" for k in now if (now[k] or "") != (new[k] or "")]


def preview_import(data: bytes, max_bytes: int) -> Preview:
    """Check the file as the report template's is, then every row; nothing is changed."""
    check_file(data, max_bytes, WHAT, bounds())
    lookup, seen, problems, rows = Lookup(), {}, [], []
    for number, cells in read_rows(data):
        row = check_row(lookup, number, cells, seen, problems)
        if row is not None:
            rows.append(row)
    if not rows and not problems:
        problems.append(Problem(FIRST_ROW, "", f"“{SHEET}”工作表中没有填写任何账号。"))
    return Preview(rows, problems)


# --- applying ---------------------------------------------------------------------------------

def _apply_row(row: AccountRow, user: User) -> None:
    error = bind_account(user, role=row.role, cluster_id=row.cluster_id, region_id=row.region_id,
                         employer=row.employer, expert_categories=row.categories)
    if error:  # checked in the preview: only a change in between (a cluster removed) lands here
        raise WorkbookRefused(f"第 {row.row} 行：{error}")
    user.display_name, user.phone, user.email = row.name, row.phone, row.email


def _create_and_change(preview: Preview, existing: dict, issued: list) -> None:
    for row in preview.rows:
        user = existing.get(row.username.lower())
        if row.action == ACTION_NEW:
            if user is not None:
                raise WorkbookRefused(f"第 {row.row} 行：用户名“{row.username}”刚刚已被他人创建，请重新上传。")
            user = User(username=row.username, role=row.role)
            _apply_row(row, user)
            issued.append((user, issue_one_time_password(user)))
            db.session.add(user)
        else:
            _apply_row(row, user)


def apply_import(preview: Preview, actor, address: str = "") -> list[tuple[User, str]]:
    """Create and change the accounts of a preview without problems (the caller commits).
    Returns each created account with its one-time password: the only time it exists in clear."""
    if not preview.can_apply:
        raise WorkbookRefused("账号导入模板有需要修改的问题，未导入。")
    existing = {u.username.lower(): u for u in db.session.execute(
        db.select(User).where(db.func.lower(User.username).in_([r.username.lower() for r in preview.rows])))
        .scalars()}
    # held for the loop: bind_account's session.get() then finds them in the identity map (no
    # query per row), and no autoflush per row either
    loaded = (db.session.execute(db.select(Region)).scalars().all(), db.session.execute(db.select(Cluster)).scalars().all())
    issued = []
    with db.session.no_autoflush:
        _create_and_change(preview, existing, issued)
    del loaded
    for row in preview.rows:  # one audit row per account: the log names each one
        record(actor, AUDIT_ACTION, row.username, f"{row.action}：{row.role_label}，{row.binding}"
                                                  + (f"，{row.name}" if row.name else ""), address)
    db.session.flush()
    return issued


# --- the list of accounts -----------------------------------------------------------------------

LIST_COLUMNS = ("用户名", "姓名", "角色", "所属单位", "所在市州", "擅长类别", "手机", "邮箱", "密码状态", "状态",
                "最近登录（北京时间）", "创建时间（北京时间）")


def accounts_workbook(users) -> bytes:
    """The accounts as listed (filters applied by the caller); never a password nor its hash."""
    wb = Workbook()
    ws = wb.active
    ws.title = "账号"
    for i, header in enumerate(LIST_COLUMNS, start=1):
        put(ws.cell(row=1, column=i), header).font = HEAD_FONT
    for r, u in enumerate(users, start=2):
        values = (u.username, u.display_name, u.role_label, u.binding_label,
                  u.region.city.name if u.is_expert and u.region else "",
                  EXPERT_CATEGORY_LABELS.get(u.expert_categories or "", ""), u.phone, u.email,
                  PASSWORD_STATUS_LABELS[password_status(u)], "启用" if u.active else "已停用",
                  to_local(u.last_login_at) if u.last_login_at else "", to_local(u.created_at) if u.created_at else "")
        for c, value in enumerate(values, start=1):
            put(ws.cell(row=r, column=c), value, "yyyy-mm-dd hh:mm")
    for i, width in enumerate((18, 12, 22, 34, 10, 18, 14, 24, 16, 8, 18, 18), start=1):
        ws.column_dimensions[chr(ord("A") + i - 1)].width = width
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


# --- the previewed file, kept for its confirmation (no password in it) ---------------------------

def _pending_path(folder: str, user_id: int, token: str) -> str:
    return os.path.join(folder, f"{int(user_id)}-{token}.xlsx")


def save_pending(folder: str, data: bytes, user_id: int) -> str:
    """Keep the uploaded workbook for its confirmation (one per administrator; old ones go)."""
    os.makedirs(folder, exist_ok=True)
    now = time.time()
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if name.startswith(f"{int(user_id)}-") or now - os.path.getmtime(path) > PENDING_MAX_AGE:
            discard_file(path)
    token = secrets.token_urlsafe(24)
    tmp = _pending_path(folder, user_id, token) + ".part"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, _pending_path(folder, user_id, token))
    return token


def take_pending(folder: str, token, user_id: int) -> bytes | None:
    """The kept workbook of this administrator (removed: a token confirms once), or None."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    path = _pending_path(folder, user_id, token)
    try:
        fresh = time.time() - os.path.getmtime(path) <= PENDING_MAX_AGE
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    discard_file(path)
    return data if fresh else None


def discard_file(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
