"""Lifecycle: allowed transitions, 409 naming both states, times, actors and audit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from qingzhi.audit.models import AuditRecord
from qingzhi.errors import InvalidTransition
from qingzhi.incidents.lifecycle import TRANSITIONS, Status, check_transition
from qingzhi.incidents.models import IncidentEvent
from tests.factories import incident_body


def test_transition_table_is_closed_over_statuses():
    assert set(TRANSITIONS) == set(Status)
    with pytest.raises(InvalidTransition) as exc:
        check_transition(Status.closed, Status.dispatched)
    assert exc.value.details["from"] == "closed"
    assert exc.value.details["to"] == "dispatched"


def test_full_lifecycle_with_response_time(as_user, org, db):
    c = as_user("dispatcher")
    iid = c.post("/api/incidents", json=incident_body()).json()["incident"]["id"]
    officer = org.officers["A001"].id
    r = c.post(
        f"/api/incidents/{iid}/transitions", json={"to": "dispatched", "officer_ids": [officer]}
    )
    assert r.status_code == 200, r.text
    for to in ("arrived", "resolved", "closed"):
        body = {"to": to, "result": "已调解"} if to == "closed" else {"to": to}
        r = c.post(f"/api/incidents/{iid}/transitions", json=body)
        assert r.status_code == 200, r.text
    inc = r.json()
    assert inc["status"] == "closed"
    assert inc["response_seconds"] is not None
    timeline = c.get(f"/api/incidents/{iid}/timeline").json()
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("lifecycle") == 5
    assert "assignment" in kinds
    with db.session() as s:
        actions = (
            s.execute(
                select(AuditRecord.action)
                .where(AuditRecord.entity_kind == "incident", AuditRecord.entity_id == str(iid))
                .order_by(AuditRecord.seq)
            )
            .scalars()
            .all()
        )
    assert actions == [
        "incident.create",
        "incident.dispatched",
        "incident.arrived",
        "incident.resolved",
        "incident.closed",
    ]


def test_invalid_transition_is_409_naming_both_states(as_user):
    c = as_user("dispatcher")
    iid = c.post("/api/incidents", json=incident_body()).json()["incident"]["id"]
    r = c.post(f"/api/incidents/{iid}/transitions", json={"to": "closed"})
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "invalid_transition"
    assert "接警" in err["message"] and "已结警" in err["message"]
    assert err["details"]["from"] == "received"


def test_transfer_needs_unit_and_reason_and_moves_the_incident(as_user, org):
    c = as_user("dispatcher")
    iid = c.post("/api/incidents", json=incident_body()).json()["incident"]["id"]
    r = c.post(f"/api/incidents/{iid}/transitions", json={"to": "transferred", "unit": "B"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "reason"
    r = c.post(
        f"/api/incidents/{iid}/transitions",
        json={"to": "transferred", "unit": "B", "reason": "发生地在城二辖区"},
    )
    assert r.status_code == 200
    assert r.json()["unit_id"] == org.id("B")
    assert r.json()["status"] == "transferred"


def test_station_chief_cannot_see_or_move_another_stations_incident(as_user):
    c = as_user("dispatcher")
    iid = c.post("/api/incidents", json=incident_body()).json()["incident"]["id"]
    chief = as_user("chief_c")
    assert chief.get(f"/api/incidents/{iid}").status_code == 404
    r = chief.post(f"/api/incidents/{iid}/transitions", json={"to": "cancelled", "reason": "x"})
    assert r.status_code == 404
    assert as_user("chief_a").get(f"/api/incidents/{iid}").status_code == 200


def test_dispatch_refuses_officers_outside_scope(as_user, org):
    c = as_user("chief_a")
    iid = c.post("/api/incidents", json=incident_body()).json()["incident"]["id"]
    r = c.post(
        f"/api/incidents/{iid}/transitions",
        json={"to": "dispatched", "officer_ids": [org.officers["B001"].id]},
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "officer_ids"


def _add_chief(db, username, unit):
    from qingzhi.auth import service as auth
    from qingzhi.auth.context import system_actor
    from qingzhi.auth.permissions import Role
    from tests.factories import PASSWORD

    with db.session(write=True) as s:
        auth.create_user(
            session=s,
            actor=system_actor(),
            username=username,
            password=PASSWORD,
            role=Role.station_chief,
            unit_code=unit,
        )


def test_after_a_transfer_the_transferring_station_only_reads(as_user, org, db):
    """The station that transferred an incident away still sees it (the place is in its
    jurisdiction) but can no longer cancel, dispatch or otherwise move it; the receiving unit
    and the command centre can."""
    _add_chief(db, "chief_b", "B")
    chief = as_user("chief_a")
    iid = chief.post("/api/incidents", json=incident_body()).json()["incident"]["id"]
    r = chief.post(
        f"/api/incidents/{iid}/transitions",
        json={"to": "transferred", "unit": "B", "reason": "系城二辖区在办案件"},
    )
    assert r.status_code == 200, r.text
    seen = chief.get(f"/api/incidents/{iid}")
    assert seen.status_code == 200
    assert (seen.json()["unit_id"], seen.json()["station_id"]) == (org.id("B"), org.id("A"))
    officer = org.officers["A001"].id
    for attempt in (
        {"to": "cancelled", "reason": "误报"},
        {"to": "transferred", "unit": "S", "reason": "再移交"},
        {"to": "dispatched", "officer_ids": [officer]},
    ):
        r = chief.post(f"/api/incidents/{iid}/transitions", json=attempt)
        assert r.status_code == 403, r.text
        assert "城二派出所" in r.json()["error"]["message"]
    r = chief.post(f"/api/dispatch/incidents/{iid}", json={"officer_ids": [officer]})
    assert r.status_code == 403
    page = chief.get(f"/incidents/{iid}")
    assert "本警情由城二派出所处置，本单位只能查看" in page.text
    assert as_user("dispatcher").get(f"/api/incidents/{iid}").json()["status"] == "transferred"
    with db.session() as s:
        events = s.execute(
            select(func.count()).select_from(IncidentEvent).where(IncidentEvent.incident_id == iid)
        ).scalar_one()
    assert events == 2  # received, transferred: nothing the refused attempts wrote
    # The receiving station moves it.
    b = as_user("chief_b")
    r = b.post(f"/api/incidents/{iid}/transitions", json={"to": "cancelled", "reason": "重复"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"


def test_a_bundled_member_reads_but_its_central_station_moves(as_user, org, db):
    """A call in a bundled member's jurisdiction is handled by its central station: the member
    station reads it, the central station moves it."""
    _add_chief(db, "chief_r1", "R1")
    iid = (
        as_user("dispatcher")
        .post("/api/incidents", json=incident_body(location={"lon": 107.05, "lat": 30.15}))
        .json()["incident"]["id"]
    )
    member = as_user("chief_r1")
    assert member.get(f"/api/incidents/{iid}").status_code == 200
    r = member.post(f"/api/incidents/{iid}/transitions", json={"to": "resolved"})
    assert r.status_code == 403
    assert "甲乙中心派出所" in r.json()["error"]["message"]
    r = as_user("chief_c").post(f"/api/incidents/{iid}/transitions", json={"to": "resolved"})
    assert r.status_code == 200, r.text
