"""A plan as a report in the briefs' Word layout (GB/T 9704 via ``reports.render``), and PDF.

The report states what was run (the kind, its parameters, the travel model the run used), the
plan's main table (the same rows as its CSV: ``plans.tables``), and, for a simulation, how far
the queueing model and the simulation agreed; then the decision, if one was made. Nothing in it
is computed here: it is the saved plan, so the document and the page agree.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from qingzhi.plans import tables
from qingzhi.reports.render import Document, Heading, Note, Paragraph, Table, to_docx, to_pdf

log = logging.getLogger(__name__)

MAX_ROWS = 200  # a longer table is cut, and the report says so (the CSV has every row)


def _cell(value: Any) -> str | int:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else ("是" if value else "否")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def document(plan: dict[str, Any], *, issuer: str, today: dt.date) -> Document:
    """The report of a plan as ``plans.service.to_read`` gives it (with its result)."""
    result = plan["result"] or {}
    blocks: list[Any] = [
        Heading("方案概要"),
        Paragraph(
            f"本方案为{plan['kind_label']}（编号 {plan['id']}），状态：{plan['status_label']}，"
            f"计算完成于 {(plan['finished_at'] or '—')[:16].replace('T', ' ')}。"
        ),
    ]
    params = {k: v for k, v in (plan["params"] or {}).items() if k != "kind"}
    if params:
        text = "；".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in params.items())
        blocks.append(Paragraph(text, lead="计算参数："))
    travel = result.get("travel")
    if travel:
        blocks.append(Paragraph(str(travel), lead="行驶时间："))
    head, body = tables.rows(plan["kind"], result)
    blocks.append(Heading("计算结果"))
    shown = [[_cell(v) for v in row] for row in body[:MAX_ROWS]]
    if shown:
        blocks.append(Table(head, shown, caption=f"{plan['kind_label']}结果"))
    else:
        blocks.append(Paragraph("本方案没有结果行。"))
    if len(body) > MAX_ROWS:
        blocks.append(
            Note(f"注：共 {len(body)} 行，此处列出前 {MAX_ROWS} 行；完整结果见 CSV 导出。")
        )
    validation = result.get("validation")
    if isinstance(validation, dict) and "within" in validation:
        stations = validation.get("stations") or []
        blocks.append(
            Paragraph(
                f"排队模型与仿真在 {validation['within']}/{len(stations)} 个派出所一致"
                f"（容差：{validation.get('tolerance', '—')}）。",
                lead="模型检验：",
            )
        )
    blocks.append(Heading("决定"))
    if plan["decided_at"]:
        note = plan["decision_note"] or "无说明"
        blocks.append(Paragraph(f"{plan['status_label']}（{plan['decided_at'][:10]}）：{note}。"))
    else:
        blocks.append(Paragraph("尚未作出决定。方案不会自动改变现行机构和警力部署。"))
    blocks.append(Note("注：本报告由情指平台根据已保存的方案生成，数据为方案计算时的快照。"))
    return Document(
        title=f"规划方案：{plan['title']}", issuer=issuer, date=today, blocks=tuple(blocks)
    )


def render(plan: dict[str, Any], *, issuer: str, today: dt.date, fmt: str) -> bytes:
    """The report as .docx or PDF bytes (PDF from the same .docx by LibreOffice)."""
    docx = to_docx(document(plan, issuer=issuer, today=today))
    return docx if fmt == "docx" else to_pdf(docx)
