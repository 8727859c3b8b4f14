"""The records behind each figure of a station's breakdown: the links carry the station, the
period and the indicator's selection, and the desk's query behind an incident indicator lists
exactly the incidents its figure counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from qingzhi.incidents.models import Incident
from qingzhi.kpi import links
from qingzhi.kpi.service import period_bounds
from qingzhi.store.db import Database
from tests.factories import Org, incident_item
from tests.kpi.test_kpi import _take

LOCAL = ZoneInfo("Asia/Shanghai")


def _quarter(db: Database, org: Org) -> None:
    """Station A's jurisdiction in 2025-Q3: a public-order call and its repeat, a traffic call,
    a criminal call handled by station B, an invalid call; a call the minute before the
    quarter and one at its end (both outside); station B's call handled by A (not A's)."""
    at = dt.datetime(2025, 8, 10, 9, 0, tzinfo=LOCAL)
    items = [
        incident_item(at=at, category="public_order", unit="A", source_id="A-po"),
        incident_item(
            at=at + dt.timedelta(hours=1), category="public_order", unit="A", source_id="A-repeat"
        ),
        incident_item(at=at + dt.timedelta(hours=2), category="traffic", unit="A"),
        incident_item(
            at=at + dt.timedelta(hours=3), category="criminal", unit="A", source_id="A-by-B"
        ),
        incident_item(
            at=at + dt.timedelta(hours=4), category="criminal", unit="A", source_id="A-invalid"
        ),
        incident_item(
            at=dt.datetime(2025, 6, 30, 23, 59, tzinfo=LOCAL), category="criminal", unit="A"
        ),
        incident_item(
            at=dt.datetime(2025, 10, 1, 0, 0, tzinfo=LOCAL), category="criminal", unit="A"
        ),
        incident_item(at=at, category="criminal", unit="B", source_id="B-by-A"),
    ]
    _take(db, items)
    with db.session(write=True) as session:
        rows = {i.source_id: i for i in session.query(Incident)}
        rows["A-repeat"].repeat_of_id = rows["A-po"].id
        rows["A-by-B"].unit_id = org.id("B")
        rows["A-invalid"].valid = False
        rows["B-by-A"].unit_id = org.id("A")


def _rows(board: dict[str, Any], code: str) -> dict[str, dict[str, Any]]:
    station = next(s for s in board["stations"] if s["station"] == code)
    return {i["indicator"]: i for i in station["indicators"]}


def test_breakdown_links_carry_station_period_and_selection(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    """Hand-written links for station A in 2025-Q3; following the desk's query on
    /api/incidents lists the 4 valid calls the repeat share counts (not the invalid one, the
    ones outside the quarter, nor B's call that A handled), and 3 of the prevention calls of
    which the rate counts 2 (the repeat is listed, not counted: the link says so)."""
    _quarter(db, org)
    a = org.id("A")
    chief = as_user("chief_a")
    r = chief.get("/api/kpi/scores", params={"period": "2025-Q3", "draws": 50})
    assert r.status_code == 200, r.text
    rows = _rows(r.json(), "A")
    span = "start=2025-07-01T00%3A00&end=2025-10-01T00%3A00&valid=true"
    assert rows["prevention_rate"]["records_url"] == (
        f"/desk?station_id={a}&{span}&category=criminal&category=public_order"
    )
    assert rows["repeat_share"]["records_url"] == f"/desk?station_id={a}&{span}"
    assert rows["dispatch_3min"]["records_url"] == f"/desk?station_id={a}&{span}"
    assert "3 分钟内派警" in str(rows["dispatch_3min"]["records_note"])
    assert "clearance" not in rows  # no cases in the store: left out, so no link either
    where = links.Where(a, *period_bounds("2025-Q3", "Asia/Shanghai"))
    assert links.records_url("clearance", where) == "/cases?start=2025-07-01&end=2025-09-30"
    assert links.records_url("visit_coverage", where) == f"/community?unit_id={a}"
    assert links.records_url("supervision_on_time", where) == "/tasks"

    def listed(url: object) -> int:
        query = urlsplit(str(url)).query
        got = chief.get(f"/api/incidents?{query}&count=true&limit=500")
        assert got.status_code == 200, got.text
        return int(got.json()["total"])

    assert rows["repeat_share"]["denominator"] == 4
    assert listed(rows["repeat_share"]["records_url"]) == 4
    assert rows["prevention_rate"]["numerator"] == 2
    assert listed(rows["prevention_rate"]["records_url"]) == 3
    # The handling unit's filter would take B's call that A handled: the jurisdiction's does not.
    handled = chief.get(f"/api/incidents?unit_id={a}&{span}&count=true").json()["total"]
    assert handled == 5

    # The analyst sees every station's links, each on its own station.
    board = (
        as_user("analyst").get("/api/kpi/scores", params={"period": "2025-Q3", "draws": 50}).json()
    )
    b = _rows(board, "B")
    assert b["repeat_share"]["records_url"] == f"/desk?station_id={org.id('B')}&{span}"
    assert listed(b["repeat_share"]["records_url"]) == b["repeat_share"]["denominator"] == 1


def test_the_desk_filter_by_jurisdiction_is_in_scope(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    """Station C's chief following a link to station A's calls sees none of them (the desk's
    own scope); a bad station id names the field."""
    _quarter(db, org)
    r = as_user("chief_c").get(f"/api/incidents?station_id={org.id('A')}&count=true")
    assert r.status_code == 200 and r.json()["total"] == 0
    r = as_user("analyst").get("/api/incidents?station_id=0")
    assert r.status_code == 422 and "station_id" in r.text


def test_every_indicator_has_its_records_list() -> None:
    """A new indicator without a list of its records fails here, not silently on the page."""
    from qingzhi.analysis.indicators import INDICATOR_BY_ID

    assert set(links.LINKS) == set(INDICATOR_BY_ID)


def test_a_link_only_to_a_list_the_caller_may_read() -> None:
    """A viewer's role reads incidents and community records but not cases or tasks: the desk
    and dispute links stay, the case and task ones are null (and so is their note)."""
    from qingzhi.auth.context import Actor
    from qingzhi.auth.permissions import Role
    from qingzhi.auth.scope import Scope

    viewer = Actor(user_id=1, name="v", role=Role.viewer, scope=Scope.bureau())
    ids = ("repeat_share", "disputes_settled", "clearance", "supervision_on_time")
    rows: list[dict[str, Any]] = [{"indicator": i} for i in ids]
    board: dict[str, Any] = {"stations": [{"unit_id": 7, "indicators": rows}]}
    links.attach(viewer, board, *period_bounds("2025-09", "Asia/Shanghai"))
    got = {r["indicator"]: r for r in rows}
    assert got["repeat_share"]["records_url"] == (
        "/desk?station_id=7&start=2025-09-01T00%3A00&end=2025-10-01T00%3A00&valid=true"
    )
    assert got["disputes_settled"]["records_url"] == "/community/disputes"
    assert got["clearance"]["records_url"] is None and got["clearance"]["records_note"] is None
    assert got["supervision_on_time"]["records_url"] is None
