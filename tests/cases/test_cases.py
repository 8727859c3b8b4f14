"""Cases: open from criminal incidents (number unique per bureau, loss checked), the team of a
rapid case, notes, the outcome through the lifecycle (every pair; a race), scope, and the rates
on hand-computed cases."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.cases import service
from qingzhi.cases.lifecycle import CASE, CaseStatus
from qingzhi.cases.models import Case, CaseMember
from qingzhi.cases.schemas import CaseCreate, Outcome
from qingzhi.config import Settings
from qingzhi.errors import InvalidTransition
from qingzhi.store.db import Database
from tests.factories import Org, add_incident, make_incident
from tests.helpers import audit_count, bearer, rows, user_actor


def _open(client: TestClient, headers: dict[str, str], **fields: Any) -> Any:
    return client.post("/api/cases", json=fields, headers=headers)


def test_open_a_case_and_build_its_team(client: TestClient, db: Database, org: Org) -> None:
    calls = [add_incident(db, category="criminal", subtype="burglary", unit="A") for _ in range(2)]
    chief = bearer(db, "chief_a")
    r = _open(client, chief, incident_ids=calls, loss_yuan=70000, number="TEST-2026-00001")
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["category"] == "theft" and case["subtype"] == "burglary"
    assert [i["id"] for i in case["incidents"]] == calls
    assert case["loss_yuan"] == 70000.0 and case["status"] == "open"
    team = {
        "members": [
            {"unit_id": org.id("A"), "officer_id": org.officers["A001"].id, "role": "lead"},
            {"unit_id": org.id("CMD"), "role": "member"},
            {"unit_id": org.id("B"), "officer_id": org.officers["B002"].id},
        ]
    }
    r = client.put(f"/api/cases/{case['id']}/team", json=team, headers=chief)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["rapid"] is True
    assert [(m["unit_id"], m["role"]) for m in got["team"]] == [
        (org.id("A"), "lead"),
        (org.id("CMD"), "member"),
        (org.id("B"), "member"),
    ]
    r = client.post(f"/api/cases/{case['id']}/notes", json={"text": "调取监控"}, headers=chief)
    assert r.status_code == 201
    opened = dt.datetime.fromisoformat(case["opened_at"])
    cleared = {
        "status": "cleared",
        "at": (opened + dt.timedelta(hours=20)).isoformat(),
        "suspects_caught": 2,
        "recovered_yuan": 65000,
    }
    # the clearing time cannot be in the future; back-date the opening for the test
    with db.session(write=True) as session:
        row = session.get(Case, case["id"])
        assert row is not None
        row.opened_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
        cleared["at"] = (row.opened_at + dt.timedelta(hours=20)).isoformat()
    r = client.post(f"/api/cases/{case['id']}/outcome", json=cleared, headers=chief)
    assert r.status_code == 200, r.text
    assert r.json()["fast"] is True and r.json()["hours_to_clear"] == pytest.approx(20.0)
    assert r.json()["fast_hours"] == 72
    with db.session() as session:
        actions = list(
            session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.entity_kind == "case", AuditRecord.entity_id == str(case["id"]))
                .order_by(AuditRecord.seq)
            )
        )
    assert actions == ["case.opened", "case.team", "case.note", "case.cleared"]


def test_bad_input_names_the_field_and_writes_nothing(
    client: TestClient, db: Database, org: Org
) -> None:
    crime = add_incident(db, category="criminal", subtype="theft", unit="A")
    dispute = add_incident(db, category="dispute", unit="A")
    b_crime = add_incident(db, category="criminal", subtype="theft", unit="B")
    chief = bearer(db, "chief_a")
    assert _open(client, chief, incident_ids=[crime], number="N-1").status_code == 201
    other = add_incident(db, category="criminal", subtype="fraud", unit="A")
    before = (rows(db, Case), audit_count(db))
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"incident_ids": [other], "number": "N-1"}, 409, "number"),
        ({"incident_ids": [crime]}, 409, "incident_ids"),  # already in case N-1
        ({"incident_ids": [dispute]}, 422, "incident_ids"),
        ({"incident_ids": [b_crime]}, 422, "incident_ids"),  # another station's
        ({"incident_ids": [other], "loss_yuan": -5}, 422, "loss_yuan"),
        ({"incident_ids": [other], "loss_yuan": "五千"}, 422, "loss_yuan"),
        ({"incident_ids": [other], "loss_yuan": True}, 422, "loss_yuan"),
        ({"incident_ids": [other], "category": "nonsense"}, 422, "category"),
        ({"incident_ids": []}, 422, "incident_ids"),
    ]
    for fields, status, field in cases:
        r = _open(client, chief, **fields)
        assert r.status_code == status, (fields, r.text)
        assert field in {d["field"] for d in r.json()["error"]["details"]}, r.text
    assert (rows(db, Case), audit_count(db)) == before
    cid = client.get("/api/cases", headers=chief).json()["items"][0]["id"]
    for team, field in (
        ({"members": [{"unit_id": org.id("A")}]}, "members"),  # no lead
        (
            {
                "members": [
                    {"unit_id": org.id("A"), "role": "lead", "officer_id": org.officers["B001"].id}
                ]
            },
            "members.0.officer_id",
        ),
    ):
        r = client.put(f"/api/cases/{cid}/team", json=team, headers=chief)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == field
    r = client.post(
        f"/api/cases/{cid}/outcome",
        json={"status": "cleared", "recovered_yuan": -1},
        headers=chief,
    )
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "recovered_yuan"
    assert rows(db, CaseMember) == 0


def test_numbers_are_made_from_the_format(db: Database, org: Org, settings: Settings) -> None:
    with db.session(write=True) as session:
        actor = user_actor(session, "chief_a")
        numbers = []
        for _ in range(2):
            inc = make_incident(session, category="criminal", subtype="theft", unit="A")
            body = CaseCreate(incident_ids=[inc.id], opened_at=inc.received_at)
            numbers.append(
                service.open_case(session=session, actor=actor, settings=settings, body=body).number
            )
    assert numbers == ["TEST-2026-00001", "TEST-2026-00002"]


@pytest.mark.parametrize("current", list(CaseStatus), ids=str)
def test_every_outcome_pair(
    db: Database, org: Org, settings: Settings, current: CaseStatus
) -> None:
    for target in CaseStatus:
        with db.session(write=True) as session:
            actor = user_actor(session, "chief_a")
            inc = make_incident(session, category="criminal", subtype="theft", unit="A")
            case = service.open_case(
                session=session,
                actor=actor,
                settings=settings,
                body=CaseCreate(incident_ids=[inc.id], opened_at=inc.received_at),
            )
            case.status = current
            session.flush()
            body = Outcome(status=target)
            if target in CASE.allowed(current):
                service.set_outcome(session=session, actor=actor, case_id=case.id, body=body)
                assert case.status == target
            else:
                with pytest.raises(InvalidTransition) as refused:
                    service.set_outcome(session=session, actor=actor, case_id=case.id, body=body)
                assert current.label in refused.value.message
                assert target.label in refused.value.message


def test_two_clearings_at_once_one_wins(committed: Database) -> None:
    settings = Settings(database_url="sqlite://")
    with committed.session(write=True) as session:
        actor = user_actor(session, "chief_a")
        inc = make_incident(session, category="criminal", subtype="theft", unit="A")
        case_id = service.open_case(
            session=session,
            actor=actor,
            settings=settings,
            body=CaseCreate(incident_ids=[inc.id], opened_at=inc.received_at),
        ).id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def clear(who: str) -> None:
        barrier.wait()
        try:
            with committed.session(write=True) as session:
                service.set_outcome(
                    session=session,
                    actor=user_actor(session, who),
                    case_id=case_id,
                    body=Outcome(status=CaseStatus.cleared, suspects_caught=1),
                )
            outcomes.append("ok")
        except InvalidTransition:
            outcomes.append("refused")

    threads = [threading.Thread(target=clear, args=(u,)) for u in ("chief_a", "officer_a")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused"]
    with committed.session() as session:
        n = session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "case.cleared", AuditRecord.entity_id == str(case_id)
            )
        ).all()
    assert len(n) == 1


def test_another_station_sees_nothing(client: TestClient, db: Database, org: Org) -> None:
    crime = add_incident(db, category="criminal", subtype="fraud", unit="B")
    r = _open(client, bearer(db, "commander"), incident_ids=[crime], number="B-1")
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    for who in ("chief_a", "chief_c"):
        h = bearer(db, who)
        assert client.get(f"/api/cases/{cid}", headers=h).status_code == 404
        assert client.get(f"/api/cases/{cid}/notes", headers=h).status_code == 404
        assert client.get("/api/cases", params={"q": "B-1"}, headers=h).json()["total"] == 0
        r = client.post(f"/api/cases/{cid}/notes", json={"text": "x"}, headers=h)
        assert r.status_code == 404
        rates = client.get(
            "/api/cases/rates", params={"start": "2026-01-01", "end": "2026-12-31"}, headers=h
        ).json()
        assert rates["total"]["opened"] == 0


def _case(
    session: Any, actor: Any, settings: Settings, unit: str, opened: dt.datetime, **outcome: Any
) -> None:
    inc = make_incident(session, category="criminal", subtype="theft", unit=unit, at=opened)
    case = service.open_case(
        session=session,
        actor=actor,
        settings=settings,
        body=CaseCreate(incident_ids=[inc.id], opened_at=opened, loss_yuan=1000),
    )
    if outcome:
        service.set_outcome(session=session, actor=actor, case_id=case.id, body=Outcome(**outcome))


def test_rates_on_hand_computed_cases(db: Database, org: Org, settings: Settings) -> None:
    """In A, October 2026: 4 opened; 3 of them cleared (10 h, 50 h, 100 h after opening, the
    last in November); one opened in September cleared in October after 30 h; one suspended.
    October: opened 4, cleared in October 3 (10 h, 50 h, the September one's 30 h) → clearance
    3/4 = 75%; cohort 3/4 (the November clearing counts: cleared so far); fast (72 h) 3/3;
    with N = 24 h: 1/3. Recovered: 200 + 300 + 0."""
    tz = dt.timezone(dt.timedelta(hours=8))
    oct_ = dt.datetime(2026, 10, 5, 9, 0, tzinfo=tz)
    with db.session(write=True) as session:
        actor = user_actor(session, "commander")
        h = dt.timedelta(hours=1)
        _case(
            session,
            actor,
            settings,
            "A",
            oct_,
            status="cleared",
            at=oct_ + 10 * h,
            recovered_yuan=200,
        )
        _case(
            session,
            actor,
            settings,
            "A",
            oct_,
            status="cleared",
            at=oct_ + 50 * h,
            recovered_yuan=300,
        )
        late = dt.datetime(2026, 10, 29, 9, 0, tzinfo=tz)
        _case(session, actor, settings, "A", late, status="cleared", at=late + 100 * h)
        _case(session, actor, settings, "A", oct_, status="suspended", at=oct_ + h)
        sep = dt.datetime(2026, 9, 30, 12, 0, tzinfo=tz)
        _case(session, actor, settings, "A", sep, status="cleared", at=sep + 30 * h)
        _case(session, actor, settings, "B", oct_)
        from qingzhi.cases import rates

        def compute(who: str, s: Settings = settings, **kw: Any) -> Any:
            return rates.compute(
                session=session,
                actor=user_actor(session, who),
                settings=s,
                start=dt.date(2026, 10, 1),
                end=dt.date(2026, 10, 31),
                **kw,
            )

        a = compute("chief_a")
        assert a.total.opened == 4 and a.total.cleared == 3 and a.total.cohort_cleared == 3
        assert a.total.clearance == 0.75
        assert a.total.cohort.estimate == 0.75
        assert a.total.fast == 3 and a.total.fast_rate.estimate == 1.0
        assert a.total.recovered_yuan == 500.0 and a.total.loss_yuan == 4000.0
        assert [line.key for line in a.lines] == [str(org.id("A"))]
        assert "72 小时" in a.definitions["fast"]
        short = compute("chief_a", Settings(database_url="sqlite://", fast_clear_hours=24))
        assert short.total.fast == 1 and short.fast_hours == 24
        bureau = compute("commander", group_by="category")
        assert bureau.total.opened == 5
        assert [(x.key, x.opened) for x in bureau.lines] == [("theft", 5)]
