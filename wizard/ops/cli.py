"""Command line: seed, seed-demo, create-user, schema, answers, pdf, backup, restore, cleanup."""
import json
import os
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from ..access import current_edition
from ..accounts import bind_account
from ..exports.template_import import PENDING_FOLDER, sweep_pending
from ..extensions import db
from ..mail import deliver_outbox
from ..models import (
    EXPERT_CATEGORY_LABELS,
    MIN_PASSWORD_LENGTH,
    ROLE_LABELS,
    Cluster,
    Region,
    Submission,
    User,
    to_local,
)
from ..params import MAX_ID
from ..pdf.report import report_pdf
from ..report.model import ROUND_LABELS
from ..report.schema import DEFAULT_YEARS, report_schema
from ..report.service import save_answers, validate_answers, without_blanks
from ..workflow.snapshots import has_snapshot
from ..workflow.states import FINAL, ROUNDS, current_round, state_label
from .dbcheck import database_problem, guard_commands
from .backup import BackupError, create_backup, restore_backup, signature_valid, signing_key
from .maintenance import format_size, remove_partial_files, tidy_pdf_cache
from .orphans import remove_orphan_files
from .seed import DEMO_ACCOUNTS, DEMO_EXPERTS, DEMO_PASSWORD, seed_all, seed_demo
from .accounts_cli import accounts_group
from .render_cli import render_worker_cmd


def init_app(app):
    for cmd in (seed_cmd, seed_demo_cmd, create_user_cmd, schema_cmd, submissions_cmd, answers_group, pdf_cmd,
                backup_cmd, restore_cmd, cleanup_cmd):
        app.cli.add_command(cmd)
    app.cli.add_command(accounts_group)
    app.cli.add_command(render_worker_cmd)  # the PDF rendering service (wizard/ops/render_cli.py)
    # every command but schema (and Flask-Migrate's db, Flask's routes and shell) first checks that
    # the database is reachable and migrated, and says in Chinese what to run if not (issue #22, 13)
    guard_commands(c for name, c in app.cli.commands.items() if name not in NO_DATABASE_COMMANDS)

#: commands that work without the database (the others check it first)
NO_DATABASE_COMMANDS = frozenset({"schema", "db", "routes", "shell", "render-worker"})


@click.command("seed")
@with_appcontext
def seed_cmd():
    """Load reference data: regions, the 26 clusters of 附件3, the current edition."""

    counts = seed_all()
    click.echo(f"地区 {counts['regions']} 个，集群 {counts['clusters']} 个（已存在的不重复添加）。")


@click.command("seed-demo")
@with_appcontext
def seed_demo_cmd():
    """Create the demo accounts (password demo12345).  Refused in production."""
    if current_app.config["PRODUCTION"]:
        raise click.ClickException("生产模式下不能创建演示账号。")

    seed_all()
    created = seed_demo()
    click.echo("演示账号（密码 %s）：" % DEMO_PASSWORD)
    for username, display, *_ in DEMO_ACCOUNTS + DEMO_EXPERTS:
        click.echo(f"  {username:<20} {display}{'（新建）' if username in created else ''}")


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--role", type=click.Choice(list(ROLE_LABELS)), required=True)
@click.option("--cluster", "cluster_name", help="集群名称（申报单位账号）")
@click.option("--region", "region_name", help="地区名称或代码（审核人账号；评审专家的所在市州），如 长沙市、430100")
@click.option("--employer", default=None, help="工作单位（评审专家账号）")
@click.option("--categories", type=click.Choice(list(EXPERT_CATEGORY_LABELS)), default=None,
              help="擅长类别（评审专家账号）：advanced 先进制造业集群，sme 中小企业特色产业集群，both 两类均可")
