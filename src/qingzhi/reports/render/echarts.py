"""ECharts options for the web form of the charts in ``charts`` (same data, same reading).

Each builder takes the arguments of its ``charts`` twin and returns a JSON-ready option for
``Figure(chart=...)``; ``static/doc-charts.js`` draws it in the page, the PNG stays for print.
Baselines are step lines (``step: "middle"``): profiles are never smoothed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from qingzhi.errors import ValidationFailed
from qingzhi.reports.render.charts import (
    BASELINE,
    CURRENT,
    PREVIOUS,
    WEEKDAYS,
    change_text,
    day_label,
    series_values,
)

log = logging.getLogger(__name__)

TEXT_STYLE = {"fontFamily": "黑体, SimHei, FandolHei, Noto Sans CJK SC, sans-serif"}


def _base(title: str | None, ylabel: str | None, categories: list[str]) -> dict[str, Any]:
    option: dict[str, Any] = {
        "animation": False,
        "textStyle": TEXT_STYLE,
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 24 if title else 0, "right": 0},
        "grid": {"left": 48, "right": 16, "top": 56 if title else 32, "bottom": 32},
        "xAxis": {"type": "category", "data": categories},
        "yAxis": {"type": "value", "name": ylabel or "", "minInterval": 1},
        "series": [],
    }
    if title:
        option["title"] = {"text": title, "left": "center", "textStyle": {"fontSize": 14}}
    return option


def _numbers(values: Any) -> list[float | int]:
    return [int(v) if float(v).is_integer() else round(float(v), 2) for v in values]


def category_bars_option(
    categories: Sequence[str],
    current: Sequence[float],
    previous: Sequence[float] | None = None,
    *,
    title: str | None = None,
    current_label: str = "本期",
    previous_label: str = "上期",
    ylabel: str | None = "警情数（起）",
) -> dict[str, Any]:
    """Grouped bars by category with the change shown in the tooltip labels."""
    n = len(categories)
    if n == 0:
        raise ValidationFailed.field("categories", "至少需要一个类别")
    cur = series_values("current", current, n)
    names = list(categories)
    option = _base(title, ylabel, names)
    if previous is not None:
        prev = series_values("previous", previous, n)
        option["series"].append(
            {"name": previous_label, "type": "bar", "data": _numbers(prev), "color": PREVIOUS}
        )
        option["xAxis"]["data"] = [
            f"{c}\n{change_text(float(a), float(b))}"
            for c, a, b in zip(names, cur, prev, strict=True)
        ]
    option["series"].append(
        {
            "name": current_label,
            "type": "bar",
            "data": _numbers(cur),
            "color": CURRENT,
            "label": {"show": True, "position": "top"},
        }
    )
    return option


def _profile_option(
    labels: list[str],
    counts: Sequence[float],
    baseline: Sequence[float] | None,
    *,
    title: str | None,
    label: str,
    baseline_label: str,
    ylabel: str | None,
) -> dict[str, Any]:
    n = len(labels)
    option = _base(title, ylabel, labels)
    option["series"].append(
        {
            "name": label,
            "type": "bar",
            "data": _numbers(series_values("counts", counts, n)),
            "color": CURRENT,
            "barCategoryGap": "20%",
        }
    )
    if baseline is not None:
        option["series"].append(
            {
                "name": baseline_label,
                "type": "line",
                "step": "middle",
                "symbol": "none",
                "data": _numbers(series_values("baseline", baseline, n)),
                "color": BASELINE,
            }
        )
    return option


def hour_profile_option(
    counts: Sequence[float],
    baseline: Sequence[float] | None = None,
    *,
    title: str | None = None,
    label: str = "本期",
    baseline_label: str = "基线",
    ylabel: str | None = "警情数（起）",
) -> dict[str, Any]:
    """24 hourly bars with the baseline as a step line."""
    return _profile_option(
        [f"{h}时" for h in range(24)],
        counts,
        baseline,
        title=title,
        label=label,
        baseline_label=baseline_label,
        ylabel=ylabel,
    )


def weekday_profile_option(
    counts: Sequence[float],
    baseline: Sequence[float] | None = None,
    *,
    title: str | None = None,
    label: str = "本期",
    baseline_label: str = "基线",
    ylabel: str | None = "警情数（起）",
) -> dict[str, Any]:
    """7 bars 周一–周日 with the baseline as a step line."""
    return _profile_option(
        list(WEEKDAYS),
        counts,
        baseline,
        title=title,
        label=label,
        baseline_label=baseline_label,
        ylabel=ylabel,
    )


def daily_line_option(
    days: Sequence[dt.date],
    counts: Sequence[float],
    baseline: Sequence[float] | None = None,
    *,
    title: str | None = None,
    label: str = "每日警情",
    baseline_label: str = "基线",
    ylabel: str | None = "警情数（起）",
) -> dict[str, Any]:
    """Daily counts as a line (and an optional dashed baseline)."""
    n = len(days)
    option = _base(title, ylabel, [day_label(d) for d in days])
    if baseline is not None:
        option["series"].append(
            {
                "name": baseline_label,
                "type": "line",
                "symbol": "none",
                "color": BASELINE,
                "lineStyle": {"type": "dashed"},
                "data": _numbers(series_values("baseline", baseline, n)),
            }
        )
    option["series"].append(
        {
            "name": label,
            "type": "line",
            "color": CURRENT,
            "symbolSize": 4,
            "data": _numbers(series_values("counts", counts, n)),
        }
    )
    return option
