"""Intelligence analysis services (研判): incidents in the caller's scope turned into event arrays
for the pure analysis library, and its results turned into JSON-ready dicts and GeoJSON.

Every function reads incidents through ``incidents.scope.scope_filter``, so a station chief's
trends, hotspots, forecast and warnings count only the station's incidents. Times are the bureau's
local time (``settings.timezone``); coordinates are projected to ``settings.projected_crs``
(EPSG:32648 for Chongqing) for metric work and back to WGS-84 for maps. Only valid incidents
(有效警情) that are not repeat calls (重复报警, counted once through the first call) are analysed.
This module loads them and makes the trend report; ``intel.maps`` makes the hotspot map, the
near-repeat table and the warnings, ``intel.forecasting`` the forecast. Each request keeps
within the budget of ``intel.budget``: the incidents are counted before they are loaded.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import BigInteger, Select, String, cast, func, select, type_coerce
from sqlalchemy.orm import Session

from qingzhi.analysis import completeness, trends
from qingzhi.analysis.events import EventTable
from qingzhi.analysis.grid import Grid
from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.errors import ValidationFailed
from qingzhi.geo.projection import to_lonlat, to_metres
from qingzhi.incidents.enums import CATEGORY_LABELS, Category
from qingzhi.incidents.models import Incident
from qingzhi.incidents.scope import counted, scope_filter
from qingzhi.intel import budget
from qingzhi.org.models import Unit, Zone

log = logging.getLogger(__name__)

VERDICTS = {"up": "显著上升", "down": "显著下降", "flat": "无显著变化"}
GROUPINGS = ("category", "unit", "zone")
FREQUENCIES = {"day": "D", "week": "W", "month": "M"}
PERIOD_DAYS = {"day": 1, "week": 7, "month": 28}
LOAD_CHUNK = 100_000  # rows converted at a time
OFFSET_STEP = 900  # seconds: time-zone offsets change on quarter-hour UTC boundaries


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


def utc(moment: dt.datetime, tz: str) -> dt.datetime:
    """A moment as UTC (a naive one is local time in ``tz``)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz))
    return aware.astimezone(dt.UTC)


def local_midnight(day: dt.date, tz: str) -> dt.datetime:
    """The start of a local day, as an aware datetime."""
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz))


