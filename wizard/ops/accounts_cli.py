"""``flask accounts import FILE [--dry-run] [--letters OUT.pdf]``: the account workbook from the
command line, checked exactly as the web upload is (exports/accounts.py)."""
import os

import click
from flask import current_app
from flask.cli import with_appcontext

from ..exports.accounts import WorkbookRefused, apply_import, preview_import
from ..extensions import db
from ..pdf.letters import letter_for, letters_pdf


@click.group("accounts")
def accounts_group():
    """Accounts in bulk: import the account workbook (账号导入模板)."""


def _preview(path: str):
    try:
        with open(path, "rb") as fh:
            data = fh.read(current_app.config["TEMPLATE_MAX_BYTES"] + 1)
    except OSError as exc:
        raise click.ClickException(f"无法读取文件：{exc.strerror}") from None
    try:
        return preview_import(data, current_app.config["TEMPLATE_MAX_BYTES"])
    except WorkbookRefused as refused:
        raise click.ClickException(str(refused)) from None


@accounts_group.command("import")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="只检查并列出将新建、修改的账号，不做任何更改")
@click.option("--letters", "letters_path", type=click.Path(dir_okay=False), help="把账号通知书（PDF）写入此文件")
def import_cmd(path, dry_run, letters_path):
    """Create the accounts of an account workbook; print each new username and its one-time
    password once (one line each).  With any problem nothing is changed."""
    preview = _preview(path)
    for problem in preview.problems:
        click.echo(str(problem), err=True)
    if preview.problems:
        raise click.ClickException(f"有 {len(preview.problems)} 个问题，未导入任何账号。")
    if dry_run:
        for row in preview.rows:
            click.echo(f"{row.action}\t{row.username}\t{row.role_label}\t{row.binding}")
        click.echo(f"检查通过：将新建 {len(preview.created)} 个、修改 {len(preview.changed)} 个账号（--dry-run，未做更改）。",
                   err=True)
        return
    try:
        issued = apply_import(preview, None, "cli")
    except WorkbookRefused as refused:
        db.session.rollback()
        raise click.ClickException(str(refused)) from None
    pdf = letters_pdf([letter_for(u, p) for u, p in issued]) if letters_path and issued else None
    db.session.commit()
    for user, password in issued:
        click.echo(f"{user.username}\t{password}")
    if pdf is not None:
        fd = os.open(letters_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # passwords inside: owner only
        with os.fdopen(fd, "wb") as fh:
            fh.write(pdf)
        click.echo(f"账号通知书已写入 {letters_path}（{len(issued)} 页）。", err=True)
    click.echo(f"已新建 {len(issued)} 个、修改 {len(preview.changed)} 个账号。", err=True)
