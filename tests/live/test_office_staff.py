"""在岗警力 on the big screen counts street duty only, as dispatch does: office staff on duty
(a shift with ``street`` false) are counted apart, flagged on the officers' snapshot, and never
among the dispatch candidates."""

from __future__ import annotations

from fastapi.testclient import TestClient

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.dispatch import service as dispatch
from qingzhi.duty.models import DutyRoster, DutyShift
from qingzhi.live import service as live
from qingzhi.live.schemas import PositionIn
from qingzhi.store.db import Database
from tests.factories import Org, inside, make_incident

# The test organisation: 78 active officers, the i-th of each unit on duty unless i % 3 == 0:
# A 20 of 30, B 13 of 20, R1 4 of 6, R2 3 of 5, C 2 of 4, S 4 of 7, CMD 4 of 6 -> 50 on duty.
# A001 and A002 (on duty) and A003 (off duty) work A's office shift; A004 its patrol shift.


def _shifts(db: Database, org: Org) -> None:
    a = org.units["A"].id
    with db.session(write=True) as session:
        office = DutyShift(
            code="A-OFFICE", name="内勤", unit_id=a, starts_min=510, ends_min=1050, street=False
        )
        patrol = DutyShift(
            code="A-PATROL", name="巡逻", unit_id=a, starts_min=480, ends_min=1200, street=True
        )
        session.add_all([office, patrol])
        session.flush()
        for number, shift in (("A001", office), ("A002", office), ("A003", office)):
            session.add(DutyRoster(officer_id=org.officers[number].id, shift_id=shift.id))
        session.add(DutyRoster(officer_id=org.officers["A004"].id, shift_id=patrol.id))


def test_the_on_duty_tile_counts_street_duty_and_office_staff_apart(
    client: TestClient, db: Database, org: Org, admin: dict[str, str]
) -> None:
    before = client.get("/api/live/bigscreen", headers=admin).json()["officers"]
    assert before["on_duty"] == 50 and before["office"] == 0
    _shifts(db, org)
    after = client.get("/api/live/bigscreen", headers=admin).json()["officers"]
    assert after["on_duty"] == 48
    assert after["office"] == 2
    assert after["by_status"]["available"] == 48
    assert after["by_status"]["off_duty"] == 28  # A003, an office hand off duty, among them


def test_the_officers_snapshot_flags_office_staff(
    client: TestClient, db: Database, org: Org, admin: dict[str, str]
) -> None:
    _shifts(db, org)
    items = client.get("/api/live/officers", headers=admin).json()["items"]
    street = {o["no"]: o["street"] for o in items}
    assert [n for n, s in sorted(street.items()) if not s] == ["A001", "A002", "A003"]
    assert street["A004"] is True and street["B001"] is True  # patrol shift; no roster


def test_office_staff_are_no_dispatch_candidates(db: Database, org: Org) -> None:
    _shifts(db, org)
    lon, lat = inside("A")
    actor = system_actor()
    with db.session(write=True) as session:
        live.record_positions(
            session=session,
            actor=actor,
            positions=[
                PositionIn(police_number=n, lon=lon + d, lat=lat)
                for n, d in (("A001", 0.001), ("A002", 0.002), ("A004", 0.003), ("A005", 0.004))
            ],
        )
        # 300 m east of the station's centre, where officers without a fix are placed: A004 is
        # on the spot, A005 and A002 ~100 m off, A001 ~200 m, every other officer ~300 m
        inc = make_incident(session, unit="A", location=(lon + 0.003, lat))
        rec = dispatch.recommend(
            session=session, actor=actor, settings=Settings(database_url="sqlite://"),
            incident_id=inc.id,
        )  # fmt: skip
    numbers = [c.police_number for c in rec.candidates]
    assert "A001" not in numbers and "A002" not in numbers
    assert numbers[:2] == ["A004", "A005"]  # the nearest street officers, office staff skipped
