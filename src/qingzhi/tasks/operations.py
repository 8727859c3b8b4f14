"""Special operations (专项行动) against a hotspot: a task over an area and a period.

The area is a polygon drawn on the map (GeoJSON, or WKT text) or a hotspot's grid cells (joined
into one area); it is validated by shapely (``geo.geometry.parse_area``: a bad one is a 422
naming the field) and stored as GeoJSON. The period is local days ``starts_on`` … ``ends_on``
inclusive, ``n`` days long; *before* is the ``n`` days just before it, *after* the ``n`` days
just after. An operation's page counts the incidents in the caller's scope (valid, first calls:
``intel.service.load_events``) in the area and in the ring around it (the area buffered by
``ring_m`` metres, less the area) in each period, and compares the daily rates with the trends
module's exact Poisson test (``analysis.trends.change_test``; days observed so far are the
exposure, so a running operation is compared fairly): during against before and after against
before in the area, during against before in the ring. The displacement check reads the two
together: the area down and the ring up is displacement; the ring down too is a diffusion of
benefits (Clarke & Weisburd 1994). The before period is not a control: a hotspot picked for being
high tends to fall back anyway (regression to the mean), which the page says.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.errors import GEOSException
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.analysis import trends
from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.errors import NotFound, ValidationFailed
from qingzhi.geo.geometry import load_geometry, parse_area, to_geojson_text
from qingzhi.geo.projection import project_geometry, to_lonlat, unproject_geometry
from qingzhi.incidents.enums import Category
from qingzhi.intel.service import VERDICTS, load_events, local_midnight
from qingzhi.store.base import utcnow
from qingzhi.tasks import service
from qingzhi.tasks.models import Task, TaskOperation
from qingzhi.tasks.reading import visible
from qingzhi.tasks.schemas import Comparison, OperationCreate, OperationRead, PeriodCount

log = logging.getLogger(__name__)

MAX_DAYS = 366
MAX_POINTS = 3000
PERIODS = (("before", "行动前"), ("during", "行动期间"), ("after", "行动后"))


def parse_operation_area(area: Any, cells: list[Any] | None) -> BaseGeometry:
    """The operation's area from ``area`` (GeoJSON or WKT) or ``cells`` (GeoJSON polygons,
    joined), valid and in lon/lat; a 422 naming the field otherwise."""
    if (area is None) == (cells is None):
        raise ValidationFailed.field("area", "须给出 area（绘制的多边形）或 cells（乱点网格）之一")
    if cells is not None:
        if not cells:
            raise ValidationFailed.field("cells", "至少须有一个网格")
        parts = [parse_area(c, f"cells[{i}]") for i, c in enumerate(cells)]
        joined: BaseGeometry = shapely.union_all(parts)
        return joined
    if isinstance(area, str) and not area.lstrip().startswith("{"):
        try:
            area = mapping(shapely.from_wkt(area))
        except (GEOSException, ValueError) as exc:
            raise ValidationFailed.field("area", f"不是合法的 WKT：{exc}") from None
    return parse_area(area, "area")


def periods(starts_on: dt.date, ends_on: dt.date) -> list[tuple[str, str, dt.date, dt.date]]:
    """Before, during and after: (name, label, first day, day after the last), ``n`` days each."""
    n = dt.timedelta(days=(ends_on - starts_on).days + 1)
    during_end = ends_on + dt.timedelta(days=1)
    spans = ((starts_on - n, starts_on), (starts_on, during_end), (during_end, during_end + n))
    return [(name, label, a, b) for (name, label), (a, b) in zip(PERIODS, spans, strict=True)]


def create_operation(
    *,
    session: Session,
    actor: Actor,
    body: OperationCreate,
    now: dt.datetime | None = None,
) -> Task:
    """Issue a special operation: the task (``service.create``) and its area, period and ring
    (audited ``task.operation`` in the same transaction). Refused, naming the field: a bad area,
    a period ending before it starts or longer than ``MAX_DAYS``."""
    if body.ends_on < body.starts_on:
        raise ValidationFailed.field("ends_on", "行动结束日期不能早于开始日期")
    if (body.ends_on - body.starts_on).days + 1 > MAX_DAYS:
        raise ValidationFailed.field("ends_on", f"行动期不能超过 {MAX_DAYS} 天")
    geom = parse_operation_area(body.area, body.cells)
    task = service.create(session=session, actor=actor, body=body, now=now)
    op = TaskOperation(
        task_id=task.id,
        area=to_geojson_text(geom),
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        ring_m=body.ring_m,
        categories=",".join(dict.fromkeys(c.value for c in body.categories)),
    )
    session.add(op)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="task.operation",
        entity_kind="task",
        entity_id=task.id,
        unit_id=task.owner_unit_id,
        after={
            "starts_on": op.starts_on.isoformat(),
            "ends_on": op.ends_on.isoformat(),
            "ring_m": op.ring_m,
            "bounds": [round(v, 6) for v in geom.bounds],
            "categories": op.categories,
        },
    )
    return task


def operation_of(session: Session, actor: Actor, task_id: int) -> TaskOperation:
    """The operation of a task the caller can see (404 otherwise, or if it is no operation)."""
    visible(session, actor, task_id)
    op = session.scalars(select(TaskOperation).where(TaskOperation.task_id == task_id)).first()
    if op is None:
        raise NotFound("该督办任务不是专项行动")
    return op


def _compare(name: str, label: str, cur: int, prev: int, days: tuple[float, float]) -> Comparison:
    test = trends.change_test(cur, prev, current_exposure=days[0], previous_exposure=days[1])
    return Comparison(
        name=name,
        label=label,
        current=cur,
        previous=prev,
        change=None if math.isinf(test.change) else round(test.change, 4),
        p_value=round(test.p_value, 6),
        verdict=VERDICTS[test.direction],
    )


def displacement_text(area: Comparison | None, ring: Comparison | None) -> str:
    """What the area's and the ring's tests say together."""
    if area is None or ring is None:
        return "行动尚未开始或行动前无数据，暂不能检验"
    if area.verdict != VERDICTS["down"]:
        return "行动区域警情未显著下降，谈不上转移"
    if ring.verdict == VERDICTS["up"]:
        return "行动区域显著下降而周边环带显著上升：警情可能转移到周边"
    if ring.verdict == VERDICTS["down"]:
        return "周边环带同步显著下降：未见转移，治理效益向周边扩散"
    return "周边环带无显著变化：未见转移"


@dataclass(frozen=True)
class Tally:
    """An operation's counts as of a moment: the periods, the tests and the incidents behind
    them (projected x, y; the period each falls in; whether in the area or the ring)."""

    area: BaseGeometry  # lon/lat
    ring: BaseGeometry  # projected
    area_km2: float
    categories: list[Category]
    periods: list[PeriodCount]
    comparisons: list[Comparison]
    area_test: Comparison | None  # the area during against before
    ring_test: Comparison | None  # the ring during against before
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    which: NDArray[np.object_]
    in_area: NDArray[np.bool_]
    in_ring: NDArray[np.bool_]


def tally(
    *, session: Session, actor: Actor, settings: Settings, op: TaskOperation, now: dt.datetime
) -> Tally:
    """Count an operation's incidents in the caller's scope (days observed by ``now``) in the
    area and the ring before, during and after, and test during and after against before."""
    tz, crs = settings.timezone, settings.projected_crs
    area = load_geometry(op.area)
    assert area is not None
    area_m = project_geometry(area, crs)
    ring_m = area_m.buffer(op.ring_m).difference(area_m)
    shapely.prepare(area_m)
    shapely.prepare(ring_m)
    spans = periods(op.starts_on, op.ends_on)
    local_now = now.astimezone(ZoneInfo(tz))
    first, last = local_midnight(spans[0][2], tz), local_midnight(spans[-1][3], tz)
    cats = [Category(c) for c in op.categories.split(",") if c]
    if min(last, local_now) > first:
        ev = load_events(
            session=session,
            actor=actor,
            settings=settings,
            start=first,
            end=min(last, local_now),
            categories=cats,
        ).located()
        x, y, t = ev.x, ev.y, ev.t
    else:
        x = y = np.array([], dtype=np.float64)
        t = np.array([], dtype="datetime64[s]")
    in_area = shapely.contains_xy(area_m, x, y)
    in_ring = shapely.contains_xy(ring_m, x, y) & ~in_area
    rows: list[PeriodCount] = []
    which = np.full(len(t), "", dtype=object)
    for name, label, a, b in spans:
        sel = (t >= np.datetime64(a.isoformat())) & (t < np.datetime64(b.isoformat()))
        which[sel] = name
        lo, hi = local_midnight(a, tz), local_midnight(b, tz)
        days = max(0.0, (min(hi, local_now) - lo).total_seconds() / 86400.0)
        state = "future" if local_now <= lo else ("partial" if local_now < hi else "complete")
        rows.append(
            PeriodCount(
                name=name,
                label=label,
                start=a,
                end=b,
                days=round(days, 3),
                state=state,
                area=int((sel & in_area).sum()),
                ring=int((sel & in_ring).sum()),
            )
        )
    before, during, after = rows
    comparisons: list[Comparison] = []
    area_test = ring_test = None
    if before.days > 0 and during.days > 0:
        span = (during.days, before.days)
        area_test = _compare("area_during", "区域：期间比行动前", during.area, before.area, span)
        ring_test = _compare("ring_during", "环带：期间比行动前", during.ring, before.ring, span)
        comparisons += [area_test, ring_test]
    if before.days > 0 and after.days > 0:
        span = (after.days, before.days)
        comparisons.append(
            _compare("area_after", "区域：行动后比行动前", after.area, before.area, span)
        )
    return Tally(
        area,
        ring_m,
        round(float(area_m.area) / 1e6, 4),
        cats,
        rows,
        comparisons,
        area_test,
        ring_test,
        x,
        y,
        which,
        in_area,
        in_ring,
    )


def report(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    task_id: int,
    now: dt.datetime | None = None,
) -> OperationRead:
    """An operation's page: counts in the area and the ring before, during and after (days
    observed by ``now``), the tests and the displacement check, and the incidents' points."""
    op = operation_of(session, actor, task_id)
    crs = settings.projected_crs
    got = tally(session=session, actor=actor, settings=settings, op=op, now=now or utcnow())
    keep = np.flatnonzero(got.in_area | got.in_ring)
    lon, lat = to_lonlat(got.x[keep[:MAX_POINTS]], got.y[keep[:MAX_POINTS]], crs)
    points = [
        (
            round(float(a), 6),
            round(float(b), 6),
            str(got.which[i]),
            "area" if got.in_area[i] else "ring",
        )
        for a, b, i in zip(lon, lat, keep[:MAX_POINTS], strict=True)
    ]
    return OperationRead(
        task_id=task_id,
        area=mapping(got.area),
        ring=mapping(unproject_geometry(got.ring, crs)),
        ring_m=op.ring_m,
        area_km2=got.area_km2,
        starts_on=op.starts_on,
        ends_on=op.ends_on,
        categories=got.categories,
        periods=got.periods,
        comparisons=got.comparisons,
        displacement=displacement_text(got.area_test, got.ring_test),
        points=points,
        points_truncated=len(keep) > MAX_POINTS,
    )
