"""Command line of community policing (两队一室): ``qingzhi community measures`` prints the
measures by zone and station for a period (the same service as ``GET /api/community/measures``);
``community_demo_line`` is the demo load's one call into ``qingzhi.demo.community``."""

from __future__ import annotations

import json
import logging

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from qingzhi.auth.context import Actor, system_actor
from qingzhi.cli.common import console, database, fail, parse_day
from qingzhi.community import measures
from qingzhi.config import Settings, get_settings
from qingzhi.errors import QingzhiError, ValidationFailed
from qingzhi.org.models import Unit
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

community_app = typer.Typer(help="社区警务（两队一室）", no_args_is_help=True)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


@community_app.command("measures")
def measures_command(
    start: str = typer.Option(..., "--from", help="起始日期（含），如 2026-01-01"),
    end: str = typer.Option(..., "--to", help="结束日期（含）"),
    unit: str | None = typer.Option(None, "--unit", help="只看该派出所（单位代码）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """Mediation duration, settled in the community, 30-day repeat calls, visits and coverage."""
    settings = get_settings()
    db = database()
    try:
        since, until = parse_day(start, "--from"), parse_day(end, "--to")
        with db.session() as session:
            unit_id = None
            if unit is not None:
                unit_id = session.scalar(select(Unit.id).where(Unit.code == unit))
                if unit_id is None:
                    raise ValidationFailed.field("--unit", f"没有代码为 {unit} 的单位")
            result = measures.compute(
                session=session,
                actor=system_actor("cli"),
                settings=settings,
                start=since,
                end=until,
                unit_id=unit_id,
            )
    except QingzhiError as exc:
        fail(exc)
    if as_json:
        console.print_json(json.dumps(result.model_dump(mode="json"), ensure_ascii=False))
        return
    table = Table(
        title=f"社区警务指标 {result.start} 至 {result.end}"
        f"（户数为估算：户籍人口 ÷ {result.household_size}）"
    )
    for header in (
        "层级",
        "名称",
        "纠纷",
        "调解",
        "调解时长中位数（分）",
        "30分钟内",
        "社区化解率",
        "30天内重复报警",
        "走访",
        "估算户数",
        "覆盖率",
        "走访发现（报警前）",
    ):
        table.add_column(header)
    level = {"zone": "片区", "station": "派出所", "scope": "合计"}
    for row in result.rows:
        table.add_row(
            level[row.level],
            row.name,
            str(row.disputes),
            str(row.mediated),
            "—" if row.median_minutes is None else f"{row.median_minutes:.1f}",
            _pct(row.share_within_30),
            _pct(row.share_in_community),
            f"{row.repeat_within_30}/{row.settled}（{_pct(row.repeat_rate)}）",
            str(row.visits),
            "—" if row.households_estimate is None else str(row.households_estimate),
            _pct(row.coverage),
            f"{row.found_by_visits}（{row.found_before_call}）",
        )
    # wide enough for the twelve columns even when stdout is not a terminal
    Console(width=max(console.width, 200)).print(table)


def community_demo_line(*, db: Database, actor: Actor, settings: Settings, seed: int) -> str:
    """Load the demo's community work (``qingzhi.demo.community``); the line that says so."""
    from qingzhi.demo.community import load_community

    r = load_community(db=db, actor=actor, settings=settings, seed=seed)
    if r.skipped and not r.mediated:
        return f"社区警务（模拟）：{'；'.join(r.skipped)}"
    return (
        f"社区警务（模拟，改革日 {r.reform_date}）：警务室 {r.posts}，协作人员 {r.partners}，"
        f"走访 {r.visits}（发现纠纷 {r.disputes_from_visits}），调解 {r.mediated}，"
        f"移交 {r.referred}，调解后再次报警 {r.repeat_calls}，关联已有报警 {r.linked_existing}"
    )
