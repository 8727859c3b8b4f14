"""Station evaluation and reform impact over the store: periods, records, panels, scores in
scope, scheme versions, reforms, and an injected reform effect recovered through the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.errors import ValidationFailed
from qingzhi.incidents.intake import intake_many
from qingzhi.incidents.schemas import IncidentCreate
from qingzhi.kpi import records
from qingzhi.kpi.service import period_bounds
from qingzhi.store.db import Database
from tests.factories import Org, incident_item
from tests.helpers import last_audit

TZ = "Asia/Shanghai"
LOCAL = ZoneInfo(TZ)


def _take(db: Database, items: list[IncidentCreate]) -> None:
    with db.session(write=True) as session:
        intake_many(
            session=session,
            actor=system_actor(),
            settings=Settings(database_url="sqlite://"),
            items=items,
            link_repeats=False,
        )


def test_periods() -> None:
    """Years, halves, quarters and months, in local time; bad ones name the field."""
    start, end = period_bounds("2025-Q3", TZ)
    assert (start, end) == (
        dt.datetime(2025, 7, 1, tzinfo=LOCAL),
        dt.datetime(2025, 10, 1, tzinfo=LOCAL),
    )
    assert period_bounds("2025-12", TZ)[1] == dt.datetime(2026, 1, 1, tzinfo=LOCAL)
    assert period_bounds("2025-H2", TZ)[0] == dt.datetime(2025, 7, 1, tzinfo=LOCAL)
    assert period_bounds("2025", TZ)[1] == dt.datetime(2026, 1, 1, tzinfo=LOCAL)
    for bad in ("2025-Q5", "2025-13", "25-01", "2025Q1", ""):
        with pytest.raises(ValidationFailed) as err:
            period_bounds(bad, TZ)
        assert err.value.details[0]["field"] == "period"


def test_station_records_hand_counted(db: Database, org: Org) -> None:
    """Station A's quarter: 3 public-order calls (one a repeat), 1 traffic call; dispatched in
    2 and 4 minutes; one a year earlier. The flags and the year-earlier rows are what was put in."""
    at = dt.datetime(2025, 8, 10, 9, 0, tzinfo=LOCAL)
    items = [
        incident_item(at=at, category="public_order", unit="A"),
        incident_item(at=at + dt.timedelta(hours=1), category="public_order", unit="A"),
        incident_item(at=at + dt.timedelta(hours=2), category="traffic", unit="A"),
        incident_item(at=at.replace(year=2024), category="criminal", unit="A"),
        incident_item(at=at, category="criminal", unit="B"),
    ]
    _take(db, items)
    with db.session(write=True) as session:  # a repeat, and two dispatch times
        from qingzhi.incidents.models import Incident

        rows = session.query(Incident).filter(Incident.station_id == org.id("A")).all()
        by_time = sorted(rows, key=lambda r: r.received_at)
        first, second, third = by_time[1], by_time[2], by_time[3]
        second.repeat_of_id = first.id
        first.dispatched_at = first.received_at + dt.timedelta(minutes=2)
        third.dispatched_at = third.received_at + dt.timedelta(minutes=4)
    start, end = period_bounds("2025-Q3", TZ)
    with db.session() as session:
        found = records.stations(session)
        assert [s.code for s in found] == ["A", "B", "R1", "R2", "S"]
        assert [s.group for s in found] == ["urban", "urban", "bundled", "bundled", "rural"]
        recs = {
            r.station: r
            for r in records.station_records(session, found, start, end, settings=Settings())
        }
    a = recs["A"].records["incidents"]
    assert len(a["prevention"]) == 3  # the three calls of the quarter
    assert a["prevention"].sum() == 1  # public order, not a repeat
    assert a["repeat"].sum() == 1
    assert a["dispatched"].sum() == 2 and a["dispatched_3min"].sum() == 1
    assert recs["A"].records["incidents_last_year"]["prevention"].sum() == 1
    assert recs["B"].records["incidents"]["prevention"].sum() == 1
    assert recs["S"].records["incidents"]["prevention"].size == 0


def _reform_history(db: Database, rr: float, seed: int = 7) -> None:
    """12 months of public-order calls, 2025-01 to 2025-12, at about 20 a month per station;
    from 2025-07 the bundled stations R1 and R2 have ``rr`` times their rate."""
    rng = np.random.default_rng(seed)
    items = []
    for month in range(1, 13):
        for code in ("A", "B", "R1", "R2", "S"):
            rate = 20.0 * (rr if code in ("R1", "R2") and month >= 7 else 1.0)
            n = int(rng.poisson(rate))
            for k in range(n):  # spread over the month, the 1st to the 28th
                day = 1 + round(k * 27 / max(n - 1, 1))
                at = dt.datetime(2025, month, day, 8 + k % 12, tzinfo=LOCAL)
                items.append(incident_item(at=at, category="public_order", unit=code))
    _take(db, items)


def test_panel_counts_what_was_put_in(db: Database, org: Org) -> None:
    """The panel's cells are the station-month counts of the calls taken in; neighbours come
    from the jurisdictions (A touches B, R1 and R2; S touches nobody)."""
    _reform_history(db, 0.5)
    with db.session() as session:
        found = records.stations(session)
        first, last = records.months_of(session, TZ) or (None, None)
        assert (str(first), str(last)) == ("2025-01", "2025-12")
        panel = records.panel(
            session,
            found,
            outcome="public_order",
            treated={org.id("R1"), org.id("R2")},
            reform_month=np.datetime64("2025-07"),
            first=first,  # type: ignore[arg-type]
            last=last,  # type: ignore[arg-type]
            tz=TZ,
        )
        from qingzhi.incidents.models import Incident

        n = session.query(Incident).filter(Incident.station_id == org.id("R1")).count()
    assert panel.values.shape == (5, 12)
    assert panel.values[2].sum() == n
    assert panel.treated.tolist() == [False, False, True, True, False]
    assert set(panel.neighbours["A"]) == {"B", "R1", "R2"} and panel.neighbours["S"] == ()


def test_reform_impact_recovers_the_injected_effect(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    """Bundled stations at half their rate after the reform: the DiD rate ratio's interval
    holds 0.5 and excludes 1; a station chief may not read the impact; a reform whose month is
    outside the data is refused naming the field; recording one is audited."""
    _reform_history(db, 0.5)
    analyst = as_user("analyst")
    r = analyst.post(
        "/api/kpi/reforms",
        json={
            "name": "捆绑运行",
            "kind": "bundling",
            "effective": "2025-07-01",
            "units": ["R1", "R2"],
        },
    )
    assert r.status_code == 201, r.text
    reform_id = r.json()["id"]
    assert last_audit(db).action == "reform.created"
    r = analyst.get("/api/kpi/impact", params={"reform_id": reform_id, "outcome": "public_order"})
    assert r.status_code == 200, r.text
    did = r.json()["did"]
    assert did["low"] < 0.5 < did["high"] and did["high"] < 1.0
    assert did["n_treated"] == 2 and did["n_controls"] == 3
    assert r.json()["caveats"]  # what the design cannot show, in words
    assert (
        as_user("chief_a").get("/api/kpi/impact", params={"reform_id": reform_id}).status_code
        == 403
    )

    r = as_user("analyst").post(
        "/api/kpi/reforms",
        json={"name": "太早", "kind": "bundling", "effective": "2024-01-01", "units": ["R1"]},
    )
    late = r.json()["id"]
    r = analyst.get("/api/kpi/impact", params={"reform_id": late})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "reform"


def test_no_effect_is_found_when_there_is_none(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    """Without an effect the interval holds 1."""
    _reform_history(db, 1.0, seed=11)
    analyst = as_user("analyst")
    reform_id = analyst.post(
        "/api/kpi/reforms",
        json={
            "name": "捆绑运行",
            "kind": "bundling",
            "effective": "2025-07-01",
            "units": ["R1", "R2"],
        },
    ).json()["id"]
    did = analyst.get(
        "/api/kpi/impact", params={"reform_id": reform_id, "outcome": "public_order"}
    ).json()["did"]
    assert did["low"] < 1.0 < did["high"]


def test_reform_bad_input(as_user: Callable[[str], TestClient], org: Org) -> None:
    """Unknown stations and units without a jurisdiction name ``units``; a chief cannot record."""
    analyst = as_user("analyst")
    body = {"name": "改革", "kind": "bundling", "effective": "2025-07-01", "units": ["NOPE"]}
    r = analyst.post("/api/kpi/reforms", json=body)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "units"
    r = analyst.post("/api/kpi/reforms", json={**body, "units": ["CMD"]})
    assert r.status_code == 422 and "CMD" in r.json()["error"]["message"]
    r = analyst.post("/api/kpi/reforms", json={**body, "kind": "whatever"})
    assert r.status_code == 422
    assert (
        as_user("chief_a").post("/api/kpi/reforms", json={**body, "units": ["A"]}).status_code
        == 403
    )


def test_scores_in_scope_and_scheme_versions(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    """The analyst sees every station ranked; station A's chief sees A alone, without ranks.
    A new scheme version leaves the old one's scores reproducible; a copy is refused; bad
    schemes name the field."""
    _reform_history(db, 0.5)
    analyst = as_user("analyst")
    r = analyst.get("/api/kpi/scores", params={"period": "2025-Q4", "draws": 200})
    assert r.status_code == 200, r.text
    board = r.json()
    assert board["ranking"] is True and {s["station"] for s in board["stations"]} == {
        "A",
        "B",
        "R1",
        "R2",
        "S",
    }
    a = next(s for s in board["stations"] if s["station"] == "A")
    rate = next(i for i in a["indicators"] if i["indicator"] == "prevention_rate")
    assert rate["value"] == pytest.approx(rate["numerator"] / 40_000 * 10_000)
    excluded = {e["indicator"] for e in board["excluded"]}
    assert "clearance" in excluded or "clearance" not in board["weights"]

    chief = as_user("chief_a").get("/api/kpi/scores", params={"period": "2025-Q4", "draws": 200})
    assert chief.status_code == 200
    seen = chief.json()
    assert [s["station"] for s in seen["stations"]] == ["A"]
    assert seen["ranking"] is False and "rank" not in seen["stations"][0]
    assert seen["stations"][0]["score"] == pytest.approx(a["score"])

    from qingzhi.analysis.scheme import DEFAULT_SCHEME_TOML

    analyst = as_user("analyst")
    r = analyst.post("/api/kpi/schemes", json={"toml": DEFAULT_SCHEME_TOML})
    assert r.status_code == 201, r.text
    old_id = r.json()["id"]
    before = analyst.get(
        "/api/kpi/scores", params={"period": "2025-Q4", "scheme_id": old_id, "draws": 200}
    ).json()
    assert analyst.post("/api/kpi/schemes", json={"toml": DEFAULT_SCHEME_TOML}).status_code == 409
    changed = DEFAULT_SCHEME_TOML.replace('name = "', 'name = "新', 1)
    r = analyst.post("/api/kpi/schemes", json={"toml": changed})
    assert r.status_code == 201 and r.json()["version"] != before["scheme"]["version"]
    again = analyst.get(
        "/api/kpi/scores", params={"period": "2025-Q4", "scheme_id": old_id, "draws": 200}
    ).json()
    assert again["stations"] == before["stations"]

    for toml, field in (("name = 1", "name"), ("[indicators.nope]\nweight = 1", "nope")):
        r = analyst.post("/api/kpi/schemes", json={"toml": toml})
        assert r.status_code == 422, r.text
        assert field in r.text
    r = analyst.get("/api/kpi/scores", params={"period": "2030-Q1"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "period"
    r = analyst.get("/api/kpi/scores", params={"period": "2019-Q1"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "period"


def test_case_work_feeds_the_clearance_indicators(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    """Station A's quarter: 3 cases opened (from A's criminal calls), 2 cleared, one within the
    fast-clearance hours and one after: clearance 2/3, fast clearance 1/2."""
    at = dt.datetime(2025, 10, 6, 9, 0, tzinfo=LOCAL)
    _take(
        db,
        [
            incident_item(at=at + dt.timedelta(days=k), category="criminal", unit="A")
            for k in range(3)
        ],
    )
    with db.session() as session:
        from qingzhi.incidents.models import Incident

        ids = [i.id for i in session.query(Incident).order_by(Incident.received_at)]
    admin = as_user("admin")
    cases = []
    for k, iid in enumerate(ids):
        opened = at + dt.timedelta(days=k, hours=1)
        body = {"incident_ids": [iid], "opened_at": opened.isoformat()}
        r = admin.post("/api/cases", json=body)
        assert r.status_code == 201, r.text
        cases.append((r.json()["id"], opened))
    for (case_id, opened_at), hours in zip(cases[:2], (10, 200), strict=True):
        cleared = (opened_at + dt.timedelta(hours=hours)).isoformat()
        r = admin.post(f"/api/cases/{case_id}/outcome", json={"status": "cleared", "at": cleared})
        assert r.status_code == 200, r.text
    scheme = """name = "办案考核"
