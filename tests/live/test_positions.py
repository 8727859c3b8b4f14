"""Positions from devices, officers' live state, and the events written with each change."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from qingzhi.auth.context import system_actor
from qingzhi.incidents import transitions as incidents
from qingzhi.incidents.schemas import Transition
from qingzhi.live import bus
from qingzhi.live.models import LiveEvent, OfficerLive
from qingzhi.store.db import Database
from tests.factories import Org, make_incident


def test_positions_are_stored_and_published(as_user, db: Database, org: Org) -> None:
    oid = org.on_duty("A")[0]
    r = as_user("commander").post(
        "/api/live/positions",
        json={"positions": [{"officer_id": oid, "lon": 107.05, "lat": 30.05, "speed_kmh": 20}]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    snap = as_user("commander").get("/api/live/officers").json()
    me = next(o for o in snap["items"] if o["id"] == oid)
    assert (me["lon"], me["lat"], me["status"]) == (107.05, 30.05, "available")
    assert snap["event_id"] >= r.json()["event_id"]
    with db.session() as session:
        ev = session.execute(select(LiveEvent).order_by(LiveEvent.id.desc())).scalars().first()
        assert ev is not None and ev.kind == "officer.positions"
        assert ev.unit_id == org.id("A")
        assert json.loads(ev.payload)["items"][0]["id"] == oid


def test_positions_by_police_number_in_gcj02_are_converted(as_user, org: Org) -> None:
    number = next(o.police_number for o in org.officers.values() if o.police_number.startswith("B"))
    r = as_user("admin").post(
        "/api/live/positions",
        json={
            "positions": [{"police_number": number, "lon": 107.15, "lat": 30.05, "datum": "gcj02"}]
        },
    )
    assert r.status_code == 200, r.text
    items = as_user("admin").get("/api/live/officers").json()["items"]
    me = next(o for o in items if o["no"] == number)
    # GCJ-02 is offset by a few hundred metres from WGS-84 in China.
    assert 0.001 < abs(me["lon"] - 107.15) < 0.01


def test_positions_outside_scope_or_without_permission_are_refused(as_user, org: Org) -> None:
    other = org.on_duty("B")[0]
    body = {"positions": [{"officer_id": other, "lon": 107.15, "lat": 30.05}]}
    r = as_user("chief_a").post("/api/live/positions", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "positions.0"
    r = as_user("officer_a").post("/api/live/positions", json=body)
    assert r.status_code == 403
    r = as_user("admin").post("/api/live/positions", json={"positions": [{"lon": 1, "lat": 2}]})
    assert r.status_code == 422


def test_chief_sees_only_own_officers(as_user, org: Org) -> None:
    items = as_user("chief_c").get("/api/live/officers").json()["items"]
    units = {o["unit_id"] for o in items}
    assert units <= {org.id("C"), org.id("R1"), org.id("R2")}
    assert org.id("R1") in units


def test_incident_lifecycle_moves_officer_status(db: Database, org: Org, settings) -> None:
    actor = system_actor()
    oid = org.on_duty("A")[0]
    with db.session(write=True) as session:
        head = bus.head(session)
        inc = make_incident(session, actor=actor, source_id="LIVE-1", category="public_order")
        events = bus.read_since(session, last=head)
        assert [e.kind for e in events] == ["incident"]
        assert '"new":true' in events[0].frame
        incidents.transition(
            session=session,
            actor=actor,
            incident_id=inc.id,
            data=Transition(to="dispatched", officer_ids=[oid]),
        )
        live = session.get(OfficerLive, oid)
        assert live is not None and (live.status, live.incident_id) == ("dispatched", inc.id)
        incidents.transition(
            session=session, actor=actor, incident_id=inc.id, data=Transition(to="arrived")
        )
        session.refresh(live)
        assert live.status == "on_scene"
        incidents.transition(
            session=session, actor=actor, incident_id=inc.id, data=Transition(to="resolved")
        )
        session.refresh(live)
        assert (live.status, live.incident_id) == ("available", None)
        kinds = [e.kind for e in bus.read_since(session, last=head)]
        assert kinds.count("officer.status") == 3
        assert kinds.count("incident") == 4


def test_read_since_filters_by_scope(db: Database, org: Org) -> None:
    from qingzhi.auth.scope import Scope

    with db.session(write=True) as session:
        head = bus.head(session)
        bus.publish(
            session,
            [
                bus.EventIn("incident", {"n": 1}, unit_id=org.id("A")),
                bus.EventIn("incident", {"n": 2}, unit_id=org.id("C"), station_id=org.id("R1")),
                bus.EventIn("incident", {"n": 3}, unit_id=None),
            ],
        )
        everything = bus.read_since(session, last=head)
        assert len(everything) == 3
        chief_c = Scope(frozenset({org.id("C"), org.id("R1"), org.id("R2")}))
        only = bus.read_since(session, last=head, scope=chief_c)
        assert [json.loads(e.frame.split("data: ")[1])["n"] for e in only] == [2]
        assert [e.visible_to(chief_c) for e in everything] == [False, True, False]
        assert bus.prune(session, older_than=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) == 0
        assert bus.prune(session, older_than=dt.datetime(2999, 1, 1, tzinfo=dt.UTC)) >= 3
        assert bus.read_since(session, last=head) == []
