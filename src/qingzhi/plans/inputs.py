"""The planner's inputs read from the store, in the caller's scope: stations, officers, calls.

* **Stations** — the territorial stations (urban and rural) with a jurisdiction. The unit table
  has no seat coordinates, so a station's seat is its jurisdiction's representative point (as
  dispatch places an officer without a position). Officers: the active sworn officers and
  auxiliaries of the station; a central station's own officers (its command room) are shared
  out evenly over its member stations (largest remainder), since planning counts stations.
  Minimum sworn staffing per station: ``min_sworn`` of the parameters, else the rural or urban
  default. The organisation's current bundles: each central station with its members, the
  member with the most calls as the bundle's seat (the planner's "centre").
* **Calls** — counted incidents (``incidents.scope.counted``: valid, not repeat calls) with a
  place and a territorial station, received in the window (``days`` before ``end``, by
  default before the day after the latest such call). Their minute is counted from the Monday
  00:00 local before the window. Busy time on scene: arrived → resolved, else dispatched →
  resolved, else the station's median (the lifecycle's service time less the modelled drive).
* **Travel** — on the road graph when ``QINGZHI_ROAD_GRAPH`` is set, else straight line × the
  dispatch detour factor at the dispatch speed (``planning.travel.StraightLine``; stated in
  every plan).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.errors import ValidationFailed
from qingzhi.geo.geometry import load_geometry
from qingzhi.geo.roads import load_graph
from qingzhi.incidents import scope as incident_scope
from qingzhi.incidents.models import Incident
from qingzhi.org import scope as org_scope
from qingzhi.org.enums import OfficerKind, UnitKind
from qingzhi.org.models import Officer, Unit
from qingzhi.planning.model import Call, Station
from qingzhi.planning.plans import Bundle
from qingzhi.planning.travel import RoadNetwork, StraightLine, TravelModel

log = logging.getLogger(__name__)

MAX_CALLS = 500_000  # a run reads at most this many calls (about 100 MB of values)
SEAT_NOTE = "驻地取辖区代表点（机构表无驻地坐标）"
CENTRAL_SHARE_NOTE = "中心派出所本级警力平均分摊到其成员所"


@dataclass(frozen=True)
class PlanningInputs:
    """Everything a run reads from the store, as the pure library's value types."""

    stations: tuple[Station, ...]
    unit_ids: Mapping[str, int]  # station code → unit id
    names: Mapping[str, str]  # station and central-station code → name
    bundles: tuple[Bundle, ...]  # the organisation's current bundles
    central_codes: Mapping[str, str]  # bundle centre (station code) → central unit code
    calls: tuple[Call, ...]
    start: dt.datetime
    end: dt.datetime
    weeks: float
    travel: TravelModel
    traffic_integrated: frozenset[str]
    notes: tuple[str, ...] = field(default=())

    @property
    def codes(self) -> tuple[str, ...]:
        """Station codes in order."""
        return tuple(s.code for s in self.stations)

    def summary(self) -> dict[str, object]:
        """What the plan stores as its inputs (stations, headcounts, window, travel, notes)."""
        per = Counter(c.station for c in self.calls)
        return {
            "window": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "weeks": round(self.weeks, 3),
            "calls": len(self.calls),
            "travel": self.travel.describe(),
            "notes": list(self.notes),
            "stations": [
                {
                    "code": s.code,
                    "name": s.name,
                    "seat": [round(s.seat[0], 6), round(s.seat[1], 6)],
                    "rural": s.rural,
                    "sworn": s.sworn,
                    "auxiliary": s.auxiliary,
                    "min_sworn": s.min_sworn,
                    "calls": per.get(s.code, 0),
                    "traffic_integrated": s.code in self.traffic_integrated,
                }
                for s in self.stations
            ],
            "bundles": [
                {"central": self.central_codes.get(b.centre), "centre": b.centre, "members": m}
                for b in self.bundles
                for m in [list(b.members)]
            ],
        }


def travel_model(settings: Settings) -> TravelModel:
    """The road graph when configured, else the stated straight line × detour factor."""
    graph = load_graph(settings.road_graph)
    if graph is not None and settings.road_graph is not None:
        return RoadNetwork(graph, name=f"OpenStreetMap 路网 {settings.road_graph.name}")
    return StraightLine(settings.dispatch_detour_factor, settings.dispatch_speed_kmh)


