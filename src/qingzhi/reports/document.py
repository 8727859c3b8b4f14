"""A brief's figures as a ``reports.render.Document``: title block, sections, tables, charts, map.

One document for every format (the .docx in the GB/T 9704 layout, the PDF made from it, the HTML
page), so that all agree. Table rows link to the desk or to the incident they count (links work
in the web form; Word and PDF show the text). Sections follow the issue's order: summary
(narrative), headline by category, by station, when, where (map and places), early warnings,
repeat calls, service times, cases/督办/disputes (``reports.work``; 尚无记录 when the period
has none), recommended actions, and for a monthly plan the next month's work.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from qingzhi.reports.enums import BriefKind
from qingzhi.reports.narrative import NEXT_WORD, actions, comparison_text, narrative, pct
from qingzhi.reports.render import (
    Area,
    Block,
    Cell,
    Document,
    Figure,
    Heading,
    Link,
    Note,
    Paragraph,
    Spot,
    Table,
    charts,
    echarts,
    map_png,
)

log = logging.getLogger(__name__)

NONE = "尚无记录"


def _desk(content: dict[str, Any], **filters: Any) -> str:
    params = {"start": content["period"]["start"], "end": content["period"]["end"], "valid": "true"}
    if content.get("unit"):
        params["unit_id"] = str(content["unit"]["id"])
    params.update({k: str(v) for k, v in filters.items() if v is not None})
    return "/desk?" + urlencode(params)


def _verdict(c: dict[str, Any] | None) -> str:
    if c is None:
        return "—"
    if c.get("missing_days"):
        return "数据缺失"
    return f"{pct(c.get('change'))}（{c['verdict']}）"


def _headline_table(content: dict[str, Any]) -> Table:
    head = content["headline"]
    rows: list[list[str | int | Link]] = []
    for r in head["by_category"]:
        pop, yoy = r["period_over_period"], r["year_on_year"]
        rows.append(
            [
                Link(r["label"], _desk(content, category=r["category"])),
                pop["current"],
                pop["previous"],
                _verdict(pop),
                yoy["previous"],
                _verdict(yoy),
            ]
        )
    tot_pop, tot_yoy = head["period_over_period"], head["year_on_year"]
    rows.append(
        [
            Link("合计", _desk(content)),
            head["total"],
            tot_pop["previous"],
            _verdict(tot_pop),
            tot_yoy["previous"],
            _verdict(tot_yoy),
        ]
    )
    return Table(
        ["类别", "本期", "上期", "环比", "去年同期", "同比"],
        rows,
        caption="有效警情分类统计",
        widths_mm=(18, 14, 14, 48, 16, 46),
    )


def _unit_table(content: dict[str, Any]) -> Table:
    rows: list[list[str | int | Link]] = []
    for r in content["by_unit"]:
        pop = r["period_over_period"]
        name: str | Link = (
            Link(r["name"], _desk(content, unit_id=r["unit_id"])) if r["unit_id"] else r["name"]
        )
        rows.append(
            [
                name,
                pop["current"],
                pop["previous"],
                _verdict(pop),
                "—" if r["per_10k"] is None else f"{r['per_10k']:.2f}",
            ]
        )
    return Table(
        ["单位", "本期", "上期", "环比", "每万人警情"],
        rows,
        caption="各单位有效警情",
        widths_mm=(32, 14, 14, 66, 26),
    )


def _map(content: dict[str, Any], boundary: BaseGeometry | None, areas: Sequence[Area]) -> bytes:
    """The jurisdictions, every Gi* hot cell as one outlined area, and the places coloured by
    their excess (one patch per place cell: a few dozen, not thousands)."""
    spots = content["hotspots"]
    geometry = {
        int(c["cell"]): g for g, c in zip(spots["cell_geometry"], spots["hot_cells"], strict=True)
    }
    outlined = list(areas)
    if geometry:
        outlined.append(Area(shapely.union_all([shape(g) for g in geometry.values()]), None))
    cells = [
        Cell(shape(geometry[c]), float(p["excess"]))
        for p in spots["places"]
        for c in p["cells"]
        if c in geometry
    ]
    points = [Spot(p["centre"]["lon"], p["centre"]["lat"], p["status"]) for p in spots["places"]]
    return map_png(
        boundary=boundary,
        areas=outlined,
        cells=cells,
        points=points,
        cell_label="乱点超出预期（起）",
        width_mm=150.0,
    )


def _where(
    content: dict[str, Any], boundary: BaseGeometry | None, areas: Sequence[Area]
) -> list[Block]:
    spots = content["hotspots"]
    w = spots["window"]
    blocks: list[Block] = [Heading("治安乱点", level=2)]
    blocks.append(
        Paragraph(
            f"统计窗口 {w['start']} 至 {w['end']}（不含），Gi* 显著热点格 {spots['n_hot']} 个"
            "（图中细线范围），列入清单的乱点以颜色示其超出预期的警情数。"
            f"方法：{spots['method']}。"
        )
    )
    if boundary is not None or areas or spots["hot_cells"] or spots["places"]:
        blocks.append(
            Figure(_map(content, boundary, areas), caption="热点格与治安乱点分布", alt="热点地图")
        )
    if not spots["places"]:
        blocks.append(Paragraph("本期未发现超出自身预期的治安乱点。"))
        return blocks
    rows: list[list[str | int | Link]] = [
        [
            p["rank"],
            Link(
                p["name"],
                _desk(content, near=f"{p['centre']['lon']},{p['centre']['lat']}", radius_m=300),
            ),
            p["observed"],
            f"{p['expected']:.1f}",
            f"{p['excess']:.1f}",
            p["status"],
        ]
        for p in spots["places"]
    ]
    blocks.append(
        Table(
            ["序号", "地点", "警情", "预期", "超出", "状态"],
            rows,
            caption="治安乱点清单",
            widths_mm=(12, 68, 16, 16, 16, 16),
        )
    )
    return blocks


def _warnings(content: dict[str, Any]) -> list[Block]:
    w = content["warnings"]
    blocks: list[Block] = [Heading("预警", level=2)]
    scan = w["scan"]
    if scan.get("alarm"):
        centre = scan.get("centre") or {}
        blocks.append(
            Paragraph(
                f"时空扫描发现警情聚集：自 {scan['from']} 起 {scan['days']} 天，"
                f"{scan.get('cells', 0)} 个 {scan['cell_m']:.0f} 米网格内 {scan['observed']:g} 起，"
                f"期望 {scan['expected']:.1f} 起（p={scan['p_value']:.3g}），"
                f"中心约东经 {centre.get('lon', 0):.4f}、北纬 {centre.get('lat', 0):.4f}。"
            )
        )
    else:
        reason = scan.get("reason") or f"p={scan.get('p_value', 1):.3g}"
        blocks.append(Paragraph(f"时空扫描未发现显著聚集（{reason}）。"))
    if w["control_charts"]:
        rows: list[list[str | int | Link]] = [
            [c["unit"], c["label"], c["week"], c["count"], f"{c['baseline_mean']:.1f}"]
            for c in w["control_charts"]
        ]
        blocks.append(
            Table(
                ["单位", "类别", "周（起）", "周警情", "基线均值"],
                rows,
                caption="控制图预警",
                widths_mm=(40, 24, 32, 20, 24),
            )
        )
    else:
        blocks.append(Paragraph("各单位各类警情周数均未超出控制线。"))
    return blocks


def _repeats(content: dict[str, Any]) -> list[Block]:
    r = content["repeats"]
    blocks: list[Block] = [Heading("重复报警", level=2)]
    blocks.append(Paragraph(f"本期重复报警 {r['total']} 起。"))
    if r["places"]:
        rows: list[list[str | int | Link]] = [
            [
                Link(p["address"] or f"警情 {p['incident_id']}", f"/incidents/{p['incident_id']}"),
                p["repeats"],
            ]
            for p in r["places"]
        ]
        blocks.append(
            Table(
                ["首次报警地点", "重复报警"],
                rows,
                caption="重复报警较多的地点",
                widths_mm=(120, 30),
            )
        )
    if r["callers"]:
        rows = [
            [Link(c["caller"] or "", f"/incidents/{c['incident_id']}"), c["calls"]]
            for c in r["callers"]
        ]
        blocks.append(
            Table(
                ["报警人（已脱敏）", "报警次数"],
                rows,
                caption="多次报警的报警人",
                widths_mm=(120, 30),
            )
        )
    return blocks


def _service(content: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [Heading("接处警时效", level=2)]
    rows_in = content["service"]
    if not rows_in:
        blocks.append(Paragraph("本期无有效警情，无时效数据。"))
        return blocks

    def num(v: float | None, fmt: str = "{:.1f}") -> str:
        return "—" if v is None else fmt.format(v)

    def share(v: float | None) -> str:
        return "—" if v is None else f"{v * 100:.1f}%"

    rows: list[list[str | int | Link]] = [
        [
            s["name"],
            s["incidents"],
            num(s["dispatch_median_min"]),
            share(s["dispatch_within_3min"]),
            num(s["arrive_median_min"]),
            share(s["arrive_within_5min"]),
        ]
        for s in rows_in
    ]
    blocks.append(
        Table(
            ["单位", "警情", "派警中位（分）", "3分钟内派警", "到场中位（分）", "5分钟内到场"],
            rows,
            caption="各单位派警、到场时效",
            widths_mm=(36, 14, 24, 26, 24, 26),
        )
    )
    blocks.append(Note("注：5 分钟内到场率仅统计城区派出所；派警、到场时间自接警起算。"))
    return blocks


def build(
    content: dict[str, Any],
    *,
    title: str,
    issuer: str,
    date: dt.date,
    boundary: BaseGeometry | None = None,
    areas: Sequence[Area] = (),
) -> Document:
    """The brief as a document (``content`` gains its ``actions`` and ``narrative``)."""
    content.setdefault("actions", actions(content))
    content.setdefault("narrative", narrative(content))
    kind = BriefKind(content["kind"])
    head = content["headline"]
    prof = content["profiles"]
    blocks: list[Block] = [Heading("总体情况")]
    blocks += [Paragraph(p) for p in content["narrative"]]
    blocks.append(
        Note(
            f"注：有效警情不含无效报警与重复报警。环比对比期 {head['previous']['start']} 至 "
            f"{head['previous']['end']}，同比对比期 {head['year']['start']} 至 "
            f"{head['year']['end']}（均不含末日）。显著性为精确泊松（条件二项）检验，"
            f"p < {content['p_threshold']} 记为显著上升或显著下降，否则为无显著变化；"
            "对比期有全县无任何接报的日期时记为数据缺失，不作比较。"
        )
    )
    blocks.append(Heading("警情态势"))
    blocks.append(Heading("分类警情", level=2))
    blocks.append(_headline_table(content))
    labels = [r["label"] for r in head["by_category"]]
    if labels:
        cur = [r["period_over_period"]["current"] for r in head["by_category"]]
        prev = [r["period_over_period"]["previous"] for r in head["by_category"]]
        blocks.append(
            Figure(
                charts.category_bars(labels, cur, prev),
                caption="分类警情本期与上期",
                chart=echarts.category_bars_option(labels, cur, prev),
            )
        )
    blocks.append(Heading("各单位警情", level=2))
    if content["by_unit"]:
        blocks.append(_unit_table(content))
    else:
        blocks.append(Paragraph("本期无有效警情。"))
    blocks.append(Heading("时段分布", level=2))
    blocks.append(
        Figure(
            charts.hour_profile(prof["hours"], prof["hours_baseline"], baseline_label="前28天均值"),
            caption="分时段警情与前28天基线",
            chart=echarts.hour_profile_option(
                prof["hours"], prof["hours_baseline"], baseline_label="前28天均值"
            ),
        )
    )
    if kind is not BriefKind.daily:
        blocks.append(
            Figure(
                charts.weekday_profile(
                    prof["weekdays"], prof["weekdays_baseline"], baseline_label="前28天均值"
                ),
                caption="分星期警情与前28天基线",
                chart=echarts.weekday_profile_option(
                    prof["weekdays"], prof["weekdays_baseline"], baseline_label="前28天均值"
                ),
            )
        )
    blocks.append(Heading("研判预警"))
    blocks += _where(content, boundary, areas)
    blocks += _warnings(content)
    blocks += _repeats(content)
    blocks += _service(content)
    blocks.append(Heading("案件、督办与矛盾纠纷"))
    work = content["work"]
    blocks.append(Paragraph(work["cases"], lead="案件："))
    blocks.append(Paragraph(work["tasks"], lead="督办："))
    blocks.append(Paragraph(work["disputes"], lead="矛盾纠纷："))
    blocks.append(Heading("工作建议"))
    if content["actions"]:
        rows: list[list[str | int | Link]] = [
            [i, a["finding"], a["action"], a["owner"]] for i, a in enumerate(content["actions"], 1)
        ]
        blocks.append(
            Table(
                ["序号", "发现", "建议措施（草案）", "建议责任单位"],
                rows,
                caption="建议措施",
                widths_mm=(12, 64, 52, 28),
                align=("center", "left", "left", "center"),
            )
        )
    else:
        blocks.append(Paragraph("本期无需专项处置的发现，按常态勤务开展工作。"))
    if kind is BriefKind.monthly:
        blocks.append(Heading(f"{NEXT_WORD['monthly']}工作安排", level=2))
        places = content["hotspots"]["places"][:5]
        target = head["total"]
        blocks.append(
            Paragraph(
                f"目标：{NEXT_WORD['monthly']}有效警情力争不高于本月的 {target} 起"
                f"（{comparison_text(head['period_over_period'], '本月环比')}）。"
            )
        )
        if places:
            blocks.append(
                Paragraph(
                    "重点整治：" + "；".join(f"{p['name']}（{p['status']}）" for p in places) + "。"
                )
            )
        blocks.append(
            Paragraph("警力安排：按时段分布将巡逻警力向高发时段倾斜；警情上升的单位优先保障警力。")
        )
    return Document(
        title=title,
        issuer=issuer,
        date=date,
        blocks=blocks,
        subtitle=f"（{content['period']['label']}）",
        marking="内部资料　注意保存",
    )
