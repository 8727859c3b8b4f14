"""Lifecycle: allowed transitions, 409 naming both states, times, actors and audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.errors import InvalidTransition
from qingzhi.incidents.lifecycle import TRANSITIONS, Status, check_transition
from tests.incidents.conftest import body


def test_transition_table_is_closed_over_statuses():
    assert set(TRANSITIONS) == set(Status)
    with pytest.raises(InvalidTransition) as exc:
        check_transition(Status.closed, Status.dispatched)
    assert exc.value.details["from"] == "closed"
    assert exc.value.details["to"] == "dispatched"


def test_full_lifecycle_with_response_time(as_user, org, db):
    c = as_user("dispatcher")
    iid = c.post("/api/incidents", json=body()).json()["incident"]["id"]
    officer = org.officers["A001"].id
    r = c.post(
        f"/api/incidents/{iid}/transitions", json={"to": "dispatched", "officer_ids": [officer]}
    )
    assert r.status_code == 200, r.text
    for to in ("arrived", "resolved", "closed"):
        r = c.post(f"/api/incidents/{iid}/transitions", json={"to": to})
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
    iid = c.post("/api/incidents", json=body()).json()["incident"]["id"]
    r = c.post(f"/api/incidents/{iid}/transitions", json={"to": "closed"})
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "invalid_transition"
    assert "接警" in err["message"] and "已结警" in err["message"]
    assert err["details"]["from"] == "received"


def test_transfer_needs_unit_and_reason_and_moves_the_incident(as_user, org):
    c = as_user("dispatcher")
    iid = c.post("/api/incidents", json=body()).json()["incident"]["id"]
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
    iid = c.post("/api/incidents", json=body()).json()["incident"]["id"]
    chief = as_user("chief_c")
    assert chief.get(f"/api/incidents/{iid}").status_code == 404
    r = chief.post(f"/api/incidents/{iid}/transitions", json={"to": "cancelled", "reason": "x"})
    assert r.status_code == 404
    assert as_user("chief_a").get(f"/api/incidents/{iid}").status_code == 200


def test_dispatch_refuses_officers_outside_scope(as_user, org):
    c = as_user("chief_a")
    iid = c.post("/api/incidents", json=body()).json()["incident"]["id"]
    r = c.post(
        f"/api/incidents/{iid}/transitions",
        json={"to": "dispatched", "officer_ids": [org.officers["B001"].id]},
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "officer_ids"
