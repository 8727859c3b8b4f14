"""Officers per 10,000 residents (警力万人比) and bundles (捆绑运行), computed by hand.

Factory: bureau population 100,000. Sworn (auxiliary) officers: A 20 (10), B 15 (5), R1 4 (2),
R2 3 (2), C 3 (1), S 5 (2), CMD 6 (0) → 56 sworn, 22 auxiliary. Populations: A 40,000,
B 30,000, R1 10,000, R2 10,000, S 10,000; C (R1 + R2) and CMD have none of their own.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from qingzhi.org.models import Bureau
from qingzhi.org.service import per_10k
from qingzhi.store.db import Database
from tests.factories import Org
from tests.helpers import bearer


def _by_code(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in rows}


def test_per_10k() -> None:
    assert per_10k(56, 100_000) == 5.6
    assert per_10k(20, 30_000) == 6.67
    assert per_10k(1, 3) == 3333.33
    assert per_10k(5, None) is None
    assert per_10k(5, 0) is None


def test_bureau_and_unit_figures(client: TestClient, admin: dict[str, str]) -> None:
    summary = client.get("/api/org/summary", headers=admin).json()
    b = summary["bureau"]
    assert (b["code"], b["population"], b["sworn"], b["auxiliary"]) == ("TEST", 100_000, 56, 22)
    assert b["officers_per_10k"] == 56 / 100_000 * 10_000 == 5.6
    units = _by_code(summary["units"])
    expected = {
        "A": (40_000, 20, 10, 5.0),
        "B": (30_000, 15, 5, 5.0),
        "R1": (10_000, 4, 2, 4.0),
        "R2": (10_000, 3, 2, 3.0),
        "S": (10_000, 5, 2, 5.0),
        # the central station counts its members: (3 + 4 + 3) sworn over (10,000 + 10,000)
        "C": (20_000, 10, 5, 5.0),
        "CMD": (None, 6, 0, None),
    }
    got = {
        code: (u["population"], u["sworn"], u["auxiliary"], u["officers_per_10k"])
        for code, u in units.items()
    }
    assert got == expected
    # the same figures on the units list
    listed = _by_code(client.get("/api/units", headers=admin).json())
    assert {c: listed[c]["officers_per_10k"] for c in expected} == {
        c: v[3] for c, v in expected.items()
    }


def test_figures_follow_changes(
    client: TestClient, db: Database, org: Org, admin: dict[str, str]
) -> None:
    assert client.patch(
        f"/api/units/{org.id('A')}", json={"population": 30_000}, headers=admin
    ).is_success
    # an inactive officer does not count
    r = client.patch(
        f"/api/officers/{org.officers['B000'].id}", json={"active": False}, headers=admin
    )
    assert r.is_success
    units = _by_code(client.get("/api/org/summary", headers=admin).json()["units"])
    assert units["A"]["officers_per_10k"] == round(20 / 30_000 * 10_000, 2) == 6.67
    assert units["B"]["sworn"] == 14
    assert units["B"]["officers_per_10k"] == round(14 / 30_000 * 10_000, 2) == 4.67
    # a bureau without a population of its own uses its stations' total (90,000)
    with db.session(write=True) as session:
        bureau = session.get(Bureau, org.bureau.id)
        assert bureau is not None
        bureau.population = None
    b = client.get("/api/org/summary", headers=admin).json()["bureau"]
    assert b["population"] == 30_000 + 30_000 + 10_000 + 10_000 + 10_000
    assert b["sworn"] == 55
    assert b["officers_per_10k"] == round(55 / 90_000 * 10_000, 2) == 6.11


def test_central_station_chief_sees_its_bundle_figure(
    client: TestClient, db: Database, org: Org
) -> None:
    summary = client.get("/api/org/summary", headers=bearer(db, "chief_c")).json()
    assert summary["bureau"]["code"] == "C"
    assert summary["bureau"]["sworn"] == 10
    assert summary["bureau"]["population"] == 20_000
    assert summary["bureau"]["officers_per_10k"] == 5.0
    assert {u["code"] for u in summary["units"]} == {"C", "R1", "R2"}


def test_bundle_three_adjacent_stations(
    client: TestClient, org: Org, admin: dict[str, str]
) -> None:
    c = org.id("C")
    r = client.put(f"/api/units/{c}/members", json={"members": ["R1", "R2", "A"]}, headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(body["member_ids"]) == sorted(org.id(x) for x in ("R1", "R2", "A"))
    assert body["sworn"] == 3 + 4 + 3 + 20
    assert body["population"] == 60_000
    assert body["officers_per_10k"] == 5.0
    a = client.get(f"/api/units/{org.id('A')}", headers=admin).json()
    assert a["central_id"] == c
    # unbundle
    r = client.put(f"/api/units/{c}/members", json={"members": []}, headers=admin)
    assert r.status_code == 200
    assert r.json()["member_ids"] == []
    assert r.json()["population"] is None
    assert client.get(f"/api/units/{org.id('R1')}", headers=admin).json()["central_id"] is None
    # and bundle two again
    r = client.put(f"/api/units/{c}/members", json={"members": ["R2", "R1"]}, headers=admin)
    assert r.status_code == 200


@pytest.mark.parametrize(
    "target, members, reason",
    [
        ("C", ["R1"], "1 member"),
        ("C", ["R1", "R2", "A", "B"], "4 members"),
        ("C", ["R1", "S"], "not adjacent"),
        ("C", ["R1", "CMD"], "not a station"),
        ("A", ["B", "R1"], "not a central station"),
        ("C2", ["R1", "A"], "member of another bundle"),
    ],
)
def test_bundle_validation(
    client: TestClient,
    org: Org,
    admin: dict[str, str],
    target: str,
    members: list[str],
    reason: str,
) -> None:
    r = client.post(
        "/api/units",
        json={"code": "C2", "name": "丙中心所", "kind": "central_station"},
        headers=admin,
    )
    assert r.status_code == 201
    unit_id = r.json()["id"] if target == "C2" else org.id(target)
    r = client.put(f"/api/units/{unit_id}/members", json={"members": members}, headers=admin)
    assert r.status_code == 422, (reason, r.text)
    assert r.json()["error"]["details"][0]["field"] == "members"
    c = client.get(f"/api/units/{org.id('C')}", headers=admin).json()
    assert sorted(c["member_ids"]) == sorted([org.id("R1"), org.id("R2")])
