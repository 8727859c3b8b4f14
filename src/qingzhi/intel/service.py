"""Intelligence analysis services (研判): incidents in the caller's scope turned into event arrays
for the pure analysis library, and its results turned into JSON-ready dicts and GeoJSON.

Every function reads incidents through ``incidents.service.scope_filter``, so a station chief's
trends, hotspots, forecast and warnings count only the station's incidents. Times are the bureau's
local time (``settings.timezone``); coordinates are projected to ``settings.projected_crs``
(EPSG:32648 for Chongqing) for metric work and back to WGS-84 for maps. Only valid incidents
(有效警情) that are not repeat calls (重复报警, counted once through the first call) are analysed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
import shapely.geometry
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.analysis import hotspots, nearrepeat, trends, warning
from qingzhi.analysis.evaluation import n_selected, rank_cells
from qingzhi.analysis.events import EventTable
from qingzhi.analysis.forecast import Forecaster, SeriesData, series_on_grid
from qingzhi.analysis.grid import Grid, grid_for
from qingzhi.analysis.methods import RECOMMENDED, make_forecaster, prepare
from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.errors import ValidationFailed
from qingzhi.geo.projection import to_lonlat, to_metres
from qingzhi.incidents.enums import CATEGORY_LABELS, Category
from qingzhi.incidents.models import Incident
from qingzhi.incidents.service import scope_filter
from qingzhi.org.models import Unit, Zone

log = logging.getLogger(__name__)

VERDICTS = {"up": "显著上升", "down": "显著下降", "flat": "无显著变化"}
GROUPINGS = ("category", "unit", "zone")
FREQUENCIES = {"day": "D", "week": "W", "month": "M"}
# The scan holds (cells x scanned days x region sizes) sums per replicate: 400,000 cell-days is a
# county at 500 m over 28 days, about 50 MB an array.
MAX_SCAN_CELL_DAYS = 400_000


@dataclass(frozen=True)
class IncidentEvents:
    """Valid incidents in scope as arrays: local times, projected metres (NaN if unlocated)."""

    t: NDArray[np.datetime64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    category: NDArray[np.str_]
    unit: NDArray[np.str_]
    zone: NDArray[np.str_]

    def __len__(self) -> int:
        return len(self.t)

    def select(self, mask: NDArray[np.bool_]) -> IncidentEvents:
        """The events where ``mask`` is true."""
        return IncidentEvents(
            self.t[mask],
            self.x[mask],
            self.y[mask],
            self.category[mask],
            self.unit[mask],
            self.zone[mask],
        )

    def located(self) -> IncidentEvents:
        """Only the events with a location."""
        return self.select(np.isfinite(self.x) & np.isfinite(self.y))

    def table(self) -> EventTable:
        """The located events as the analysis library's event table."""
        ev = self.located()
        return EventTable(ev.x, ev.y, ev.t, ev.category)


def _utc(moment: dt.datetime, tz: str) -> dt.datetime:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz))
    return aware.astimezone(dt.UTC)


def _local_midnight(day: dt.date, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz))


def load_events(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    start: dt.datetime,
    end: dt.datetime,
    categories: Sequence[Category] = (),
    subtypes: Sequence[str] = (),
) -> IncidentEvents:
    """Valid, non-repeat incidents received in [start, end) in scope (naive times are local)."""
    stmt = select(
        Incident.received_at,
        Incident.lon,
        Incident.lat,
        Incident.category,
        Incident.unit_id,
        Incident.station_id,
        Incident.zone_id,
    ).where(
        Incident.valid.is_(True),
        Incident.repeat_of_id.is_(None),
        Incident.received_at >= _utc(start, settings.timezone),
        Incident.received_at < _utc(end, settings.timezone),
    )
    if categories:
        stmt = stmt.where(Incident.category.in_(list(categories)))
    if subtypes:
        stmt = stmt.where(Incident.subtype.in_(list(subtypes)))
    rows = session.execute(scope_filter(stmt, actor).order_by(Incident.received_at)).all()
    tz = ZoneInfo(settings.timezone)
    times = [r.received_at.astimezone(tz).replace(tzinfo=None) for r in rows]
    t = np.array(times, dtype="datetime64[s]") if times else np.array([], dtype="datetime64[s]")
    lon = np.array([np.nan if r.lon is None else r.lon for r in rows], dtype=np.float64)
    lat = np.array([np.nan if r.lat is None else r.lat for r in rows], dtype=np.float64)
    x = np.full(len(rows), np.nan)
    y = np.full(len(rows), np.nan)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if ok.any():
        x[ok], y[ok] = to_metres(lon[ok], lat[ok], settings.projected_crs)
    unit = [r.station_id if r.station_id is not None else r.unit_id for r in rows]
    return IncidentEvents(
        t,
        x,
        y,
        np.array([str(r.category) for r in rows], dtype=np.str_),
        np.array(["" if u is None else str(u) for u in unit], dtype=np.str_),
        np.array(["" if r.zone_id is None else str(r.zone_id) for r in rows], dtype=np.str_),
    )


