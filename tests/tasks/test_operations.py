"""Special operations (专项行动): the area's incidents before, during and after, the ring around
it (displacement check), counted by hand; a bad area is a 422 naming the field; scoped like
tasks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from qingzhi.config import Settings
from qingzhi.store.db import Database
from qingzhi.tasks import operations
from qingzhi.tasks.models import Task, TaskOperation
from qingzhi.tasks.schemas import OperationCreate, OperationRead
from tests.factories import Org, make_incident
from tests.helpers import audit_count, bearer, rows, user_actor

NOW = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)
# A square of 0.02° inside station A (about 1.9 km × 2.2 km).
AREA = {
    "type": "Polygon",
    "coordinates": [
        [[107.02, 30.02], [107.04, 30.02], [107.04, 30.04], [107.02, 30.04], [107.02, 30.02]]
    ],
}
IN_AREA = (107.03, 30.03)  # (107.025, 30.025) too: 700 m away, so not a repeat call of it
IN_RING = (107.03, 30.043)  # about 330 m north of the area: in a 500 m ring
FAR = (107.03, 30.07)  # about 3.3 km north: in neither


def _body(org: Org, **fields: Any) -> OperationCreate:
    return OperationCreate.model_validate(
        {
            "title": "人民路治安乱点查处专项行动",
            "owner_unit_id": org.id("A"),
            "deadline": (NOW + dt.timedelta(days=5)).isoformat(),
            "starts_on": "2026-10-11",
            "ends_on": "2026-10-20",
            "ring_m": 500,
            "area": AREA,
            **fields,
        }
    )


def _counts(got: OperationRead) -> dict[str, tuple[int, int, float, str]]:
    """Each period's (area, ring, days observed, state)."""
    return {p.name: (p.area, p.ring, p.days, p.state) for p in got.periods}


def _calls(session: Any, where: tuple[float, float], days: list[str], **fields: Any) -> None:
    for i, day in enumerate(days):
        at = f"{day}T{8 + 3 * (i % 5):02d}:00:00+08:00"  # 3 h apart: never repeats of each other
        make_incident(session, at=at, location=where, category="public_order", **fields)


def test_before_during_after_and_the_ring_counted_by_hand(
    db: Database, org: Org, settings: Settings
) -> None:
    """10-day operation 10-11…10-20: before is 10-01…10-10, after 10-21…10-30 (local days).
    Area: 6 before (one at 23:30 on 10-10), 3 during (one at 00:30 on 10-11), 1 after; ring: 1
    before, 4 during; far away and other categories are not counted."""
    with db.session(write=True) as session:
        _calls(
            session, IN_AREA, ["2026-10-01", "2026-10-03", "2026-10-05", "2026-10-07", "2026-10-09"]
        )
        make_incident(
            session, at="2026-10-10T23:30:00+08:00", location=IN_AREA, category="public_order"
        )
        make_incident(
            session,
            at="2026-10-11T00:30:00+08:00",
            location=(107.025, 30.025),
            category="public_order",
        )
        _calls(session, IN_AREA, ["2026-10-15"])
        _calls(session, IN_AREA, ["2026-10-25"])
        _calls(session, IN_RING, ["2026-10-02"])
        _calls(session, IN_RING, ["2026-10-12", "2026-10-14", "2026-10-16", "2026-10-18"])
        _calls(session, FAR, ["2026-10-02", "2026-10-13"])
        _calls(session, IN_AREA, ["2026-10-13"], subtype=None)  # public order too: counted below
        make_incident(
            session, at="2026-10-17T09:00:00+08:00", location=IN_AREA, category="criminal"
        )
        actor = user_actor(session, "commander")
        task = operations.create_operation(
            session=session, actor=actor, body=_body(org, categories=["public_order"]), now=NOW
        )
        got = operations.report(
            session=session, actor=actor, settings=settings, task_id=task.id, now=NOW
        )
    assert _counts(got) == {
        "before": (6, 1, 10.0, "complete"),
        "during": (3, 4, 10.0, "complete"),
        "after": (1, 0, 10.0, "complete"),
    }
    assert [(p.start.isoformat(), p.end.isoformat()) for p in got.periods] == [
        ("2026-10-01", "2026-10-11"),
        ("2026-10-11", "2026-10-21"),
        ("2026-10-21", "2026-10-31"),
    ]
    tests = {c.name: c for c in got.comparisons}
    # 3 vs 6 over equal days: under no change 3 ~ Binomial(9, 1/2), two-sided p = 0.5078.
    assert (tests["area_during"].current, tests["area_during"].previous) == (3, 6)
    assert tests["area_during"].change == -0.5
    assert abs(tests["area_during"].p_value - 0.507812) < 1e-6
    assert tests["area_during"].verdict == "无显著变化"
    assert (tests["ring_during"].current, tests["ring_during"].previous) == (4, 1)
    assert tests["ring_during"].change == 3.0
    assert (tests["area_after"].current, tests["area_after"].previous) == (1, 6)
    assert got.displacement == "行动区域警情未显著下降，谈不上转移"
    where = sorted((p[2], p[3]) for p in got.points)
    assert where.count(("during", "ring")) == 4 and where.count(("before", "area")) == 6
    assert 1.9 * 2.1 < got.area_km2 < 2.0 * 2.3