def _epoch_seconds(dialect: str) -> Any:
    """Received time as whole UTC seconds since 1970, computed by the database (exact)."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", Incident.received_at)), BigInteger)
    return cast(func.strftime("%s", Incident.received_at), BigInteger)  # naive UTC text


def _local_seconds(utc_seconds: NDArray[np.int64], tz: str) -> NDArray[np.int64]:
    """UTC seconds to local wall-clock seconds: one offset lookup per quarter hour present."""
    if len(utc_seconds) == 0:
        return utc_seconds
    steps, where = np.unique(utc_seconds // OFFSET_STEP, return_inverse=True)
    zone = ZoneInfo(tz)
    offsets = np.array(
        [
            int(dt.datetime.fromtimestamp(int(q) * OFFSET_STEP, zone).utcoffset().total_seconds())  # type: ignore[union-attr]
            for q in steps
        ],
        dtype=np.int64,
    )
    return np.asarray(utc_seconds + offsets[where.ravel()], dtype=np.int64)


def _incidents(
    actor: Actor,
    settings: Settings,
    start: dt.datetime,
    end: dt.datetime,
    categories: Sequence[Category],
    subtypes: Sequence[str],
    columns: Sequence[Any],
) -> Select[Any]:
    stmt = select(*columns).where(
        counted(),
        Incident.received_at >= utc(start, settings.timezone),
        Incident.received_at < utc(end, settings.timezone),
    )
    if categories:
        stmt = stmt.where(Incident.category.in_(list(categories)))
    if subtypes:
        stmt = stmt.where(Incident.subtype.in_(list(subtypes)))
    return scope_filter(stmt, actor)


def count_events(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    start: dt.datetime,
    end: dt.datetime,
    categories: Sequence[Category] = (),
    subtypes: Sequence[str] = (),
) -> int:
    """How many incidents ``load_events`` would load."""
    stmt = _incidents(actor, settings, start, end, categories, subtypes, [func.count()])
    return int(session.execute(stmt).scalar_one())


@dataclass(frozen=True)
class _SharedEvents:
    """Events of one scope loaded once for [start, end) (UTC), served in slices (briefs)."""

    scope: tuple[int, ...] | None
    start: dt.datetime
    end: dt.datetime
    events: IncidentEvents


_SHARED: ContextVar[_SharedEvents | None] = ContextVar("intel_shared_events", default=None)


@contextmanager
def shared_events(
    *, session: Session, actor: Actor, settings: Settings, start: dt.datetime, end: dt.datetime
) -> Iterator[None]:
    """Within this block, ``load_events`` of the same scope for a range inside [start, end)
    without category or subtype filters slices one load instead of reading the store again
    (a brief computes many figures over one period; briefs)."""
    ev = load_events(session=session, actor=actor, settings=settings, start=start, end=end)
    tz = settings.timezone
    token = _SHARED.set(_SharedEvents(actor.scope.key, utc(start, tz), utc(end, tz), ev))
    try:
        yield
    finally:
        _SHARED.reset(token)


def _from_shared(
    actor: Actor, settings: Settings, start: dt.datetime, end: dt.datetime
) -> IncidentEvents | None:
    shared = _SHARED.get()
    if shared is None or shared.scope != actor.scope.key:
        return None
    lo, hi = utc(start, settings.timezone), utc(end, settings.timezone)
    if lo < shared.start or hi > shared.end:
        return None
    bounds = np.array([int(lo.timestamp()), int(hi.timestamp())], dtype=np.int64)
    local = _local_seconds(bounds, settings.timezone).astype("datetime64[s]")
    t = shared.events.t
    return shared.events.select((t >= local[0]) & (t < local[1]))


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
    """Valid, non-repeat incidents received in [start, end) in scope (naive times are local),
    in time order; refused (422) when there are more than ``budget.MAX_EVENTS``.

    Rows are read through the connection (no ORM objects), the time as whole UTC seconds from
    the database, and converted to arrays a chunk at a time: about 100 bytes an incident.
    Inside ``shared_events`` a range it holds is sliced from it."""
    if not categories and not subtypes:
        shared = _from_shared(actor, settings, start, end)
        if shared is not None:
            return shared
    budget.check_events(
        count_events(
            session=session,
            actor=actor,
            settings=settings,
            start=start,
            end=end,
            categories=categories,
            subtypes=subtypes,
        )
    )
    conn = session.connection()
    columns = [
        _epoch_seconds(conn.dialect.name),
        Incident.lon,
        Incident.lat,
        type_coerce(Incident.category, String()),
        func.coalesce(Incident.station_id, Incident.unit_id),
        Incident.zone_id,
    ]
    stmt = _incidents(actor, settings, start, end, categories, subtypes, columns)
    result = conn.execute(stmt.order_by(Incident.received_at, Incident.id))
    parts: list[tuple[NDArray[Any], ...]] = []
    for rows in result.partitions(LOAD_CHUNK):
        c_secs, c_lon, c_lat, c_cat, c_unit, c_zone = zip(*rows, strict=True)
        parts.append(
            (
                np.array(c_secs, dtype=np.int64),
                np.array([np.nan if v is None else v for v in c_lon], dtype=np.float64),
                np.array([np.nan if v is None else v for v in c_lat], dtype=np.float64),
                np.array(c_cat, dtype=np.str_),
                np.array(["" if u is None else str(u) for u in c_unit], dtype=np.str_),
                np.array(["" if z is None else str(z) for z in c_zone], dtype=np.str_),
            )
        )
    if not parts:
        empty = np.array([], dtype=np.str_)
        nothing = np.array([], dtype=np.float64)
        return IncidentEvents(
            np.array([], dtype="datetime64[s]"), nothing, nothing, empty, empty, empty
        )
    secs, lon, lat, cat, unit, zone = (np.concatenate(col) for col in zip(*parts, strict=True))
    local = _local_seconds(secs, settings.timezone).astype("datetime64[s]")
    x = np.full(len(secs), np.nan)
    y = np.full(len(secs), np.nan)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if ok.any():
        x[ok], y[ok] = to_metres(lon[ok], lat[ok], settings.projected_crs)
    return IncidentEvents(local, x, y, cat, unit, zone)


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


def data_gaps(t: NDArray[np.datetime64], *windows: tuple[dt.date, dt.date]) -> list[dict[str, Any]]:
    """The days within the compared ``windows`` ([start, end) each) that look missing
    (``analysis.completeness``, judged on every day loaded), for a trend or brief to flag."""
    days, counts = np.unique(t.astype("datetime64[D]"), return_counts=True)
    daily = {d.item(): int(c) for d, c in zip(days, counts, strict=True)}
    return [
        {
            "day": g.day.isoformat(),
            "count": g.count,
            "usual": g.usual,
            "reason": g.reason,
            "label": g.label,
        }
        for g in completeness.gaps(daily)
        if any(a <= g.day < b for a, b in windows)
    ]


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
        start=local_midnight(earliest, tz),
        end=local_midnight(end, tz),
        categories=categories,
    )

    def within(a: dt.date, b: dt.date) -> IncidentEvents:
        lo, hi = np.datetime64(a, "s"), np.datetime64(b, "s")
        return ev.select((ev.t >= lo) & (ev.t < hi))

    cur = within(start, end)
    n_groups = len(np.unique(getattr(cur, group_by)))
    n_periods = -(-days // PERIOD_DAYS[freq]) + 1
    if n_groups * n_periods > budget.MAX_TREND_CELLS:
        raise budget.over(
            "freq",
            f"{n_periods} 个周期 × {n_groups} 组的表",
            n_groups * n_periods,
            budget.MAX_TREND_CELLS,
            "请按周或按月统计，或缩短时间范围",
        )
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
    gaps = data_gaps(ev.t, (prev_start, end), (year_start, year_end))
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "freq": freq,
        "group_by": group_by,
        "data_gaps": gaps,
        "data_gaps_warning": (
            f"所比较的时段中有 {len(gaps)} 天无警情或远低于通常（数据可能缺失）："
            "升降可能是缺数而非变化"
            if gaps
            else None
        ),
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


def cell_features(
    grid: Grid, indices: Sequence[int], crs: str, props: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Grid cells as WGS-84 GeoJSON polygon features, one ``props`` each (one projection call
    for all their corners)."""
    if len(indices) == 0:
        return []
    rings = np.asarray([grid.cell_polygon(int(i)) for i in indices], dtype=np.float64)
    lon, lat = to_lonlat(rings[:, :, 0].ravel(), rings[:, :, 1].ravel(), crs)
    lons = np.round(lon, 7).reshape(len(indices), -1).tolist()
    lats = np.round(lat, 7).reshape(len(indices), -1).tolist()
    return [
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[a, b] for a, b in zip(xs, ys, strict=True)]],
            },
            "properties": p,
        }
        for xs, ys, p in zip(lons, lats, props, strict=True)
    ]


def cell_feature(grid: Grid, index: int, crs: str, props: dict[str, Any]) -> dict[str, Any]:
    """A grid cell as a WGS-84 GeoJSON polygon feature with ``props``."""
    return cell_features(grid, [index], crs, [props])[0]


def empty_layer(**properties: Any) -> dict[str, Any]:
    """A map layer with nothing on it (no located incidents in scope and range)."""
    return {"type": "FeatureCollection", "features": [], "properties": properties}


def day_index(t: NDArray[np.datetime64]) -> NDArray[np.int64]:
    """Local day numbers (days since 1970-01-01) of local times."""
    return np.asarray(t.astype("datetime64[D]").astype(np.int64), dtype=np.int64)
