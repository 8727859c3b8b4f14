"""The live simulator drives officers and incidents through the real services, in real time:
``--speed`` scales the arrival of calls, never the officers' travel or handling."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingzhi.auth.context import system_actor
from qingzhi.demo.live import DISPATCH_DELAY_S, Simulator
from qingzhi.demo.loader import generate_demo_incidents
from qingzhi.demo.reference import LOCAL_TZ
from qingzhi.dispatch import service as dispatch
from qingzhi.geo.distance import haversine_m
from qingzhi.incidents import reads
from qingzhi.incidents.models import Incident, IncidentAssignment
from qingzhi.live.models import LiveEvent, OfficerLive
from qingzhi.store.db import Database
from tests.factories import Org, make_incident

BASE = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai


def _incident(session: Session, iid: int) -> Incident:
    inc = session.get(Incident, iid)
    assert inc is not None
    return inc


def _status(session: Session, iid: int) -> str:
    return str(_incident(session, iid).status)


def _live(session: Session, oid: int) -> OfficerLive:
    row = session.get(OfficerLive, oid)
    assert row is not None
    return row


class FakeClock:
    """A virtual clock: monotonic seconds and the wall time that goes with them."""

    def __init__(self, base: dt.datetime = BASE) -> None:
        self.t = 1000.0
        self.base = base

    def __call__(self) -> float:
        return self.t

    def wall(self) -> dt.datetime:
        return self.base + dt.timedelta(seconds=self.t - 1000.0)


def _sim(db: Database, settings, clock: FakeClock, speed: float, **kw) -> Simulator:
    return Simulator(db=db, settings=settings, speed=speed, clock=clock, wall=clock.wall, **kw)


def test_patrol_fixes_dispatch_arrival_and_closing(db: Database, org: Org, settings) -> None:
    clock = FakeClock()
    sim = _sim(db, settings, clock, 1.0)
    sim.setup(catch_up=False)
    on_duty = {o.id for o in org.officers.values() if o.duty_status == "on_duty"}
    assert set(sim.officers) == on_duty  # no roster kept: every officer on duty patrols
    clock.t += 11
    sim.tick()
    with db.session() as session:
        fixes = session.execute(
            select(func.count()).select_from(OfficerLive).where(OfficerLive.lon.is_not(None))
        ).scalar_one()
        assert fixes == len(on_duty)
        events = select(func.count()).select_from(LiveEvent)
        assert session.execute(events.where(LiveEvent.kind == "officer.positions")).scalar_one()
    assert all(o.area.buffer(1e-6).contains(Point(o.lon, o.lat)) for o in sim.officers.values())

    with db.session(write=True) as session:
        inc = make_incident(session, source_id="SIM-TEST-1", at=clock.wall(), priority=3)
    clock.t += DISPATCH_DELAY_S - 10
    sim.tick()
    with db.session() as session:
        assert _status(session, inc.id) == "received"  # a dispatcher's real delay first
    clock.t += 11
    sim.tick()
    with db.session() as session:
        assert _status(session, inc.id) == "dispatched"
        sent = session.execute(
            select(OfficerLive).where(OfficerLive.incident_id == inc.id)
        ).scalar_one()
        assert sent.status == "dispatched"
        assert _incident(session, inc.id).dispatched_at == clock.wall()
    for _ in range(720):  # drive there, 5 s a tick, for up to an hour
        clock.t += 5
        sim.tick()
        with db.session() as session:
            if _incident(session, inc.id).arrived_at is not None:
                break
    for _ in range(100):  # handle it: up to ~8 hours
        clock.t += 300
        sim.tick()
    with db.session() as session:
        assert _status(session, inc.id) == "closed"
        assert _live(session, sent.officer_id).status == "available"
    assert sim.stats.fixes > len(on_duty)
    assert sim.stats.dispatched >= 1 and sim.stats.closed >= 1


def _drive_and_handle(db: Database, org: Org, settings, speed: float, n: int) -> tuple[float, ...]:
    """One officer sent to a call 3 km away at ``speed``: (travel s, expected travel s, handling
    s, call-clock seconds after 600 real seconds)."""
    clock = FakeClock(BASE + dt.timedelta(days=n))  # a day of its own for each run
    sim = _sim(db, settings, clock, speed, auto_dispatch=False)
    sim.setup(catch_up=False)
    o = next(iter(sim.officers.values()))
    lon, lat = o.lon + 3000 / (111_320 * math.cos(math.radians(o.lat))), o.lat
    with db.session(write=True) as session:
        inc = make_incident(
            session,
            source_id=f"SIM-SPEED-{n}",
            at=clock.wall(),
            location=(lon, lat),
            priority=3,
        )
        dispatch.dispatch(
            session=session,
            actor=system_actor(),
            incident_id=inc.id,
            officer_ids=[o.id],
            at=clock.wall(),
        )
    sim.tick()
    expected = haversine_m(o.lon, o.lat, lon, lat) / (o.speed_kmh / 3.6)
    while True:
        clock.t += 2
        sim.tick()
        with db.session() as session:
            row = _incident(session, inc.id)
            if row.arrived_at is not None:
                assert row.dispatched_at is not None
                travel = (row.arrived_at - row.dispatched_at).total_seconds()
                break
    handling = sim._scene_tasks[inc.id] - clock.t
    call_clock = (sim.sim_now() - clock.wall()).total_seconds()
    return travel, expected, handling, call_clock


@pytest.mark.parametrize("speed", [1.0, 5.0, 20.0])
def test_speed_scales_calls_not_travel_or_handling(
    db: Database, org: Org, settings, speed: float
) -> None:
    travel, expected, handling, _ = _drive_and_handle(db, org, settings, speed, 0)
    assert expected > 120  # 3 km at patrol speeds takes minutes, not seconds
    assert travel == pytest.approx(expected, abs=4)  # real seconds, at any speed
    assert handling > 5 * 60  # handling is minutes of real time (category medians 30–75)


def test_the_call_clock_runs_at_speed_and_releases_the_days_calls(
    db: Database, org: Org, settings
) -> None:
    clock = FakeClock()
    sim = _sim(db, settings, clock, 5.0, auto_dispatch=False)
    sim.setup(catch_up=False)
    day = clock.wall().astimezone(LOCAL_TZ).date()
    specs = generate_demo_incidents(seed=sim.seed, days=1, start=day)
    start = clock.wall()
    for _ in range(12):
        clock.t += 50
        sim.tick()
    # 600 real seconds at speed 5: the calls of 3,000 simulated seconds, stamped with real times.
    due = [s for s in specs if start < s.received_at <= start + dt.timedelta(seconds=3000)]
    assert len(due) > 3
    assert sim.stats.calls == len(due)
    with db.session() as session:
        times = session.execute(
            select(Incident.received_at).where(Incident.received_at > start)
        ).scalars()
        assert max(times) <= clock.wall()


def test_each_officer_arrives_on_their_own_assignment_named_on_the_timeline(
    db: Database, org: Org, settings
) -> None:
    """Two officers sent to one call, 1 km and 5 km away: the near one arrives first on their own
    assignment (named on the timeline, as a real arrival is), the incident arrives with them, and
    the far one is still on the way until they arrive themselves."""
    clock = FakeClock(BASE + dt.timedelta(days=9))
    sim = _sim(db, settings, clock, 1.0, auto_dispatch=False)
    sim.setup(catch_up=False)
    near, far = list(sim.officers.values())[:2]
    kx = 111_320 * math.cos(math.radians(near.lat))
    lon, lat = near.lon + 1000 / kx, near.lat
    far.lon, far.lat = lon + 5000 / kx, lat  # the simulator's own state: 5 km east of the call
    with db.session(write=True) as session:
        inc = make_incident(
            session, source_id="SIM-ARRIVE-1", at=clock.wall(), location=(lon, lat), priority=3
        )
        dispatch.dispatch(
            session=session,
            actor=system_actor(),
            incident_id=inc.id,
            officer_ids=[near.id, far.id],
            at=clock.wall(),
        )
    sent_at = clock.wall()
    sim.tick()

    def state() -> tuple[dict[int, IncidentAssignment], list[str], Incident]:
        with db.session() as session:
            rows = session.execute(
                select(IncidentAssignment).where(IncidentAssignment.incident_id == inc.id)
            ).scalars()
            by_officer = {a.officer_id: a for a in rows}
            titles = [
                e.title
                for e in reads.timeline(session=session, actor=system_actor(), incident_id=inc.id)
            ]
            return by_officer, titles, _incident(session, inc.id)

    while True:  # 1 km at 35-55 km/h: 65-103 s
        clock.t += 2
        sim.tick()
        rows, titles, row = state()
        if row.arrived_at is not None:
            break
    officer = {o.id: o for o in org.officers.values()}
    near_name = f"到场：{officer[near.id].name}（{officer[near.id].police_number}）"
    far_name = f"到场：{officer[far.id].name}（{officer[far.id].police_number}）"
    assert row.status == "arrived"
    assert rows[near.id].status == "arrived" and rows[near.id].arrived_at == row.arrived_at
    assert 60 <= (row.arrived_at - sent_at).total_seconds() <= 110
    assert rows[far.id].status == "dispatched" and rows[far.id].arrived_at is None
    assert near_name in titles and far_name not in titles
    assert sim.stats.arrived == 1

    while rows[far.id].arrived_at is None:  # 5 km at 35-55 km/h: 5.5-8.6 minutes
        clock.t += 2
        sim.tick()
        rows, titles, row = state()
    far_at = rows[far.id].arrived_at
    assert far_at is not None
    assert 320 <= (far_at - sent_at).total_seconds() <= 530
    assert far_name in titles
    assert row.arrived_at == rows[near.id].arrived_at  # the incident's time is its first unit's
    assert sim.stats.arrived == 1  # one incident arrived, twice an officer
