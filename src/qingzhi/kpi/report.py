"""The scorecard as a report in the briefs' Word layout (GB/T 9704 via ``reports.render``) and
as PDF: the scheme and its version, every station shown to the caller with its score, interval
and rank range (ties stated), the indicators left out and why, and what the intervals mean."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from qingzhi.reports.render import Document, Heading, Note, Paragraph, Table, to_docx, to_pdf

log = logging.getLogger(__name__)

GROUPS = {"urban": "城区所", "rural": "农村所", "bundled": "捆绑成员所"}


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _trend_rows(trend: dict[str, Any]) -> tuple[list[str], list[list[str | int]]]:
    ranked = trend["ranking"]
    header = ["考核期", "得分", "区间"] + (["排名", "排名区间"] if ranked else []) + ["说明"]
    rows: list[list[str | int]] = []
    for p in trend["periods"]:
        if p["score"] is None:
            rows.append([p["period"], "—", "—", *(["—", "—"] if ranked else []), p["note"]])
            continue
        row: list[str | int] = [
            p["period"],
            _num(p["score"], 1),
            f"{_num(p['score_low'], 1)}–{_num(p['score_high'], 1)}",
        ]
        if ranked:
            row += [f"{p['rank']}/{p['stations']}", f"{p['rank_best']}–{p['rank_worst']}"]
        left_out = "、".join(e["name"] for e in p["excluded"])
        rows.append([*row, f"未计权重：{left_out}" if left_out else ""])
    return header, rows


def document(
    board: dict[str, Any],
    *,
    issuer: str,
    today: dt.date,
    trend: dict[str, Any] | None = None,
) -> Document:
    """The report of a score board as ``kpi.service.scores`` discloses it to the caller, with
    one station's trend over periods (``kpi.trend``) when given."""
    scheme = board["scheme"]
    ranked = board["ranking"]
    blocks: list[Any] = [
        Heading("考核说明"),
        Paragraph(
            f"考核期 {board['period']}，考核方案“{scheme['name']}”（版本 {scheme['version']}）。"
            f"得分为各指标对照目标或同组均值的标准化值按权重加总；区间为对警情、案件等记录的"
            f"自助抽样（{board['draws']} 次）{board['confidence']:.0%} 区间，"
            "区间重叠的派出所视为并列，不按微小差异排名。"
        ),
    ]
    header = ["派出所", "分组", "得分", "区间"] + (["排名", "排名区间", "并列数"] if ranked else [])
    rows = []
    for s in board["stations"]:
        row: list[str | int] = [
            s["name"],
            GROUPS.get(s["group"], s["group"]),
            _num(s["score"]),
            f"{_num(s['score_low'])}–{_num(s['score_high'])}",
        ]
        if ranked:
            row += [s["rank"], f"{s['rank_best']}–{s['rank_worst']}", len(s["tied_with"])]
        rows.append(row)
    blocks.append(Heading("得分与排名"))
    blocks.append(Table(header, rows, caption="派出所考核得分"))
    if not ranked:
        blocks.append(Note("注：本账号只显示本单位的得分与明细，全局排名需相应权限。"))
    for s in board["stations"] if len(board["stations"]) == 1 else []:  # one station: its detail
        blocks.append(Heading(f"{s['name']}指标明细", level=2))
        blocks.append(
            Table(
                ["指标", "数值", "区间", "分子/分母", "权重"],
                [
                    [
                        i["name"],
                        _num(i["value"]),
                        f"{_num(i['low'])}–{_num(i['high'])}",
                        f"{i['numerator']}/{_num(i['denominator'], 0)}",
                        _num(i["weight"], 2),
                    ]
                    for i in s["indicators"]
                ],
                caption="指标明细",
            )
        )
    if trend is not None:
        blocks.append(Heading(f"{trend['name']}考核趋势", level=2))
        blocks.append(Table(*_trend_rows(trend), caption="各期得分（同一考核方案版本）"))
        blocks.append(
            Note("注：各期得分相对当期目标或同组均值，100 为持平；无警情数据的考核期记为“—”。")
        )
    if board["excluded"]:
        text = "；".join(f"{e['name']}（{e['reason']}）" for e in board["excluded"])
        blocks.append(Paragraph(text, lead="未计权重的指标："))
    blocks.append(Note("注：本报告由情指平台按已保存的考核方案版本计算，同一数据与版本可复现。"))
    return Document(
        title=f"{board['period']} 派出所主防导向绩效考核",
        issuer=issuer,
        date=today,
        blocks=tuple(blocks),
    )


def render(
    board: dict[str, Any],
    *,
    issuer: str,
    today: dt.date,
    fmt: str,
    trend: dict[str, Any] | None = None,
) -> bytes:
    """The scorecard as .docx or as PDF made from it."""
    docx = to_docx(document(board, issuer=issuer, today=today, trend=trend))
    return docx if fmt == "docx" else to_pdf(docx)