# ---------------------------------------------------------------- trends


def _change(current: int, previous: int, cur_days: float, prev_days: float) -> dict[str, Any]:
    test = trends.change_test(
        current, previous, current_exposure=cur_days, previous_exposure=prev_days
    )
    return {
        "current": test.current,
        "previous": test.previous,
        "change": None if math.isinf(test.change) else round(test.change, 4),
        "p_value": round(test.p_value, 6),
        "verdict": VERDICTS[test.direction],
    }


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _counts_by(ev: IncidentEvents, group_by: str) -> dict[str, int]:
    keys = getattr(ev, group_by)
    names, counts = np.unique(keys, return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


def _labels(session: Session, group_by: str, keys: Sequence[str]) -> dict[str, str]:
    """Display names of the groups: Chinese category names, unit or zone names by id."""
    if group_by == "category":
        return {k: CATEGORY_LABELS[Category(k)] for k in keys if k in Category.__members__}
    ids = [int(k) for k in keys if k.isdigit()]
    if not ids:
        return {}
    model = Unit if group_by == "unit" else Zone
    rows = session.execute(select(model.id, model.name).where(model.id.in_(ids))).all()
    return {str(r.id): r.name for r in rows}


def trend_report(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    start: dt.date,
    end: dt.date,
    freq: str = "day",
    group_by: str = "category",
    categories: Sequence[Category] = (),
) -> dict[str, Any]:
    """Counts by period and group over [start, end), 环比/同比 with exact Poisson tests,
    CompStat 7/28-day windows ending at ``end`` and the hour-of-week profile."""
    if freq not in FREQUENCIES:
        raise ValidationFailed.field("freq", f"可选：{', '.join(FREQUENCIES)}")
    if group_by not in GROUPINGS:
        raise ValidationFailed.field("group_by", f"可选：{', '.join(GROUPINGS)}")
    if end <= start:
        raise ValidationFailed.field("end", "须晚于 start")
    tz = settings.timezone
    days = (end - start).days
    prev_start = start - dt.timedelta(days=days)
    year_start, year_end = _year_before(start), _year_before(end)
    earliest = min(prev_start, year_start, end - dt.timedelta(days=28 + 364))
    ev = load_events(
        session=session,
        actor=actor,
        settings=settings,
        start=_local_midnight(earliest, tz),
        end=_local_midnight(end, tz),
        categories=categories,
    )

    def within(a: dt.date, b: dt.date) -> IncidentEvents:
        lo, hi = np.datetime64(a, "s"), np.datetime64(b, "s")
        return ev.select((ev.t >= lo) & (ev.t < hi))

    cur = within(start, end)
    prev = within(prev_start, start)
    year = within(year_start, year_end)
    year_days = (year_end - year_start).days
    table = trends.count_table(cur.t, FREQUENCIES[freq], getattr(cur, group_by))
    by_cur, by_prev, by_year = (_counts_by(e, group_by) for e in (cur, prev, year))
    groups = sorted(set(by_cur) | set(by_prev) | set(by_year))
    comparisons = [
        {
            "group": g,
            "period_over_period": _change(by_cur.get(g, 0), by_prev.get(g, 0), days, days),
            "year_on_year": _change(by_cur.get(g, 0), by_year.get(g, 0), days, year_days),
        }
        for g in groups
    ]
    end_s = np.datetime64(end, "s")
    compstat = [
        {
            "days": row.days,
            "current": row.current,
            "period_over_period": _change(
                row.current, row.period_over_period.previous, row.days, row.days
            ),
            "year_on_year": _change(row.current, row.year_on_year.previous, row.days, row.days),
        }
        for row in trends.compstat(ev.t, end_s)
    ]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "freq": freq,
        "group_by": group_by,
        "total": len(cur),
        "labels": _labels(session, group_by, groups),
        "series": {
            "periods": [str(p) for p in table.periods],
            "groups": list(table.groups),
            "counts": table.counts.tolist(),
        },
        "totals": {
            "current": len(cur),
            "period_over_period": _change(len(cur), len(prev), days, days),
            "year_on_year": _change(len(cur), len(year), days, year_days),
        },
        "comparisons": comparisons,
        "compstat": compstat,
        "hour_of_week": trends.hour_of_week(cur.t).tolist(),
    }


