"""``qingzhi task list|show|notices|sweep-attachments``: the bureau's supervised tasks (督办)
from the command line, through the same services as the API (as the system, bureau-wide)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy import select

from qingzhi.auth.context import system_actor
from qingzhi.cli.common import console, database, fail
from qingzhi.config import Settings, get_settings
from qingzhi.errors import QingzhiError, ValidationFailed
from qingzhi.org.models import Unit
from qingzhi.reports import schedule
from qingzhi.store.db import Database
from qingzhi.tasks import attachments, history, notices, service
from qingzhi.tasks.lifecycle import TaskStatus

log = logging.getLogger(__name__)

task_app = typer.Typer(help="督办任务", no_args_is_help=True)


def unit_id_of(session: object, code: str | None) -> int | None:
    """The id of the unit with ``code`` (a refusal naming --unit when there is none)."""
    if code is None:
        return None
    found = session.execute(select(Unit.id).where(Unit.code == code)).scalar_one_or_none()  # type: ignore[attr-defined]
    if found is None:
        raise ValidationFailed.field("--unit", f"单位代码 {code} 不存在")
    return int(found)


@task_app.command("list")
def task_list(
    unit: Annotated[str | None, typer.Option("--unit", help="承办单位代码")] = None,
    status: Annotated[list[TaskStatus] | None, typer.Option("--status", help="状态")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只看已逾期")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=service.MAX_PAGE)] = 50,
) -> None:
    """List tasks: overdue first, then by deadline."""
    settings = get_settings()
    tz = ZoneInfo(settings.timezone)
    try:
        with database().session() as session:
            flt = service.BoardFilter(
                status=tuple(status or ()),
                owner_unit_id=unit_id_of(session, unit),
                overdue=overdue,
            )
            page = service.board(
                session=session, actor=system_actor(), settings=settings, flt=flt, limit=limit
            )
    except QingzhiError as exc:
        fail(exc)
    table = Table("编号", "标题", "承办单位", "状态", "截止", "提醒")
    for t in page.items:
        flag = "逾期" if t.overdue else "24小时内到期" if t.due_soon else ""
        if t.feedback_missed:
            flag += " 未按期反馈"
        table.add_row(
            str(t.id),
            t.title,
            t.owner_unit.name,
            t.status_label,
            t.deadline.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            flag.strip(),
        )
    console.print(table)
    console.print(f"共 {page.total} 项，逾期 {page.overdue} 项，24 小时内到期 {page.due_soon} 项")


@task_app.command("show")
def task_show(task_id: int) -> None:
    """One task: its details, reports and timeline."""
    settings = get_settings()
    tz = ZoneInfo(settings.timezone)
    actor = system_actor()
    try:
        with database().session() as session:
            t = service.get(
                session=session, actor=actor, settings=settings, task_id=task_id, now=None
            )
            reports = history.reports(session=session, actor=actor, task_id=task_id)
            timeline = history.timeline(session=session, actor=actor, task_id=task_id)
    except QingzhiError as exc:
        fail(exc)
    when = t.deadline.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    console.print(f"[bold]#{t.id} {t.title}[/bold]（{t.status_label}）")
    console.print(f"承办：{t.owner_unit.name}；下发：{t.issuer_name}；截止：{when}")
    if t.overdue:
        console.print(f"[red]已逾期[/red]，已升级至：{'、'.join(t.escalated_to)}")
    console.print(f"来源：{t.source_label}{' ' + t.source_ref if t.source_ref else ''}")
    console.print(t.instructions)
    for r in reports:
        files = "；".join(f"{a.filename}（{a.sha256[:12]}）" for a in r.attachments)
        console.print(
            f"- {r.at.astimezone(tz):%m-%d %H:%M} {r.kind_label} {r.author_name}：{r.text} {files}"
        )
    for e in timeline:
        console.print(f"  {e.at.astimezone(tz):%m-%d %H:%M} {e.title} · {e.actor}")


@task_app.command("notices")
def task_notices() -> None:
    """Publish the deadline notices owed now (due within 24 h, overdue); ``qingzhi scheduler``
    does this every minute, this is for cron."""
    try:
        sent = notices.run(database())
    except QingzhiError as exc:
        fail(exc)
    console.print(f"已推送到期提醒 {len(sent)} 条")


@task_app.command("sweep-attachments")
def sweep_attachments() -> None:
    """Remove attachment files no attachment references (rolled-back uploads) older than an
    hour; ``qingzhi scheduler`` does this hourly."""
    removed = _sweep(database(), get_settings())
    console.print(f"已清理无引用的附件文件 {len(removed)} 个")


def _sweep(db: Database, settings: Settings) -> list[Path]:
    with db.session() as session:
        return attachments.sweep(session, settings)


def chores(db: Database, settings: Settings) -> tuple[schedule.Chore, ...]:
    """What ``qingzhi scheduler`` does for the tasks beside the briefs: the deadline notices
    at every wake-up (a minute at most), the sweep of rolled-back uploads hourly."""
    return (
        schedule.Chore("督办到期提醒", lambda now: notices.run(db, now)),
        schedule.Chore(
            "清理无引用的附件", lambda now: _sweep(db, settings), every=attachments.SWEEP_AFTER
        ),
    )
