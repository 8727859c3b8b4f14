"""``qingzhi kpi``: station scores for a period, a station's trend and a reform's impact, from the
command line."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from qingzhi.auth.context import system_actor
from qingzhi.cli.common import console, database, fail
from qingzhi.config import get_settings
from qingzhi.errors import QingzhiError, ValidationFailed
from qingzhi.kpi import records, service, trend
from qingzhi.kpi.records import OUTCOMES
from qingzhi.kpi.views import jsonable

log = logging.getLogger(__name__)
kpi_app = typer.Typer(help="绩效考核与改革成效评估", no_args_is_help=True)


def _fmt(value: Any, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


@kpi_app.command("score")
def score(
    period: Annotated[str, typer.Option(help="考核期：YYYY、YYYY-H1、YYYY-Q3 或 YYYY-MM")],
    scheme: Annotated[
        Path | None, typer.Option(help="考核方案 TOML 文件；缺省用已保存的最新版本或内置方案")
    ] = None,
    draws: Annotated[int, typer.Option(min=1, max=service.MAX_DRAWS_API)] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """Score and rank every station for a period, with bootstrap intervals."""
    try:
        text = None
        if scheme is not None:
            try:
                text = scheme.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValidationFailed.field("scheme", f"无法读取 {scheme}：{exc}") from exc
        with database().session() as session:
            board = service.scores(
                session=session,
                actor=system_actor("cli"),
                settings=get_settings(),
                period=period,
                scheme_text=text,
                draws=draws,
            )
    except QingzhiError as exc:
        fail(exc)
    if as_json:
        console.print_json(json.dumps(jsonable(board), ensure_ascii=False))
        return
    table = Table(
        title=f"{period} 派出所考核（方案 {board['scheme']['name']} {board['scheme']['version']}）"
    )
    for column in ("排名", "区间", "派出所", "分组", "得分", "95% 区间", "并列"):
        table.add_column(column)
    for s in board["stations"]:
        table.add_row(
            str(s["rank"]),
            f"{s['rank_best']}–{s['rank_worst']}",
            s["name"],
            s["group"],
            _fmt(s["score"], 3),
            f"{_fmt(s['score_low'], 3)}–{_fmt(s['score_high'], 3)}",
            "、".join(s["tied_with"][:5]) + ("…" if len(s["tied_with"]) > 5 else ""),
        )
    console.print(table)
    for item in board["excluded"]:
        console.print(f"未计权重：{item['name']}（{item['reason']}）")


@kpi_app.command("trend")
def trend_of(
    station: Annotated[str, typer.Option(help="派出所代码")],
    period: Annotated[str | None, typer.Option(help="最后一个考核期；缺省为上一个完整季度")] = None,
    periods: Annotated[int | None, typer.Option(min=1, max=trend.MAX_PERIODS)] = None,
    draws: Annotated[int, typer.Option(min=1, max=service.MAX_DRAWS_API)] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """One station's score and rank range over consecutive periods (the newest scheme)."""
    settings = get_settings()
    try:
        with database().session() as session:
            unit = next((s for s in records.stations(session) if s.code == station), None)
            if unit is None:
                raise ValidationFailed.field("station", f"没有代码为 {station} 的派出所")
            found = trend.station_trend(
                session=session,
                actor=system_actor("cli"),
                settings=settings,
                unit_id=unit.id,
                period=period or service.last_quarter(settings.timezone),
                periods=periods,
                draws=draws,
            )
    except QingzhiError as exc:
        fail(exc)
    if as_json:
        console.print_json(json.dumps(jsonable(found), ensure_ascii=False, default=str))
        return
    table = Table(title=f"{found['name']} 考核趋势（方案 {found['scheme']['version']}）")
    for column in ("考核期", "得分", "95% 区间", "排名", "排名区间", "说明"):
        table.add_column(column)
    for p in found["periods"]:
        if p["score"] is None:
            table.add_row(p["period"], "—", "—", "—", "—", p["note"])
            continue
        table.add_row(
            p["period"],
            _fmt(p["score"], 1),
            f"{_fmt(p['score_low'], 1)}–{_fmt(p['score_high'], 1)}",
            f"{p['rank']}/{p['stations']}",
            f"{p['rank_best']}–{p['rank_worst']}",
            "、".join(e["name"] for e in p["excluded"]),
        )
    console.print(table)


@kpi_app.command("impact")
def impact(
    reform: Annotated[int, typer.Option(help="改革记录编号（qingzhi kpi reforms）", min=1)],
    outcome: Annotated[str, typer.Option(help="、".join(OUTCOMES))] = "prevention",
    family: Annotated[str, typer.Option(help="poisson 或 negbin")] = "poisson",
    draws: Annotated[int, typer.Option(min=99, max=service.MAX_DRAWS_API)] = 999,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """A reform's impact on one outcome: year-on-year, DiD rate ratio, placebo, displacement."""
    try:
        with database().session() as session:
            record, report = service.impact(
                session=session,
                actor=system_actor("cli"),
                settings=get_settings(),
                reform_id=reform,
                outcome=outcome,
                family=family,
                draws=draws,
            )
    except QingzhiError as exc:
        fail(exc)
    if as_json:
        body = {"reform": record.model_dump(mode="json"), **jsonable(report)}
        console.print_json(json.dumps(body, ensure_ascii=False))
        return
    console.print(
        f"[bold]{record.name}[/bold]（{record.effective} 起，{len(record.units)} 个派出所）"
    )
    console.print(
        f"结果指标：{report.outcome}；改革 {report.n_treated} 个、对照 {report.n_controls} 个"
    )
    for label, yoy in (
        ("改革派出所同比", report.yoy_treated),
        ("对照派出所同比", report.yoy_controls),
    ):
        if yoy is not None:
            console.print(f"{label}：{yoy.change:+.1%}（{yoy.previous:.0f} → {yoy.current:.0f}）")
    d = report.did
    console.print(
        f"双重差分率比：{d.rate_ratio:.3f}（{d.confidence:.0%} 区间 {d.low:.3f}–{d.high:.3f}，"
        f"p = {d.p_value:.3f}）"
    )
    for name, part in (("时间安慰剂", report.placebo), ("相邻派出所（转移）", report.displacement)):
        if part is not None:
            console.print(f"{name}：{part.rate_ratio:.3f}（{part.low:.3f}–{part.high:.3f}）")
    for skipped, why in report.notes.items():
        console.print(f"未做 {skipped}：{why}")
    for line in report.caveats:
        console.print(f"· {line}")


@kpi_app.command("reforms")
def reforms() -> None:
    """List the recorded reforms."""
    with database().session() as session:
        rows = service.list_reforms(session=session, actor=system_actor("cli"))
    for r in rows:
        codes = "、".join(u["code"] for u in r.units)
        console.print(f"{r.id}\t{r.effective}\t{r.kind}\t{r.name}\t{codes}")