def _share(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass(frozen=True)
class StationSet:
    """The stations in scope with their headcounts, and the central stations' members."""

    stations: tuple[Station, ...]
    unit_ids: Mapping[str, int]
    names: Mapping[str, str]
    members: Mapping[str, tuple[str, ...]]  # central unit code → member station codes
    traffic_integrated: frozenset[str]


def load_stations(
    *,
    session: Session,
    actor: Actor,
    min_sworn: Mapping[str, int] | None = None,
    min_sworn_rural: int = 6,
    min_sworn_urban: int = 0,
    staffing: Mapping[str, Mapping[str, int]] | None = None,
) -> StationSet:
    """The territorial stations in scope, their seats, officers and minimums (cheap: no calls).

    ``staffing`` replaces a station's headcount ({code: {"sworn": n, "auxiliary": n}}): a
    station left below its minimum sworn staffing is refused naming the field."""
    units = list(session.scalars(org_scope.units(select(Unit), actor).order_by(Unit.code)))
    stations_u = [u for u in units if u.kind.is_station and u.jurisdiction]
    if not stations_u:
        raise ValidationFailed.field("stations", "范围内没有带辖区的派出所")
    by_id = {u.id: u for u in units}
    counts: dict[tuple[int, OfficerKind], int] = {}
    rows = session.execute(
        org_scope.officers(
            select(Officer.unit_id, Officer.kind, func.count())
            .where(Officer.active.is_(True))
            .group_by(Officer.unit_id, Officer.kind),
            actor,
        )
    )
    for unit_id, kind, n in rows:
        counts[(int(unit_id), OfficerKind(kind))] = int(n)
    extra: dict[tuple[int, OfficerKind], int] = defaultdict(int)
    members: dict[int, list[Unit]] = defaultdict(list)
    for u in stations_u:
        if u.central_id is not None and u.central_id in by_id:
            members[u.central_id].append(u)
    for cid, ms in members.items():
        for kind in OfficerKind:
            for m, n in zip(ms, _share(counts.get((cid, kind), 0), len(ms)), strict=True):
                extra[(m.id, kind)] += n
    known = {u.code for u in stations_u}
    for name, given in (("min_sworn", min_sworn or {}), ("staffing", staffing or {})):
        for code in given:
            if code not in known:
                raise ValidationFailed.field(f"{name}.{code}", f"未知的派出所 {code}")
    stations = []
    for u in stations_u:
        shape = load_geometry(u.jurisdiction)
        assert shape is not None
        p = shape.representative_point()
        rural = u.kind == UnitKind.rural_station
        floor = int((min_sworn or {}).get(u.code, min_sworn_rural if rural else min_sworn_urban))
        sworn = counts.get((u.id, OfficerKind.sworn), 0) + extra[(u.id, OfficerKind.sworn)]
        aux = counts.get((u.id, OfficerKind.auxiliary), 0) + extra[(u.id, OfficerKind.auxiliary)]
        given = (staffing or {}).get(u.code, {})
        sworn, aux = int(given.get("sworn", sworn)), int(given.get("auxiliary", aux))
        if given and sworn < floor:
            raise ValidationFailed.field(
                f"staffing.{u.code}.sworn", f"{u.name} 民警 {sworn} 人，低于最低配置 {floor} 人"
            )
        stations.append(
            Station(
                u.code,
                u.name,
                (float(p.x), float(p.y)),
                shape,
                rural=rural,
                sworn=sworn,
                auxiliary=aux,
                min_sworn=min(floor, sworn),
            )
        )
    return StationSet(
        stations=tuple(stations),
        unit_ids={u.code: u.id for u in stations_u},
        names={u.code: u.name for u in units},
        members={
            by_id[cid].code: tuple(sorted(m.code for m in ms))
            for cid, ms in members.items()
            if len(ms) >= 2
        },
        traffic_integrated=frozenset(u.code for u in stations_u if u.traffic_integrated),
    )


def load_inputs(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    stations: StationSet,
    days: int = 365,
    end: dt.date | None = None,
) -> PlanningInputs:
    """The calls of the stations in the window, and the current bundles (seat: busiest member)."""
    code_of = {uid: code for code, uid in stations.unit_ids.items()}
    calls, start, stop = _calls(session, actor, settings, code_of, days, end)
    per = Counter(c.station for c in calls)
    bundles, central_codes = [], {}
    for central, ms in sorted(stations.members.items()):
        lead = max(ms, key=lambda m: (per.get(m, 0), m))
        bundles.append(Bundle(lead, tuple(m for m in ms if m != lead)))
        central_codes[lead] = central
    return PlanningInputs(
        stations=stations.stations,
        unit_ids=stations.unit_ids,
        names=stations.names,
        bundles=tuple(bundles),
        central_codes=central_codes,
        calls=tuple(calls),
        start=start,
        end=stop,
        weeks=max((stop - start).total_seconds() / (7 * 86400), 1.0),
        travel=travel_model(settings),
        traffic_integrated=stations.traffic_integrated,
        notes=(SEAT_NOTE, CENTRAL_SHARE_NOTE),
    )


def _epoch(column: Any, dialect: str) -> Any:
    """A time column as UTC seconds since 1970, computed by the database (as intel's loader
    does: 60,000 rows of four datetimes each would spend seconds in Python conversions)."""
    if dialect == "postgresql":
        return func.extract("epoch", column)
    return cast(func.strftime("%s", column), BigInteger)  # naive UTC text


def _calls(
    session: Session,
    actor: Actor,
    settings: Settings,
    code_of: Mapping[int, str],
    days: int,
    end: dt.date | None,
) -> tuple[list[Call], dt.datetime, dt.datetime]:
    """The counted calls of the window, as ``Call`` values (minute from the Monday before)."""
    tz = ZoneInfo(settings.timezone)
    base = incident_scope.scope_filter(
        select(Incident).where(
            incident_scope.counted(),
            Incident.station_id.in_(list(code_of)),
            Incident.lon.is_not(None),
            Incident.lat.is_not(None),
        ),
        actor,
    )
    if end is None:
        latest = session.scalar(
            base.with_only_columns(func.max(Incident.received_at)).order_by(None)
        )
        if latest is None:
            raise ValidationFailed.field("calls", "范围内没有有效警情，无法建立工作量模型")
        end = latest.astimezone(tz).date() + dt.timedelta(days=1)
    stop = dt.datetime.combine(end, dt.time(), tz)
    start = stop - dt.timedelta(days=days)
    monday = dt.datetime.combine(start.date() - dt.timedelta(days=start.weekday()), dt.time(), tz)
    window = base.where(Incident.received_at >= start, Incident.received_at < stop)
    n = session.scalar(window.with_only_columns(func.count()).order_by(None)) or 0
    if n == 0:
        raise ValidationFailed.field("days", "所选时间段内没有有效警情")
    if n > MAX_CALLS:
        raise ValidationFailed.field("days", f"所选时间段有 {n} 起警情，超过上限 {MAX_CALLS}")
    dialect = session.get_bind().dialect.name
    cols = window.with_only_columns(
        _epoch(Incident.received_at, dialect),
        Incident.lon,
        Incident.lat,
        Incident.station_id,
        _epoch(Incident.dispatched_at, dialect),
        _epoch(Incident.arrived_at, dialect),
        _epoch(Incident.resolved_at, dialect),
        Incident.category,
        Incident.priority,
    ).order_by(Incident.received_at)
    rows = session.execute(cols).all()
    at, lon, lat, sid, disp, arr, res = (
        np.array([r[k] for r in rows], dtype=np.float64) for k in range(7)
    )  # None → nan
    stations = [code_of[int(x)] for x in sid]
    # Minutes since the local Monday 00:00 (the zone's offset at that Monday: exact without DST,
    # as in China; elsewhere an hour off for part of the year).
    minute = (at - monday.timestamp()) / 60.0
    scene = np.where(
        res >= arr, (res - arr) / 60.0, np.where(res >= disp, (res - disp) / 60.0, np.nan)
    )
    known = np.isfinite(scene)
    fallback = float(np.median(scene[known])) if known.any() else 30.0
    st_arr = np.array(stations)
    med = {
        code: float(np.median(scene[known & (st_arr == code)]))
        for code in set(stations)
        if (known & (st_arr == code)).any()
    }
    fill = np.array([med.get(c, fallback) for c in stations])
    scene = np.where(known, scene, fill)
    calls = [
        Call(float(m), float(x), float(y), st, float(sc), str(r[7]), int(r[8]))
        for m, x, y, st, sc, r in zip(minute, lon, lat, stations, scene, rows, strict=True)
    ]
    log.info("planning inputs: %d calls %s … %s", len(calls), start.date(), stop.date())
    return calls, start, stop
