"""Access scope: a station sees its own unit; a central station sees itself and its members."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qingzhi.org.models import Zone
from qingzhi.store.db import Database
from tests.factories import Org, square
from tests.helpers import bearer, unzip

OTHER_THAN_A = ("B", "C", "R1", "R2", "S", "CMD")


@pytest.fixture
def zoned(db: Database, org: Org) -> Org:
    """The org with a zone in R1 and geometries on every zone (for the zones map layer)."""
    with db.session(write=True) as session:
        z = Zone(code="R1-Z1", name="甲镇一片区", station_id=org.id("R1"), population=5_000)
        session.add(z)
        session.flush()
        org.zones["R1-Z1"] = z
        for code, (x, y) in {
            "A-Z1": (107.0, 30.0),
            "B-Z1": (107.1, 30.0),
            "R1-Z1": (107.0, 30.1),
        }.items():
            session.get(Zone, org.zones[code].id).geometry = square(x, y, 0.05)  # type: ignore[union-attr]
    return org


def _officers(client: TestClient, headers: dict[str, str], query: str = "") -> list[Any]:
    r = client.get(f"/api/officers?limit=1000{query}", headers=headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == len(page["items"])
    return page["items"]


def test_station_chief_reads_by_id_only_in_scope(
    client: TestClient, db: Database, zoned: Org
) -> None:
    org = zoned
    admin = bearer(db, "admin")
    chief = bearer(db, "chief_a")
    # give B's officer and zone an audit trail
    b_officer = org.officers["B000"].id
    b_zone = org.zones["B-Z1"].id
    assert (
        client.patch(
            f"/api/officers/{b_officer}", json={"duty_status": "leave"}, headers=admin
        ).status_code
        == 200
    )
    assert (
        client.patch(f"/api/zones/{b_zone}", json={"population": 16_000}, headers=admin).status_code
        == 200
    )
    a_officer = org.officers["A001"].id
    assert (
        client.patch(
            f"/api/officers/{a_officer}", json={"duty_status": "leave"}, headers=admin
        ).status_code
        == 200
    )

    for path in (
        f"/api/officers/{b_officer}",
        f"/api/zones/{b_zone}",
        f"/api/units/{org.id('B')}",
        f"/api/audit/officer/{b_officer}",
        f"/api/audit/zone/{b_zone}",
    ):
        r = client.get(path, headers=chief)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == "not_found"
        # the same path is there for the bureau-wide administrator
        assert client.get(path, headers=admin).status_code == 200, path

    assert client.get(f"/api/officers/{a_officer}", headers=chief).status_code == 200
    assert client.get(f"/api/zones/{org.zones['A-Z1'].id}", headers=chief).status_code == 200
    trail = client.get(f"/api/audit/officer/{a_officer}", headers=chief)
    assert trail.status_code == 200
    assert [e["action"] for e in trail.json()] == ["officer.update"]


def test_station_chief_cannot_change_another_station(
    client: TestClient, db: Database, org: Org
) -> None:
    chief = bearer(db, "chief_a")
    r = client.patch(
        f"/api/officers/{org.officers['B000'].id}", json={"duty_status": "leave"}, headers=chief
    )
    assert r.status_code == 404
    # nor move an own officer into another station, nor add one there
    r = client.patch(f"/api/officers/{org.officers['A000'].id}", json={"unit": "B"}, headers=chief)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "unit"
    r = client.post(
        "/api/officers",
        json={"police_number": "X1", "name": "某", "kind": "sworn", "unit": "B"},
        headers=chief,
    )
    assert r.status_code == 422


def test_station_chief_lists_and_searches_only_own_station(
    client: TestClient, db: Database, zoned: Org
) -> None:
    org = zoned
    chief = bearer(db, "chief_a")
    officers = _officers(client, chief)
    assert len(officers) == 30  # A: 20 sworn + 10 auxiliary
    assert {o["unit_id"] for o in officers} == {org.id("A")}
    # searching for another station's numbers and names finds nothing
    assert _officers(client, chief, "&q=B0") == []
    assert _officers(client, chief, "&q=城二") == []
    assert _officers(client, chief, f"&unit_id={org.id('B')}") == []
    assert len(_officers(client, chief, "&q=A01")) == 10

    units = client.get("/api/units", headers=chief).json()
    assert [u["code"] for u in units] == ["A"]
    assert client.get("/api/units?q=城二", headers=chief).json() == []
    zones = client.get("/api/zones", headers=chief).json()
    assert [z["code"] for z in zones] == ["A-Z1"]
    assert client.get("/api/zones?q=B", headers=chief).json() == []
    assert client.get(f"/api/zones?station_id={org.id('B')}", headers=chief).json() == []

    summary = client.get("/api/org/summary", headers=chief).json()
    assert summary["bureau"]["code"] == "A"
    assert [u["code"] for u in summary["units"]] == ["A"]


def test_station_chief_export_holds_only_own_station(
    client: TestClient, db: Database, zoned: Org
) -> None:
    chief = bearer(db, "chief_a")
    r = client.get("/api/org/export", headers=chief)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    files = unzip(r.content)
    units = json.loads(files["units.geojson"])["features"]
    assert [f["properties"]["code"] for f in units] == ["A"]
    zones = json.loads(files["zones.geojson"])["features"]
    assert [f["properties"]["code"] for f in zones] == ["A-Z1"]
    rows = list(csv.DictReader(io.StringIO(files["officers.csv"].decode("utf-8"))))
    assert len(rows) == 30
    assert {r["unit"] for r in rows} == {"A"}
    assert json.loads(files["bureau.json"])["population"] is None  # bureau totals are not theirs
    for other in OTHER_THAN_A:
        for name, data in files.items():
            assert f'"code": "{other}"' not in data.decode("utf-8"), (other, name)


def test_station_chief_map_layers(client: TestClient, db: Database, zoned: Org) -> None:
    chief = bearer(db, "chief_a")
    admin = bearer(db, "admin")
    units = client.get("/api/org/layers/units", headers=chief).json()
    assert units["type"] == "FeatureCollection"
    assert [f["properties"]["code"] for f in units["features"]] == ["A"]
    zones = client.get("/api/org/layers/zones", headers=chief).json()
    assert [f["properties"]["code"] for f in zones["features"]] == ["A-Z1"]
    everything = client.get("/api/org/layers/units", headers=admin).json()
    assert {f["properties"]["code"] for f in everything["features"]} == {"A", "B", "R1", "R2", "S"}
    all_zones = client.get("/api/org/layers/zones", headers=admin).json()
    assert {f["properties"]["code"] for f in all_zones["features"]} == {"A-Z1", "B-Z1", "R1-Z1"}
    assert client.get("/api/org/layers/nope", headers=admin).status_code == 404


def test_central_station_sees_its_members(client: TestClient, db: Database, zoned: Org) -> None:
    org = zoned
    chief = bearer(db, "chief_c")
    members = {org.id(c) for c in ("C", "R1", "R2")}
    officers = _officers(client, chief)
    assert len(officers) == (3 + 1) + (4 + 2) + (3 + 2)  # C, R1, R2: sworn + auxiliary
    assert {o["unit_id"] for o in officers} == members
    assert {u["code"] for u in client.get("/api/units", headers=chief).json()} == {"C", "R1", "R2"}
    assert [z["code"] for z in client.get("/api/zones", headers=chief).json()] == ["R1-Z1"]
    layer = client.get("/api/org/layers/units", headers=chief).json()
    assert {f["properties"]["code"] for f in layer["features"]} == {"R1", "R2"}
    layer = client.get("/api/org/layers/zones", headers=chief).json()
    assert [f["properties"]["code"] for f in layer["features"]] == ["R1-Z1"]
    assert client.get(f"/api/officers/{org.officers['R1000'].id}", headers=chief).status_code == 200
    assert client.get(f"/api/zones/{org.zones['R1-Z1'].id}", headers=chief).status_code == 200
    for code in ("A000", "B000", "S000", "CMD000"):
        assert (
            client.get(f"/api/officers/{org.officers[code].id}", headers=chief).status_code == 404
        )
    assert client.get(f"/api/zones/{org.zones['A-Z1'].id}", headers=chief).status_code == 404
    for code in ("A", "B", "S"):
        assert client.get(f"/api/units/{org.id(code)}", headers=chief).status_code == 404
    assert _officers(client, chief, "&q=A0") == []
    files = unzip(client.get("/api/org/export", headers=chief).content)
    units = json.loads(files["units.geojson"])["features"]
    assert {f["properties"]["code"] for f in units} == {"C", "R1", "R2"}
    rows = list(csv.DictReader(io.StringIO(files["officers.csv"].decode("utf-8"))))
    assert {r["unit"] for r in rows} == {"C", "R1", "R2"}
    # the members of its own bundle are listed with the central station
    c = client.get(f"/api/units/{org.id('C')}", headers=chief).json()
    assert sorted(c["member_ids"]) == sorted([org.id("R1"), org.id("R2")])


def test_unit_scoped_admin_cannot_bundle_another_station(
    client: TestClient, db: Database, org: Org
) -> None:
    """Bundling would put the station in the caller's scope: members must be in scope already."""
    from qingzhi.auth import service as auth
    from qingzhi.auth.context import system_actor

    with db.session(write=True) as session:
        auth.create_user(
            session=session,
            actor=system_actor("test"),
            username="admin_c",
            password="long-enough-1",
            role="admin",
            unit_code="C",
        )
    headers = bearer(db, "admin_c")
    c = org.id("C")
    r = client.put(f"/api/units/{c}/members", json={"members": ["R1", "R2", "A"]}, headers=headers)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "members"
    assert (
        client.get(f"/api/units/{org.id('A')}", headers=bearer(db, "admin")).json()["central_id"]
        is None
    )
    r = client.put(f"/api/units/{c}/members", json={"members": ["R2", "R1"]}, headers=headers)
    assert r.status_code == 200


def test_unit_scoped_admin_creates_users_only_inside_its_scope(
    client: TestClient, db: Database, org: Org
) -> None:
    from qingzhi.auth import service as auth
    from qingzhi.auth.context import system_actor

    with db.session(write=True) as session:
        auth.create_user(
            session=session,
            actor=system_actor("test"),
            username="admin_c",
            password="long-enough-1",
            role="admin",
            unit_code="C",
        )
    headers = bearer(db, "admin_c")
    new = {"password": "long-enough-1", "role": "admin"}
    for username, unit in (("wide", None), ("other", "A")):
        r = client.post(
            "/api/users", json={**new, "username": username, "unit": unit}, headers=headers
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"][0]["field"] == "unit"
    r = client.post("/api/users", json={**new, "username": "in_r1", "unit": "R1"}, headers=headers)
    assert r.status_code == 201
