"""``qingzhi duty``: apply the duty roster (from cron at shift changes) and show on-duty counts
by hour, through the same service the live simulator and the demo use (``qingzhi.duty``)."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy import select

from qingzhi.auth.context import system_actor
from qingzhi.cli.common import console, database, err, fail, parse_day
from qingzhi.config import get_settings
from qingzhi.duty import service as duty
from qingzhi.errors import QingzhiError
from qingzhi.org.models import Unit

log = logging.getLogger(__name__)

duty_app = typer.Typer(help="排班与在岗", no_args_is_help=True)


@duty_app.command("apply")
def duty_apply(
    at: str | None = typer.Option(None, "--at", help="按此时刻的排班上下岗（ISO 时间，含时区）"),
) -> None:
    """Set officers on or off duty as the roster has it now (or at --at)."""
    settings = get_settings()
    when: dt.datetime | None = None
    if at is not None:
        try:
            when = dt.datetime.fromisoformat(at)
        except ValueError:
            err.print(f"[red]错误[/red]：--at 不是有效时间：{at}")
            raise typer.Exit(code=2) from None
        if when.tzinfo is None:
            err.print("[red]错误[/red]：--at 须带时区（如 2026-12-02T08:00:00+08:00）")
            raise typer.Exit(code=2)
    try:
        with database().session(write=True) as session:
            r = duty.apply(
                session=session, actor=system_actor("duty"), at=when, tz=settings.timezone
            )
    except QingzhiError as exc:
        fail(exc)
    local = r.at.astimezone(ZoneInfo(settings.timezone))
    console.print(
        f"按排班（{local:%Y-%m-%d %H:%M}）：上岗 {len(r.on)} 人，下岗 {len(r.off)} 人，"
        f"出警中延时下岗 {len(r.overtime)} 人"
    )


@duty_app.command("show")
def duty_show(
    day: str | None = typer.Option(None, "--date", help="日期（YYYY-MM-DD，默认今天）"),
) -> None:
    """On-duty counts by hour for a day, street and office duty, by unit."""
    settings = get_settings()
    tz = ZoneInfo(settings.timezone)
    try:
        when = parse_day(day, "--date") if day else dt.datetime.now(tz).date()
    except QingzhiError as exc:
        fail(exc)
    actor = system_actor("duty")
    with database().session() as session:
        street = duty.on_duty_by_hour(
            session=session, actor=actor, day=when, tz=settings.timezone, street=True
        )
        office = duty.on_duty_by_hour(
            session=session, actor=actor, day=when, tz=settings.timezone, street=False
        )
        names: dict[int, str] = {uid: n for uid, n in session.execute(select(Unit.id, Unit.name))}
    hours = (2, 6, 10, 14, 18, 22)
    table = Table(title=f"{when} 在岗人数（按排班，整点后半小时）")
    table.add_column("单位")
    table.add_column("类别")
    for h in hours:
        table.add_column(f"{h:02d}:30", justify="right")
    for uid in sorted(set(street) | set(office), key=lambda u: names.get(u, "")):
        for label, counts in (("街面", street.get(uid)), ("内勤", office.get(uid))):
            if counts:
                table.add_row(names.get(uid, str(uid)), label, *(str(counts[h]) for h in hours))
    console.print(table)
