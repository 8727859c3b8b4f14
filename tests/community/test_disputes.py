"""Disputes: opened at intake from dispute calls, from visits and the desk; parties checked
(GB 11643) and masked; sessions; bad input refused naming the field with nothing written; later
calls linked and the dispute flagged for attention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.community.models import Dispute, DisputeCall, DisputeParty, MediationSession
from qingzhi.store.db import Database
from tests.community.conftest import Community, id_number
from tests.factories import Org, add_incident
from tests.helpers import rows

T0 = dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.UTC)


def _dispute_of(db: Database, incident_id: int) -> Dispute:
    with db.session() as session:
        d = session.scalar(select(Dispute).where(Dispute.incident_id == incident_id))
        assert d is not None
        session.expunge(d)
        return d


def _settle(client: TestClient, did: int, start: dt.datetime, minutes: float = 25) -> Any:
    r = client.post(
        f"/api/community/disputes/{did}/sessions",
        json={
            "package": "police_secretary",
            "participants": ["张书记"],
            "started_at": start.isoformat(),
            "ended_at": (start + dt.timedelta(minutes=minutes)).isoformat(),
            "outcome": "agreed",
            "agreement": "双方同意赔偿 500 元",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "mediating"
    r = client.post(
        f"/api/community/disputes/{did}/transitions",
        json={"to": "settled", "at": (start + dt.timedelta(minutes=minutes)).isoformat()},
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_a_dispute_call_opens_a_linked_dispute_at_intake(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    """Intake opens one dispute per valid dispute call (its caller a party), none for others."""
    iid = add_incident(
        db, category="dispute", subtype="neighbour_dispute", caller_phone="13900001111"
    )
    other = add_incident(db, category="criminal", subtype="theft", caller_phone="13900002222")
    d = _dispute_of(db, iid)
    assert d.status == "reported" and d.kind == "neighbour" and d.station_id == org.id("A")
    assert rows(db, Dispute, Dispute.incident_id == other) == 0
    # Its opening is in the call's creation record (one record, not two), and on its timeline.
    with db.session() as session:
        created = session.scalars(
            select(AuditRecord).where(
                AuditRecord.entity_kind == "incident", AuditRecord.entity_id == str(iid)
            )
        ).one()
    assert f'"dispute_id":{d.id}' in created.diff.replace(" ", "")
    client = as_user("chief_a")
    r = client.get(f"/api/community/disputes/{d.id}/timeline")
    assert r.status_code == 200, r.text
    timeline = r.json()
    assert [e["action"] for e in timeline] == ["incident.create"]
    shown = client.get(f"/api/community/disputes/{d.id}").json()
    assert [(p["name"], p["phone"]) for p in shown["parties"]] == [("报警人", "139****1111")]


def test_invalid_and_repeat_calls_open_no_new_dispute(db: Database, org: Org) -> None:
    """A repeat call (same caller within a day) is linked to the first call's dispute."""
    first = add_incident(db, category="dispute", caller_phone="13900003333")
    again = add_incident(
        db, category="dispute", caller_phone="13900003333", at="2026-11-01T11:00:00+08:00"
    )
    add_incident(db, category="dispute", valid=False, invalid_reason="hang_up")
    d = _dispute_of(db, first)
    assert rows(db, Dispute) == 1
    with db.session() as session:
        call = session.scalar(select(DisputeCall).where(DisputeCall.incident_id == again))
        assert call is not None and call.dispute_id == d.id and call.reason == "repeat"
        assert not call.after_settlement


