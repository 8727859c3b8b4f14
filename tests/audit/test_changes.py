"""Every change through the org and accounts API leaves its audit record in the same
transaction; a refused change leaves neither the change nor a record."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.audit import service as audit
from qingzhi.org.models import Unit
from qingzhi.store.db import Database
from tests.factories import Org
from tests.helpers import bearer, counts, last_audit, unzip


def _changed_bundle(client: TestClient, headers: dict[str, str]) -> bytes:
    """The current export with one officer's duty status changed (for an import)."""
    files = unzip(client.get("/api/org/export", headers=headers).content)
    rows = list(csv.DictReader(io.StringIO(files["officers.csv"].decode("utf-8"))))
    rows[0]["duty_status"] = "training"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    files["officers.csv"] = buf.getvalue().encode("utf-8")
    out = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def changes(org: Org) -> list[tuple[str, str, dict[str, Any], str, str]]:
    a, c = org.id("A"), org.id("C")
    return [
        (
            "POST",
            "/api/units",
            {"json": {"code": "T1", "name": "特警", "kind": "patrol"}},
            "unit.create",
            "unit",
        ),
        ("PATCH", f"/api/units/{a}", {"json": {"population": 42_000}}, "unit.update", "unit"),
        (
            "PUT",
            f"/api/units/{c}/members",
            {"json": {"members": ["R1", "R2", "A"]}},
            "unit.bundle",
            "unit",
        ),
        ("PUT", f"/api/units/{c}/members", {"json": {"members": []}}, "unit.bundle", "unit"),
        (
            "POST",
            "/api/zones",
            {"json": {"code": "A-Z2", "name": "城一二片区", "station": "A"}},
            "zone.create",
            "zone",
        ),
        (
            "PATCH",
            f"/api/zones/{org.zones['A-Z1'].id}",
            {"json": {"name": "城一东片区"}},
            "zone.update",
            "zone",
        ),
        (
            "POST",
            "/api/officers",
            {
                "json": {
                    "police_number": "A900",
                    "name": "新民警",
                    "kind": "sworn",
                    "unit": "A",
                    "zone": "A-Z1",
                }
            },
            "officer.create",
            "officer",
        ),
        (
            "PATCH",
            f"/api/officers/{org.officers['A000'].id}",
            {"json": {"unit": "B"}},
            "officer.update",
            "officer",
        ),
        (
            "POST",
            "/api/users",
            {"json": {"username": "u1", "password": "long-enough-1", "role": "viewer"}},
            "user.create",
            "user",
        ),
        ("POST", "/api/tokens", {"json": {"name": "t"}}, "token.create", "user"),
    ]


