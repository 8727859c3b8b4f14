"""Analysis maps and tables (研判): Gi* hotspots, the Knox near-repeat table, early warnings.

Each reads the incidents in the caller's scope (``service.load_events``) and keeps within the
request budget of ``intel.budget``, checked before anything large is loaded or allocated: the
grids cover the jurisdictions in scope (``areas.study_grid``, refused over ``MAX_GRID_CELLS``);
the Knox test counts its pairs before listing them (``MAX_KNOX_PAIRS``, ``MAX_KNOX_WORK``); the
scan checks its cell-days and replicates (``MAX_SCAN_CELL_DAYS``, ``MAX_SCAN_WORK``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from qingzhi.analysis import hotspots, nearrepeat, warning
from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.errors import ValidationFailed
from qingzhi.incidents.enums import Category
from qingzhi.intel import budget
from qingzhi.intel.areas import study_grid
from qingzhi.intel.service import (
    IncidentEvents,
    cell_features,
    day_index,
    empty_layer,
    load_events,
    local_midnight,
)

log = logging.getLogger(__name__)


def hotspot_map(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    start: dt.datetime,
    end: dt.datetime,
    cell: float = 150.0,
    radius_cells: float = 1.5,
    fdr: float = 0.05,
    categories: Sequence[Category] = (),
) -> dict[str, Any]:
    """Gi* hot and cold cells at FDR ``fdr`` as WGS-84 GeoJSON polygons with z, p, q and counts.

    The grid covers the jurisdictions in scope (``areas.study_grid``); the study area is its
    cells whose centre lies in them, and every cell with an incident. Incidents outside the
    grid are left out and counted (``n_outside``).
    """
    if end <= start:
        raise ValidationFailed.field("end", "须晚于 start")
    ev = load_events(
        session=session,
        actor=actor,
        settings=settings,
        start=start,
        end=end,
        categories=categories,
    )
    located = ev.located()
    if len(located) == 0:
        return empty_layer(cell_m=cell, radius_cells=radius_cells, fdr=fdr, n_events=0, n_hot=0)
    study = study_grid(session, actor, settings.projected_crs, cell, located.x, located.y)
    keep = study.keep(located.x, located.y)
    n_outside = int((~keep).sum())
    located = located.select(keep)
    grid = study.grid
    features: list[dict[str, Any]] = []
    n_hot = n_cold = 0
    counts = np.bincount(grid.flat_index(located.x, located.y), minlength=grid.n_cells)
    area = study.inside | (counts > 0)
    if area.sum() >= 3:
        result = hotspots.gi_star(
            counts.reshape(grid.shape).astype(float),
            radius_cells,
            study_area=area.reshape(grid.shape),
            q=fdr,
        )
        z = result.z.ravel()
        p_hot, p_cold = result.p_hot.ravel(), 1.0 - result.p_hot.ravel()
        q_hot, q_cold = np.full(grid.n_cells, np.nan), np.full(grid.n_cells, np.nan)
        q_hot[area], q_cold[area] = (
            hotspots.bh_qvalues(p_hot[area]),
            hotspots.bh_qvalues(p_cold[area]),
        )
        hot, cold = result.hot.ravel(), result.cold.ravel()
        n_hot, n_cold = int(hot.sum()), int(cold.sum())
        chosen = [int(i) for i in np.flatnonzero(hot | cold)]
        props = [
            {
                "cell": i,
                "kind": "hot" if hot[i] else "cold",
                "count": int(counts[i]),
                "z": round(float(z[i]), 4),
                "p": float(p_hot[i] if hot[i] else p_cold[i]),
                "q": float(q_hot[i] if hot[i] else q_cold[i]),
            }
            for i in chosen
        ]
        features = cell_features(grid, chosen, settings.projected_crs, props)
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "cell_m": cell,
            "radius_cells": radius_cells,
            "fdr": fdr,
            "n_events": len(located),
            "n_outside": n_outside,
            "n_cells": int(area.sum()),
            "n_hot": n_hot,
            "n_cold": n_cold,
        },
    }


# ---------------------------------------------------------------- near repeat


def check_knox_edges(distance_edges: Sequence[float], time_edges: Sequence[float]) -> None:
    """Refuse bands beyond what near-repeat means (and what the pair budget could hold)."""
    if distance_edges[-1] > budget.MAX_KNOX_DISTANCE_M:
        raise ValidationFailed.field(
            "distance_edges",
            f"最大距离 {distance_edges[-1]:g} 米超过上限 {budget.MAX_KNOX_DISTANCE_M:g} 米"
            "（近重复分析看的是数百米内的事件）",
        )
    if time_edges[-1] > budget.MAX_KNOX_DAYS:
        raise ValidationFailed.field(
            "time_edges", f"最大间隔 {time_edges[-1]:g} 天超过上限 {budget.MAX_KNOX_DAYS:g} 天"
        )


def near_repeat(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    start: dt.datetime,
    end: dt.datetime,
    category: Category,
    subtypes: Sequence[str] = (),
    distance_edges: Sequence[float] = (0.0, 100.0, 200.0, 300.0, 400.0),
    time_edges: Sequence[float] = (0.0, 7.0, 14.0, 21.0, 28.0),
    permutations: int = 99,
) -> dict[str, Any]:
    """The Knox table with Monte Carlo p-values for one category (optionally subtypes).

    The pairs within the largest distance are counted before they are listed: over
    ``MAX_KNOX_PAIRS``, or with ``permutations`` over ``MAX_KNOX_WORK`` pair-permutations, the
    request is refused (422 naming ``distance_edges`` or ``permutations``).
    """
    if end <= start:
        raise ValidationFailed.field("end", "须晚于 start")
    check_knox_edges(distance_edges, time_edges)
    ev = load_events(
        session=session,
        actor=actor,
        settings=settings,
        start=start,
        end=end,
        categories=[category],
        subtypes=subtypes,
    )
    located = ev.located()
    if len(located) < 2:
        raise ValidationFailed.field("category", "所选范围内带坐标的警情少于 2 起")
    pairs = nearrepeat.count_close_pairs(located.x, located.y, float(distance_edges[-1]))
    if pairs > budget.MAX_KNOX_PAIRS:
        raise budget.over(
            "distance_edges",
            f"{len(located)} 起警情在最大距离内的配对",
            pairs,
            budget.MAX_KNOX_PAIRS,
            "请缩小最大距离、缩短时间范围或选择子类",
        )
    if pairs * permutations > budget.MAX_KNOX_WORK:
        most = max(budget.MAX_KNOX_WORK // max(pairs, 1), 0)
        raise budget.over(
            "permutations",
            f"{pairs:,} 对 × {permutations} 次置换 =",
            pairs * permutations,
            budget.MAX_KNOX_WORK,
            f"这些配对最多 {most} 次置换；或缩小最大距离、缩短时间范围",
        )
    t_days = located.t.astype("datetime64[s]").astype(np.int64) / 86_400.0
    result = nearrepeat.knox_test(
        located.x,
        located.y,
        t_days,
        distance_edges=distance_edges,
        time_edges=time_edges,
        permutations=permutations,
    )
    return {
        "category": str(category),
        "n_events": len(located),
        "n_pairs": pairs,
        "distance_edges_m": list(result.distance_edges),
        "time_edges_days": list(result.time_edges),
        "observed": result.observed.tolist(),
        "expected": np.round(result.expected, 3).tolist(),
        "ratio": np.round(np.nan_to_num(result.ratio, nan=0.0), 3).tolist(),
        "p_value": np.round(result.p_value, 4).tolist(),
        "significant": result.significant().tolist(),
        "permutations": result.permutations,
    }


# ---------------------------------------------------------------- early warning


def early_warnings(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    end: dt.date,
    days: int = 7,
    history_days: int = 365,
    cell: float = 500.0,
    max_cells: int = 16,
    simulations: int = 99,
    alpha: float = 0.05,
    chart_weeks: int = 4,
    baseline_weeks: int = 26,
    categories: Sequence[Category] = (),
) -> dict[str, Any]:
    """The prospective space-time scan over the ``days`` before ``end`` against a baseline from
    the ``history_days`` before them, and weekly per-unit per-category control-chart alarms."""
    tz = settings.timezone
    recent_start = end - dt.timedelta(days=days)
    hist_start = recent_start - dt.timedelta(days=history_days)
    chart_start = end - dt.timedelta(days=7 * (chart_weeks + baseline_weeks))
    ev = load_events(
        session=session,
        actor=actor,
        settings=settings,
        start=local_midnight(min(hist_start, chart_start), tz),
        end=local_midnight(end, tz),
        categories=categories,
    )
    scan = _scan(
        session,
        actor,
        ev,
        settings,
        hist_start,
        recent_start,
        end,
        cell,
        max_cells,
        simulations,
        alpha,
    )
    charts = _charts(ev, end, chart_weeks, baseline_weeks)
    return {
        "end": end.isoformat(),
        "days": days,
        "scan": scan,
        "control_charts": charts,
    }


def _scan(
    session: Session,
    actor: Actor,
    ev: IncidentEvents,
    settings: Settings,
    hist_start: dt.date,
    recent_start: dt.date,
    end: dt.date,
    cell: float,
    max_cells: int,
    simulations: int,
    alpha: float,
) -> dict[str, Any]:
    located = ev.located()
    day = day_index(located.t)
    h0 = int(np.datetime64(hist_start, "D").astype(np.int64))
    r0 = int(np.datetime64(recent_start, "D").astype(np.int64))
    r1 = int(np.datetime64(end, "D").astype(np.int64))
    keep = (day >= h0) & (day < r1)
    located, day = located.select(keep), day[keep]
    if len(located) == 0 or not ((day >= r0).any() and (day < r0).any()):
        return {"alarm": False, "reason": "基线期或监测期内没有带坐标的警情", "feature": None}
    study = study_grid(session, actor, settings.projected_crs, cell, located.x, located.y)
    keep = study.keep(located.x, located.y)
    located, day = located.select(keep), day[keep]
    if not ((day >= r0).any() and (day < r0).any()):
        return {"alarm": False, "reason": "基线期或监测期内没有辖区内的警情", "feature": None}
    grid = study.grid
    # The study area as for the hotspot map: the baseline spreads calls in new places over its
    # cells without history.
    area = study.inside.copy()
    area[grid.flat_index(located.x, located.y)] = True
    n_cells = int(area.sum())
    cell_days = n_cells * (r1 - r0)
    if cell_days > budget.MAX_SCAN_CELL_DAYS:
        raise budget.over(
            "cell",
            f"监测区域 {n_cells} 格 × {r1 - r0} 天 =",
            cell_days,
            budget.MAX_SCAN_CELL_DAYS,
            "请增大 cell 或缩短 days",
        )
    if cell_days * simulations > budget.MAX_SCAN_WORK:
        most = budget.MAX_SCAN_WORK // cell_days
        raise budget.over(
            "simulations",
            f"{simulations} 次模拟 × {cell_days:,} 格日 =",
            cell_days * simulations,
            budget.MAX_SCAN_WORK,
            f"此区域和天数最多 {most} 次模拟；或增大 cell、缩短 days",
        )
    result = warning.scan_on_grid(
        grid,
        located.x,
        located.y,
        day,
        history_start=h0,
        recent_start=r0,
        end=r1,
        area=area,
        max_cells=max_cells,
        simulations=simulations,
        alpha=alpha,
    )
    cells = list(result.cells)
    features = cell_features(
        grid, cells, settings.projected_crs, [{"cell": c, "centre": c == cells[0]} for c in cells]
    )
    first = r1 - result.days
    return {
        "alarm": result.alarm,
        "score": round(result.score, 4),
        "p_value": result.p_value,
        "alpha": alpha,
        "observed": result.observed,
        "expected": round(result.expected, 4),
        "from": str(np.datetime64(int(first), "D")),
        "days": result.days,
        "cell_m": cell,
        "simulations": simulations,
        "feature": {"type": "FeatureCollection", "features": features},
    }


def _charts(
    ev: IncidentEvents, end: dt.date, chart_weeks: int, baseline_weeks: int
) -> list[dict[str, Any]]:
    n_weeks = chart_weeks + baseline_weeks
    stop = int(np.datetime64(end, "D").astype(np.int64))
    first = stop - 7 * n_weeks
    day = day_index(ev.t)
    keep = (day >= first) & (day < stop)
    week = (day[keep] - first) // 7
    labels = np.array([first + 7 * i for i in range(n_weeks)]).astype("datetime64[D]")
    groups = np.char.add(np.char.add(ev.unit[keep], "|"), ev.category[keep])
    out: list[dict[str, Any]] = []
    for g in np.unique(groups):
        counts = np.bincount(week[groups == g], minlength=n_weeks)
        chart = warning.control_chart(
            counts, baseline_periods=baseline_weeks, group=str(g), periods=labels
        )
        alarms = sorted(set(chart.shewhart_alarms) | set(chart.cusum_alarms))
        if not alarms:
            continue
        unit, category = str(g).split("|", 1)
        out.append(
            {
                "unit_id": int(unit) if unit else None,
                "category": category,
                "baseline_mean": round(chart.baseline_mean, 4),
                "upper_limit": chart.upper_limit,
                "weeks": [str(p) for p in labels[baseline_weeks:]],
                "counts": counts[baseline_weeks:].tolist(),
                "alarms": [
                    {
                        "week": str(labels[i]),
                        "count": int(counts[i]),
                        "shewhart": i in chart.shewhart_alarms,
                        "cusum": i in chart.cusum_alarms,
                    }
                    for i in alarms
                ],
            }
        )
    return out
