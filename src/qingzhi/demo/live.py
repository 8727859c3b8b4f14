"""The live simulator (模拟实时数据): new 110 calls and officers' GPS, for the demo county.

``qingzhi demo live [--speed X]`` runs it beside the server. It works only through the services a
real deployment uses:

- **Incidents** come from the demo generator (``qingzhi.demo.incidents``: the demo's rates by
  category, hour and weekday, its places and descriptions) for the current local day. Calls
  before now are taken in at start with their lifecycle so far (as ``demo load`` does); later
  ones are released through ``intake_many`` when the simulated clock reaches them, stamped now.
- **Officers** on street duty (``duty.service.dispatchable``: patrol, community, traffic; not
  case teams, detectives or the command centre's desks) patrol their station's jurisdiction
  (straight legs between waypoints) and report a fix every 5–10 s through
  ``live.service.record_positions`` — the function behind ``POST /api/live/positions``. Each
  minute the duty roster is applied (``duty.service.apply``): officers come on and go off shift,
  join or leave the map. An officer sent to an incident (by the simulator's dispatcher or by a
  person in the browser) drives to it, reports arrival, handles it for a while drawn around the
  category's median, resolves and closes it, and returns to patrol.
- **Dispatch**: calls still waiting after about ``DISPATCH_DELAY_S`` get the top-ranked officer
  from ``dispatch.service.recommend`` (two for urgent ones), as a dispatcher would.

``--speed`` scales only the **arrival of calls**: the demo's calls of the simulated day are
released ``speed`` times as fast (a simulated day of calls in 24/speed real hours). Nothing that
takes real time is shortened: officers drive and patrol at their real speeds, handle incidents for
their real durations, dispatch waits its real delay, and every time stamped (reception, dispatch,
arrival, closure, fixes) is the wall clock's. So response times at any speed are real ones; only
the load per real hour grows with the speed. All data is synthetic and labelled so.

``clock`` (monotonic seconds) and ``wall`` (UTC now) are injectable: a test or a bench drives
the simulator on a virtual clock (``bench/demo_speed.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from sqlalchemy import select

from qingzhi.auth.context import Actor, system_actor
from qingzhi.config import Settings
from qingzhi.demo.incident_spec import LIFECYCLE_FIELDS, IncidentSpec
from qingzhi.demo.lifecycle import HANDLING_MEDIAN_MIN
from qingzhi.demo.loader import generate_demo_incidents, to_import
from qingzhi.demo.reference import LOCAL_TZ
from qingzhi.dispatch import service as dispatch
from qingzhi.duty import service as duty
from qingzhi.errors import QingzhiError
from qingzhi.geo.distance import METRES_PER_DEGREE, offset
from qingzhi.geo.geometry import load_geometry
from qingzhi.incidents import intake, transitions
from qingzhi.incidents.lifecycle import AssignmentStatus, Status
from qingzhi.incidents.models import Incident, IncidentAssignment
from qingzhi.incidents.schemas import AssignmentStep, IncidentCreate, IncidentImport, Transition
from qingzhi.live import bus
from qingzhi.live import service as live
from qingzhi.live.enums import LiveStatus
from qingzhi.live.models import OfficerLive
from qingzhi.live.schemas import PositionIn
from qingzhi.org.enums import DutyStatus
from qingzhi.org.models import Officer, Unit, Zone
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

PING_SECONDS = (5.0, 10.0)  # real seconds between two fixes of one officer
PATROL_KMH = (15.0, 35.0)
TRIP_KMH = (35.0, 55.0)
PATROL_LEG_M = 2_500.0
ARRIVE_M = 25.0
DISPATCH_DELAY_S = 60.0  # simulated seconds a call waits before the simulator dispatches it
DISPATCH_WINDOW = dt.timedelta(hours=2)  # older waiting calls are left to people
PRUNE_EVERY_S = 60.0
ROSTER_EVERY_S = 60.0  # real seconds between two applications of the duty roster


@dataclass
class SimOfficer:
    """One on-duty officer as the simulator moves them."""

    id: int
    unit_id: int
    area: BaseGeometry
    lon: float
    lat: float
    next_ping: float
    target: tuple[float, float] | None = None
    speed_kmh: float = 25.0
    incident_id: int | None = None
    mode: str = "patrol"  # patrol | trip | scene


@dataclass
class Stats:
    """What the simulator has done so far."""

    calls: int = 0
    fixes: int = 0
    dispatched: int = 0
    arrived: int = 0
    closed: int = 0
    errors: int = 0


@dataclass
class Simulator:
    """Drives incidents and officers for the demo county (call ``tick`` about once a second)."""

    db: Database
    settings: Settings
    speed: float = 1.0
    seed: int = 2026
    auto_dispatch: bool = True
    actor: Actor = field(default_factory=lambda: system_actor("demo-live"))
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], dt.datetime] = utcnow
    ping_seconds: tuple[float, float] = PING_SECONDS
    officers: dict[int, SimOfficer] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng([self.seed, 5])
        self._started_real = self.clock()
        self._started_sim = self.wall()
        self._pending: list[IncidentSpec] = []
        self._day: dt.date | None = None
        self._last_prune = -math.inf
        self._scene_tasks: dict[int, float] = {}  # incident id -> clock() when to close
        self._zones: dict[int, BaseGeometry] = {}
        self._areas: dict[int, BaseGeometry] = {}
        self._fallback: BaseGeometry | None = None
        self._last_roster = -math.inf

    # ------------------------------------------------------------ clock

    def sim_now(self) -> dt.datetime:
        """The call clock: the simulated time the demo's calls are released by (runs ``speed``
        times as fast as real time; nothing else follows it)."""
        return self._started_sim + dt.timedelta(
            seconds=(self.clock() - self._started_real) * self.speed
        )

    # ------------------------------------------------------------ setup

    def setup(self, *, catch_up: bool = True) -> None:
        """Load the units' areas and the officers on street duty; take in today's calls so far."""
        with self.db.session() as session:
            units = {u.id: u for u in session.execute(select(Unit)).scalars()}
            geoms: dict[int, BaseGeometry] = {}
            for u in units.values():
                g = load_geometry(u.jurisdiction)
                if g is not None and not g.is_empty:
                    geoms[u.id] = g
            members: dict[int, list[BaseGeometry]] = {}
            for u in units.values():
                if u.central_id is not None and u.id in geoms:
                    members.setdefault(u.central_id, []).append(geoms[u.id])
            for cid, parts in members.items():
                geoms.setdefault(cid, unary_union(parts))
            urban = [geoms[u.id] for u in units.values() if str(u.kind) == "urban_station"]
            fallback = unary_union(urban) if urban else unary_union(list(geoms.values()) or [])
            for z in session.execute(select(Zone)).scalars():
                g = load_geometry(z.geometry)
                if g is not None and not g.is_empty:
                    self._zones[z.id] = g
        self._areas, self._fallback = geoms, fallback
        self._apply_roster()
        self._load_day((self.sim_now().astimezone(LOCAL_TZ)).date(), catch_up=catch_up)
        log.info("simulator: %d officers on street duty", len(self.officers))

    def _apply_roster(self) -> None:
        """Bring duty in line with the roster now; follow who is on street duty."""
        self._last_roster = self.clock()
        with self.db.session(write=True) as session:
            duty.apply(session=session, actor=self.actor, at=self.wall(), tz=self.settings.timezone)
        with self.db.session() as session:
            rows = session.execute(
                select(Officer, OfficerLive)
                .outerjoin(OfficerLive, OfficerLive.officer_id == Officer.id)
                .where(
                    Officer.active.is_(True),
                    Officer.duty_status == DutyStatus.on_duty,
                    duty.dispatchable(),
                )
                .order_by(Officer.id)
            ).all()
        now = self.clock()
        on = {o.id for o, _ in rows}
        for oid in [i for i, o in self.officers.items() if i not in on and o.mode == "patrol"]:
            del self.officers[oid]  # off shift: leaves the map (an officer out on a call stays)
        for o, state in rows:
            if o.id in self.officers:
                continue
            area = self._zones.get(o.zone_id or -1) or self._areas.get(o.unit_id, self._fallback)
            if area is None or area.is_empty:
                continue
            if state is not None and state.lon is not None and state.lat is not None:
                lon, lat = state.lon, state.lat
            else:
                lon, lat = self._start_point(area)
            self.officers[o.id] = SimOfficer(
                id=o.id,
                unit_id=o.unit_id,
                area=area,
                lon=lon,
                lat=lat,
                next_ping=now + float(self.rng.uniform(0.0, self.ping_seconds[1])),
                speed_kmh=float(self.rng.uniform(*PATROL_KMH)),
            )

    def _start_point(self, area: BaseGeometry) -> tuple[float, float]:
        centre = area.representative_point()
        return self._point_near(
            area, centre.x, centre.y, 50, lambda: abs(float(self.rng.normal(0, 2_000.0)))
        )

    def _waypoint(self, o: SimOfficer) -> tuple[float, float]:
        return self._point_near(
            o.area, o.lon, o.lat, 30, lambda: float(self.rng.uniform(300.0, PATROL_LEG_M))
        )

    def _point_near(
        self, area: BaseGeometry, lon: float, lat: float, tries: int, radius: Callable[[], float]
    ) -> tuple[float, float]:
        """A point of ``area`` a drawn ``radius`` from (lon, lat); else a point inside."""
        for _ in range(tries):
            r = radius()
            a = float(self.rng.uniform(0, 2 * math.pi))
            x, y = offset(lon, lat, r * math.cos(a), r * math.sin(a))
            if area.contains(Point(x, y)):
                return x, y
        p = area.representative_point()
        return float(p.x), float(p.y)

    def _load_day(self, day: dt.date, *, catch_up: bool) -> None:
        specs = generate_demo_incidents(seed=self.seed, days=1, start=day)
        now = self.wall()
        past = [s for s in specs if s.received_at <= now]
        self._pending = sorted(
            (s for s in specs if s.received_at > now), key=lambda s: s.received_at
        )
        self._day = day
        if catch_up and past:
            items: list[IncidentCreate] = []
            for s in past:
                item, _ = to_import(s, now)
                items.append(item)
            with self.db.session(write=True) as session:
                results = intake.intake_many(
                    session=session,
                    actor=self.actor,
                    settings=self.settings,
                    items=items,
                    action="incident.import",
                )
            log.info(
                "simulator: today's %d calls so far taken in (%d new)",
                len(items),
                sum(r.created for r in results),
            )

    def stop_calls(self) -> None:
        """Release no more calls (officers still drive, handle and close what they have)."""
        self._pending = []
        self._day = dt.date.max

    # ------------------------------------------------------------ one step

    def tick(self) -> None:
        """Advance the simulation to now: calls, movement, arrivals, dispatch, fixes."""
        now_real = self.clock()
        sim = self.sim_now()
        dt_real = getattr(self, "_last_tick", now_real)
        elapsed = max(0.0, now_real - dt_real)  # real seconds: movement is never sped up
        self._last_tick = now_real
        try:
            self._release_calls(sim)
            self._sync_assignments()
            self._move(elapsed, now_real)
            if self.auto_dispatch:
                self._dispatch_waiting(sim)
            self._ping(now_real)
            if now_real - self._last_roster >= ROSTER_EVERY_S:
                self._apply_roster()
            if now_real - self._last_prune > PRUNE_EVERY_S:
                self._last_prune = now_real
                with self.db.session(write=True) as session:
                    bus.prune(
                        session,
                        older_than=self.wall()
                        - dt.timedelta(hours=self.settings.live_retention_hours),
                    )
        except QingzhiError as exc:
            self.stats.errors += 1
            log.warning("simulator step: %s", exc.message)

    def _release_calls(self, sim: dt.datetime) -> None:
        day = sim.astimezone(LOCAL_TZ).date()
        if self._day is not None and day > self._day and not self._pending:
            self._load_day(day, catch_up=False)
        due: list[IncidentSpec] = []
        while self._pending and self._pending[0].received_at <= sim:
            due.append(self._pending.pop(0))
        if not due:
            return
        now = self.wall()
        items: list[IncidentCreate] = []
        for s in due:
            body = s.to_intake()
            for key in LIFECYCLE_FIELDS:
                body[key] = None
            body["received_at"] = now.isoformat()
            items.append(IncidentImport.model_validate(body))
        with self.db.session(write=True) as session:
            results = intake.intake_many(
                session=session, actor=self.actor, settings=self.settings, items=items
            )
        self.stats.calls += sum(r.created for r in results)

    def _sync_assignments(self) -> None:
        """Follow dispatches made by anyone: officers sent to an incident drive to it."""
        if not self.officers:
            return
        with self.db.session() as session:
            rows = session.execute(
                select(OfficerLive.officer_id, OfficerLive.status, Incident)
                .join(Incident, Incident.id == OfficerLive.incident_id)
                .where(OfficerLive.status.in_([LiveStatus.dispatched, LiveStatus.on_scene]))
            )
            busy = {}
            for oid, status, inc in rows:
                busy[oid] = (status, inc.id, inc.lon, inc.lat, str(inc.category))
        for o in self.officers.values():
            state = busy.get(o.id)
            if state is None:
                if o.mode != "patrol":
                    o.mode, o.target, o.incident_id = "patrol", None, None
                    o.speed_kmh = float(self.rng.uniform(*PATROL_KMH))
                continue
            status, iid, lon, lat, _ = state
            if o.incident_id != iid and lon is not None and lat is not None:
                o.incident_id, o.mode, o.target = iid, "trip", (lon, lat)
                o.speed_kmh = float(self.rng.uniform(*TRIP_KMH))

    def _move(self, seconds: float, now_real: float) -> None:
        arrivals: list[SimOfficer] = []
        for o in self.officers.values():
            if o.mode == "scene":
                continue
            if o.target is None:
                o.target = self._waypoint(o)
            tx, ty = o.target
            kx = METRES_PER_DEGREE * math.cos(math.radians(o.lat))
            dx, dy = (tx - o.lon) * kx, (ty - o.lat) * METRES_PER_DEGREE
            dist = math.hypot(dx, dy)
            step = o.speed_kmh / 3.6 * seconds
            if dist <= max(step, ARRIVE_M):
                o.lon, o.lat = tx, ty
                if o.mode == "trip":
                    arrivals.append(o)
                else:
                    o.target = None
            elif dist > 0:
                o.lon += dx / dist * step / kx
                o.lat += dy / dist * step / METRES_PER_DEGREE
        for o in arrivals:
            self._arrive(o)
        self._finish_scenes()

    def _arrive(self, o: SimOfficer) -> None:
        """``o`` arrives on their own assignment, as a real arrival; the incident with its first."""
        assert o.incident_id is not None
        o.mode, o.target = "scene", None
        with self.db.session(write=True) as session:
            inc = session.get(Incident, o.incident_id)
            if inc is None:
                return
            first = inc.status == Status.dispatched
            assignment = session.scalar(
                select(IncidentAssignment.id).filter_by(
                    incident_id=inc.id, officer_id=o.id, status=AssignmentStatus.dispatched
                )
            )
            if assignment is not None:
                step = AssignmentStep(to=AssignmentStatus.arrived, reason="到达现场（模拟）")
                transitions.assignment_step(
                    session=session, actor=self.actor, incident_id=inc.id,
                    assignment_id=assignment, data=step, at=self.wall(),
                )  # fmt: skip
                self.stats.arrived += first
            median = HANDLING_MEDIAN_MIN.get(str(inc.category), 40.0) * 60.0
            handling = float(self.rng.lognormal(math.log(median), 0.4))
            self._scene_tasks.setdefault(inc.id, self.clock() + handling)  # real seconds

    def _finish_scenes(self) -> None:
        now_real = self.clock()
        done = [iid for iid, at in self._scene_tasks.items() if at <= now_real]
        for iid in done:
            del self._scene_tasks[iid]
            with self.db.session(write=True) as session:
                inc = session.get(Incident, iid)
                if inc is None or inc.status != Status.arrived:
                    continue
                for to, reason in ((Status.resolved, "处置完毕（模拟）"), (Status.closed, "结警")):
                    transitions.transition(
                        session=session,
                        actor=self.actor,
                        incident_id=iid,
                        data=Transition(to=to, reason=reason, result="处置完毕（模拟）"),
                        at=self.wall(),
                    )
                self.stats.closed += 1

    def _dispatch_waiting(self, sim: dt.datetime) -> None:
        now = self.wall()
        waited = dt.timedelta(seconds=DISPATCH_DELAY_S)  # real seconds, at any speed
        with self.db.session() as session:
            waiting = session.execute(
                select(Incident.id, Incident.priority)
                .where(
                    Incident.status == Status.received,
                    Incident.valid.is_(True),
                    Incident.lon.is_not(None),
                    Incident.received_at <= now - waited,
                    Incident.received_at >= now - DISPATCH_WINDOW,
                )
                .order_by(Incident.priority, Incident.received_at)
                .limit(20)
            ).all()
        for iid, priority in waiting:
            with self.db.session(write=True) as session:
                rec = dispatch.recommend(
                    session=session, actor=self.actor, settings=self.settings, incident_id=iid
                )
                n = 2 if priority <= 2 else 1
                chosen = [c.officer_id for c in rec.candidates if c.tier <= 1][:n]
                if not chosen:
                    continue
                dispatch.dispatch(
                    session=session,
                    actor=self.actor,
                    incident_id=iid,
                    officer_ids=chosen,
                    reason="调度派警（模拟）",
                    at=now,
                )
                self.stats.dispatched += 1

    def _ping(self, now_real: float) -> None:
        due = [o for o in self.officers.values() if o.next_ping <= now_real]
        if not due:
            return
        stamp = self.wall()
        positions = [
            PositionIn(
                officer_id=o.id,
                lon=round(o.lon, 7),
                lat=round(o.lat, 7),
                at=stamp,
                speed_kmh=0.0 if o.mode == "scene" else round(o.speed_kmh, 1),
            )
            for o in due
        ]
        with self.db.session(write=True) as session:
            live.record_positions(session=session, actor=self.actor, positions=positions)
        for o in due:
            o.next_ping = now_real + float(self.rng.uniform(*self.ping_seconds))
        self.stats.fixes += len(due)

    # ------------------------------------------------------------ running

    def run(self, *, duration: float | None = None, interval: float = 1.0) -> Stats:
        """Tick every ``interval`` seconds until ``duration`` (forever when None)."""
        end = None if duration is None else self.clock() + duration
        last_log = self.clock()
        while end is None or self.clock() < end:
            started = self.clock()
            self.tick()
            if self.clock() - last_log > 60:
                last_log = self.clock()
                s = self.stats
                log.info(
                    "simulator: %d calls, %d fixes, %d dispatched, %d arrived, %d closed",
                    s.calls,
                    s.fixes,
                    s.dispatched,
                    s.arrived,
                    s.closed,
                )
            time.sleep(max(0.0, interval - (self.clock() - started)))
        return self.stats
