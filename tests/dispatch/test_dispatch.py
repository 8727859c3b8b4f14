"""Dispatch: candidates by tier and estimated arrival, the road graph, one-click dispatch."""

from __future__ import annotations

from pathlib import Path

import pytest

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.dispatch import service
from qingzhi.geo.roads import build_graph, parse_maxspeed
from qingzhi.incidents import intake as incidents
from qingzhi.incidents.schemas import IncidentCreate
from qingzhi.live import service as live
from qingzhi.live.schemas import PositionIn
from qingzhi.store.db import Database
from tests.conftest import SHARED_DATA
from tests.factories import Org

OAKLAND = SHARED_DATA / "osm" / "west_oakland.osm.bz2"
HELSINKI = SHARED_DATA / "osm" / "helsinki.osm.pbf"


def _incident(db: Database, settings: Settings, lon: float, lat: float, sid: str = "D-1") -> int:
    with db.session(write=True) as session:
        inc, _ = incidents.intake(
            session=session,
            actor=system_actor(),
            settings=settings,
            item=IncidentCreate(
                source_id=sid,
                received_at="2026-11-01T10:00:00+08:00",
                category="dispute",
                location={"lon": lon, "lat": lat},
            ),
        )
    return inc.id


def _place(db: Database, officer_id: int, lon: float, lat: float) -> None:
    with db.session(write=True) as session:
        live.record_positions(
            session=session,
            actor=system_actor(),
            positions=[PositionIn(officer_id=officer_id, lon=lon, lat=lat)],
        )


def _on_duty(org: Org, prefix: str) -> list[int]:
    return [
        o.id
        for o in org.officers.values()
        if o.police_number.startswith(prefix) and o.duty_status == "on_duty"
    ]


def test_handling_unit_first_then_neighbours_by_eta(db: Database, org: Org, settings) -> None:
    iid = _incident(db, settings, 107.09, 30.05)  # station A, near B's border
    a_far, a_near = _on_duty(org, "A")[:2]
    b_close = _on_duty(org, "B")[0]
    _place(db, a_far, 107.01, 30.01)
    _place(db, a_near, 107.05, 30.05)
    _place(db, b_close, 107.11, 30.05)  # closest of all, but a neighbour's
    with db.session() as session:
        rec = service.recommend(
            session=session, actor=system_actor(), settings=settings, incident_id=iid, limit=100
        )
    ids = [c.officer_id for c in rec.candidates]
    assert rec.method == "straight_line"
    assert ids.index(a_near) < ids.index(a_far) < ids.index(b_close)
    tiers = [c.tier for c in rec.candidates]
    assert tiers == sorted(tiers)
    units = {c.unit_id: c.tier for c in rec.candidates}
    assert units[org.id("A")] == 0
    assert units[org.id("B")] == 1  # B touches A
    assert units[org.id("S")] == 2  # S is far away
    near = next(c for c in rec.candidates if c.officer_id == a_near)
    # ETA = haversine × detour / speed.
    assert near.eta_seconds == pytest.approx(
        near.distance_m * settings.dispatch_detour_factor / (settings.dispatch_speed_kmh / 3.6),
        rel=1e-3,
    )
    assert not near.position_estimated
    # Officers with no fix are placed at their station, flagged.
    assert any(c.position_estimated for c in rec.candidates)


def test_central_station_bundle_is_one_tier(db: Database, org: Org, settings) -> None:
    iid = _incident(db, settings, 107.05, 30.15)  # R1, run by central station C
    with db.session() as session:
        rec = service.recommend(
            session=session, actor=system_actor(), settings=settings, incident_id=iid, limit=200
        )
    tier0 = {c.unit_id for c in rec.candidates if c.tier == 0}
    assert tier0 == {org.id("C"), org.id("R1"), org.id("R2")}


def test_chief_only_gets_officers_in_scope(as_user, db: Database, org: Org, settings) -> None:
    iid = _incident(db, settings, 107.05, 30.05)
    r = as_user("chief_a").get(f"/api/dispatch/incidents/{iid}/candidates?limit=100")
    assert r.status_code == 200, r.text
    assert {c["unit_id"] for c in r.json()["candidates"]} == {org.id("A")}
    other = _incident(db, settings, 107.15, 30.05, "D-B")
    assert as_user("chief_a").get(f"/api/dispatch/incidents/{other}/candidates").status_code == 404


def test_one_click_dispatch_changes_incident_and_officer(
    as_user, db: Database, org: Org, settings
) -> None:
    iid = _incident(db, settings, 107.05, 30.05)
    oid = _on_duty(org, "A")[0]
    r = as_user("dispatcher").post(f"/api/dispatch/incidents/{iid}", json={"officer_ids": [oid]})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dispatched"
    officers = as_user("dispatcher").get("/api/live/officers").json()["items"]
    me = next(o for o in officers if o["id"] == oid)
    assert (me["status"], me["incident_id"]) == ("dispatched", iid)
    # Busy officers are no longer candidates, and cannot be sent twice.
    cands = as_user("dispatcher").get(f"/api/dispatch/incidents/{iid}/candidates?limit=100").json()
    assert oid not in [c["officer_id"] for c in cands["candidates"]]
    second = _incident(db, settings, 107.05, 30.06, "D-2")
    r = as_user("dispatcher").post(f"/api/dispatch/incidents/{second}", json={"officer_ids": [oid]})
    assert r.status_code == 409
    assert "出警中" in r.json()["error"]["message"]
    # The incident cannot be dispatched again; a viewer cannot dispatch at all.
    again = as_user("dispatcher").post(
        f"/api/dispatch/incidents/{iid}", json={"officer_ids": [oid]}
    )
    assert again.status_code == 409
    assert (
        as_user("viewer")
        .post(f"/api/dispatch/incidents/{second}", json={"officer_ids": [oid]})
        .status_code
        == 403
    )
    timeline = as_user("dispatcher").get(f"/api/incidents/{iid}/timeline").json()
    assert any(e["kind"] == "assignment" for e in timeline)