def test_each_change_leaves_its_record(client: TestClient, db: Database, org: Org) -> None:
    headers = bearer(db, "admin")
    for method, path, kwargs, action, kind in changes(org):
        before = counts(db)
        r = client.request(
            method, path, headers={**headers, "X-Request-ID": f"req-{action}"}, **kwargs
        )
        assert 200 <= r.status_code < 300, (method, path, r.text)
        after = counts(db)
        assert after["audit_record"] == before["audit_record"] + 1, (method, path)
        assert after["audit_head"] == before["audit_head"] + 1
        rec = last_audit(db)
        assert (rec.action, rec.entity_kind, rec.actor) == (action, kind, "admin")
        assert rec.request_id == f"req-{action}"
        assert rec.actor_id is not None
        if kind != "user":
            assert rec.entity_id == str(r.json()["id"])

    # the officer's move is recorded with before and after
    rec = last_audit(db)
    trail = client.get(f"/api/audit/officer/{org.officers['A000'].id}", headers=headers).json()
    assert trail[-1]["diff"]["before"]["unit_id"] == org.id("A")
    assert trail[-1]["diff"]["after"]["unit_id"] == org.id("B")
    assert rec.seq > trail[-1]["seq"]

    # an import records one change per changed row, and nothing for unchanged rows
    before = counts(db)
    r = client.post(
        "/api/org/import",
        files={"file": ("org.zip", _changed_bundle(client, headers), "application/zip")},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["updated"]["officer"] == 1
    assert counts(db)["audit_record"] == before["audit_record"] + 1
    assert last_audit(db).action == "officer.import"

    with db.session() as session:
        assert audit.verify(session=session).ok


def test_record_and_change_share_the_transaction(
    app: Any, db: Database, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When writing the audit record fails, the change it records is rolled back with it."""
    headers = bearer(db, "admin")
    original = audit.record_many

    def failing(**kwargs: Any) -> int:
        original(**kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "record_many", failing)
    before = counts(db)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post(
            "/api/units", json={"code": "T2", "name": "某", "kind": "other"}, headers=headers
        )
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "internal_error"
        r = client.patch(
            f"/api/officers/{org.officers['A000'].id}", json={"name": "改名"}, headers=headers
        )
        assert r.status_code == 500
    assert counts(db) == before
    with db.session() as session:
        assert session.execute(select(Unit).where(Unit.code == "T2")).first() is None
        assert audit.verify(session=session).ok


@pytest.mark.parametrize(
    "members",
    [["R1"], ["R1", "R2", "A", "B"], ["A", "S"], ["R1", "A"], ["R1", "NOPE"], ["R1", "R1"]],
    ids=["one", "four", "not-adjacent", "other-bundle", "unknown", "duplicate"],
)
def test_invalid_bundle_changes_nothing(
    client: TestClient, db: Database, org: Org, members: list[str]
) -> None:
    headers = bearer(db, "admin")
    # a second central station, so that R1 belongs to "another bundle"
    r = client.post(
        "/api/units",
        json={"code": "C2", "name": "丙中心所", "kind": "central_station"},
        headers=headers,
    )
    assert r.status_code == 201
    c2 = r.json()["id"]
    before = counts(db)
    r = client.put(f"/api/units/{c2}/members", json={"members": members}, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_failed"
    assert r.json()["error"]["details"][0]["field"] == "members"
    assert counts(db) == before
    with db.session() as session:
        central = {u.code: u.central_id for u in session.execute(select(Unit)).scalars()}
    assert central["R1"] == central["R2"] == org.id("C")
    assert all(central[c] is None for c in ("A", "B", "S", "C", "C2"))


def test_refused_changes_leave_no_record(client: TestClient, db: Database, org: Org) -> None:
    headers = bearer(db, "admin")
    chief = bearer(db, "chief_a")
    refused: list[tuple[dict[str, str], str, str, dict[str, Any], int]] = [
        (
            headers,
            "POST",
            "/api/units",
            {"json": {"code": "A", "name": "重复", "kind": "other"}},
            409,
        ),
        (
            headers,
            "PATCH",
            f"/api/units/{org.id('A')}",
            {"json": {"jurisdiction": {"type": "Point", "coordinates": [107, 30]}}},
            422,
        ),
        (
            headers,
            "POST",
            "/api/zones",
            {"json": {"code": "Z9", "name": "某", "station": "CMD"}},
            422,
        ),
        (
            headers,
            "POST",
            "/api/officers",
            {"json": {"police_number": "A001", "name": "重复", "kind": "sworn", "unit": "A"}},
            409,
        ),
        (
            headers,
            "PATCH",
            f"/api/officers/{org.officers['A000'].id}",
            {"json": {"zone": "B-Z1"}},
            422,
        ),
        (
            headers,
            "PATCH",
            f"/api/officers/{org.officers['A000'].id}",
            {"json": {"unit": "B", "zone": "A-Z1"}},
            422,
        ),
        (
            chief,
            "PATCH",
            f"/api/officers/{org.officers['B000'].id}",
            {"json": {"name": "越权"}},
            404,
        ),
        (
            chief,
            "POST",
            "/api/units",
            {"json": {"code": "X", "name": "越权", "kind": "other"}},
            403,
        ),
        (
            headers,
            "POST",
            "/api/users",
            {"json": {"username": "admin", "password": "long-enough-1", "role": "viewer"}},
            409,
        ),
        (
            headers,
            "POST",
            "/api/users",
            {
                "json": {
                    "username": "u2",
                    "password": "long-enough-1",
                    "role": "viewer",
                    "unit": "NOPE",
                }
            },
            422,
        ),
    ]
    for who, method, path, kwargs, status in refused:
        before = counts(db)
        r = client.request(method, path, headers=who, **kwargs)
        assert r.status_code == status, (method, path, r.text)
        assert counts(db) == before, (method, path)
    # the officer kept its unit and zone
    got = client.get(f"/api/officers/{org.officers['A000'].id}", headers=headers).json()
    assert got["unit_id"] == org.id("A") and got["zone_id"] is None