def test_a_running_operation_counts_the_days_observed_and_the_ring_shows_displacement(
    db: Database, org: Org, settings: Settings
) -> None:
    """Four days into a 10-day operation: during has 4 days observed; 12 in the area before, 0
    during (4 days: 12/10 a day expected, p tiny) and the ring 0 before, 9 during: displacement."""
    now = dt.datetime(2026, 10, 15, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with db.session(write=True) as session:
        days = [f"2026-10-{d:02d}" for d in range(1, 11)]
        _calls(session, IN_AREA, days)
        _calls(session, IN_AREA, ["2026-10-02", "2026-10-04"])
        _calls(session, IN_RING, ["2026-10-11"] * 3 + ["2026-10-12"] * 3 + ["2026-10-13"] * 3)
        actor = user_actor(session, "commander")
        body = _body(org, deadline=(now + dt.timedelta(days=7)).isoformat())
        task = operations.create_operation(session=session, actor=actor, body=body, now=now)
        got = operations.report(
            session=session, actor=actor, settings=settings, task_id=task.id, now=now
        )
    assert _counts(got) == {
        "before": (12, 0, 10.0, "complete"),
        "during": (0, 9, 4.0, "partial"),
        "after": (0, 0, 0.0, "future"),
    }
    tests = {c.name: c for c in got.comparisons}
    assert set(tests) == {"area_during", "ring_during"}  # nothing after yet
    # 0 of 12 with share 4/14: P(0) = (10/14)^12 = 0.01770, and the outcomes no likelier than
    # it (8…12 of 12) add 0.00681: two-sided p = 0.02451.
    assert tests["area_during"].verdict == "显著下降"
    assert abs(tests["area_during"].p_value - 0.024509) < 1e-6
    assert tests["ring_during"].verdict == "显著上升"
    assert got.displacement == "行动区域显著下降而周边环带显著上升：警情可能转移到周边"


def test_an_operation_from_a_hotspots_cells_or_wkt_and_bad_areas_named(
    client: TestClient, db: Database, org: Org
) -> None:
    commander = bearer(db, "commander")
    base = {
        "title": "治安乱点查处专项行动",
        "owner_unit_id": org.id("A"),
        "deadline": (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).isoformat(),
        "starts_on": dt.date.today().isoformat(),
        "ends_on": (dt.date.today() + dt.timedelta(days=6)).isoformat(),
    }

    def cell(x0: float) -> dict[str, Any]:
        ring = [[x0, 30.02], [x0 + 0.01, 30.02], [x0 + 0.01, 30.03], [x0, 30.03], [x0, 30.02]]
        return {"type": "Polygon", "coordinates": [ring]}

    r = client.post(
        "/api/tasks/operations",
        json={
            **base,
            "cells": [cell(107.02), cell(107.03)],
            "source_kind": "hotspot",
            "source_ref": "2026-11-01/300/1234",
        },
        headers=commander,
    )
    assert r.status_code == 201, r.text
    assert r.json()["operation"] is True and r.json()["source_kind"] == "hotspot"
    tid = r.json()["id"]
    op = client.get(f"/api/tasks/{tid}/operation", headers=commander).json()
    assert op["area"]["type"] == "Polygon"  # two neighbouring cells joined into one
    assert op["ring_m"] == 500 and op["periods"][1]["state"] in ("partial", "complete")
    wkt = "POLYGON ((107.02 30.02, 107.04 30.02, 107.04 30.04, 107.02 30.02))"
    assert (
        client.post(
            "/api/tasks/operations", json={**base, "area": wkt}, headers=commander
        ).status_code
        == 201
    )

    before = (rows(db, Task), rows(db, TaskOperation), audit_count(db))
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[107.02, 30.02], [107.04, 30.04], [107.04, 30.02], [107.02, 30.04], [107.02, 30.02]]
        ],
    }
    cases: list[tuple[dict[str, object], str]] = [
        ({"area": bowtie}, "area"),
        ({"area": "POLYGON ((107 30, 108"}, "area"),
        ({"area": {"type": "Point", "coordinates": [107.03, 30.03]}}, "area"),
        ({"cells": [cell(107.02), {"type": "Polygon", "coordinates": [[[1, 2]]]}]}, "cells[1]"),
        ({}, "area"),
        ({"area": AREA, "cells": [cell(107.02)]}, "area"),
        ({"area": AREA, "ends_on": "2020-01-01"}, "ends_on"),
        ({"area": AREA, "ring_m": 10}, "ring_m"),
    ]
    for fields, field in cases:
        r = client.post("/api/tasks/operations", json={**base, **fields}, headers=commander)
        assert r.status_code == 422, (fields, r.text)
        assert field in {d["field"] for d in r.json()["error"]["details"]}, (fields, r.text)
    assert (rows(db, Task), rows(db, TaskOperation), audit_count(db)) == before

    # Scoped like tasks: the central station C sees neither the task nor its operation.
    other = bearer(db, "chief_c")
    assert client.get(f"/api/tasks/{tid}/operation", headers=other).status_code == 404
    assert (
        client.get(f"/api/tasks/{tid}/operation", headers=bearer(db, "chief_a")).status_code == 200
    )
    plain = client.post(
        "/api/tasks",
        json={k: v for k, v in base.items() if k not in ("starts_on", "ends_on")},
        headers=commander,
    ).json()
    assert client.get(f"/api/tasks/{plain['id']}/operation", headers=commander).status_code == 404
