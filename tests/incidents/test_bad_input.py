"""Bad input: each bad request gets a 4xx naming the field, and nothing is half-written."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from qingzhi.audit.models import AuditRecord
from qingzhi.incidents.models import Incident
from tests.factories import incident_body


def _counts(db):
    with db.session() as s:
        return (
            s.execute(select(func.count()).select_from(Incident)).scalar_one(),
            s.execute(select(func.count()).select_from(AuditRecord)).scalar_one(),
        )


def _without(key):
    b = incident_body()
    del b[key]
    return b


CASES = [
    # (name, raw request body or JSON object, status, field named)
    ("malformed JSON", b'{"source_id": "x", ', 422, "body"),
    ("missing category", _without("category"), 422, "category"),
    ("missing received_at", _without("received_at"), 422, "received_at"),
    ("unknown field", incident_body(weather="sunny"), 422, "weather"),
    ("lat/lon swapped", incident_body(location={"lon": 30.05, "lat": 107.05}), 422, "location.lat"),
    (
        "longitude out of range",
        incident_body(location={"lon": 207.0, "lat": 30.0}),
        422,
        "location.lon",
    ),
    (
        "unknown datum",
        incident_body(location={"lon": 107.0, "lat": 30.0, "datum": "xian80"}),
        422,
        "location.datum",
    ),
    (
        "time in the future",
        incident_body(received_at="2099-01-01T00:00:00+08:00"),
        422,
        "received_at",
    ),
    (
        "time before 2000",
        incident_body(received_at="1999-12-31T23:59:59+08:00"),
        422,
        "received_at",
    ),
    ("time without zone", incident_body(received_at="2026-11-01T10:00:00"), 422, "received_at"),
    ("unknown category", incident_body(category="alien"), 422, "category"),
    ("subtype of another category", incident_body(subtype="burglary"), 422, "subtype"),
    ("priority out of range", incident_body(priority=9), 422, "priority"),
    ("invalid without a reason", incident_body(valid=False), 422, "invalid_reason"),
    ("phone with letters", incident_body(caller_phone="call-me-maybe"), 422, "caller_phone"),
    ("description too long", incident_body(description="警" * 5000), 422, "description"),
    ("10 MB description", incident_body(description="x" * 10_000_000), 413, None),
    ("invalid UTF-8", b'{"source_id": "\xff\xfe", "category": "traffic"}', 400, None),
    ("control characters", incident_body(address="人民路\x00"), 422, "address"),
]


@pytest.mark.parametrize(("name", "payload", "status", "field"), CASES, ids=[c[0] for c in CASES])
def test_bad_request_is_refused_naming_the_field(as_user, db, name, payload, status, field):
    c = as_user("dispatcher")
    before = _counts(db)
    if isinstance(payload, bytes):
        r = c.post("/api/incidents", content=payload, headers={"content-type": "application/json"})
    else:
        r = c.post("/api/incidents", json=payload)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["message"]
    if field is not None:
        assert field in [d["field"] for d in err["details"]], err
        assert field in err["message"] or field == "body"
    assert _counts(db) == before


def test_injection_strings_are_stored_inert(as_user, db):
    c = as_user("dispatcher")
    sql = "'); DROP TABLE incident; --"
    html = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = c.post("/api/incidents", json=incident_body(description=sql, address=html))
    assert r.status_code == 201
    inc = c.get(f"/api/incidents/{r.json()['incident']['id']}").json()
    assert inc["description"] == sql
    assert inc["address"] == html
    assert c.get("/api/incidents", params={"q": "DROP TABLE"}).json()["items"][0]["id"] == inc["id"]
    assert _counts(db)[0] == 1


def test_duplicate_source_id_returns_the_existing_record(as_user, db):
    c = as_user("dispatcher")
    first = c.post("/api/incidents", json=incident_body())
    dup = c.post("/api/incidents", json=incident_body())
    assert (first.status_code, dup.status_code) == (201, 200)
    assert dup.json()["incident"]["id"] == first.json()["incident"]["id"]
    assert _counts(db)[0] == 1


def test_bulk_reports_bad_items_and_loads_the_good(as_user, db):
    c = as_user("dispatcher")
    items = [incident_body(source_id=f"b{i}") for i in range(5)]
    items[1]["category"] = "alien"
    items[3]["location"] = {"lon": 107.0, "lat": 130.0}
    items.append(incident_body(source_id="b0"))  # duplicate inside the batch
    r = c.post("/api/incidents/bulk", json={"items": items})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["created"] == 3
    assert {(e["index"], e["field"].split(".")[-1]) for e in out["errors"]} == {
        (1, "category"),
        (3, "lat"),
    }
    assert out["ids"][5] == out["ids"][0]
    assert _counts(db)[0] == 3


def test_error_body_is_json_for_unknown_routes(as_user):
    r = as_user("dispatcher").get("/api/nothing-here")
    assert r.status_code == 404
    assert json.loads(r.text)["error"]["code"] == "not_found"