[indicators.prevention_rate]
weight = 0.5
normalise = "group"
[indicators.clearance]
weight = 0.25
normalise = "target"
target = 0.8
[indicators.fast_clearance]
weight = 0.25
normalise = "target"
target = 0.9
"""
    analyst = as_user("analyst")
    r = analyst.post("/api/kpi/schemes", json={"toml": scheme})
    assert r.status_code == 201, r.text
    params = {"period": "2025-Q4", "draws": 50, "scheme_id": r.json()["id"]}
    board = analyst.get("/api/kpi/scores", params=params)
    assert board.status_code == 200, board.text
    a = next(s for s in board.json()["stations"] if s["station"] == "A")
    by = {i["indicator"]: i for i in a["indicators"]}
    assert (by["clearance"]["numerator"], by["clearance"]["denominator"]) == (2, 3)
    assert (by["fast_clearance"]["numerator"], by["fast_clearance"]["denominator"]) == (1, 2)


def test_the_scorecard_as_a_word_report(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    """The scorecard in the briefs' Word layout: every station for the analyst with ranks, the
    station alone with its indicators and its trend over 8 quarters (2024 without calls) for
    its chief; an unknown format is not a report."""
    import io

    import docx

    _reform_history(db, 0.5)
    params = {"period": "2025-Q4", "draws": 50}
    r = as_user("analyst").get("/api/kpi/scores.docx", params=params)
    assert r.status_code == 200, r.text
    word = docx.Document(io.BytesIO(r.content))
    table = word.tables[0]
    assert [c.text for c in table.rows[0].cells][:5] == ["派出所", "分组", "得分", "区间", "排名"]
    assert len(table.rows) == 6
    assert "派出所主防导向绩效考核" in "\n".join(p.text for p in word.paragraphs)
    r = as_user("chief_a").get("/api/kpi/scores.docx", params=params)
    word = docx.Document(io.BytesIO(r.content))
    assert len(word.tables[0].rows) == 2 and "排名" not in word.tables[0].rows[0].cells[-1].text
    assert len(word.tables) == 3  # the station's own indicators and its trend
    trend = word.tables[2]
    assert [c.text for c in trend.rows[0].cells] == ["考核期", "得分", "区间", "说明"]
    periods = [r.cells[0].text for r in trend.rows[1:]]
    assert periods == [f"{y}-Q{q}" for y in (2024, 2025) for q in (1, 2, 3, 4)]
    assert trend.rows[1].cells[1].text == "—" and trend.rows[8].cells[1].text != "—"
    assert as_user("analyst").get("/api/kpi/scores.odt", params=params).status_code in (404, 422)
