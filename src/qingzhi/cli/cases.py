"""``qingzhi case rates``: clearance and fast-clearance rates from the command line, through the
same service as the API (as the system, bureau-wide), with the definitions and N printed."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.table import Table

from qingzhi.auth.context import system_actor
from qingzhi.cases import rates
from qingzhi.cases.schemas import Interval
from qingzhi.cli.common import console, database, fail, parse_day
from qingzhi.cli.tasks import unit_id_of
from qingzhi.config import get_settings
from qingzhi.errors import QingzhiError, ValidationFailed

log = logging.getLogger(__name__)

case_app = typer.Typer(help="案件（快侦快办）", no_args_is_help=True)


def _pct(i: Interval) -> str:
    if i.estimate is None:
        return "—"
    return f"{i.estimate:.1%}（{i.low:.1%}–{i.high:.1%}）"


@case_app.command("rates")
def case_rates(
    start: Annotated[str, typer.Option("--from", help="开始日期（含）")],
    end: Annotated[str, typer.Option("--to", help="结束日期（含）")],
    unit: Annotated[str | None, typer.Option("--unit", help="单位代码")] = None,
    by: Annotated[str, typer.Option("--by", help="unit、category 或 none")] = "unit",
) -> None:
    """Clearance, cohort clearance and fast clearance with 95% Wilson intervals."""
    settings = get_settings()
    try:
        if by not in ("unit", "category", "none"):
            raise ValidationFailed.field("--by", "可选值：unit、category、none")
        with database().session() as session:
            result = rates.compute(
                session=session,
                actor=system_actor(),
                settings=settings,
                start=parse_day(start, "--from"),
                end=parse_day(end, "--to"),
                group_by=by,  # type: ignore[arg-type]
                unit_id=unit_id_of(session, unit),
            )
    except QingzhiError as exc:
        fail(exc)
    n = result.fast_hours
    table = Table(
        "单位/类别", "立案", "破案", "破案率", "队列破案率", f"快破率（{n}小时）", "挽损（元）"
    )
    for line in [*result.lines, result.total]:
        table.add_row(
            line.label,
            str(line.opened),
            str(line.cleared),
            "—" if line.clearance is None else f"{line.clearance:.1%}",
            _pct(line.cohort),
            _pct(line.fast_rate),
            f"{line.recovered_yuan:,.2f}",
        )
    console.print(f"{result.start} 至 {result.end}；快破时限 N = {n} 小时")
    console.print(table)
    for text in result.definitions.values():
        console.print(f"· {text}")
