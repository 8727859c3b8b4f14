"""Scope: a community officer sees their own zone's records, a station chief their station's,
others none (404, never 403); parties' ID numbers and phones are masked and every full read is
audited; visits outside the officer's zone need a reason and are flagged."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.community.models import Visit
from qingzhi.store.db import Database
from tests.community.conftest import Community, id_number
from tests.factories import Org
from tests.helpers import rows


def _dispute(client: TestClient, zone: int, phone: str = "13811112222") -> int:
    r = client.post(
        "/api/community/disputes",
        json={
            "zone_id": zone,
            "kind": "neighbour",
            "parties": [{"name": "王五", "id_number": id_number(), "phone": phone}],
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_zone_officer_sees_their_zone_chief_their_station(
    as_user: Callable[[str], TestClient], db: Database, org: Org, community: Community
) -> None:
    chief = as_user("chief_a")
    in_z1 = _dispute(chief, community.zone1)
    in_z2 = _dispute(chief, community.zone2)
    in_b = _dispute(as_user("admin"), org.zones["B-Z1"].id)

    def listed(user: str) -> set[int]:
        r = as_user(user).get("/api/community/disputes")
        assert r.status_code == 200, r.text
        return {d["id"] for d in r.json()["items"]}

    assert listed("cop_a1") == {in_z1}
    assert listed("cop_a2") == {in_z2}
    assert listed("chief_a") == {in_z1, in_z2}
    assert listed("chief_c") == set()
    assert listed("admin") == {in_z1, in_z2, in_b}
    assert as_user("cop_a1").get(f"/api/community/disputes/{in_z2}").status_code == 404
    assert as_user("chief_a").get(f"/api/community/disputes/{in_b}").status_code == 404
    assert as_user("cop_a1").get(f"/api/community/disputes/{in_z1}").status_code == 200
    # A zone officer cannot open a dispute in another zone, nor act on one.
    r = as_user("cop_a1").post("/api/community/disputes", json={"zone_id": community.zone2})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "zone_id"
    r = as_user("cop_a1").post(
        f"/api/community/disputes/{in_z2}/transitions",
        json={"to": "referred", "referred_to": "司法所"},
    )
    assert r.status_code == 404
    # The measures follow the same scope.
    r = as_user("cop_a1").get(
        "/api/community/measures", params={"from": "2026-01-01", "to": "2026-12-31"}
    )
    assert r.status_code == 200
    assert {row["unit_id"] for row in r.json()["rows"] if row["level"] == "zone"} == {
        community.zone1
    }


def test_parties_masked_and_full_reads_audited(
    as_user: Callable[[str], TestClient], db: Database, org: Org, community: Community
) -> None:
    chief = as_user("chief_a")
    did = _dispute(chief, community.zone1)
    number = id_number()
    shown = chief.get(f"/api/community/disputes/{did}").json()["parties"][0]
    assert shown["id_number"] == number[:6] + "********" + number[-4:]
    assert shown["phone"] == "138****2222" and shown["masked"]
    before = rows(db, AuditRecord, AuditRecord.action == "dispute.read_personal")
    r = chief.get(f"/api/community/disputes/{did}", params={"unmask": True})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert r.json()["parties"][0]["id_number"] == number
    assert r.json()["parties"][0]["phone"] == "13811112222"
    assert rows(db, AuditRecord, AuditRecord.action == "dispute.read_personal") == before + 1
    with db.session() as session:
        record = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "dispute.read_personal")
        ).one()
        assert record.entity_id == str(did) and record.actor
    # An auxiliary may work disputes but not read parties in full; nothing is recorded.
    r = as_user("aux_a").get(f"/api/community/disputes/{did}", params={"unmask": True})
    assert r.status_code == 403
    assert rows(db, AuditRecord, AuditRecord.action == "dispute.read_personal") == before + 1
    # Another station's chief: 404 even with unmask, and nothing recorded.
    assert as_user("chief_c").get(f"/api/community/disputes/{did}?unmask=true").status_code == 404
    assert rows(db, AuditRecord, AuditRecord.action == "dispute.read_personal") == before + 1


def test_a_visit_outside_the_officers_zone_warns_and_needs_a_reason(
    as_user: Callable[[str], TestClient], db: Database, org: Org, community: Community
) -> None:
    cop = as_user("cop_a1")
    r = cop.post(
        "/api/community/visits",
        json={"zone_id": community.zone1, "purpose": "dispute_screening", "address": "人民路1号"},
    )
    assert r.status_code == 201, r.text
    assert not r.json()["outside_zone"] and r.json()["warning"] is None
    assert r.json()["officer_id"] == community.officer1
    count = rows(db, Visit)
    r = cop.post("/api/community/visits", json={"zone_id": community.zone2, "notes": "路过"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "outside_reason"
    assert rows(db, Visit) == count
    r = cop.post(
        "/api/community/visits",
        json={"zone_id": community.zone2, "notes": "路过", "outside_reason": "协助二片区回访"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["outside_zone"] and r.json()["warning"]
    # The zone officer sees their own zone's visits only; the chief both.
    mine = {v["zone_id"] for v in cop.get("/api/community/visits").json()["items"]}
    assert mine == {community.zone1}
    every = {v["zone_id"] for v in as_user("chief_a").get("/api/community/visits").json()["items"]}
    assert every == {community.zone1, community.zone2}
    # Another station's zone: refused naming the field.
    r = cop.post(
        "/api/community/visits",
        json={"zone_id": org.zones["B-Z1"].id, "outside_reason": "x"},
    )
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "zone_id"


def test_a_finding_opens_a_dispute(
    as_user: Callable[[str], TestClient], db: Database, org: Org, community: Community
) -> None:
    cop = as_user("cop_a1")
    visit = cop.post(
        "/api/community/visits",
        json={
            "zone_id": community.zone1,
            "purpose": "dispute_screening",
            "findings": "两户宅基地界线争执",
        },
    ).json()
    r = cop.post(
        "/api/community/disputes",
        json={
            "visit_id": visit["id"],
            "kind": "land_property",
            "risk": "medium",
            "summary": visit["findings"],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["zone_id"] == community.zone1 and r.json()["visit_id"] == visit["id"]
    assert cop.get(f"/api/community/visits/{visit['id']}").json()["dispute_ids"] == [r.json()["id"]]
