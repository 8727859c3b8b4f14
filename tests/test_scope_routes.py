"""A station user sees nothing outside their station, on every route the app has.

Differential, over every GET route found in the app's routers (``scope_walk.get_routes``): the
station chief of A (a station) and of C (a central station running R1 and R2) walk every route
— every path parameter filled with ids of their own rows and with ids of another station's
rows, every list with and without another station's unit as a filter — once, then another
station's data grows (new calls, dispatches, officers' positions and status, organisation
changes, jobs), and they walk again. Nothing they are answered may change; and no request that
names another station's row by id may succeed. A new route is walked as soon as it exists; one
with a path parameter the walk cannot fill fails the suite until it says how it is probed.

The other station's new calls are far from the chiefs' stations and from other callers' phones:
a call linked to one of theirs as a repeat raises their incident's bureau-wide repeat count by
design (``incidents.scope``; the link's own visibility is tested in ``tests/incidents``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.config import Settings
from qingzhi.incidents.models import Incident
from qingzhi.jobs.enums import JobStatus
from qingzhi.jobs.models import Job
from qingzhi.reports.enums import BriefKind
from qingzhi.reports.models import Brief
from qingzhi.store.db import Database
from tests.factories import Org
from tests.helpers import bearer
from tests.scope_walk import MissingValue, differences, get_routes, probes, walk

# Routes that are not walked, and why.
SKIP = {
    "/api/live/stream": "an endless event stream: its scope has its own tests (tests/live)",
    "/api/openapi.json": "the API's description, the same for everyone",
    "/api/docs": "the API's documentation page",
    "/healthz": "liveness probe",
    "/login": "the login form",
    "/api/kpi/scores": (
        "a station's score is relative to its group by design (normalised against the group and"
        " ranked), so other stations' data move it; what a chief is shown of the board — their"
        " own station's breakdown, no ranks without kpi.rank — is tested in tests/kpi"
    ),
}
# The path parameters that name one row (the others name a layer, a format or a kind).
ROW_IDS = (
    "incident_id",
    "feature_id",
    "unit_id",
    "zone_id",
    "officer_id",
    "job_id",
    "entity_id",
    "plan_id",  # planning
    "task_id",
    "case_id",
    "attachment_id",
    "dispute_id",
    "visit_id",
    "brief_id",  # briefs
)
_counter = itertools.count(1)


def _call(
    client: TestClient,
    admin: dict[str, str],
    unit: str,
    lon: float,
    lat: float,
    at: dt.datetime | None = None,
) -> int:
    n = next(_counter)
    body = {
        "source_id": f"SCOPE-{unit}-{n}",
        "received_at": (at or dt.datetime.now(dt.UTC) - dt.timedelta(hours=n)).isoformat(),
        "category": ("dispute", "criminal", "traffic", "public_order")[n % 4],
        "description": f"{unit} 站的警情 {n}",
        "address": f"{unit} 路 {n} 号",
        "caller_phone": f"139{n:08d}",
        "location": {"lon": lon + 0.002 * (n % 7), "lat": lat + 0.002 * (n % 5)},
    }
    r = client.post("/api/incidents", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return int(r.json()["incident"]["id"])


def _dispatch(client: TestClient, admin: dict[str, str], incident: int, officer: int) -> None:
    r = client.post(
        f"/api/dispatch/incidents/{incident}", json={"officer_ids": [officer]}, headers=admin
    )
    assert r.status_code == 200, r.text


def _position(client: TestClient, admin: dict[str, str], officer: int, lon: float) -> None:
    body = {"positions": [{"officer_id": officer, "lon": lon, "lat": 30.05}]}
    r = client.post("/api/live/positions", json=body, headers=admin)
    assert r.status_code == 200, r.text


def _job(db: Database, org: Org, unit: str) -> int:
    with db.session(write=True) as session:
        job = Job(
            kind="intel.forecast",
            params="{}",
            status=JobStatus.done,
            progress=1.0,
            result='{"cells": []}',
            unit_id=org.id(unit),
        )
        session.add(job)
        session.flush()
        return job.id


def _plan_row(db: Database, org: Org, unit: str) -> int:
    """A ready plan placed in ``unit`` (planning: a chief sees the plans of their scope)."""
    from qingzhi.plans.enums import PlanKind, PlanStatus
    from qingzhi.plans.models import Plan

    with db.session(write=True) as session:
        plan = Plan(
            kind=PlanKind.roads,
            title=f"{unit} 道路里程",
            status=PlanStatus.ready,
            params='{"kind": "roads"}',
            result='{"classes": ["national"], "stations": []}',
            unit_id=org.id(unit),
        )
        session.add(plan)
        session.flush()
        return plan.id


# --- tasks and cases (督办, 快侦快办): a task with an attachment and a case per station
_PDF = b"%PDF-1.4\n%%EOF\n"


def _task(client: TestClient, admin: dict[str, str], org: Org, unit: str) -> tuple[int, int]:
    """A task issued by the bureau to ``unit``, with an attachment: (task id, attachment id)."""
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    body = {"title": f"{unit} 督办", "owner_unit_id": org.id(unit), "deadline": deadline}
    r = client.post("/api/tasks", json=body, headers=admin)
    assert r.status_code == 201, r.text
    task = int(r.json()["id"])
    r = client.post(
        f"/api/tasks/{task}/attachments", params={"filename": "a.pdf"}, content=_PDF, headers=admin
    )
    assert r.status_code == 201, r.text
    return task, int(r.json()["id"])


def _case(client: TestClient, admin: dict[str, str], unit: str, lon: float, lat: float) -> int:
    n = next(_counter)
    body = {
        "source_id": f"CASE-{unit}-{n}",
        "received_at": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=n)).isoformat(),
        "category": "criminal",
        "subtype": "theft",
        "caller_phone": f"137{n:08d}",
        "location": {"lon": lon, "lat": lat},
    }
    r = client.post("/api/incidents", json=body, headers=admin)
    assert r.status_code == 201, r.text
    incident = r.json()["incident"]["id"]
    r = client.post(
        "/api/cases", json={"incident_ids": [incident], "loss_yuan": 500}, headers=admin
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _community(client: TestClient, admin: dict[str, str], org: Org, zone: str) -> dict[str, int]:
    """A zone's community records (community): a post, a partner, a visit, a dispute."""
    zone_id = org.zones[zone].id
    for path, body in (
        ("/api/community/posts", {"zone_id": zone_id, "name": f"{zone} 警务室"}),
        ("/api/community/partners", {"zone_id": zone_id, "kind": "secretary", "name": "书记"}),
    ):
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 201, r.text
    r = client.post("/api/community/visits", json={"zone_id": zone_id}, headers=admin)
    assert r.status_code == 201, r.text
    visit = int(r.json()["id"])
    r = client.post(
        "/api/community/disputes",
        json={"visit_id": visit, "parties": [{"name": "甲", "phone": "13700000000"}]},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    return {"visit": visit, "dispute": int(r.json()["id"])}


def _grow_community(client: TestClient, admin: dict[str, str], org: Org, world: Any) -> None:
    """The other station's community work goes on: a session, a settlement, more records."""
    did = world["community"]["B"]["dispute"]
    r = client.post(
        f"/api/community/disputes/{did}/sessions",
        json={
            "package": "police_grid",
            "started_at": dt.datetime.now(dt.UTC).isoformat(),
            "ended_at": dt.datetime.now(dt.UTC).isoformat(),
            "outcome": "agreed",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/api/community/disputes/{did}/transitions", json={"to": "settled"}, headers=admin
    )
    assert r.status_code == 200, r.text
    _community(client, admin, org, "B-Z1")


def _brief(db: Database, org: Org, unit: str) -> int:
    """An archived brief of a unit (briefs), without files: its downloads are 404 for everyone."""
    with db.session(write=True) as session:
        brief = Brief(
            kind=BriefKind.daily,
            scope_key=f"unit:{org.id(unit)}",
            unit_id=org.id(unit),
            period_start=dt.date(2026, 11, 1),
            period_end=dt.date(2026, 11, 2),
            version=1,
            title=f"{unit} 日研判",
            params="{}",
            as_of=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
            content="{}",
            files="{}",
            content_hash="0" * 64,
            trigger="manual",
        )
        session.add(brief)
        session.flush()
        return brief.id


@pytest.fixture
def world(client: TestClient, db: Database, org: Org) -> dict[str, Any]:
    """The chiefs' own rows, and a first row of each kind of the other stations' (B, S)."""
    admin = bearer(db, "admin")
    own = {
        "A": [_call(client, admin, "A", 107.02, 30.02) for _ in range(4)],
        "R1": [_call(client, admin, "R1", 107.02, 30.12) for _ in range(3)],
    }
    other = {
        "B": _call(client, admin, "B", 107.12, 30.02),
        "S": _call(client, admin, "S", 107.32, 30.32),
    }
    # kpi trend: calls of two past quarters, so each station's trend over them has scores.
    for day, (unit, lon, lat) in itertools.product(
        (dt.datetime(2025, 5, 6, 2, tzinfo=dt.UTC), dt.datetime(2025, 8, 6, 2, tzinfo=dt.UTC)),
        (("A", 107.02, 30.02), ("R1", 107.02, 30.12), ("B", 107.12, 30.02)),
    ):
        _call(client, admin, unit, lon, lat, at=day)
    a_officer, b_officer = org.officers["A001"].id, org.officers["B001"].id
    _dispatch(client, admin, own["A"][0], a_officer)
    _position(client, admin, org.officers["A002"].id, 107.05)
    _position(client, admin, org.officers["B002"].id, 107.15)
    reform = client.post(
        "/api/kpi/reforms",
        json={"name": "捆绑运行", "kind": "bundling", "effective": "2026-01-01", "units": ["R1"]},
        headers=admin,
    )
    assert reform.status_code == 201, reform.text
    return {
        "admin": admin,
        "reform": reform.json()["id"],
        "own": own,
        "other": other,
        "jobs": {"A": _job(db, org, "A"), "B": _job(db, org, "B")},
        "plans": {"A": _plan_row(db, org, "A"), "B": _plan_row(db, org, "B")},
        "briefs": {"A": _brief(db, org, "A"), "B": _brief(db, org, "B")},  # briefs
        "officers": {"A": a_officer, "B": b_officer},
        "tasks": {u: _task(client, admin, org, u) for u in ("A", "R1", "B")},
        "cases": {
            "A": _case(client, admin, "A", 107.03, 30.03),
            "R1": _case(client, admin, "R1", 107.03, 30.13),
            "B": _case(client, admin, "B", 107.13, 30.03),
        },
        "community": {z[0]: _community(client, admin, org, z) for z in ("A-Z1", "B-Z1")},
    }


def _values(org: Org, world: dict[str, Any], mine: str, side: str) -> dict[str, list[Any]]:
    """Path parameter values: the chief's own rows (``side="own"``) or another station's."""
    own, other, jobs, officers = world["own"], world["other"], world["jobs"], world["officers"]
    which = mine if side == "own" else "B"
    task, attachment = world["tasks"][which]
    work = {"task_id": [task], "attachment_id": [attachment], "case_id": [world["cases"][which]]}
    if side == "own":
        ids = {
            "incident": own[mine][0],
            "unit": org.id(mine),
            "zone": org.zones["A-Z1"].id,
            "officer": officers["A"],
            "job": jobs["A"],
            "plan": world["plans"]["A"],
            "dispute": world["community"]["A"]["dispute"],
            "visit": world["community"]["A"]["visit"],
            "brief": world["briefs"]["A"],
        }
    else:
        ids = {
            "incident": other["B"],
            "unit": org.id("B"),
            "zone": org.zones["B-Z1"].id,
            "officer": officers["B"],
            "job": jobs["B"],
            "plan": world["plans"]["B"],
            "dispute": world["community"]["B"]["dispute"],
            "visit": world["community"]["B"]["visit"],
            "brief": world["briefs"]["B"],
        }
    return {
        "incident_id": [ids["incident"]],
        "feature_id": [ids["incident"]],
        "unit_id": [ids["unit"]],
        "zone_id": [ids["zone"]],
        "officer_id": [ids["officer"]],
        "job_id": [ids["job"]],
        "plan_id": [ids["plan"]],
        "dispute_id": [ids["dispute"]],
        "visit_id": [ids["visit"]],
        "entity_kind": ["incident", "officer"],
        "entity_id": [ids["incident"], ids["officer"]],
        "reform_id": [world["reform"]],  # a bureau's record (which stations changed, when)
        "layer": ["county", "units", "zones"],
        "fmt": ["csv", "geojson", "xlsx"],
        **work,
        # basemap (issue 15): a tile of the base map file (none configured here: 404 for all)
        "z": [0],
        "x": [0],
        "y": [0],
        "ext": ["png"],
        "brief_id": [ids["brief"]],  # briefs
        "kind": ["daily", "weekly"],
    }


def _plan(
    app: FastAPI, org: Org, world: dict[str, Any], mine: str, side: str = "both"
) -> list[Any]:
    """The probes of every route; ``side`` "own" or "other" fills ids of one side only."""
    if side == "both":
        own, other = _values(org, world, mine, "own"), _values(org, world, mine, "other")
        values = {k: list(dict.fromkeys(own[k] + other[k])) for k in own}
    else:
        values = _values(org, world, mine, side)
    queries: dict[str, list[dict[str, Any]]] = {
        "*": [{"unit_id": org.id("B")}, {"zone_id": org.zones["B-Z1"].id}],
        "/api/intel/nearrepeat": [{"category": "dispute"}, {"category": "criminal"}],
        "/api/intel/trends": [{}, {"group_by": "unit"}, {"group_by": "zone"}],
        "/api/incidents": [{}, {"unit_id": org.id("B")}, {"q": "站的警情"}, {"facets": True}],
        "/api/tasks": [{}, {"owner_unit_id": org.id("B")}, {"q": "督办"}, {"escalated": True}],
        "/api/cases": [{}, {"unit_id": org.id("B")}, {"q": "TEST"}],
        "/api/cases/rates": [
            {"start": "2026-01-01", "end": "2026-12-31", "group_by": g}
            for g in ("unit", "category", "none")
        ],
        "/api/community/measures": [
            {"from": "2026-01-01", "to": "2027-12-31"},
            {"from": "2026-01-01", "to": "2027-12-31", "unit_id": org.id("B")},
        ],
        "/api/community/disputes": [{}, {"unit_id": org.id("B")}, {"open_only": True}],
        # A station's trend over past quarters: the others' new data (today's) cannot move it;
        # the default (the last quarter) is left out, as today's calls fall in it early in a
        # quarter and a score is relative to the others' by design (see /api/kpi/scores).
        "/api/kpi/stations/{unit_id}/trend": [{"period": "2025-Q3", "periods": 3, "draws": 50}],
    }
    return list(probes(get_routes(app), values, queries, SKIP))


def _grow_the_other_stations(
    client: TestClient, db: Database, org: Org, world: dict[str, Any]
) -> None:
    admin, other = world["admin"], world["other"]
    new_b = [_call(client, admin, "B", 107.12, 30.02) for _ in range(5)]
    new_s = [_call(client, admin, "S", 107.32, 30.32) for _ in range(3)]
    _dispatch(client, admin, other["B"], world["officers"]["B"])
    _dispatch(client, admin, new_s[0], org.officers["S001"].id)
    r = client.post(
        f"/api/incidents/{new_b[0]}/transitions",
        json={"to": "cancelled", "reason": "重复报警"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    for n, officer in enumerate(("B003", "B004", "S002")):
        _position(client, admin, org.officers[officer].id, 107.15 + 0.001 * n)
    r = client.patch(
        f"/api/officers/{org.officers['B005'].id}", json={"duty_status": "leave"}, headers=admin
    )
    assert r.status_code == 200, r.text
    r = client.patch(
        f"/api/zones/{org.zones['B-Z1'].id}", json={"population": 16_000}, headers=admin
    )
    assert r.status_code == 200, r.text
    _job(db, org, "B")
    _job(db, org, "S")
    _plan_row(db, org, "B")
    _plan_row(db, org, "S")
    # tasks and cases: new ones in B and S, and B's first task moved along
    for unit in ("B", "S"):
        _task(client, admin, org, unit)
    _case(client, admin, "B", 107.14, 30.04)
    _case(client, admin, "S", 107.33, 30.33)
    b_task = world["tasks"]["B"][0]
    r = client.post(f"/api/tasks/{b_task}/transitions", json={"to": "cancelled"}, headers=admin)
    assert r.status_code == 200, r.text
    b_case = world["cases"]["B"]
    r = client.post(f"/api/cases/{b_case}/notes", json={"text": "调取监控"}, headers=admin)
    assert r.status_code == 201, r.text
    _grow_community(client, admin, org, world)


@pytest.mark.parametrize("chief, mine", [("chief_a", "A"), ("chief_c", "R1")])
def test_another_stations_data_changes_nothing_a_station_chief_is_shown(
    app: FastAPI,
    client: TestClient,
    db: Database,
    org: Org,
    world: dict[str, Any],
    chief: str,
    mine: str,
) -> None:
    headers = bearer(db, chief)
    plan = _plan(app, org, world, mine)
    assert len(plan) > 35  # every GET route of the app but the few skipped above
    before = walk(client, headers, plan)
    _grow_the_other_stations(client, db, org, world)
    after = walk(client, headers, plan)
    assert differences(before, after) == []

    # Requests that name another station's row by id never succeed.
    named = {
        path
        for probe in _plan(app, org, world, mine, side="other")
        if any("{" + name in probe.template for name in ROW_IDS)
        for path in probe.paths
    }
    assert all(any(k.split("?")[0] == p for k in after) for p in named)  # all were walked
    succeeded = sorted(
        k for k, (status, _) in after.items() if k.split("?")[0] in named and status < 400
    )
    assert succeeded == [], succeeded
    # And the walk read real answers: most requests succeeded.
    ok = sum(1 for status, _ in after.values() if status < 400)
    assert ok > len(after) / 2


def test_the_walk_finds_a_route_that_ignores_scope(
    settings: Settings, db: Database, org: Org, world: dict[str, Any]
) -> None:
    """The test of the test: a route that lists every incident, scope or not, is caught."""
    from qingzhi.store.deps import transaction
    from qingzhi.web.app import create_app

    leaky = APIRouter()

    @leaky.get("/api/leak")
    def leak(request: Request) -> list[str]:  # deliberately unscoped
        with transaction(request, write=False) as session:
            return list(session.scalars(select(Incident.description).order_by(Incident.id)))

    app = create_app(settings, db)
    app.include_router(leaky)
    with TestClient(app, base_url="http://testserver") as client:
        headers = bearer(db, "chief_a")
        plan = _plan(app, org, world, "A")
        assert any(p.template == "/api/leak" for p in plan)
        before = walk(client, headers, plan)
        _grow_the_other_stations(client, db, org, world)
        after = walk(client, headers, plan)
    assert "/api/leak" in differences(before, after)


def test_a_route_with_a_parameter_nobody_fills_fails_the_walk(
    settings: Settings, db: Database, org: Org, world: dict[str, Any]
) -> None:
    """A new kind of route must say how it is probed."""
    from qingzhi.web.app import create_app

    extra = APIRouter()

    @extra.get("/api/widgets/{widget_id}")
    def widget(widget_id: int) -> dict[str, int]:
        return {"id": widget_id}

    app = create_app(settings, db)
    app.include_router(extra)
    with pytest.raises(MissingValue, match="widget_id"):
        _plan(app, org, world, "A")
