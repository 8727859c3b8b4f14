"""The brief's "where": the API's Gi* hotspot cells merged into an actionable list of places.

The cells are ``intel.maps.hotspot_map``'s for the hotspot window (the last 28 days for a daily
or weekly brief, the month for a monthly one; 150 m cells, Gi* with FDR 0.05) — the same cells
the API answers. ``analysis.places.merge_places`` merges them into at most
``settings.briefs_hotspot_places`` compact places ranked by excess over each place's own history
(the 365 days before the window; with under 28 days of history, the local mean of the 7 × 7
cells around it). A place is named by the zone most of its calls lie in and the commonest address
of its densest cell, and marked new or persisting against the places of the
previous brief of the same kind and scope (persisting: a centre within ``PERSIST_M``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.analysis import places as place_lib
from qingzhi.analysis.grid import Grid
from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.geo.projection import to_lonlat, to_metres
from qingzhi.incidents.models import Incident
from qingzhi.incidents.scope import counted, scope_filter
from qingzhi.intel import maps, service
from qingzhi.intel.areas import study_grid
from qingzhi.org.models import Zone
from qingzhi.reports.enums import BriefKind
from qingzhi.reports.periods import Period

log = logging.getLogger(__name__)

CELL_M = 150.0
RADIUS_CELLS = 1.5
FDR = 0.05
WINDOW_DAYS = 28
HISTORY_DAYS = 365
PERSIST_M = 300.0
METHOD = (
    "热点格：Getis-Ord Gi*（150 米网格，Benjamini-Hochberg 错误发现率 0.05）；"
    "乱点：相邻显著格合并为不超过 450 米见方的地点，按“本期警情数超出该地点自身过去一年"
    "平均水平（折算到同样天数）的部分”排序，精确泊松检验 p < 0.05 者列入"
)
METHOD_LOCAL = (
    "热点格：Getis-Ord Gi*（150 米网格，Benjamini-Hochberg 错误发现率 0.05）；"
    "乱点：相邻显著格合并为不超过 450 米见方的地点；历史数据不足 28 天，按“超出周边"
    "7×7 格（约 1 公里见方）平均水平的部分”排序，精确泊松检验 p < 0.05 者列入"
)


def window_of(period: Period) -> tuple[dt.date, dt.date]:
    """The hotspot window: the month for a monthly brief, else the 28 days to the period's end."""
    if period.kind is BriefKind.monthly:
        return period.start, period.end
    return period.end - dt.timedelta(days=WINDOW_DAYS), period.end


def feature_centre(collection: dict[str, Any]) -> dict[str, float]:
    """The centroid (lon, lat) of a GeoJSON feature collection's polygons."""
    geoms = [shape(f["geometry"]) for f in collection["features"]]
    c = shapely.union_all(geoms).centroid
    return {"lon": round(float(c.x), 6), "lat": round(float(c.y), 6)}


def _distance_m(a: dict[str, float], b: dict[str, float]) -> float:
    mean_lat = math.radians((a["lat"] + b["lat"]) / 2)
    dx = (a["lon"] - b["lon"]) * 111_320.0 * math.cos(mean_lat)
    dy = (a["lat"] - b["lat"]) * 110_540.0
    return math.hypot(dx, dy)


def _cell_names(
    session: Session,
    actor: Actor,
    settings: Settings,
    grid: Grid,
    cells: Sequence[int],
    start: dt.datetime,
    end: dt.datetime,
) -> dict[int, tuple[str, int | None]]:
    """The commonest address and zone of the counted calls in each of ``cells`` (one query
    over the box around them; the calls assigned to cells in metres as the grid does)."""
    if not cells:
        return {}
    xc, yc = grid.centres()
    half = grid.cell / 2
    xs, ys = xc[list(cells)], yc[list(cells)]
    lon, lat = to_lonlat(
        np.array([xs.min() - half, xs.max() + half]),
        np.array([ys.min() - half, ys.max() + half]),
        settings.projected_crs,
    )
    pad = 0.001  # degrees: the projected box is not a lon/lat box
    stmt = select(Incident.lon, Incident.lat, Incident.address, Incident.zone_id).where(
        counted(),
        Incident.received_at >= service.utc(start, settings.timezone),
        Incident.received_at < service.utc(end, settings.timezone),
        Incident.lon.between(float(lon.min()) - pad, float(lon.max()) + pad),
        Incident.lat.between(float(lat.min()) - pad, float(lat.max()) + pad),
    )
    rows = session.execute(scope_filter(stmt, actor)).all()
    if not rows:
        return {}
    x, y = to_metres(
        np.array([r.lon for r in rows]), np.array([r.lat for r in rows]), settings.projected_crs
    )
    where = grid.flat_index(x, y)
    wanted = set(cells)
    addresses: dict[int, Counter[str]] = {c: Counter() for c in wanted}
    zones: dict[int, Counter[int]] = {c: Counter() for c in wanted}
    for row, cell in zip(rows, where.tolist(), strict=True):
        if cell in wanted:
            if row.address:
                addresses[cell][row.address] += 1
            if row.zone_id is not None:
                zones[cell][row.zone_id] += 1
    return {
        c: (
            addresses[c].most_common(1)[0][0] if addresses[c] else "",
            zones[c].most_common(1)[0][0] if zones[c] else None,
        )
        for c in wanted
    }


