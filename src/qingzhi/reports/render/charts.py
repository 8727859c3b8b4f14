"""Charts for the documents, rendered offline by matplotlib (Agg) to PNG at print resolution.

Four kinds cover the briefs: counts by category against the previous period (grouped bars with
the change), the hour-of-day and day-of-week profiles (bars, never smoothed, against a baseline
drawn as a step at each bar's own value) and a line of daily counts. Text is set in FandolHei
(Noto Sans CJK where Fandol is missing) through ``FontProperties(fname=...)`` on every text
element, so no global font state is touched; figures are ``matplotlib.figure.Figure`` objects
drawn on their own Agg canvas (no pyplot, no shared current figure), and drawing is serialised by
a lock because FreeType's font cache is shared. ``echarts`` builds the same charts for the web.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from qingzhi.errors import ValidationFailed
from qingzhi.reports.render.fonts import chart_font_file

log = logging.getLogger(__name__)

DPI = 200  # print resolution
MM_PER_INCH = 25.4
CURRENT = "#1f4e79"
PREVIOUS = "#a9bfd8"
BASELINE = "#c0392b"
RISE = "#c0392b"
FALL = "#1e8449"
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_draw_lock = threading.Lock()


@lru_cache(maxsize=16)
def font(size: float = 9.0) -> FontProperties:
    """The chart font at ``size`` points."""
    return FontProperties(fname=str(chart_font_file()), size=size)


def new_figure(width_mm: float, height_mm: float) -> Figure:
    """A figure of the given size in millimetres with a white background."""
    if not (20 <= width_mm <= 400 and 20 <= height_mm <= 400):
        raise ValidationFailed.field("size_mm", "图幅须在 20 至 400 毫米之间")
    fig = Figure(figsize=(width_mm / MM_PER_INCH, height_mm / MM_PER_INCH), facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes."""
    if not 72 <= dpi <= 600:
        raise ValidationFailed.field("dpi", "须在 72 至 600 之间")
    buffer = io.BytesIO()
    with _draw_lock:
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def series_values(name: str, values: Sequence[float], n: int | None = None) -> np.ndarray:
    """``values`` as a float array of length ``n``; ValidationFailed naming ``name`` if bad."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or (n is not None and len(array) != n):
        raise ValidationFailed.field(name, f"须为 {n} 个数" if n else "须为一列数")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValidationFailed.field(name, "须为非负数")
    return array


def _frame(ax: Axes, title: str | None, ylabel: str | None) -> None:
    if title:
        ax.set_title(title, fontproperties=font(11), pad=8)
    if ylabel:
        ax.set_ylabel(ylabel, fontproperties=font(9))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8)
    for label in ax.get_yticklabels():
        label.set_fontproperties(font(8))


def _legend(ax: Axes) -> None:
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(prop=font(8), frameon=False, loc="upper right", ncols=len(handles))


def change_text(current: float, previous: float) -> str:
    """The change from ``previous`` to ``current`` as 公文 writes it: +12.5%, -3.0%, 新增."""
    if previous == 0:
        return "持平" if current == 0 else "新增"
    pct = 100.0 * (current - previous) / previous
    return "持平" if abs(pct) < 0.05 else f"{pct:+.1f}%"


def category_bars(
    categories: Sequence[str],
    current: Sequence[float],
    previous: Sequence[float] | None = None,
    *,
    title: str | None = None,
    current_label: str = "本期",
    previous_label: str = "上期",
    ylabel: str | None = "警情数（起）",
    width_mm: float = 150.0,
    height_mm: float = 80.0,
    dpi: int = DPI,
) -> bytes:
    """Counts by category (bars), beside the previous period's with the change above each pair."""
    n = len(categories)
    if n == 0:
        raise ValidationFailed.field("categories", "至少需要一个类别")
    cur = series_values("current", current, n)
    prev = series_values("previous", previous, n) if previous is not None else None
    fig = new_figure(width_mm, height_mm)
    ax = fig.add_subplot()
    x = np.arange(n)
    width = 0.38 if prev is not None else 0.6
    offset = width / 2 if prev is not None else 0.0
    top = float(max(cur.max(), prev.max() if prev is not None else 0.0, 1.0))
    if prev is not None:
        ax.bar(x - offset, prev, width, color=PREVIOUS, label=previous_label)
    bars = ax.bar(x + offset, cur, width, color=CURRENT, label=current_label)
    ax.bar_label(bars, labels=[f"{v:g}" for v in cur], padding=1, fontproperties=font(7))
    if prev is not None:
        for i in range(n):
            text = change_text(float(cur[i]), float(prev[i]))
            colour = RISE if cur[i] > prev[i] else FALL if cur[i] < prev[i] else "#555555"
            ax.annotate(
                text,
                (float(x[i]), float(max(cur[i], prev[i]))),
                xytext=(0, 11),
                textcoords="offset points",
                ha="center",
                color=colour,
                fontproperties=font(7),
            )
    ax.set_ylim(0, top * 1.28)
    ax.set_xticks(x, list(categories), fontproperties=font(8))
    _frame(ax, title, ylabel)
    _legend(ax)
    fig.tight_layout()
    return png_bytes(fig, dpi)