# ---------------------------------------------------------------- maps


def _cell_feature(grid: Grid, index: int, crs: str, props: dict[str, Any]) -> dict[str, Any]:
    ring = np.asarray(grid.cell_polygon(index))
    lon, lat = to_lonlat(ring[:, 0], ring[:, 1], crs)
    coords = [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [coords]},
        "properties": props,
    }


def _empty(**properties: Any) -> dict[str, Any]:
    """A map layer with nothing on it (no located incidents in scope and range)."""
    return {"type": "FeatureCollection", "features": [], "properties": properties}


def study_area(session: Session, actor: Actor, grid: Grid, crs: str) -> NDArray[np.bool_]:
    """Cells of ``grid`` (flat) whose centre lies in a jurisdiction in the caller's scope.

    All cells when no unit in scope has a jurisdiction drawn. Hotspots and warnings compare a
    place with the area policed, not with the hills and the next county inside a bounding box.
    """
    stmt = select(Unit.jurisdiction).where(Unit.jurisdiction.is_not(None))
    if not actor.scope.whole_bureau:
        stmt = stmt.where(Unit.id.in_(actor.scope.unit_ids))
    shapes = [shapely.geometry.shape(json.loads(j)) for j in session.scalars(stmt) if j]
    if not shapes:
        return np.ones(grid.n_cells, dtype=bool)
    xc, yc = grid.centres()
    lon, lat = to_lonlat(xc, yc, crs)
    return np.asarray(shapely.contains_xy(shapely.union_all(shapes), lon, lat), dtype=bool)


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

    The study area is the cells of the grid over the located incidents' bounding box that lie in
    the jurisdictions in scope (``study_area``), and every cell with an incident.
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
        return _empty(cell_m=cell, radius_cells=radius_cells, fdr=fdr, n_events=0, n_hot=0)
    grid = grid_for(located.x, located.y, cell)
    features: list[dict[str, Any]] = []
    n_hot = n_cold = 0
    counts = np.bincount(grid.flat_index(located.x, located.y), minlength=grid.n_cells)
    area = study_area(session, actor, grid, settings.projected_crs) | (counts > 0)
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
        for i in np.flatnonzero(hot | cold):
            is_hot = bool(hot[i])
            props = {
                "cell": int(i),
                "kind": "hot" if is_hot else "cold",
                "count": int(counts[i]),
                "z": round(float(z[i]), 4),
                "p": float(p_hot[i] if is_hot else p_cold[i]),
                "q": float(q_hot[i] if is_hot else q_cold[i]),
            }
            features.append(_cell_feature(grid, int(i), settings.projected_crs, props))
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "cell_m": cell,
            "radius_cells": radius_cells,
            "fdr": fdr,
            "n_events": len(located),
            "n_cells": int(area.sum()),
            "n_hot": n_hot,
            "n_cold": n_cold,
        },
    }


def _series(ev: IncidentEvents, context: IncidentEvents | None, cell: float) -> SeriesData:
    table = ev.table()
    ctx = None if context is None else context.table()
    pts = ctx if ctx is not None else table
    return series_on_grid(table, grid_for(pts.x, pts.y, cell), ctx)


_FITTED: OrderedDict[tuple[Any, ...], Forecaster] = OrderedDict()
_FITTED_LOCK = threading.Lock()
FITTED_KEPT = 16


def _fitted(
    session: Session, actor: Actor, series: SeriesData, fit_end: int, fit: int
) -> Forecaster:
    """The recommended model fitted on the ``fit`` days before ``fit_end``: from the cache when
    the same store, scope and grid hold the same events before ``fit_end``, else fitted now."""
    before = series.before(fit_end)
    g = series.grid
    key: tuple[Any, ...] = (
        id(session.get_bind()),
        actor.scope.units,
        (g.x0, g.y0, g.cell, g.nx, g.ny),
        fit_end,
        fit,
        len(before),
        float(before.t.sum()),
        None if before.context is None else (len(before.context), float(before.context.t.sum())),
    )
    with _FITTED_LOCK:
        cached = _FITTED.get(key)
        if cached is not None:
            _FITTED.move_to_end(key)
            return cached
    forecaster = make_forecaster(RECOMMENDED, None)
    prepare(forecaster, series, fit_end, fit_days=fit)
    with _FITTED_LOCK:
        _FITTED[key] = forecaster
        while len(_FITTED) > FITTED_KEPT:
            _FITTED.popitem(last=False)
    return forecaster


