"""Brief commands: ``qingzhi brief make`` (one brief, archived, its files copied to a folder),
``qingzhi brief run-due`` (every due brief, for cron or a systemd timer) and ``qingzhi scheduler``
(the one scheduler process: catches up at start, then runs as briefs fall due)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from qingzhi.auth.context import system_actor
from qingzhi.cli import tasks as tasks_cli
from qingzhi.cli.common import console, database, fail, parse_day
from qingzhi.config import get_settings
from qingzhi.errors import QingzhiError
from qingzhi.reports import schedule, service
from qingzhi.reports.enums import parse_formats

log = logging.getLogger(__name__)

brief_app = typer.Typer(help="研判简报（日研判、周会商、月调度）", no_args_is_help=True)


@brief_app.command("make")
def make(
    kind: str = typer.Option(..., "--kind", help="daily | weekly | monthly"),
    date: str = typer.Option(..., "--date", help="周期内任一日期，YYYY-MM-DD"),
    unit: str | None = typer.Option(None, "--unit", help="单位代码（缺省：全局）"),
    formats: str = typer.Option("html,docx", "--format", help="html,docx,pdf"),
    out: Path | None = typer.Option(None, "--out", help="把文件另存到此目录"),
) -> None:
    """Make and archive one brief; print its id, version and hash; copy its files to --out."""
    settings = get_settings()
    db = database()
    actor = system_actor("cli")
    try:
        chosen = service.parse_kind(kind)
        fmts = parse_formats(formats, "format")
        day = parse_day(date, "date")
        with db.session() as session:
            unit_id = service.resolve_unit(session, actor, unit)
            prepared = service.prepare(
                session=session,
                actor=actor,
                settings=settings,
                kind=chosen,
                day=day,
                unit_id=unit_id,
                formats=fmts,
            )
        with db.session(write=True) as session:
            brief = service.archive(
                session=session, actor=actor, settings=settings, prepared=prepared
            )
            brief_id, version, digest = brief.id, brief.version, brief.content_hash
            title = brief.title
    except QingzhiError as exc:
        fail(exc)
    console.print(f"已生成：{title}（编号 {brief_id}，第 {version} 版，哈希 {digest[:16]}）")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for fmt, data in prepared.files.items():
            if fmt in fmts:
                target = out / f"brief-{brief_id}-v{version}.{fmt}"
                target.write_bytes(data)
                console.print(f"  {target}")


@brief_app.command("run-due")
def run_due() -> None:
    """Make every brief that is due and not yet made (catching up after downtime)."""
    report = schedule.run_due(db=database(), settings=get_settings())
    for kind, key, start, brief_id in report.made:
        console.print(f"已生成 {kind} {key} {start}（编号 {brief_id}）")
    for kind, key, start, error in report.failed:
        console.print(f"[red]失败[/red] {kind} {key} {start}：{error}")
    console.print(
        f"生成 {len(report.made)} 份，跳过 {report.skipped} 份，失败 {len(report.failed)} 份"
    )
    if report.failed:
        raise typer.Exit(code=2)


def scheduler() -> None:
    """Run the brief scheduler (one process; catches up at start)."""
    console.print("研判简报调度已启动（日研判、周会商、月调度；督办到期提醒）")
    db, settings = database(), get_settings()
    schedule.serve(db=db, settings=settings, chores=tasks_cli.chores(db, settings))