def _profile(
    labels: Sequence[str],
    counts: np.ndarray,
    baseline: np.ndarray | None,
    *,
    title: str | None,
    label: str,
    baseline_label: str,
    ylabel: str | None,
    width_mm: float,
    height_mm: float,
    dpi: int,
    label_every: int = 1,
) -> bytes:
    fig = new_figure(width_mm, height_mm)
    ax = fig.add_subplot()
    x = np.arange(len(counts))
    ax.bar(x, counts, 0.8, color=CURRENT, label=label)
    if baseline is not None:
        # A step at each bar's own baseline value: the profile is compared bar by bar.
        edges = np.arange(len(counts) + 1) - 0.5
        ax.stairs(
            baseline, edges, baseline=None, color=BASELINE, linewidth=1.4, label=baseline_label
        )
    top = float(max(counts.max(), baseline.max() if baseline is not None else 0.0, 1.0))
    ax.set_ylim(0, top * 1.2)
    ax.set_xlim(-0.6, len(counts) - 0.4)
    ticks = x[::label_every]
    ax.set_xticks(ticks, [labels[i] for i in ticks], fontproperties=font(8))
    _frame(ax, title, ylabel)
    _legend(ax)
    fig.tight_layout()
    return png_bytes(fig, dpi)


def hour_profile(
    counts: Sequence[float],
    baseline: Sequence[float] | None = None,
    *,
    title: str | None = None,
    label: str = "本期",
    baseline_label: str = "基线",
    ylabel: str | None = "警情数（起）",
    width_mm: float = 150.0,
    height_mm: float = 70.0,
    dpi: int = DPI,
) -> bytes:
    """The hour-of-day profile: 24 bars (0时–23时) with the baseline as a step per hour."""
    cur = series_values("counts", counts, 24)
    base = series_values("baseline", baseline, 24) if baseline is not None else None
    hours = [f"{h}时" for h in range(24)]
    return _profile(
        hours,
        cur,
        base,
        title=title,
        label=label,
        baseline_label=baseline_label,
        ylabel=ylabel,
        width_mm=width_mm,
        height_mm=height_mm,
        dpi=dpi,
        label_every=2,
    )


def weekday_profile(
    counts: Sequence[float],
    baseline: Sequence[float] | None = None,
    *,
    title: str | None = None,
    label: str = "本期",
    baseline_label: str = "基线",
    ylabel: str | None = "警情数（起）",
    width_mm: float = 150.0,
    height_mm: float = 65.0,
    dpi: int = DPI,
) -> bytes:
    """The day-of-week profile: 7 bars (周一–周日) with the baseline as a step per day."""
    cur = series_values("counts", counts, 7)
    base = series_values("baseline", baseline, 7) if baseline is not None else None
    return _profile(
        WEEKDAYS,
        cur,
        base,
        title=title,
        label=label,
        baseline_label=baseline_label,
        ylabel=ylabel,
        width_mm=width_mm,
        height_mm=height_mm,
        dpi=dpi,
    )


def day_label(day: dt.date) -> str:
    """A short date label: 11月24日."""
    return f"{day.month}月{day.day}日"


def daily_line(
    days: Sequence[dt.date],
    counts: Sequence[float],
    baseline: Sequence[float] | None = None,
    *,
    title: str | None = None,
    label: str = "每日警情",
    baseline_label: str = "基线",
    ylabel: str | None = "警情数（起）",
    width_mm: float = 150.0,
    height_mm: float = 70.0,
    dpi: int = DPI,
) -> bytes:
    """Daily counts as a line with markers (optionally against a baseline per day)."""
    n = len(days)
    if n < 2:
        raise ValidationFailed.field("days", "至少需要两天")
    if any(b <= a for a, b in itertools.pairwise(days)):
        raise ValidationFailed.field("days", "日期须递增")
    cur = series_values("counts", counts, n)
    base = series_values("baseline", baseline, n) if baseline is not None else None
    fig = new_figure(width_mm, height_mm)
    ax = fig.add_subplot()
    x = np.array([(d - days[0]).days for d in days], dtype=float)
    if base is not None:
        ax.plot(x, base, color=BASELINE, linewidth=1.0, linestyle="--", label=baseline_label)
    ax.plot(x, cur, color=CURRENT, linewidth=1.4, marker="o", markersize=2.5, label=label)
    top = float(max(cur.max(), base.max() if base is not None else 0.0, 1.0))
    ax.set_ylim(0, top * 1.2)
    every = max(1, int(np.ceil(n / 10)))
    ax.set_xticks(x[::every], [day_label(d) for d in days[::every]], fontproperties=font(8))
    _frame(ax, title, ylabel)
    _legend(ax)
    fig.tight_layout()
    return png_bytes(fig, dpi)