def forecast_map(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    day: dt.date,
    cell: float = 150.0,
    top: int = 50,
    coverage: float | None = None,
    history_days: int = 730,
    fit_days: int = 90,
    categories: Sequence[Category] = (),
) -> dict[str, Any]:
    """The recommended method's forecast for ``day``: the top cells as WGS-84 GeoJSON.

    History is the ``history_days`` before ``day``; the model is fitted on its last ``fit_days``
    whole days before the eve of ``day`` (fewer when the history is short) and kept for the day.
    With ``categories`` all incidents in scope are the context series. The top cells are the
    ``top`` best, or ``coverage`` % of the active cells.
    """
    tz = settings.timezone
    begin = _local_midnight(day - dt.timedelta(days=history_days), tz)
    stop = _local_midnight(day, tz)
    context = None
    if categories:
        every = load_events(session=session, actor=actor, settings=settings, start=begin, end=stop)
        context = every.located()
    ev = load_events(
        session=session,
        actor=actor,
        settings=settings,
        start=begin,
        end=stop,
        categories=categories,
    ).located()
    if len(ev) == 0:
        return _empty(day=day.isoformat(), method=None, cell_m=cell, n_events=0)
    series = _series(ev, context, cell)
    target = int(np.datetime64(day, "D").astype(np.int64))
    # The model is fitted on whole days only (for tomorrow's forecast, today's calls are still
    # coming in), so one fit serves the whole day: it is kept while its data stay the same.
    fit_end = target - 1
    first_day = math.floor(float(series.t[0]))
    fit = min(fit_days, fit_end - first_day - 1)
    method = RECOMMENDED
    if fit >= 7:
        forecaster = _fitted(session, actor, series, fit_end, fit)
    else:  # too little history to fit: fall back to counts over all history
        method = "naive"
        forecaster = make_forecaster(method, None, {"window": 0.0})
    scores = forecaster.predict(series.before(target), target)
    active = np.flatnonzero(series.counts() > 0).astype(np.int64)
    n = n_selected(coverage, len(active)) if coverage is not None else min(top, len(active))
    chosen = rank_cells(scores, active)[:n]
    counts = series.counts()
    features = [
        _cell_feature(
            series.grid,
            int(i),
            settings.projected_crs,
            {
                "cell": int(i),
                "rank": rank + 1,
                "score": round(float(scores[i]), 6),
                "history_count": int(counts[i]),
            },
        )
        for rank, i in enumerate(chosen)
    ]
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "day": day.isoformat(),
            "method": method,
            "params": forecaster.params(),
            "cell_m": cell,
            "n_events": len(series),
            "n_active_cells": len(active),
            "fit_days": fit if method == RECOMMENDED else 0,
        },
    }


# ---------------------------------------------------------------- near repeat


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
    """The Knox table with Monte Carlo p-values for one category (optionally subtypes)."""
    if end <= start:
        raise ValidationFailed.field("end", "须晚于 start")
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


def _day_index(t: NDArray[np.datetime64]) -> NDArray[np.int64]:
    return np.asarray(t.astype("datetime64[D]").astype(np.int64), dtype=np.int64)


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
        start=_local_midnight(min(hist_start, chart_start), tz),
        end=_local_midnight(end, tz),
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
    day = _day_index(located.t)
    h0 = int(np.datetime64(hist_start, "D").astype(np.int64))
    r0 = int(np.datetime64(recent_start, "D").astype(np.int64))
    r1 = int(np.datetime64(end, "D").astype(np.int64))
    keep = (day >= h0) & (day < r1)
    located, day = located.select(keep), day[keep]
    if len(located) == 0 or not ((day >= r0).any() and (day < r0).any()):
        return {"alarm": False, "reason": "基线期或监测期内没有带坐标的警情", "feature": None}
    grid = grid_for(located.x, located.y, cell)
    # The study area as for the hotspot map: the baseline spreads calls in new places over its
    # cells without history.
    area = study_area(session, actor, grid, settings.projected_crs)
    area[grid.flat_index(located.x, located.y)] = True
    n_cells = int(area.sum())
    if n_cells * (r1 - r0) > MAX_SCAN_CELL_DAYS:
        raise ValidationFailed.field(
            "cell",
            f"监测区域 {n_cells} 格 × {r1 - r0} 天，超过上限 {MAX_SCAN_CELL_DAYS}；"
            "请增大 cell 或缩短 days",
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
    features = [
        _cell_feature(grid, c, settings.projected_crs, {"cell": c, "centre": c == cells[0]})
        for c in cells
    ]
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
    day = _day_index(ev.t)
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
