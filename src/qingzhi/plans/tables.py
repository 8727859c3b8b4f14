"""A plan's result as one table (header and rows), for CSV from the API and the CLI."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

log = logging.getLogger(__name__)


def rows(kind: str, result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The main table of a result: plans, moves, scenarios or stations."""
    if kind == "bundle":
        head = [
            "方案",
            "目标值",
            "加权平均行驶分钟",
            "失衡（人）",
            "人均警情变异系数",
            "撤并驻地数",
            "暴露（警情·分钟/周）",
            "捆绑",
        ]
        body = [
            [
                p["label"],
                p["objective"],
                p["mean_travel_minutes"],
                p["balance_officers"],
                p["imbalance_cv"],
                p["displacement"]["seats_closed"],
                p["displacement"]["total_exposure"],
                "；".join(f"{b['centre']}+{'/'.join(b['members'])}" for b in p["bundles"]),
            ]
            for p in result["plans"]
        ]
        return head, body
    if kind == "allocate":
        head = ["调出单位", "调入单位", "人数", "平均出警时间减少（分钟）", "说明"]
        body = [
            [m["source_name"], m["target_name"], m["officers"], m["gain_minutes"], m["text"]]
            for m in result["moves"]
        ]
        return head, body
    if kind == "simulate":
        head = ["情景", "警情数", "平均出警分钟", "95%置信区间半宽", "中位数", "90分位", "等待比例"]
        body = [
            [
                s["label"],
                s["county"]["calls"],
                s["county"]["mean"],
                s["county"]["ci95"],
                s["county"]["p50"],
                s["county"]["p90"],
                s["county"]["share_waited"],
            ]
            for s in result["scenarios"]
        ]
        return head, body
    classes = result["classes"]
    head = ["派出所", *[f"{c}_km" for c in classes], "警力", "国省县道km/人", "交通警情/年"]
    body = [
        [
            s["name"],
            *[s["km"][c] for c in classes],
            s["officers"],
            s["trunk_km_per_officer"],
            s["traffic_calls_per_year"],
        ]
        for s in result["stations"]
    ]
    return head, body


def to_csv(kind: str, result: dict[str, Any]) -> str:
    """The main table as CSV text (UTF-8 with BOM for Excel)."""
    head, body = rows(kind, result)
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(head)
    w.writerows(body)
    return buf.getvalue()
