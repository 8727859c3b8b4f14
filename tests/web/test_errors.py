"""Errors: bad input is a 4xx in the one JSON shape, names the field, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from qingzhi.store.db import Database
from tests.factories import Org
from tests.helpers import counts


def _error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def _fields(error: dict[str, Any]) -> list[str]:
    return [d["field"] for d in error["details"]]


def test_malformed_json(client: TestClient, db: Database, admin: dict[str, str]) -> None:
    before = counts(db)
    r = client.post(
        "/api/units",
        content=b'{"code": "X1", "name": ',
        headers={**admin, "content-type": "application/json"},
    )
    error = _error(r, 422, "validation_failed")
    assert _fields(error) == ["body"]
    assert error["message"].startswith("body")
    assert counts(db) == before


def test_unknown_field_is_named(client: TestClient, db: Database, admin: dict[str, str]) -> None:
    before = counts(db)
    r = client.post(
        "/api/units",
        json={"code": "X1", "name": "某", "kind": "other", "colour": "red"},
        headers=admin,
    )
    error = _error(r, 422, "validation_failed")
    assert _fields(error) == ["colour"]
    assert "colour" in error["message"]
    assert counts(db) == before


def test_missing_and_bad_fields_are_named(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    r = client.post("/api/units", json={"name": "某", "kind": "castle"}, headers=admin)
    error = _error(r, 422, "validation_failed")
    assert sorted(_fields(error)) == ["code", "kind"]
    r = client.post(
        "/api/officers",
        json={"police_number": "bad number!", "name": "某", "kind": "sworn", "unit": "A"},
        headers=admin,
    )
    assert _fields(_error(r, 422, "validation_failed")) == ["police_number"]
    r = client.get("/api/officers?limit=0", headers=admin)
    assert _fields(_error(r, 422, "validation_failed")) == ["limit"]


BAD_GEOMETRIES = [
    {"type": "Point", "coordinates": [107.0, 30.0]},
    {"type": "Polygon", "coordinates": [[[107, 30], [108, 31], [107, 31], [108, 30], [107, 30]]]},
    {"type": "Polygon", "coordinates": [[[307, 30], [308, 30], [308, 31], [307, 30]]]},
    {"type": "Polygon", "coordinates": "nonsense"},
    {"type": "Polygon", "coordinates": []},
    {"type": "Feature", "geometry": None},
]


@pytest.mark.parametrize("geometry", BAD_GEOMETRIES, ids=range(len(BAD_GEOMETRIES)))
def test_bad_jurisdiction_is_named(
    client: TestClient, db: Database, org: Org, admin: dict[str, str], geometry: dict[str, Any]
) -> None:
    before = counts(db)
    r = client.post(
        "/api/units",
        json={"code": "X1", "name": "某", "kind": "urban_station", "jurisdiction": geometry},
        headers=admin,
    )
    error = _error(r, 422, "validation_failed")
    assert _fields(error) == ["jurisdiction"]
    r = client.patch(f"/api/units/{org.id('A')}", json={"jurisdiction": geometry}, headers=admin)
    assert _fields(_error(r, 422, "validation_failed")) == ["jurisdiction"]
    r = client.post(
        "/api/zones",
        json={"code": "Z1", "name": "某", "station": "A", "geometry": geometry},
        headers=admin,
    )
    assert _fields(_error(r, 422, "validation_failed")) == ["geometry"]
    assert counts(db) == before


def test_duplicate_unit_code(client: TestClient, db: Database, admin: dict[str, str]) -> None:
    before = counts(db)
    r = client.post(
        "/api/units", json={"code": "A", "name": "又一个", "kind": "other"}, headers=admin
    )
    error = _error(r, 409, "conflict")
    assert error["details"] == [{"field": "code"}]
    assert counts(db) == before
    r = client.post(
        "/api/zones", json={"code": "A-Z1", "name": "重复", "station": "A"}, headers=admin
    )
    _error(r, 409, "conflict")
    assert counts(db) == before


def test_unknown_route_and_method(client: TestClient, admin: dict[str, str]) -> None:
    error = _error(client.get("/api/nothing-here", headers=admin), 404, "not_found")
    assert error["details"] is None
    _error(client.get("/nothing-here"), 404, "not_found")
    _error(client.delete("/api/org/summary", headers=admin), 405, "method_not_allowed")


def test_not_found_by_id(client: TestClient, admin: dict[str, str]) -> None:
    for path in ("/api/units/999999", "/api/zones/999999", "/api/officers/999999"):
        _error(client.get(path, headers=admin), 404, "not_found")
    _error(client.get("/api/units/abc", headers=admin), 422, "validation_failed")


def test_request_id_is_echoed(client: TestClient, admin: dict[str, str]) -> None:
    r = client.get("/api/me", headers={**admin, "X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    r = client.get("/api/me", headers={**admin, "X-Request-ID": "bad id; drop table"})
    assert r.headers["X-Request-ID"] != "bad id; drop table"
    assert len(r.headers["X-Request-ID"]) == 32


def test_bad_import_file(client: TestClient, db: Database, admin: dict[str, str]) -> None:
    before = counts(db)
    r = client.post(
        "/api/org/import",
        files={"file": ("org.zip", b"this is not a zip", "application/zip")},
        headers=admin,
    )
    assert _fields(_error(r, 422, "validation_failed")) == ["bundle"]
    r = client.post("/api/org/import", headers=admin)
    assert _fields(_error(r, 422, "validation_failed")) == ["file"]
    assert counts(db) == before


@pytest.mark.parametrize(
    "kind, field",
    [
        ("unit", "name"),
        ("unit", "traffic_integrated"),
        ("unit", "service_window"),
        ("zone", "name"),
        ("officer", "name"),
        ("officer", "unit"),
        ("officer", "duty_status"),
        ("officer", "active"),
    ],
)
def test_explicit_null_for_a_required_field_is_named(
    client: TestClient, db: Database, org: Org, admin: dict[str, str], kind: str, field: str
) -> None:
    """Omitting a field leaves it alone; null cannot clear a required one (was a 500)."""
    path = {
        "unit": f"/api/units/{org.id('A')}",
        "zone": f"/api/zones/{org.zones['A-Z1'].id}",
        "officer": f"/api/officers/{org.officers['A000'].id}",
    }[kind]
    before = counts(db)
    r = client.patch(path, json={field: None}, headers=admin)
    assert _fields(_error(r, 422, "validation_failed")) == [field]
    assert counts(db) == before


def test_explicit_null_clears_an_optional_field(
    client: TestClient, org: Org, admin: dict[str, str]
) -> None:
    r = client.patch(f"/api/units/{org.id('A')}", json={"population": None}, headers=admin)
    assert r.status_code == 200
    assert r.json()["population"] is None
    r = client.patch(
        f"/api/officers/{org.officers['A000'].id}", json={"team": None, "zone": None}, headers=admin
    )
    assert r.status_code == 200
    assert r.json()["team"] is None


def test_field_errors_are_in_chinese(client: TestClient, admin: dict[str, str]) -> None:
    """pydantic's own checks (length, range, type) answer in Chinese, naming the field."""
    headers = admin
    body = {"code": "X" * 40, "name": "名", "kind": "urban_station", "population": -5}
    r = client.post("/api/units", json=body, headers=headers)
    assert r.status_code == 422
    details = {d["field"]: d["message"] for d in r.json()["error"]["details"]}
    assert details["code"] == "长度不得超过 32 个字符"
    assert details["population"] == "不得小于 0"
    r = client.post(
        "/api/units", json={**body, "code": "X1", "population": 1, "kind": "bogus"}, headers=headers
    )
    assert r.json()["error"]["details"][0]["message"].startswith("可选值：")
