"""Input at the edges: out-of-range ids and offsets, dates at their limits, forged cursors,
deep nesting, NUL characters (PostgreSQL refuses them in text) — each a 4xx naming the field,
on SQLite and PostgreSQL; and small fixes at the edge (Allow on 405, LIKE wildcards, phones)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import incident_body
from tests.helpers import counts

BIG = 2**31  # one past the 32-bit id columns
HUGE = 2**64  # beyond 64 bits


def _field(r: Any, status: int = 422) -> str:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    fields = [d["field"] for d in error["details"]]
    assert fields[0] in error["message"] or fields[0] == "body"
    return str(fields[0])


def _cursor(at: Any, iid: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([at, iid]).encode()).decode()


@pytest.fixture
def admin_api(as_user: Callable[[str], TestClient]) -> TestClient:
    """The client signed in as the administrator (bearer token)."""
    return as_user("admin")


PATHS = [
    ("GET", f"/api/units/{BIG}", "unit_id"),
    ("GET", f"/api/units/{2**63}", "unit_id"),
    ("PATCH", f"/api/units/{BIG}", "unit_id"),
    ("GET", f"/api/zones/{BIG}", "zone_id"),
    ("GET", f"/api/officers/{HUGE}", "officer_id"),
    ("GET", f"/api/incidents/{BIG}", "incident_id"),
    ("GET", f"/api/incidents/{HUGE}/timeline", "incident_id"),
    ("GET", f"/api/dispatch/incidents/{BIG}/candidates", "incident_id"),
    ("PATCH", f"/api/live/officers/{BIG}", "officer_id"),
    ("DELETE", f"/api/tokens/{BIG}", "token_id"),
    ("GET", f"/incidents/{BIG}", "incident_id"),
    ("GET", f"/units/{HUGE}", "unit_id"),
]


@pytest.mark.parametrize(("method", "path", "field"), PATHS, ids=[p[1] for p in PATHS])
def test_ids_beyond_the_columns_in_paths(admin_api, method, path, field):
    r = admin_api.request(method, path, json={} if method == "PATCH" else None)
    assert _field(r) == field


QUERIES = [
    ("/api/incidents", {"unit_id": BIG}, "unit_id"),
    ("/api/incidents", {"zone_id": HUGE}, "zone_id"),
    ("/api/incidents/export.csv", {"unit_id": BIG}, "unit_id"),
    ("/api/officers", {"unit_id": BIG}, "unit_id"),
    ("/api/officers", {"offset": HUGE}, "offset"),
    ("/api/officers", {"duty_status": "bogus"}, "duty_status"),
    ("/api/zones", {"station_id": BIG}, "station_id"),
    ("/api/live/officers", {"unit_id": BIG}, "unit_id"),
    ("/ogc/collections/incidents/items", {"offset": HUGE}, "offset"),
]


@pytest.mark.parametrize(("path", "params", "field"), QUERIES, ids=[str(q[1]) for q in QUERIES])
def test_ids_and_offsets_beyond_the_columns_in_queries(admin_api, path, params, field):
    assert _field(admin_api.get(path, params=params)) == field


def test_ids_beyond_the_columns_in_bodies(admin_api, db):
    inc = admin_api.post("/api/incidents", json=incident_body()).json()["incident"]["id"]
    before = counts(db)
    r = admin_api.post(f"/api/dispatch/incidents/{inc}", json={"officer_ids": [BIG]})
    assert _field(r) == "officer_ids.0"
    r = admin_api.post(
        f"/api/incidents/{inc}/transitions", json={"to": "dispatched", "officer_ids": [2**63]}
    )
    assert _field(r) == "officer_ids.0"
    r = admin_api.post(
        "/api/live/positions", json={"positions": [{"officer_id": BIG, "lon": 107, "lat": 30}]}
    )
    assert _field(r) == "positions.0.officer_id"
    assert counts(db) == before


LIMIT_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999999Z", "1999-12-31T00:00:00Z"]
DATES = [("/ogc/collections/incidents/items", {"datetime": t}, "datetime") for t in LIMIT_TIMES] + [
    ("/ogc/collections/incidents/items", {"datetime": f"{LIMIT_TIMES[1]}/.."}, "datetime"),
    ("/ogc/collections/incidents/items", {"datetime": f"../{LIMIT_TIMES[0]}"}, "datetime"),
    ("/ogc/collections/incidents/items", {"datetime": "1700000000"}, "datetime"),
    ("/api/incidents", {"start": LIMIT_TIMES[0]}, "start"),
    ("/api/incidents", {"end": LIMIT_TIMES[1]}, "end"),
    ("/api/incidents", {"start": "1700000000"}, "start"),  # a bare Unix time is not a time
    ("/api/incidents", {"start": "0.5"}, "start"),
    ("/api/incidents", {"start": "2026-11-01T10:00:00+23:59"}, "start"),  # no such offset
    ("/api/incidents/export.geojson", {"end": LIMIT_TIMES[1]}, "end"),
    ("/api/intel/trends", {"start": "0001-01-01"}, "start"),
    ("/api/intel/trends", {"end": "9999-12-31"}, "end"),
    ("/api/intel/trends", {"end": "0"}, "end"),
    ("/api/intel/hotspots", {"start": "0001-01-01", "end": "0001-01-02"}, "start"),
    ("/api/intel/forecast", {"day": "9999-12-31"}, "day"),
    ("/api/intel/nearrepeat", {"category": "criminal", "end": "9999-12-31"}, "end"),
    ("/api/intel/warnings", {"end": "9999-12-31"}, "end"),
    ("/api/intel/warnings", {"end": "0001-01-01"}, "end"),
]


@pytest.mark.parametrize(("path", "params", "field"), DATES, ids=[str(d[1]) for d in DATES])
def test_dates_at_their_limits(admin_api, path, params, field):
    assert _field(admin_api.get(path, params=params)) == field


@pytest.mark.parametrize(
    "received_at",
    [1_700_000_000, 1.5, "1700000000", "2026-11-01T10:00:00+23:59", "9999-12-31T23:59:59Z"],
)
def test_times_in_bodies(admin_api, db, received_at):
    before = counts(db)
    r = admin_api.post("/api/incidents", json=incident_body(received_at=received_at))
    assert _field(r) == "received_at"
    r = admin_api.post(
        "/api/live/positions",
        json={"positions": [{"officer_id": 1, "lon": 107, "lat": 30, "at": received_at}]},
    )
    assert _field(r) == "positions.0.at"
    assert counts(db) == before


def test_the_widest_real_offsets_are_times(admin_api):
    for at in ("2026-11-01T10:00:00+14:00", "2026-11-01T10:00:00-12:00"):
        r = admin_api.get("/api/incidents", params={"start": at})
        assert r.status_code == 200, r.text


CURSORS = [
    _cursor("2026-11-01T10:00:00+00:00", 10**30),
    _cursor("2026-11-01T10:00:00+00:00", 1.5e300),
    _cursor("2026-11-01T10:00:00+00:00", True),
    _cursor("2026-11-01T10:00:00", 1),  # naive
    _cursor("0001-01-01T00:00:00+14:00", 1),
    _cursor(12, 1),
    "bm90IGpzb24",
    base64.urlsafe_b64encode(b"[" * 20_000).decode()[:200],
]


@pytest.mark.parametrize("cursor", CURSORS)
def test_forged_cursors(admin_api, cursor):
    assert _field(admin_api.get("/api/incidents", params={"cursor": cursor})) == "cursor"


def test_a_real_cursor_still_pages(admin_api):
    for i in range(3):
        r = admin_api.post(
            "/api/incidents", json=incident_body(source_id=f"cur-{i}", caller_phone=None)
        )
        assert r.status_code == 201
    first = admin_api.get("/api/incidents", params={"limit": 2}).json()
    rest = admin_api.get(
        "/api/incidents", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1


def test_deeply_nested_polygon(admin_api):
    deep = "[" * 20_000  # the parser recurses before it finds the missing brackets
    assert _field(admin_api.get("/api/incidents", params={"polygon": deep})) == "polygon"
    geometry = '{"type":"Polygon","coordinates":' + deep + "}"
    assert _field(admin_api.get("/api/incidents", params={"polygon": geometry})) == "polygon"


@pytest.mark.parametrize("feature_id", ["²", "१२", "0", "-1", str(BIG), str(HUGE), "1e3"])
def test_ogc_feature_ids_that_are_not_ids(admin_api, feature_id):
    r = admin_api.get(f"/ogc/collections/incidents/items/{feature_id}")
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "not_found"


def test_ogc_bbox_must_be_finite(admin_api):
    r = admin_api.get("/ogc/collections/incidents/items", params={"bbox": "nan,0,inf,1"})
    assert _field(r) == "bbox"
    assert _field(admin_api.get("/api/incidents", params={"bbox": "0,0,inf,1"})) == "bbox"


# ---- NUL and other control characters (a 500 on PostgreSQL before)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/incidents", {"q": "盗\x00窃"}, "q"),
        ("/api/incidents", {"subtype": "theft\x00"}, "subtype"),
        ("/api/units", {"q": "\x00"}, "q"),
        ("/api/officers", {"q": "A\x00"}, "q"),
        ("/api/zones", {"q": "\x1b[31m"}, "q"),
        ("/ogc/collections/incidents/items", {"datetime": "2026-01-01\x00"}, "datetime"),
    ],
)
def test_control_characters_in_queries(admin_api, path, params, field):
    assert _field(admin_api.get(path, params=params)) == field


def test_control_characters_in_bodies_and_paths(admin_api, client, db):
    inc = admin_api.post("/api/incidents", json=incident_body()).json()["incident"]["id"]
    before = counts(db)
    cases = [
        ("POST", f"/api/incidents/{inc}/transitions", {"to": "cancelled", "reason": "误\x00报"}),
        ("POST", "/api/units", {"code": "X1", "name": "某\x00所", "kind": "other"}),
        ("PATCH", f"/api/zones/{_zone_id(admin_api)}", {"name": "\x00"}),
        ("POST", "/api/tokens", {"name": "laptop\x00"}),
        (
            "POST",
            "/api/users",
            {"username": "u\x00", "password": "long-enough-1", "role": "viewer"},
        ),
        ("POST", "/api/incidents", incident_body(source_id="nul-1", description="a\x00b")),
        ("POST", "/api/dispatch/incidents/1", {"officer_ids": [1], "reason": "\x00"}),
    ]
    expected = ["reason", "name", "name", "name", "username", "description", "reason"]
    for (method, path, payload), field in zip(cases, expected, strict=True):
        assert _field(admin_api.request(method, path, json=payload)) == field, path
    r = admin_api.get("/api/audit/incident/1%002")
    assert _field(r) == "entity_id"
    assert counts(db) == before
    client.headers.pop("Authorization")
    r = client.post("/api/auth/login", json={"username": "admin\x00", "password": "x"})
    assert _field(r) == "username"
    r = client.post("/login", data={"username": "admin\x00", "password": "x"})
    assert _field(r) == "username"
    assert counts(db) == before


def _zone_id(c: TestClient) -> int:
    return int(c.get("/api/zones").json()[0]["id"])


def test_types_are_json_types(admin_api, db):
    """Pydantic's lax mode would take "1" for a number and 0 for false; JSON has types."""
    before = counts(db)
    unit = {"code": "X1", "name": "某", "kind": "other"}
    for field, value in (("service_window", 0), ("population", "100"), ("population", True)):
        assert _field(admin_api.post("/api/units", json={**unit, field: value})) == field
    r = admin_api.post("/api/incidents", json=incident_body(location={"lon": 107.05, "lat": False}))
    assert _field(r) == "location.lat"
    assert counts(db) == before


