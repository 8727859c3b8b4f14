"""The live simulator drives officers and incidents through the real services."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingzhi.auth.context import system_actor
from qingzhi.demo.live import Simulator
from qingzhi.incidents import intake as incidents
from qingzhi.incidents.models import Incident
from qingzhi.incidents.schemas import IncidentCreate
from qingzhi.live.models import LiveEvent, OfficerLive
from qingzhi.store.db import Database
from tests.factories import Org


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
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_patrol_fixes_dispatch_arrival_and_closing(db: Database, org: Org, settings) -> None:
    clock = FakeClock()
    sim = Simulator(db=db, settings=settings, speed=60.0, clock=clock)
    sim.setup(catch_up=False)
    on_duty = {o.id for o in org.officers.values() if o.duty_status == "on_duty"}
    assert set(sim.officers) == on_duty
    clock.t += 11
    sim.tick()
    with db.session() as session:
        fixes = session.execute(
            select(func.count()).select_from(OfficerLive).where(OfficerLive.lon.is_not(None))
        ).scalar_one()
        assert fixes == len(on_duty)
        assert (
            session.execute(
                select(func.count())
                .select_from(LiveEvent)
                .where(LiveEvent.kind == "officer.positions")
            ).scalar_one()
            >= 1
        )
    # Every officer stays inside the area the simulator gave them.
    from shapely.geometry import Point

    assert all(o.area.buffer(1e-6).contains(Point(o.lon, o.lat)) for o in sim.officers.values())

    with db.session(write=True) as session:
        inc, _ = incidents.intake(
            session=session,
            actor=system_actor(),
            settings=settings,
            item=IncidentCreate(
                source_id="SIM-TEST-1",
                received_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30),
                category="dispute",
                priority=3,
                location={"lon": 107.05, "lat": 30.05},
            ),
        )
    clock.t += 1
    sim.tick()
    with db.session() as session:
        assert _status(session, inc.id) == "dispatched"
        sent = session.execute(
            select(OfficerLive).where(OfficerLive.incident_id == inc.id)
        ).scalar_one()
        assert sent.status == "dispatched"
    for _ in range(10):  # drive there (simulated time runs 60x)
        clock.t += 2
        sim.tick()
    with db.session() as session:
        assert _incident(session, inc.id).arrived_at is not None
    for _ in range(40):  # handle it (simulated time runs 60x)
        clock.t += 10
        sim.tick()
    with db.session() as session:
        assert _status(session, inc.id) == "closed"
        assert _live(session, sent.officer_id).status == "available"
    assert sim.stats.fixes > len(on_duty)
    assert sim.stats.dispatched >= 1 and sim.stats.closed >= 1
