"""Several units per incident: reinforcement, each assignment's own times, the incident's times
derived from them, one officer on one active assignment, the dispatch policy, results at 结警."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from qingzhi.audit.models import AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.errors import InvalidTransition
from qingzhi.incidents import transitions
from qingzhi.incidents.lifecycle import ASSIGNMENT, AssignmentStatus, Status, next_steps
from qingzhi.incidents.models import IncidentAssignment
from qingzhi.incidents.schemas import AssignmentStep, Transition
from qingzhi.live.models import OfficerLive
from qingzhi.store.db import Database
from tests.factories import Org, add_incident, incident_body

T0 = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)


def _new(c: TestClient, **overrides: Any) -> int:
    r = c.post("/api/incidents", json=incident_body(**overrides))
    assert r.status_code == 201, r.text
    return int(r.json()["incident"]["id"])


def _send(c: TestClient, iid: int, *officers: int) -> Any:
    return c.post(f"/api/dispatch/incidents/{iid}", json={"officer_ids": list(officers)})


def _assignments(c: TestClient, iid: int) -> list[dict[str, Any]]:
    r = c.get(f"/api/incidents/{iid}/assignments")
    assert r.status_code == 200, r.text
    return list(r.json())


def test_two_officers_then_reinforcement_each_with_its_own_times(as_user, org: Org, db) -> None:
    c = as_user("dispatcher")
    iid = _new(c)
    a1, a2, a3 = org.on_duty("A")[:3]
    r = _send(c, iid, a1, a2)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dispatched"
    assert "reinforce" in r.json()["next_steps"]
    # A later dispatch adds a unit instead of "不能再次派警"; the incident does not move.
    r = _send(c, iid, a3)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dispatched"
    rows = _assignments(c, iid)
    assert [(a["officer_id"], a["status"]) for a in rows] == [
        (a1, "dispatched"),
        (a2, "dispatched"),
        (a3, "dispatched"),
    ]
    # The second officer arrives first: the incident arrives with them, at their time.
    by_officer = {a["officer_id"]: a["id"] for a in rows}
    r = c.post(f"/api/incidents/{iid}/assignments/{by_officer[a2]}", json={"to": "arrived"})
    assert r.status_code == 200, r.text
    inc = r.json()
    assert inc["status"] == "arrived"
    now = {a["officer_id"]: a for a in _assignments(c, iid)}
    assert now[a2]["arrived_at"] is not None and now[a1]["arrived_at"] is None
    assert inc["arrived_at"] == now[a2]["arrived_at"]
    # Arriving twice is the assignment lifecycle's 409, naming both states.
    r = c.post(f"/api/incidents/{iid}/assignments/{by_officer[a2]}", json={"to": "arrived"})
    assert r.status_code == 409 and r.json()["error"]["details"]["from"] == "arrived"
    # Then the first; the incident's arrival stays the first one's.
    r = c.post(f"/api/incidents/{iid}/assignments/{by_officer[a1]}", json={"to": "arrived"})
    assert r.status_code == 200 and r.json()["arrived_at"] == inc["arrived_at"]
    # The reinforcement is recalled on the way; two units remain, nothing resolves.
    r = c.post(
        f"/api/incidents/{iid}/assignments/{by_officer[a3]}",
        json={"to": "cleared", "reason": "改派"},
    )
    assert r.status_code == 200 and r.json()["status"] == "arrived"
    with db.session() as s:
        live = s.get(OfficerLive, a3)
        assert live is not None and (live.status, live.incident_id) == ("available", None)
        live = s.get(OfficerLive, a1)
        assert live is not None and (live.status, live.incident_id) == ("on_scene", iid)
    r = c.post(f"/api/incidents/{iid}/assignments/{by_officer[a1]}", json={"to": "cleared"})
    assert r.json()["status"] == "arrived"
    # The last unit clears: the incident is resolved, at its clearing time.
    r = c.post(f"/api/incidents/{iid}/assignments/{by_officer[a2]}", json={"to": "cleared"})
    assert r.status_code == 200, r.text
    inc = r.json()
    assert inc["status"] == "resolved"
    done = _assignments(c, iid)
    assert all(not a["active"] for a in done)
    assert inc["resolved_at"] == max(a["cleared_at"] for a in done)
    assert inc["dispatched_at"] == min(a["dispatched_at"] for a in done)
    # A finished incident proposes nobody, and takes nobody.
    cand = c.get(f"/api/dispatch/incidents/{iid}/candidates").json()
    assert cand["dispatchable"] is False and cand["candidates"] == []
    r = _send(c, iid, org.on_duty("A")[4])
    assert r.status_code == 409 and r.json()["error"]["details"]["from"] == "resolved"
    with db.session() as s:
        actions = [
            a
            for (a,) in s.execute(
                select(AuditRecord.action)
                .where(AuditRecord.entity_kind == "incident", AuditRecord.entity_id == str(iid))
                .order_by(AuditRecord.seq)
            )
        ]
        steps = s.execute(
            select(AuditRecord.action).where(AuditRecord.entity_kind == "incident_assignment")
        ).scalars()
        assert sorted(set(steps)) == ["incident_assignment.arrived", "incident_assignment.cleared"]
    assert actions == [
        "incident.create",
        "incident.dispatched",
        "incident.reinforced",
        "incident.arrived",
        "incident.resolved",
    ]


def test_times_derived_from_assignments_with_given_times(db: Database, org: Org) -> None:
    iid = add_incident(db, at=T0.isoformat(), category="dispute")
    a1, a2 = org.on_duty("A")[:2]
    actor = system_actor("test")
    with db.session(write=True) as s:
        go = Transition(to=Status.dispatched, officer_ids=[a1])
        transitions.transition(
            session=s, actor=actor, incident_id=iid, data=go, at=T0 + dt.timedelta(minutes=2)
        )
        more = Transition(to=Status.dispatched, officer_ids=[a2])
        transitions.transition(
            session=s, actor=actor, incident_id=iid, data=more, at=T0 + dt.timedelta(minutes=5)
        )
        rows = {
            a.officer_id: a.id
            for a in s.execute(
                select(IncidentAssignment).where(IncidentAssignment.incident_id == iid)
            ).scalars()
        }
        for oid, minutes in ((a2, 9), (a1, 12)):
            transitions.assignment_step(
                session=s,
                actor=actor,
                incident_id=iid,
                assignment_id=rows[oid],
                data=AssignmentStep(to="arrived"),
                at=T0 + dt.timedelta(minutes=minutes),
            )
        for oid, minutes in ((a2, 30), (a1, 41)):
            out = transitions.assignment_step(
                session=s,
                actor=actor,
                incident_id=iid,
                assignment_id=rows[oid],
                data=AssignmentStep(to="cleared"),
                at=T0 + dt.timedelta(minutes=minutes),
            )
    assert out.status == Status.resolved
    assert out.dispatched_at == T0 + dt.timedelta(minutes=2)
    assert out.arrived_at == T0 + dt.timedelta(minutes=9)  # the first to arrive: a2
    assert out.resolved_at == T0 + dt.timedelta(minutes=41)  # the last to clear: a1
    assert out.response_seconds == 9 * 60
    with db.session() as s:
        a = {r.officer_id: r for r in s.execute(select(IncidentAssignment)).scalars()}
        assert (a[a1].assigned_at, a[a1].arrived_at, a[a1].cleared_at) == (
            T0 + dt.timedelta(minutes=2),
            T0 + dt.timedelta(minutes=12),
            T0 + dt.timedelta(minutes=41),
        )


def test_arrived_without_names_brings_every_unit_and_resolve_clears_them(as_user, org) -> None:
    c = as_user("dispatcher")
    iid = _new(c)
    a1, a2 = org.on_duty("A")[:2]
    assert _send(c, iid, a1, a2).status_code == 200
    r = c.post(f"/api/incidents/{iid}/transitions", json={"to": "arrived"})
    assert r.status_code == 200
    assert {a["status"] for a in _assignments(c, iid)} == {"arrived"}
    r = c.post(f"/api/incidents/{iid}/transitions", json={"to": "arrived"})
    assert r.status_code == 409  # 已到场 → 已到场
    r = c.post(f"/api/incidents/{iid}/transitions", json={"to": "resolved"})
    assert r.status_code == 200
    assert {a["status"] for a in _assignments(c, iid)} == {"cleared"}
    # 结警 asks for the result, and the validity when it changed.
    r = c.post(f"/api/incidents/{iid}/transitions", json={"to": "closed"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "result"
    r = c.post(
        f"/api/incidents/{iid}/transitions", json={"to": "closed", "result": "x", "valid": False}
    )
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "invalid_reason"
    r = c.post(
        f"/api/incidents/{iid}/transitions",
        json={"to": "closed", "result": "经核实为误报", "valid": False, "invalid_reason": "prank"},
    )
    assert r.status_code == 200, r.text
    inc = r.json()
    assert (inc["status"], inc["result"], inc["valid"], inc["invalid_reason"]) == (
        "closed",
        "经核实为误报",
        False,
        "prank",
    )
    assert inc["next_steps"] == []


def test_the_last_unit_on_the_way_cannot_be_recalled(as_user, org) -> None:
    c = as_user("dispatcher")
    iid = _new(c)
    [only] = org.on_duty("A")[:1]
    assert _send(c, iid, only).status_code == 200
    [row] = _assignments(c, iid)
    r = c.post(f"/api/incidents/{iid}/assignments/{row['id']}", json={"to": "cleared"})
    assert r.status_code == 409
    assert "最后" in r.json()["error"]["message"]
    # An assignment of another incident is not found through this one.
    other = _new(c, source_id="110-OTHER")
    r = c.post(f"/api/incidents/{other}/assignments/{row['id']}", json={"to": "arrived"})
    assert r.status_code == 404
    r = c.post(f"/api/incidents/{iid}/assignments/{row['id']}", json={"to": "parked"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "to"


def test_transfer_and_cancel_clear_every_unit_and_free_the_officers(as_user, org, db) -> None:
    c = as_user("dispatcher")
    one, two = _new(c), _new(c, source_id="110-TWO", caller_phone="13900000001")
    a1, a2, a3 = org.on_duty("A")[:3]
    assert _send(c, one, a1, a2).status_code == 200
    assert _send(c, two, a3).status_code == 200
    r = c.post(
        f"/api/incidents/{one}/transitions",
        json={"to": "transferred", "unit": "B", "reason": "发生地在城二辖区"},
    )
    assert r.status_code == 200, r.text
    r = c.post(f"/api/incidents/{two}/transitions", json={"to": "cancelled"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "reason"
    r = c.post(f"/api/incidents/{two}/transitions", json={"to": "cancelled", "reason": "误报"})
    assert r.status_code == 200
    for iid in (one, two):
        assert all(a["status"] == "cleared" and a["cleared_at"] for a in _assignments(c, iid))
    with db.session() as s:
        for oid in (a1, a2, a3):
            live = s.get(OfficerLive, oid)
            assert live is not None and live.status == "available" and live.incident_id is None
    # Freed, they may be sent again.
    three = _new(c, source_id="110-THREE", caller_phone="13900000002")
    assert _send(c, three, a1, a3).status_code == 200


def test_an_officer_on_an_assignment_is_not_sent_elsewhere(as_user, org, db) -> None:
    c = as_user("dispatcher")
    one, two = _new(c), _new(c, source_id="110-TWO", caller_phone="13900000001")
    a1, a2 = org.on_duty("A")[:2]
    assert _send(c, one, a1).status_code == 200
    r = _send(c, two, a1)
    assert r.status_code == 409 and "出警中" in r.json()["error"]["message"]
    r = _send(c, one, a1)  # the same officer again on the same incident
    assert r.status_code == 409
    # Set free by hand while still on the assignment: the assignment still holds them.
    r = as_user("commander").patch(f"/api/live/officers/{a1}", json={"status": "available"})
    assert r.status_code == 200, r.text
    r = _send(c, two, a1)
    assert r.status_code == 409 and "已在" in r.json()["error"]["message"]
    rec = c.get(f"/api/dispatch/incidents/{two}/candidates?limit=100").json()
    assert a1 not in [x["officer_id"] for x in rec["candidates"]]
    r = _send(c, two, a2, a2)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "officer_ids"


def test_the_database_refuses_a_second_active_assignment(db: Database, org: Org) -> None:
    iid = add_incident(db)
    other = add_incident(db, source_id="DB-2", caller_phone="13900000003")
    oid = org.on_duty("A")[0]
    with pytest.raises(IntegrityError), db.session(write=True) as s:
        for inc in (iid, other):
            s.add(IncidentAssignment(incident_id=inc, officer_id=oid, assigned_at=T0, actor="t"))
        s.flush()


def test_candidates_are_labelled_and_a_sworn_officer_comes_first(as_user, org, db) -> None:
    c = as_user("dispatcher")
    aux = [
        o.id for o in org.officers.values() if o.kind == "auxiliary" and o.unit_id == org.id("A")
    ]
    aux_on = [i for i in aux if i in org.on_duty("A")]
    # A criminal call: the first proposal is a sworn officer, auxiliaries are flagged.
    iid = _new(c, category="criminal", subtype="theft", priority=3)
    rec = c.get(f"/api/dispatch/incidents/{iid}/candidates?limit=100").json()
    assert rec["sworn_required"] is True and rec["policy_label"]
    first = rec["candidates"][0]
    assert (first["kind"], first["kind_label"]) == ("sworn", "民警")
    labels = {x["kind"]: x["kind_label"] for x in rec["candidates"]}
    assert labels == {"sworn": "民警", "auxiliary": "辅警"}
    assert all(x["needs_sworn"] == (x["kind"] == "auxiliary") for x in rec["candidates"])
    # Sending auxiliaries alone is refused, naming the field; with a sworn officer it goes.
    r = _send(c, iid, *aux_on[:2])
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "officer_ids"
    assert _send(c, iid, first["officer_id"]).status_code == 200
    # Once a sworn officer is on it, an auxiliary may reinforce alone.
    assert _send(c, iid, aux_on[0]).status_code == 200
    rec = c.get(f"/api/dispatch/incidents/{iid}/candidates").json()
    assert rec["sworn_required"] is False
    # A routine dispute (priority 3): no rule.
    calm = _new(c, category="dispute", subtype="neighbour_dispute", priority=3, source_id="110-D")
    assert _send(c, calm, aux_on[1]).status_code == 200


@pytest.mark.parametrize("current", list(AssignmentStatus))
@pytest.mark.parametrize("target", list(AssignmentStatus))
def test_every_pair_of_the_assignment_lifecycle(
    current: AssignmentStatus, target: AssignmentStatus
) -> None:
    allowed = {
        (AssignmentStatus.dispatched, AssignmentStatus.arrived),
        (AssignmentStatus.dispatched, AssignmentStatus.cleared),
        (AssignmentStatus.arrived, AssignmentStatus.cleared),
    }
    if (current, target) in allowed:
        ASSIGNMENT.check(current, target)
    else:
        with pytest.raises(InvalidTransition) as exc:
            ASSIGNMENT.check(current, target)
        assert exc.value.details["from"] == current.value
        assert current.label in exc.value.message and target.label in exc.value.message


def test_next_steps_follow_the_incident_table() -> None:
    assert next_steps(Status.received) == ["dispatched", "resolved", "transferred", "cancelled"]
    assert next_steps(Status.dispatched) == ["reinforce", "arrived", "transferred", "cancelled"]
    assert next_steps(Status.arrived) == ["reinforce", "resolved", "transferred"]
    assert next_steps(Status.resolved) == ["closed"]
    assert next_steps(Status.closed) == [] and next_steps(Status.cancelled) == []