@click.option("--name", "display_name", default="", help="姓名或单位")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--disable", is_flag=True, help="停用账号（并使其所有登录失效）")
def create_user_cmd(username, role, cluster_name, region_name, employer, categories, display_name, password,
                    disable):
    """Create or update an account."""

    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符。")
    cluster_id = region_id = None
    if cluster_name:
        cluster = db.session.execute(db.select(Cluster).filter_by(name=cluster_name)).scalar_one_or_none()
        if cluster is None:
            raise click.ClickException(f"没有名为“{cluster_name}”的集群。")
        cluster_id = cluster.id
    if region_name:
        region = db.session.execute(
            db.select(Region).where((Region.name == region_name) | (Region.code == region_name))
        ).scalars().first()
        if region is None:
            raise click.ClickException(f"没有名为“{region_name}”的地区。")
        region_id = region.id
    user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
    is_new = user is None
    if is_new:
        user = User(username=username, role=role)
    error = bind_account(user, role=role, cluster_id=cluster_id, region_id=region_id, employer=employer,
                         expert_categories=categories)
    if error:
        raise click.ClickException(error)
    if display_name:
        user.display_name = display_name
    user.set_password(password)
    user.active = not disable
    if is_new:
        db.session.add(user)
    db.session.commit()
    click.echo(f"账号 {username} 已{'创建' if is_new else '更新'}。")


@click.command("schema")
@with_appcontext
@click.option("--round", "round_", type=click.Choice(["preliminary", "final"]), default="preliminary")
def schema_cmd(round_):
    """Print the report definition as JSON (format: docs/report-format.md)."""

    problem = database_problem()
    edition = None if problem else current_edition()
    if edition is None:
        years = DEFAULT_YEARS
        click.echo(f"（未读取数据库中的当届竞赛，按默认年份输出：数据年度 {years['y1']}、{years['y2']}，"
                   f"目标年度 {years['t1']}–{years['t3']}。）", err=True)
    else:
        years = edition.years
    click.echo(json.dumps(report_schema(round_, years), ensure_ascii=False, indent=2))


@click.group("answers")
def answers_group():
    """Export or import a submission's answers (JSON)."""


def _load_submission(ref: str) -> Submission:
    """A submission by id, or by its cluster's name (in the current edition)."""
    if ref.isdigit():
        sub = db.session.get(Submission, int(ref)) if int(ref) <= MAX_ID else None
    else:
        edition = current_edition()
        sub = db.session.execute(
            db.select(Submission).join(Submission.cluster)
            .where(Cluster.name == ref.strip(), Submission.edition_id == (edition.id if edition else None))
        ).scalar_one_or_none()
    if sub is None:
        raise click.ClickException(f"申报“{ref}”不存在（可用 flask --app wizard submissions 查看编号和集群名称）。")
    return sub


@click.command("submissions")
@with_appcontext
def submissions_cmd():
    """List the submissions of the current edition: id, cluster, state, round, last update."""
    edition = current_edition()
    subs = db.session.execute(
        db.select(Submission).join(Submission.cluster).where(Submission.edition_id == (edition.id if edition else None))
        .order_by(Submission.id)
    ).scalars().all()
    click.echo("编号\t集群\t状态\t轮次\t最后更新（北京时间）")
    for sub in subs:
        round_ = current_round(sub)
        click.echo(f"{sub.id}\t{sub.cluster.name}\t{state_label(sub.state)}\t{ROUND_LABELS[round_]}"
                   f"\t{to_local(sub.updated_at):%Y-%m-%d %H:%M}")


@answers_group.command("export")
@with_appcontext
@click.argument("submission")
@click.option("--round", "round_", type=click.Choice(ROUNDS), default="preliminary")
def answers_export(submission, round_):
    """Print a submission's answers as JSON (blank values left out)."""
    sub = _load_submission(submission)
    doc = {"submission": sub.id, "cluster": sub.cluster.name, "round": round_, "version": sub.version,
           "answers": without_blanks(sub.answers_for(round_))}
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2))


@answers_group.command("import")
@with_appcontext
@click.argument("submission")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--round", "round_", type=click.Choice(ROUNDS), default=None)
@click.option("--replace", is_flag=True, help="以文件内容替换整份报告（文件中没有的字段将被清空）")
def answers_import(submission, file, round_, replace):
    """Load answers with the web forms' validation; nothing changes when anything is invalid.
    Merges by default: fields the file does not name are left as they are."""
    sub = _load_submission(submission)
    answers, round_ = _read_answers(file, round_)
    result = validate_answers(sub, round_, answers, replace=replace)
    if result.problems:
        for p in result.problems:
            click.echo(f"  - {p}", err=True)
        raise click.ClickException(f"共 {len(result.problems)} 个问题，未导入任何内容。")
    save_answers(sub, round_, result.answers, sub.version)
    click.echo(f"已导入到申报 {sub.id}（{sub.cluster.name}，{ROUND_LABELS[round_]}）：新增 {len(result.added)} 个字段，"
               f"修改 {len(result.changed)} 个，清空 {len(result.cleared)} 个。")


