"""The brief's words, from its figures by templates (no language model): the narrative in formal
Chinese and the recommended actions (findings turned into draft actions with a suggested owner).

Findings: a category's significant rise (环比 or 同比), a new hotspot place, a persisting one, a
space-time cluster, a control chart that rose, callers who called three times or more. Each
becomes a draft action naming the unit that should own it (the station of the place or chart;
for the bureau's own findings the command centre, 情指中心).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

KIND_SCOPE = {"daily": "昨日", "weekly": "本周", "monthly": "本月"}
PREV_WORD = {"daily": "前一日", "weekly": "上周", "monthly": "上月"}
NEXT_WORD = {"daily": "今日", "weekly": "下周", "monthly": "下月"}
COMMAND_CENTRE = "情指中心"
REPEAT_CALLER_MIN = 3


def pct(change: float | None) -> str:
    """+0.12 → "上升 12.0%", −0.05 → "下降 5.0%", None → "无法比较"."""
    if change is None:
        return "无法比较"
    if change == 0:
        return "持平"
    return f"{'上升' if change > 0 else '下降'} {abs(change) * 100:.1f}%"


def comparison_text(c: dict[str, Any] | None, word: str) -> str:
    """ "环比上升 12.0%（无显著变化）", or the missing-data sentence."""
    if c is None:
        return f"{word}无法比较"
    if c.get("missing_days"):
        n = len(c["missing_days"])
        return f"{word}因对比期有 {n} 天无任何接报记录（数据缺失）不作比较"
    if c.get("previous", 0) == 0 and c.get("current", 0) > 0:
        return f"{word}对比期为 0 起（{c['verdict']}）"
    return f"{word}{pct(c.get('change'))}（{c['verdict']}）"


def _owner(content: dict[str, Any], unit_id: int | None, name: str | None) -> str:
    if name:
        return name
    unit = content.get("unit")
    return unit["name"] if unit else COMMAND_CENTRE


def actions(content: dict[str, Any]) -> list[dict[str, Any]]:
    """Draft actions from the findings, each with a suggested owner unit."""
    out: list[dict[str, Any]] = []
    kind = content["kind"]
    own = _owner(content, None, None)
    for row in content["headline"]["by_category"]:
        for key, word in (("period_over_period", "环比"), ("year_on_year", "同比")):
            c = row[key]
            if c["verdict"] == "显著上升":
                out.append(
                    {
                        "finding": f"{row['label']}警情{word}显著上升"
                        f"（{c['current']} 起，p={c['p_value']:.3g}）",
                        "action": f"研判{row['label']}警情上升原因，"
                        f"{NEXT_WORD[kind]}加强相应巡防与宣传",
                        "owner": own,
                    }
                )
                break
    for place in content["hotspots"]["places"]:
        owner = place.get("zone") or own
        status = place["status"]
        out.append(
            {
                "finding": f"{status}治安乱点：{place['name']}（{place['observed']} 起，"
                f"超出自身预期 {place['excess']:.1f} 起）",
                "action": "将该点纳入巡逻必到点，开展清查整治"
                if status == "新增"
                else "该点持续高发，建议挂牌督办、综合治理",
                "owner": f"{own}（{owner}）" if place.get("zone") else own,
            }
        )
    scan = content["warnings"]["scan"]
    if scan.get("alarm"):
        out.append(
            {
                "finding": f"时空扫描发现聚集：{scan['from']} 起 {scan['days']} 天 "
                f"{scan['observed']:g} 起（期望 {scan['expected']:.1f}，p={scan['p_value']:.3g}）",
                "action": "核查聚集区域警情关联性，必要时串并研判",
                "owner": own,
            }
        )
    for chart in content["warnings"]["control_charts"]:
        out.append(
            {
                "finding": f"{chart['unit']}{chart['label']}警情周数超出控制线（{chart['week']} 周 "
                f"{chart['count']} 起，基线均值 {chart['baseline_mean']:.1f}）",
                "action": "分析上升原因，调整勤务部署",
                "owner": chart["unit"] or own,
            }
        )
    for caller in content["repeats"]["callers"]:
        if caller["calls"] >= REPEAT_CALLER_MIN:
            out.append(
                {
                    "finding": f"报警人 {caller['caller']} 本期报警 {caller['calls']} 次",
                    "action": "回访报警人，核实诉求，必要时纳入矛盾纠纷排查",
                    "owner": own,
                }
            )
    return out


def narrative(content: dict[str, Any]) -> list[str]:
    """The brief's summary paragraphs, in formal Chinese, from its figures."""
    kind = content["kind"]
    head = content["headline"]
    scope = "全县" if content.get("unit") is None else content["scope_name"]
    when = KIND_SCOPE[kind] if kind != "daily" else "昨日"
    paragraphs: list[str] = []
    if head["total"] == 0:
        paragraphs.append(
            f"{content['period']['label']}，{scope}未接报有效警情（本期无警情记录）。"
        )
    else:
        parts = [
            f"{when}（{content['period']['label']}）{scope}接报有效警情 {head['total']} 起",
            comparison_text(head["period_over_period"], "环比"),
            comparison_text(head["year_on_year"], "同比"),
        ]
        top = [r for r in head["by_category"] if r["period_over_period"]["current"] > 0][:3]
        if top:
            parts.append(
                "其中"
                + "、".join(
                    f"{r['label']}警情 {r['period_over_period']['current']} 起" for r in top
                )
            )
        paragraphs.append("，".join(parts) + "。")
    if head["current_gaps"]:
        paragraphs.append(
            f"注意：本期有 {len(head['current_gaps'])} 天全县无任何接报记录"
            f"（{'、'.join(head['current_gaps'][:5])}），数据可能缺失。"
        )
    rises = [
        r["label"]
        for r in head["by_category"]
        if "显著上升" in (r["period_over_period"]["verdict"], r["year_on_year"]["verdict"])
    ]
    falls = [
        r["label"]
        for r in head["by_category"]
        if "显著下降" in (r["period_over_period"]["verdict"], r["year_on_year"]["verdict"])
    ]
    trend = []
    if rises:
        trend.append(f"{'、'.join(rises)}警情显著上升")
    if falls:
        trend.append(f"{'、'.join(falls)}警情显著下降")
    if trend:
        paragraphs.append(
            "从变化看，" + "，".join(trend) + f"（精确检验，p < {content['p_threshold']}）。"
        )
    elif head["total"]:
        paragraphs.append(
            f"各类警情均无统计学意义上的显著变化（精确检验，p < {content['p_threshold']}）。"
        )
    places = content["hotspots"]["places"]
    if places:
        new = sum(p["status"] == "新增" for p in places)
        paragraphs.append(
            f"研判发现治安乱点 {len(places)} 处（新增 {new} 处、持续 {len(places) - new} 处），"
            f"最突出的是{places[0]['name']}，{places[0]['observed']} 起，"
            f"超出其自身预期 {places[0]['excess']:.1f} 起。"
        )
    scan = content["warnings"]["scan"]
    charts = content["warnings"]["control_charts"]
    if scan.get("alarm") or charts:
        bits = []
        if scan.get("alarm"):
            bits.append("时空扫描发现 1 处警情聚集")
        if charts:
            bits.append(f"{content['warnings'].get('n_charts', len(charts))} 项控制图预警")
        paragraphs.append("预警方面，" + "，".join(bits) + "，请相关单位关注。")
    return paragraphs