def test_every_way_to_dispatch_checks_the_officers(
    as_user, db: Database, org: Org, settings
) -> None:
    """The lifecycle endpoint sends officers too: a busy officer is refused there as well, the
    incident stays as it was, and one officer named twice is a field error."""
    busy, free = _on_duty(org, "A")[:2]
    first = _incident(db, settings, 107.05, 30.05)
    c = as_user("dispatcher")
    assert c.post(f"/api/dispatch/incidents/{first}", json={"officer_ids": [busy]}).is_success
    second = _incident(db, settings, 107.05, 30.06, "D-2")
    r = c.post(
        f"/api/incidents/{second}/transitions",
        json={"to": "dispatched", "officer_ids": [free, busy]},
    )
    assert r.status_code == 409
    assert r.json()["error"]["details"] == {"officer_id": busy, "status": "dispatched"}
    assert c.get(f"/api/incidents/{second}").json()["status"] == "received"
    me = next(o for o in c.get("/api/live/officers").json()["items"] if o["id"] == free)
    assert (me["status"], me["incident_id"]) == ("available", None)
    r = c.post(f"/api/dispatch/incidents/{second}", json={"officer_ids": [free, free]})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "officer_ids"


def test_off_duty_officer_cannot_be_sent(as_user, db: Database, org: Org, settings) -> None:
    iid = _incident(db, settings, 107.05, 30.05)
    off = next(
        o.id
        for o in org.officers.values()
        if o.police_number.startswith("A") and o.duty_status != "on_duty"
    )
    r = as_user("dispatcher").post(f"/api/dispatch/incidents/{iid}", json={"officer_ids": [off]})
    assert r.status_code == 409
    assert "不在岗" in r.json()["error"]["message"]


def test_maxspeed_parsing() -> None:
    assert parse_maxspeed("50") == 50
    assert parse_maxspeed("30 mph") == pytest.approx(48.28, rel=1e-3)
    assert parse_maxspeed("signals") is None
    assert parse_maxspeed(None) is None


@pytest.mark.skipif(not OAKLAND.exists(), reason="shared OSM data is missing")
def test_road_graph_of_west_oakland() -> None:
    g = build_graph(OAKLAND)
    assert g.n_nodes > 100 and g.n_edges > 200
    assert 5_000 < g.length_m < 10_000
    # A node reaches itself in no time; travel time grows with distance and beats walking pace.
    i, j = 0, g.n_nodes // 2
    t = g.seconds_to(float(g.lon[j]), float(g.lat[j]), g.lon[[i, j]], g.lat[[i, j]])
    assert t[1] == pytest.approx(0.0, abs=1e-6)
    assert 0 < t[0] < 600


@pytest.mark.skipif(not HELSINKI.exists(), reason="shared OSM data is missing")
def test_road_graph_reads_pbf_and_respects_one_way_streets() -> None:
    g = build_graph(HELSINKI)
    assert 1_500 < g.n_nodes < 3_000
    assert 25_000 < g.length_m < 40_000
    # Some directed edges have no reverse edge: one-way streets.
    m = g.seconds
    assert (m != m.T).nnz > 0


@pytest.mark.skipif(not OAKLAND.exists(), reason="shared OSM data is missing")
def test_recommendations_use_the_road_graph_when_configured(
    db: Database, org: Org, tmp_path: Path
) -> None:
    settings = Settings(database_url="sqlite://", road_graph=OAKLAND)
    g = build_graph(OAKLAND)
    # Put the incident and two officers on Oakland's roads (the test org's units are elsewhere).
    iid = _incident(db, settings, float(g.lon[10]), float(g.lat[10]))
    a, b = _on_duty(org, "A")[:2]
    _place(db, a, float(g.lon[11]), float(g.lat[11]))
    _place(db, b, float(g.lon[100]), float(g.lat[100]))
    with db.session() as session:
        rec = service.recommend(
            session=session, actor=system_actor(), settings=settings, incident_id=iid, limit=100
        )
    assert rec.method == "road_graph"
    placed = [c for c in rec.candidates if c.officer_id in (a, b)]
    assert all(c.eta_seconds is not None for c in placed)
    road = g.seconds_to(float(g.lon[10]), float(g.lat[10]), g.lon[[11]], g.lat[[11]])
    first = next(c for c in placed if c.officer_id == a)
    assert first.eta_seconds == pytest.approx(float(road[0]), abs=0.2)