def _read_answers(file, round_):
    try:
        doc = json.load(file)
    except ValueError as exc:
        raise click.ClickException(f"文件不是有效的 JSON：{exc}")
    if not isinstance(doc, dict):
        raise click.ClickException("文件内容应为 JSON 对象。")
    answers = doc["answers"] if "answers" in doc else doc
    round_ = round_ or doc.get("round") or "preliminary"
    if not isinstance(answers, dict):
        raise click.ClickException("answers 应为 JSON 对象。")
    if round_ not in ROUNDS:
        raise click.ClickException("round 只能是 preliminary 或 final。")
    return answers, round_


@click.command("pdf")
@click.argument("submission", required=False)
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), required=True)
@click.option("--blank", is_flag=True, help="空白模板")
@click.option("--round", "round_", type=click.Choice(ROUNDS), default=None)
@with_appcontext
def pdf_cmd(submission, output, blank, round_):
    """Write a submission's report (or a blank template) as PDF."""

    if blank:
        edition = current_edition()
        data = report_pdf(None, round_ or "preliminary", blank=True, years=edition.years if edition else None)
    else:
        if submission is None:
            raise click.ClickException("请给出申报编号或集群名称，或使用 --blank。")
        sub = _load_submission(submission)
        if round_ == FINAL and current_round(sub) != FINAL and not has_snapshot(sub, FINAL):
            raise click.ClickException(f"申报 {sub.id}（{sub.cluster.name}）尚未进入决赛，没有决赛报告；"
                                       f"请去掉 --round final，输出其初赛报告。")
        data = report_pdf(sub, round_ or current_round(sub))
    with open(output, "wb") as fh:
        fh.write(data)
    click.echo(f"已写入 {output}（{len(data)} 字节）。")


@click.command("backup")
@click.argument("target", type=click.Path(), required=False)
@click.option("-o", "--output", "output", type=click.Path(),
              help="备份文件（.tar.gz）或已存在的目录（在其中生成带时间的 .tar.gz 文件名）")
@click.option("--key-file", type=click.Path(dir_okay=False),
              help="签名密钥文件（默认用 SECRET_KEY 派生的密钥签名清单）；恢复时须给出同一个文件")
@with_appcontext
def backup_cmd(target, output, key_file):
    """Back up the database (JSON per table, read in one consistent transaction) and the uploaded
    files, with a signed SHA-256 manifest, while the app keeps serving.

    TARGET: a backup directory (created; in an existing non-empty directory a dated
    sub-directory is made), or a .tar.gz file.  -o/--output: always a .tar.gz archive.
    The manifest is signed (HMAC-SHA256) with a key derived from SECRET_KEY, or from --key-file."""

    if bool(target) == bool(output):
        raise click.UsageError("请给出备份目录（或 .tar.gz 文件名），或使用 -o 指定备份文件，二者选一。")
    try:
        key = signing_key(key_file)
        if output:
            path, manifest = create_backup(output, directory=False, key=key)
        else:
            path, manifest = create_backup(target, key=key)
    except BackupError as exc:
        raise click.ClickException(str(exc))
    rows = sum(manifest["tables"].values())
    files = sum(1 for m in manifest["members"] if m["path"].startswith("uploads/"))
    click.echo(f"已写入备份 {path}：{len(manifest['tables'])} 个表共 {rows} 行，上传文件 {files} 个。"
               f"清单已签名（{'密钥文件 ' + key_file if key_file else '由 SECRET_KEY 派生的密钥'}），恢复时须使用同一密钥。")
    if manifest.get("missing_files"):
        click.echo(f"注意：{len(manifest['missing_files'])} 个上传文件在备份期间被删除，未包含在备份中"
                   f"（如 {manifest['missing_files'][0]}）。", err=True)


