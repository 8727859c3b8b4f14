"""The indicators fed by the community and tasks domains (disputes settled in the community,
mediation within 30 minutes, visit coverage, 督办 on time), hand-counted through their APIs and
services; and a station's trend over periods, hand-computed on two stations and three months."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from qingzhi.errors import ValidationFailed
from qingzhi.incidents.models import Incident
from qingzhi.kpi.trend import periods_ending
from qingzhi.store.db import Database
from qingzhi.tasks import service as tasks
from qingzhi.tasks.lifecycle import TaskStatus
from qingzhi.tasks.schemas import TaskCreate
from tests.factories import Org, incident_item
from tests.helpers import user_actor
from tests.kpi.test_kpi import _take

LOCAL = ZoneInfo("Asia/Shanghai")
OCT = dt.datetime(2025, 10, 6, 10, 0, tzinfo=LOCAL)

OWNER = {"A": "chief_a", "R1": "chief_c"}  # R1 is run by central station C
COMMUNITY_SCHEME = """name = "社区与督办"
[indicators.prevention_rate]
weight = 0.2
normalise = "group"
[indicators.disputes_settled]
weight = 0.2
normalise = "target"
target = 0.8
[indicators.mediation_30min]
weight = 0.2
normalise = "target"
target = 0.8
[indicators.visit_coverage]
weight = 0.2
normalise = "group"
[indicators.supervision_on_time]
weight = 0.2
normalise = "target"
target = 0.9
"""


def _by_indicator(board: dict[str, Any], code: str) -> dict[str, dict[str, Any]]:
    station = next(s for s in board["stations"] if s["station"] == code)
    return {i["indicator"]: i for i in station["indicators"]}


def _dispute(
    admin: TestClient, zone_id: int, at: dt.datetime, minutes: float | None, to: str
) -> None:
    """A dispute reported at ``at``; mediated for ``minutes`` from a session at ``at`` and
    moved to ``to`` (settled, partially_settled, referred) then, or left reported."""
    body = {"zone_id": zone_id, "reported_at": at.isoformat()}
    r = admin.post("/api/community/disputes", json=body)
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    end = at
    if minutes is not None:
        end = at + dt.timedelta(minutes=minutes)
        session = {"started_at": at.isoformat(), "ended_at": end.isoformat(), "outcome": "agreed"}
        r = admin.post(f"/api/community/disputes/{did}/sessions", json=session)
        assert r.status_code == 201, r.text
    if to != "reported":
        r = admin.post(
            f"/api/community/disputes/{did}/transitions",
            json={"to": to, "at": end.isoformat(), "referred_to": "司法所"},
        )
        assert r.status_code == 200, r.text


def _visit(admin: TestClient, zone_id: int, at: dt.datetime, address: str, target: str) -> None:
    body = {"zone_id": zone_id, "visited_at": at.isoformat(), "address": address, "target": target}
    r = admin.post("/api/community/visits", json=body)
    assert r.status_code == 201, r.text


def _task(
    db: Database,
    org: Org,
    unit: str,
    deadline: dt.datetime,
    done: dt.datetime | None,
    cancel: bool = False,
) -> None:
    """A task issued on 1 October, due ``deadline``; verified at ``done`` (None: left in
    progress), or cancelled."""
    issued = dt.datetime(2025, 10, 1, 9, tzinfo=LOCAL)
    with db.session(write=True) as session:
        admin, owner = user_actor(session, "admin"), user_actor(session, OWNER[unit])
        body = TaskCreate(title=f"{unit} 督办", owner_unit_id=org.id(unit), deadline=deadline)
        task = tasks.create(session=session, actor=admin, body=body, now=issued)
        if cancel:
            tasks.move(
                session=session,
                actor=admin,
                task_id=task.id,
                target=TaskStatus.cancelled,
                now=issued,
            )
            return
        for step in (TaskStatus.accepted, TaskStatus.in_progress):
            tasks.move(session=session, actor=owner, task_id=task.id, target=step, now=issued)
        if done is not None:
            tasks.move(
                session=session, actor=owner, task_id=task.id, target=TaskStatus.submitted, now=done
            )
            tasks.move(
                session=session, actor=admin, task_id=task.id, target=TaskStatus.verified, now=done
            )


def test_community_and_task_records_feed_their_indicators(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    """Station A's quarter 2025-Q4:
    - disputes: settled after 20 minutes, partially settled after 45, referred, one still
      reported → settled in the community 2 of the 3 with an outcome, mediated within 30
      minutes 1 of the 2 mediated; B's one settled after 10 minutes: 1/1 and 1/1;
    - visits: A-Z1 (20,000 residents, 2.6 a household → 7,692 households) 3 household visits
      at 2 addresses and a business → 2 of 7,692; B-Z1 (15,000 → 5,769) one → 1 of 5,769;
    - 督办: due 20 Oct verified the 18th (on time), due 10 Nov verified the 12th (late), due
      5 Dec still in progress, due 10 Dec cancelled (not counted) → 1 of 3; R1's one on time.
    A quarter with calls but no community or task records (2024-Q4) leaves them out."""
    _take(db, [incident_item(at=OCT, category="criminal", unit=u) for u in ("A", "B")])
    admin = as_user("admin")
    a_zone, b_zone = org.zones["A-Z1"].id, org.zones["B-Z1"].id
    _dispute(admin, a_zone, OCT, 20, "settled")
    _dispute(admin, a_zone, OCT + dt.timedelta(days=1), 45, "partially_settled")
    _dispute(admin, a_zone, OCT + dt.timedelta(days=2), None, "referred")
    _dispute(admin, a_zone, OCT + dt.timedelta(days=3), None, "reported")
    _dispute(admin, b_zone, OCT, 10, "settled")
    for offset, address, target in (
        (1, "一号", "household"),
        (2, "一号", "household"),
        (3, "二号", "household"),
        (4, "商铺", "business"),
    ):
        _visit(admin, a_zone, OCT + dt.timedelta(days=offset), address, target)
    _visit(admin, b_zone, OCT, "三号", "household")

    def day(month: int, d: int, hour: int) -> dt.datetime:
        return dt.datetime(2025, month, d, hour, tzinfo=LOCAL)

    for unit, due, done, cancel in (
        ("A", day(10, 20, 18), day(10, 18, 12), False),
        ("A", day(11, 10, 18), day(11, 12, 12), False),
        ("A", day(12, 5, 18), None, False),
        ("A", day(12, 10, 18), None, True),
        ("R1", day(11, 1, 18), day(10, 30, 12), False),
    ):
        _task(db, org, unit, due, done, cancel=cancel)

    analyst = as_user("analyst")
    r = analyst.post("/api/kpi/schemes", json={"toml": COMMUNITY_SCHEME})
    assert r.status_code == 201, r.text
    params = {"period": "2025-Q4", "draws": 50, "scheme_id": r.json()["id"]}
    board = analyst.get("/api/kpi/scores", params=params)
    assert board.status_code == 200, board.text
    assert board.json()["excluded"] == []
    a, b = _by_indicator(board.json(), "A"), _by_indicator(board.json(), "B")

    def fraction(ind: dict[str, Any]) -> tuple[int, int]:
        return ind["numerator"], round(ind["denominator"])

    assert fraction(a["disputes_settled"]) == (2, 3)
    assert a["disputes_settled"]["value"] == pytest.approx(2 / 3)
    assert fraction(a["mediation_30min"]) == (1, 2)
    assert fraction(a["visit_coverage"]) == (2, 7692)
    assert fraction(a["supervision_on_time"]) == (1, 3)
    assert fraction(b["disputes_settled"]) == (1, 1)
    assert fraction(b["mediation_30min"]) == (1, 1)
    assert fraction(b["visit_coverage"]) == (1, 5769)
    assert fraction(_by_indicator(board.json(), "R1")["supervision_on_time"]) == (1, 1)
    assert b["supervision_on_time"]["defined"] is False
    # A station without disputes, visits or tasks has the indicators undefined, not zero.
    s = _by_indicator(board.json(), "S")
    assert s["disputes_settled"]["defined"] is False and s["disputes_settled"]["normalised"] == 1

    # The year before had calls but no community or task records: the indicators are left
    # out for that period, saying why, and the remaining weight is rescaled.
    _take(db, [incident_item(at=OCT.replace(year=2024), category="criminal", unit="A")])
    earlier = analyst.get("/api/kpi/scores", params={**params, "period": "2024-Q4"}).json()
    assert {e["indicator"] for e in earlier["excluded"]} == {
        "disputes_settled",
        "mediation_30min",
        "visit_coverage",
        "supervision_on_time",
    }
    assert earlier["weights"] == {"prevention_rate": 1.0}


def test_periods_ending() -> None:
    assert periods_ending("2026-Q1", 3) == ["2025-Q3", "2025-Q4", "2026-Q1"]
    assert periods_ending("2026-01", 2) == ["2025-12", "2026-01"]
    assert periods_ending("2026-H1", 2) == ["2025-H2", "2026-H1"]
    assert periods_ending("2026", 2) == ["2025", "2026"]
    for period, count, field in (("2026-Q5", 2, "period"), ("2026-Q1", 0, "periods")):
        with pytest.raises(ValidationFailed) as err:
            periods_ending(period, count)
        assert err.value.details[0]["field"] == field


TREND_SCHEME = """name = "派警考核"
[indicators.dispatch_3min]
weight = 1.0
normalise = "target"
target = 0.5
"""


def test_a_station_trend_over_three_months(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    """Scheme: 3-minute dispatch share against a target of 0.5, so score = 100 × (1 + (v −
    0.5) / 0.5) = 200·v. October: A 1 of 2 calls dispatched within 3 minutes (score 100), B 3
    of 4 (150). November: no calls anywhere (a gap). December: A 4 of 4 (200), B 0 of 1 (0).
    The three other stations have no calls: their share is undefined and scored on the target
    (100). The trend of A over 2025-10…2025-12 is 100, gap, 200, each month as the scorecard
    has it; A ranks 2nd in October (after B, level with the three) and 1st in December; A's
    chief sees the scores without ranks, and not B's trend."""
    plan: dict[tuple[str, dt.datetime], list[float]] = {
        ("A", dt.datetime(2025, 10, 6, 9, tzinfo=LOCAL)): [2, 4],
        ("B", dt.datetime(2025, 10, 7, 9, tzinfo=LOCAL)): [1, 2, 2.5, 5],
        ("A", dt.datetime(2025, 12, 8, 9, tzinfo=LOCAL)): [1, 1, 2, 2.9],
        ("B", dt.datetime(2025, 12, 9, 9, tzinfo=LOCAL)): [3.5],
    }
    for (unit, at), minutes in plan.items():
        _take(
            db,
            [
                incident_item(at=at + dt.timedelta(hours=k), category="public_order", unit=unit)
                for k in range(len(minutes))
            ],
        )
    with db.session(write=True) as session:
        for (unit, at), minutes in plan.items():
            rows = (
                session.query(Incident)
                .filter(
                    Incident.station_id == org.id(unit),
                    Incident.received_at >= at,
                    Incident.received_at < at + dt.timedelta(days=1),
                )
                .order_by(Incident.received_at)
                .all()
            )
            assert len(rows) == len(minutes)
            for row, m in zip(rows, minutes, strict=True):
                row.dispatched_at = row.received_at + dt.timedelta(minutes=m)

    analyst = as_user("analyst")
    r = analyst.post("/api/kpi/schemes", json={"toml": TREND_SCHEME})
    assert r.status_code == 201, r.text
    scheme_id = r.json()["id"]
    params = {"period": "2025-12", "periods": 3, "draws": 200, "scheme_id": scheme_id}
    r = analyst.get(f"/api/kpi/stations/{org.id('A')}/trend", params=params)
    assert r.status_code == 200, r.text
    trend = r.json()
    assert trend["station"] == "A" and trend["scheme"]["id"] == scheme_id
    oct_, nov, dec = trend["periods"]
    assert [p["period"] for p in trend["periods"]] == ["2025-10", "2025-11", "2025-12"]
    assert oct_["score"] == pytest.approx(100.0) and dec["score"] == pytest.approx(200.0)
    assert nov["score"] is None and "没有警情数据" in nov["note"]
    assert (oct_["rank"], dec["rank"]) == (2, 1)
    assert oct_["score_low"] <= 100.0 <= oct_["score_high"]
    assert 1 <= oct_["rank_best"] <= 2 <= oct_["rank_worst"] <= oct_["stations"] == 5
    # Each month is the scorecard's own figure for it (the same computation and seed).
    board = analyst.get(
        "/api/kpi/scores", params={"period": "2025-10", "draws": 200, "scheme_id": scheme_id}
    ).json()
    a_oct = next(s for s in board["stations"] if s["station"] == "A")
    assert (oct_["score_low"], oct_["score_high"], oct_["rank_best"]) == (
        a_oct["score_low"],
        a_oct["score_high"],
        a_oct["rank_best"],
    )
    b = analyst.get(f"/api/kpi/stations/{org.id('B')}/trend", params=params).json()
    assert [p["score"] for p in b["periods"]] == [pytest.approx(150.0), None, pytest.approx(0)]

    chief = as_user("chief_a")
    mine = chief.get(f"/api/kpi/stations/{org.id('A')}/trend", params=params)
    assert mine.status_code == 200, mine.text
    assert mine.json()["ranking"] is False
    assert [p["score"] for p in mine.json()["periods"]] == [p["score"] for p in trend["periods"]]
    assert not {"rank", "rank_best", "tied_with", "stations"} & set(mine.json()["periods"][0])
    assert chief.get(f"/api/kpi/stations/{org.id('B')}/trend", params=params).status_code == 404
    # Bad input names the field: a period not over, too many periods, not a station.
    r = analyst.get(f"/api/kpi/stations/{org.id('A')}/trend", params={"period": "2099-01"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "period"
    r = analyst.get(f"/api/kpi/stations/{org.id('A')}/trend", params={**params, "periods": 99})
    assert r.status_code == 422 and "periods" in r.text
    r = analyst.get(f"/api/kpi/stations/{org.id('CMD')}/trend", params=params)
    assert r.status_code == 404