def test_mediation_session_settlement_and_follow_up(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    """A session moves the dispute to mediating; settling sets the follow-up date (7 days
    later by default); duration is first start to settlement; a follow-up is due then."""
    iid = add_incident(db, category="dispute", caller_phone="13900004444")
    did = _dispute_of(db, iid).id
    client = as_user("chief_a")
    start = dt.datetime(2026, 11, 1, 2, 30, tzinfo=dt.UTC)
    body = _settle(client, did, start, minutes=25)
    assert body["status"] == "settled"
    assert body["duration_minutes"] == 25.0
    assert body["follow_up_due"] == "2026-11-08"
    assert body["follow_up_overdue"]  # that day is past
    assert body["sessions"][0]["package_label"] == "民警+社区书记"
    due = client.get("/api/community/disputes", params={"follow_up_due": True}).json()
    assert [d["id"] for d in due["items"]] == [did]
    r = client.post(
        f"/api/community/disputes/{did}/transitions",
        json={"to": "followed_up", "at": (start + dt.timedelta(days=2)).isoformat()},
    )
    assert r.status_code == 200, r.text
    assert not r.json()["follow_up_overdue"]


def test_bad_input_names_the_field_and_writes_nothing(
    as_user: Callable[[str], TestClient], db: Database, org: Org, community: Community
) -> None:
    client = as_user("chief_a")
    iid = add_incident(db, category="dispute", caller_phone="13900005555")
    did = _dispute_of(db, iid).id
    before = (rows(db, Dispute), rows(db, DisputeParty), rows(db, MediationSession))
    audits = rows(db, AuditRecord)
    start = dt.datetime(2026, 11, 1, 3, 0, tzinfo=dt.UTC)

    def refused(
        method: str, path: str, body: dict[str, Any], field: str, status: int = 422
    ) -> None:
        r = client.request(method, path, json=body)
        assert r.status_code == status, r.text
        fields = [d.get("field") for d in r.json()["error"]["details"] or []]
        assert field in fields or field in r.json()["error"]["message"], r.text

    session_body = {
        "started_at": start.isoformat(),
        "ended_at": (start - dt.timedelta(minutes=1)).isoformat(),
        "outcome": "agreed",
    }
    refused("POST", f"/api/community/disputes/{did}/sessions", session_body, "ended_at")
    refused(
        "POST",
        f"/api/community/disputes/{did}/sessions",
        {**session_body, "ended_at": start.isoformat(), "package": "police_only"},
        "package",
    )
    bad_id = id_number()[:-1] + ("0" if id_number()[-1] != "0" else "1")
    refused(
        "POST",
        "/api/community/disputes",
        {"zone_id": community.zone1, "parties": [{"name": "李四", "id_number": bad_id}]},
        "parties.0.id_number",
    )
    crime = add_incident(db, category="criminal", subtype="theft")
    refused("POST", "/api/community/disputes", {"incident_id": crime}, "incident_id")
    elsewhere = add_incident(db, category="dispute", location=(107.15, 30.05))  # station B
    refused("POST", "/api/community/disputes", {"incident_id": elsewhere}, "incident_id")
    refused("POST", "/api/community/disputes", {"incident_id": iid}, "incident_id", 409)
    # A follow-up before settlement: the lifecycle refuses it (409 naming both states) ...
    r = client.post(f"/api/community/disputes/{did}/transitions", json={"to": "followed_up"})
    assert r.status_code == 409 and "已登记" in r.json()["error"]["message"]
    assert "已回访" in r.json()["error"]["message"]
    # ... and after settlement, one dated before it.
    audits_mid = rows(db, AuditRecord)
    settled = _settle(client, did, start)
    refused(
        "POST",
        f"/api/community/disputes/{did}/transitions",
        {"to": "followed_up", "at": (start - dt.timedelta(hours=1)).isoformat()},
        "at",
    )
    refused(
        "POST",
        f"/api/community/disputes/{did}/transitions",
        {"to": "followed_up", "follow_up_due": "2026-12-01"},
        "follow_up_due",
    )
    assert settled["status"] == "settled"
    assert before[0] + 1 == rows(db, Dispute)  # only the B call's own dispute was added
    assert before[1] == rows(db, DisputeParty)  # (that call gave no phone)
    assert before[2] + 1 == rows(db, MediationSession)  # the one good session
    # Nothing of the refused requests reached the audit trail: the two calls added (the B
    # call's dispute in its record); after them the good session, mediating and settled.
    assert audits_mid - audits == 2
    with db.session() as session:
        actions = list(
            session.scalars(select(AuditRecord.action).where(AuditRecord.seq > audits_mid))
        )
    assert sorted(actions) == ["dispute.mediating", "dispute.session", "dispute.settled"]


def test_a_call_within_30_days_of_settlement_is_linked_and_asks_attention(
    as_user: Callable[[str], TestClient], db: Database, org: Org, community: Community
) -> None:
    """The same party's phone (any category) or a dispute call at the same place within the
    watch window is linked; after the window it is not (a new dispute instead)."""
    client = as_user("chief_a")
    r = client.post(
        "/api/community/disputes",
        json={
            "zone_id": community.zone1,
            "kind": "family",
            "location": {"lon": 107.02, "lat": 30.02},
            "reported_at": "2026-10-01T09:00:00+08:00",
            "parties": [
                {"name": "王五", "id_number": id_number(), "phone": "13811112222"},
                {"name": "赵六", "phone": "13833334444"},
            ],
        },
    )
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    assert r.json()["parties"][0]["id_number"].count("*") == 8
    assert r.json()["parties"][0]["phone"] == "138****2222"
    _settle(client, did, dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.UTC))
    by_phone = add_incident(
        db,
        category="public_order",
        subtype="noise",
        caller_phone="13833334444",
        at="2026-10-20T10:00:00+08:00",
        location=(107.09, 30.09),
    )
    by_place = add_incident(
        db,
        category="dispute",
        caller_phone="13955556666",
        at="2026-10-25T10:00:00+08:00",
        location=(107.0205, 30.0201),
    )
    late = add_incident(
        db, category="dispute", caller_phone="13811112222", at="2026-11-15T10:00:00+08:00"
    )
    body = client.get(f"/api/community/disputes/{did}").json()
    assert [(c["incident_id"], c["reason"]) for c in body["calls"]] == [
        (by_phone, "phone"),
        (by_place, "place"),
    ]
    assert body["attention"] and body["repeat_calls"] == 2
    assert rows(db, Dispute, Dispute.incident_id == by_place) == 0
    assert rows(db, Dispute, Dispute.incident_id == late) == 1
    r = client.patch(f"/api/community/disputes/{did}", json={"attention": False})
    assert r.status_code == 200 and not r.json()["attention"]