@click.command("restore")
@click.argument("source", type=click.Path())
@click.option("--force", is_flag=True, help="覆盖已有数据（先清空数据库中的全部数据和上传文件目录）")
@click.option("--key-file", type=click.Path(dir_okay=False), help="备份时使用的签名密钥文件（默认：SECRET_KEY）")
@click.option("--trust-unsigned", is_flag=True,
              help="不验证清单签名（旧版本的未签名备份，或签名密钥已丢失）；仅用于来源确实可信的备份")
@with_appcontext
def restore_cmd(source, force, key_file, trust_unsigned):
    """Verify the manifest's signature and every checksum of a backup (a .tar.gz or a backup
    directory), then restore it into an empty database and the uploads folder.  An unsigned or
    wrongly signed backup is refused unless --trust-unsigned is given."""

    try:
        key = signing_key(key_file)
        manifest = restore_backup(source, force=force, key=key, trust_unsigned=trust_unsigned)
    except BackupError as exc:
        raise click.ClickException(str(exc))
    rows = sum(manifest["tables"].values())
    files = sum(1 for m in manifest["members"] if m["path"].startswith("uploads/"))
    click.echo(f"已从 {source} 恢复：{rows} 行数据，上传文件 {files} 个。")
    if not signature_valid(manifest, key):
        click.echo("注意：该备份的清单没有有效签名，按 --trust-unsigned 未经签名验证即已恢复。", err=True)


@click.command("cleanup")
@click.option("--older-than", "minutes", type=click.IntRange(min=0), default=10, show_default=True,
              help="只删除至少这么多分钟未修改的临时文件（正在写入的文件不受影响）")
@click.option("--orphans-older-than", "orphan_minutes", type=click.IntRange(min=0), default=60, show_default=True,
              help="删除没有任何记录引用、且至少这么多分钟未修改的佐证材料文件（中断的上传或删除留下的）")
@with_appcontext
def cleanup_cmd(minutes, orphan_minutes):
    """Remove the temporary files that interrupted uploads and PDF renderings left behind
    (*.part in the uploads folder and the PDF cache, *.pdf.<pid>.tmp in the PDF cache), and
    send the e-mail still waiting in the outbox, failed ones included (the fallback of the
    background sender that runs beside ``flask render-worker``; where none runs, this sends it)."""

    count, size = remove_partial_files(current_app, older_than=timedelta(minutes=minutes))
    pending = os.path.join(current_app.instance_path, PENDING_FOLDER)
    if os.path.isdir(pending):
        kept = sweep_pending(pending)
        if kept:
            click.echo(f"已删除 {kept} 个超过一小时未确认导入的 Excel 填报模板文件。")
    _report_orphans(remove_orphan_files(current_app, older_than=timedelta(minutes=orphan_minutes)))
    cached, cache_size = tidy_pdf_cache(current_app)  # older drafts, then the size bound (wizard/pdf/cache.py)
    if cached:
        click.echo(f"PDF 缓存：已删除 {cached} 个旧的草稿或最久未用的 PDF，释放 {format_size(cache_size)}（{cache_size} 字节）。")
    folders = f"上传目录 {current_app.config['UPLOAD_FOLDER']}、PDF 缓存目录 {current_app.config['PDF_CACHE_FOLDER']}"
    if count:
        click.echo(f"已删除 {count} 个中断写入留下的临时文件，共 {format_size(size)}（{size} 字节）；检查了{folders}。")
    else:
        click.echo(f"没有需要清理的临时文件（检查了{folders}）。")
    sent, failed = deliver_outbox()
    if sent or failed:
        click.echo(f"已发送 {sent} 封此前未发出的通知邮件" + (f"，{failed} 封仍未能发送（稍后重试）。" if failed else "。"))


def _report_orphans(orphans) -> None:
    """One line per evidence file removed because no row referenced it (issue #22, item 9)."""
    if not orphans:
        return
    size = sum(o.size for o in orphans)
    click.echo(f"已删除 {len(orphans)} 个没有任何记录引用的佐证材料文件（中断的上传或删除留下的），"
               f"共 {format_size(size)}（{size} 字节）：")
    for o in orphans:
        click.echo(f"  {o.name}  {format_size(o.size)}，{o.age_minutes} 分钟未修改")