def hotspot_places(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    period: Period,
    previous_places: list[dict[str, Any]],
) -> dict[str, Any]:
    """The hotspot cells of the window (as the API) and the actionable places."""
    tz = settings.timezone
    w_start, w_end = window_of(period)
    start, end = service.local_midnight(w_start, tz), service.local_midnight(w_end, tz)
    layer = maps.hotspot_map(
        session=session,
        actor=actor,
        settings=settings,
        start=start,
        end=end,
        cell=CELL_M,
        radius_cells=RADIUS_CELLS,
        fdr=FDR,
    )
    hot_cells = [f for f in layer["features"] if f["properties"]["kind"] == "hot"]
    out: dict[str, Any] = {
        "window": {"start": w_start.isoformat(), "end": w_end.isoformat()},
        "cell_m": CELL_M,
        "fdr": FDR,
        "n_events": layer["properties"].get("n_events", 0),
        "n_hot": layer["properties"].get("n_hot", 0),
        "hot_cells": [
            {
                "cell": f["properties"]["cell"],
                "z": f["properties"]["z"],
                "count": f["properties"]["count"],
            }
            for f in hot_cells
        ],
        "cell_geometry": [f["geometry"] for f in hot_cells],
        "places": [],
        "method": METHOD,
        "baseline": "history",
    }
    if not hot_cells:
        return out
    h_start = w_start - dt.timedelta(days=HISTORY_DAYS)
    ev = service.load_events(
        session=session,
        actor=actor,
        settings=settings,
        start=service.local_midnight(h_start, tz),
        end=end,
    ).located()
    study = study_grid(session, actor, settings.projected_crs, CELL_M, ev.x, ev.y)
    grid = study.grid
    idx = grid.flat_index(ev.x, ev.y)
    keep = idx >= 0
    idx, t = idx[keep], ev.t[keep]
    in_window = t >= np.datetime64(w_start, "s")
    counts = np.bincount(idx[in_window], minlength=grid.n_cells).astype(np.float64)
    history = np.bincount(idx[~in_window], minlength=grid.n_cells).astype(np.float64)
    first = t[~in_window].min() if (~in_window).any() else None
    history_days = (
        (np.datetime64(w_start, "D") - first.astype("datetime64[D]")).astype(int)
        if first is not None
        else 0
    )
    window_days = (w_end - w_start).days
    hot = np.zeros(grid.n_cells, dtype=bool)
    hot[[int(c["cell"]) for c in out["hot_cells"]]] = True
    shape2 = grid.shape
    if history_days >= place_lib.MIN_HISTORY_DAYS:
        expected = place_lib.expected_from_history(history, float(history_days), window_days)
    else:
        area = (study.inside | (counts > 0)).reshape(shape2)
        expected = place_lib.expected_local(counts.reshape(shape2), area).ravel()
        out["method"], out["baseline"] = METHOD_LOCAL, "local"
    out["history_days"] = int(history_days)
    found = place_lib.merge_places(
        counts.reshape(shape2),
        expected.reshape(shape2),
        hot.reshape(shape2),
        max_places=settings.briefs_hotspot_places,
    )
    xc, yc = grid.centres()
    zone_names: dict[int, str] = {}
    densest = [max(p.cells, key=lambda c: (counts[c], -c)) for p in found]
    names = _cell_names(session, actor, settings, grid, densest, start, end)
    for rank, (place, dense) in enumerate(zip(found, densest, strict=True), start=1):
        cx, cy = float(xc[place.centre]), float(yc[place.centre])
        lon, lat = to_lonlat(np.array([cx]), np.array([cy]), settings.projected_crs)
        address, zone_id = names.get(dense, ("", None))
        if zone_id is not None and zone_id not in zone_names:
            zone_names[zone_id] = session.get(Zone, zone_id).name  # type: ignore[union-attr]
        centre = {"lon": round(float(lon[0]), 6), "lat": round(float(lat[0]), 6)}
        persisting = any(
            _distance_m(centre, p["centre"]) <= PERSIST_M for p in previous_places if "centre" in p
        )
        zone = zone_names.get(zone_id, "") if zone_id is not None else ""
        out["places"].append(
            {
                "rank": rank,
                "name": "，".join(x for x in (zone, address) if x)
                or f"东经 {centre['lon']:.4f}、北纬 {centre['lat']:.4f} 附近",
                "zone": zone,
                "address": address,
                "centre": centre,
                "cells": list(place.cells),
                "observed": place.observed,
                "expected": round(place.expected, 2),
                "excess": round(place.excess, 2),
                "ratio": None if math.isinf(place.ratio) else round(place.ratio, 2),
                "p_value": round(place.p_value, 6),
                "status": "持续" if persisting else "新增",
            }
        )
    return out