# ---- item 15: small things at the edge


def test_405_names_every_allowed_method(admin_api):
    r = admin_api.put("/api/units")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert set(r.headers["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    r = admin_api.delete("/api/incidents/1")
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]


def test_caller_phone_needs_digits(admin_api, db):
    before = counts(db)
    for phone in ("---", "+ - -", "   "):
        r = admin_api.post("/api/incidents", json=incident_body(caller_phone=phone))
        assert _field(r) == "caller_phone", phone
    assert counts(db) == before
    r = admin_api.post("/api/incidents", json=incident_body(caller_phone="023-110"))
    assert r.status_code == 201


def test_like_wildcards_match_literally(admin_api):
    for i, (description, address) in enumerate(
        [
            ("损失 50% 现金", "甲路"),
            ("损失 5000 现金", "乙路"),
            ("编号 a_b", "丙路"),
            ("编号 axb", "丁路"),
        ]
    ):
        r = admin_api.post(
            "/api/incidents",
            json=incident_body(source_id=f"w-{i}", description=description, address=address),
        )
        assert r.status_code == 201
    # single CJK characters go through LIKE; % and _ must not act as wildcards there
    got = admin_api.get("/api/incidents", params={"q": "损 50%"}).json()["items"]
    assert [i["description"] for i in got] == ["损失 50% 现金"]
    got = admin_api.get("/api/incidents", params={"q": "编 a_b"}).json()["items"]
    assert [i["description"] for i in got] == ["编号 a_b"]
    assert [u["code"] for u in admin_api.get("/api/units", params={"q": "%"}).json()] == []
    assert admin_api.get("/api/officers", params={"q": "A_0"}).json()["total"] == 0
    assert admin_api.get("/api/officers", params={"q": "A00"}).json()["total"] > 0
