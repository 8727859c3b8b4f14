"""A sample brief for the render tests and bench: Chinese text with 垫江县, every kind of block,
a chart and a map of the demo county (its boundary and synthetic township jurisdictions)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
from shapely.geometry import box

from qingzhi.demo.county import generate_county
from qingzhi.reports.render import (
    Area,
    Block,
    Cell,
    Document,
    Figure,
    Heading,
    Link,
    Note,
    PageBreak,
    Paragraph,
    Spot,
    Table,
    charts,
    echarts,
    map_png,
)

ISSUER = "垫江县公安局情报指挥中心"
DATE = dt.date(2026, 12, 1)
TITLE = "垫江县公安局关于2026年第48周警情形势的研判报告"
BODY = (
    "垫江县本周共接报有效警情1234起，同比下降5.2%，环比上升3.1%。其中刑事警情86起，"
    "治安警情312起，交通警情405起，纠纷警情257起，求助警情174起。桂溪、桂阳两个街道"
    "警情占全县的百分之四十，夜间二十时至二十二时为高发时段。"
)
# 54 hanzi: exactly two full lines of 28 characters, the first indented by two.
GRID_LINE = ("一二三四五六七八九十" * 6)[:54]
HOURS = [8, 5, 4, 3, 3, 4, 8, 14, 20, 22, 24, 25, 26, 24, 23, 24, 26, 28, 30, 32, 30, 26, 18, 12]


@lru_cache(maxsize=1)
def county_map() -> bytes:
    """The demo county: boundary, township jurisdictions, a hotspot of grid cells, stations."""
    county = generate_county(2026)
    boundary = county.boundary
    minx, miny, maxx, maxy = boundary.bounds
    n = 30
    dx, dy = (maxx - minx) / n, (maxy - miny) / n
    cells = []
    for i in range(n):
        for j in range(n):
            cell = box(minx + i * dx, miny + j * dy, minx + (i + 1) * dx, miny + (j + 1) * dy)
            value = 10.0 * float(np.exp(-((i - 15) ** 2 + (j - 16) ** 2) / 12.0))
            if value > 1.0 and cell.intersects(boundary):
                cells.append(Cell(cell.intersection(boundary), value))
    return map_png(
        boundary=boundary,
        areas=[Area(t.polygon, t.short_name) for t in county.townships],
        cells=cells,
        points=[Spot(t.seat[0], t.seat[1], "派出所") for t in county.townships],
    )


def hour_figure() -> Figure:
    """The hour-of-day profile against its baseline, with the ECharts twin."""
    counts = [round(h * 1.1) for h in HOURS]
    return Figure(
        charts.hour_profile(counts, HOURS, baseline_label="近四周均值"),
        caption="警情时段分布",
        chart=echarts.hour_profile_option(counts, HOURS, baseline_label="近四周均值"),
    )


def section(k: int) -> list[Block]:
    """One more level-1 section (for longer documents)."""
    return [
        Heading(f"第{k}片区情况"),
        Heading("警情态势", 2),
        Paragraph(BODY * 2),
        Heading("下步措施", 2),
        Paragraph(BODY, lead="一是加强巡逻防控。"),
        Paragraph(BODY, lead="二是强化矛盾化解。"),
        Table(
            ["类别", "本期", "上期", "环比"],
            [["刑事", 86, 92, "-6.5%"], ["治安", 312, 290, "+7.6%"], ["交通", 405, 410, "-1.2%"]],
            caption=f"第{k}片区分类警情",
            align=["left", "right", "right", "right"],
        ),
    ]


def sample_document(*, sections: int = 0, with_map: bool = True) -> Document:
    """The sample brief; ``sections`` appends that many more sections."""
    blocks: list[Block] = [
        Heading("总体情况"),
        Paragraph(BODY),
        Paragraph(GRID_LINE),
        Heading("分类分析", 2),
        Paragraph(BODY, lead="一是刑事警情下降。"),
        Heading("各派出所警情", 3),
        Table(
            ["派出所", "本期", "上期", "环比"],
            [
                [Link("桂溪派出所", "/units/500231001"), 120, 110, "+9.1%"],
                [Link("桂阳派出所", "/units/500231002"), 98, 101, "-3.0%"],
                ["澄溪中心派出所", 40, 44, "-9.1%"],
            ],
            caption="各派出所警情",
            widths_mm=[60, 30, 30, 36],
            align=["left", "right", "right", "right"],
        ),
        Heading("时空分布"),
        hour_figure(),
    ]
    if with_map:
        blocks.append(Figure(county_map(), caption="垫江县警情热点分布", alt="热点地图"))
    blocks += [
        Note("注：本报告所用警情为合成演示数据。"),
        PageBreak(),
        Heading("工作建议"),
        Paragraph(BODY),
    ]
    for k in range(1, sections + 1):
        blocks += section(k)
    return Document(
        title=TITLE,
        issuer=ISSUER,
        date=DATE,
        subtitle="（2026年11月24日—11月30日）",
        doc_number="垫公情〔2026〕48号",
        marking="内部资料　注意保存",
        blocks=blocks,
    )
