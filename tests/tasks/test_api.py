"""The tasks API: issuing from an incident, bad input named by field with nothing written,
the 409 of a step not in the table, reports, attachments (413, 415, hashes, scoped downloads)
and another station's tasks invisible by id, list, search and download."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.config import Settings
from qingzhi.store.db import Database
from qingzhi.tasks.models import Task, TaskAttachment
from tests.factories import Org, add_incident
from tests.helpers import audit_count, bearer, rows

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\0" * 32


def _soon(hours: float = 48) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat()


def _task(client: TestClient, headers: dict[str, str], org: Org, **fields: Any) -> Any:
    body = {
        "title": "城一辖区盗窃高发整治",
        "instructions": "夜间加强巡逻，走访商户",
        "owner_unit_id": org.id("A"),
        "deadline": _soon(),
        "feedback_hours": 24,
        **fields,
    }
    return client.post("/api/tasks", json=body, headers=headers)


def test_issue_from_an_incident_accept_report_submit_verify(
    client: TestClient, db: Database, org: Org
) -> None:
    incident = add_incident(db, category="criminal", subtype="theft", unit="A")
    commander, chief = bearer(db, "commander"), bearer(db, "chief_a")
    r = _task(client, commander, org, source_kind="incident", source_ref=str(incident))
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["status"] == "issued" and task["source_url"] == f"/incidents/{incident}"
    assert task["actions"] == ["cancelled"]  # the issuer, until the owner submits
    tid = task["id"]
    mine = client.get("/api/tasks", params={"source_kind": "incident"}, headers=chief).json()
    assert [t["id"] for t in mine["items"]] == [tid]
    assert client.get(f"/api/tasks/{tid}", headers=chief).json()["actions"] == ["accepted"]
    for step in ("accepted", "in_progress"):
        r = client.post(f"/api/tasks/{tid}/transitions", json={"to": step}, headers=chief)
        assert r.status_code == 200, r.text
    r = client.post(f"/api/tasks/{tid}/reports", json={"text": "已走访商户 12 家"}, headers=chief)
    assert r.status_code == 201, r.text
    report_id = r.json()["id"]
    r = client.post(
        f"/api/tasks/{tid}/attachments",
        params={"filename": "走访记录.pdf", "report_id": report_id},
        content=PDF,
        headers=chief,
    )
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
    r = client.post(
        f"/api/tasks/{tid}/transitions", json={"to": "submitted", "note": "整治完毕"}, headers=chief
    )
    assert r.status_code == 200
    r = client.post(f"/api/tasks/{tid}/transitions", json={"to": "verified"}, headers=commander)
    assert r.status_code == 200 and r.json()["status"] == "verified"
    reports = client.get(f"/api/tasks/{tid}/reports", headers=commander).json()
    assert [x["kind"] for x in reports] == ["progress", "submitted"]
    assert reports[0]["attachments"][0]["filename"] == "走访记录.pdf"
    timeline = client.get(f"/api/tasks/{tid}/timeline", headers=commander).json()
    assert [e["action"] for e in timeline] == [
        "task.created",
        "task.issued",
        "task.accepted",
        "task.in_progress",
        "task.report",
        "task.attachment",
        "task.submitted",
        "task.verified",
    ]


def test_bad_input_names_the_field_and_writes_nothing(
    client: TestClient, db: Database, org: Org
) -> None:
    chief = bearer(db, "chief_a")
    before = (rows(db, Task), audit_count(db))
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"deadline": _soon(-1)}, 422, "deadline"),
        ({"owner_unit_id": org.id("B")}, 422, "owner_unit_id"),  # outside the chief's authority
        ({"helper_unit_ids": [org.id("S")]}, 422, "helper_unit_ids"),
        ({"owner_officer_id": org.officers["B001"].id}, 422, "owner_officer_id"),
        ({"source_kind": "incident", "source_ref": "999999"}, 422, "source_ref"),
        ({"priority": 9}, 422, "priority"),
        ({"deadline": "明天"}, 422, "deadline"),
        ({"title": ""}, 422, "title"),
    ]
    for fields, status, field in cases:
        r = _task(client, chief, org, **fields)
        assert r.status_code == status, (fields, r.text)
        assert field in {d["field"] for d in r.json()["error"]["details"]}, r.text
    assert (rows(db, Task), audit_count(db)) == before
    # The command centre's bureau-wide users issue to any unit.
    assert (
        _task(client, bearer(db, "dispatcher"), org, owner_unit_id=org.id("B")).status_code == 201
    )


def test_a_step_not_in_the_table_is_a_409_naming_both_states(
    client: TestClient, db: Database, org: Org
) -> None:
    chief = bearer(db, "chief_a")
    tid = _task(client, chief, org).json()["id"]
    before = audit_count(db)
    r = client.post(f"/api/tasks/{tid}/transitions", json={"to": "submitted"}, headers=chief)
    assert r.status_code == 409
    error = r.json()["error"]
    assert "已下发" in error["message"] and "已提交" in error["message"]
    assert error["details"]["from"] == "issued" and error["details"]["to"] == "submitted"
    r = client.post(f"/api/tasks/{tid}/reports", json={"text": "未签收先反馈"}, headers=chief)
    assert r.status_code == 409
    assert audit_count(db) == before


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def test_attachments_by_content_and_size(
    client: TestClient, db: Database, org: Org, settings: Settings
) -> None:
    chief = bearer(db, "chief_a")
    tid = _task(client, chief, org).json()["id"]
    client.post(f"/api/tasks/{tid}/transitions", json={"to": "accepted"}, headers=chief)
    url = f"/api/tasks/{tid}/attachments"
    refused = [
        (b"MZ\x90\x00" + b"\0" * 60, "报告.pdf"),  # a Windows program named .pdf
        (b"\x7fELF" + b"\0" * 60, "photo.png"),
        (b"PK\x03\x04" + b"\0" * 60, "a.zip"),
        (b"\x00\x01binary", "notes.txt"),
    ]
    before = (rows(db, TaskAttachment), audit_count(db))
    for data, name in refused:
        r = client.post(url, params={"filename": name}, content=data, headers=chief)
        assert r.status_code == 415, (name, r.text)
        assert r.json()["error"]["details"]["field"] == "file"
    big = b"%PDF-" + b"0" * settings.task_attachment_max_bytes
    r = client.post(url, params={"filename": "big.pdf"}, content=big, headers=chief)
    assert r.status_code == 413, r.text
    assert (rows(db, TaskAttachment), audit_count(db)) == before

    for data, name, kind in (
        (PDF, "a.bin", "application/pdf"),
        (PNG, "现场.png", "image/png"),
        ("走访 12 户，无异常。\n".encode(), "记录.txt", "text/plain"),
    ):
        r = client.post(url, params={"filename": name}, content=data, headers=chief)
        assert r.status_code == 201, r.text
        got = r.json()
        assert got["media_type"] == kind
        digest = hashlib.sha256(data).hexdigest()
        assert (settings.data_dir / "attachments" / digest[:2] / digest).read_bytes() == data
        with db.session() as session:
            rec = session.scalars(
                select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)
            ).one()
        assert rec.action == "task.attachment" and digest in rec.diff
        down = client.get(got["url"], headers=chief)
        assert down.status_code == 200 and down.content == data
        assert down.headers["content-type"].startswith(kind)
    # The same bytes twice: one file on disk, two records.
    r = client.post(url, params={"filename": "again.pdf"}, content=PDF, headers=chief)
    assert r.status_code == 201
    files = list((settings.data_dir / "attachments").rglob("*"))
    assert len([f for f in files if f.is_file()]) == 3


def test_another_station_sees_nothing(client: TestClient, db: Database, org: Org) -> None:
    """B's task: not by id, list, search, reports, timeline or attachment download, for A's
    chief nor C's; a step on it is a 404 too."""
    commander = bearer(db, "commander")
    body = {"owner_unit_id": org.id("B"), "title": "城二专项督办"}
    tid = _task(client, commander, org, **body).json()["id"]
    b_chief_unit = org.id("B")
    r = client.post(  # the issuer's side attaches too
        f"/api/tasks/{tid}/attachments",
        params={"filename": "x.pdf"},
        content=PDF,
        headers=commander,
    )
    assert r.status_code == 201, r.text
    att = r.json()["url"]
    for who in ("chief_a", "chief_c", "officer_a"):
        h = bearer(db, who)
        for path in (
            f"/api/tasks/{tid}",
            f"/api/tasks/{tid}/reports",
            f"/api/tasks/{tid}/timeline",
            f"/api/tasks/{tid}/attachments",
            att,
        ):
            assert client.get(path, headers=h).status_code == 404, (who, path)
        assert client.get("/api/tasks", headers=h).json()["total"] == 0
        found = client.get("/api/tasks", params={"q": "城二"}, headers=h).json()
        assert found["items"] == []
        listed = client.get("/api/tasks", params={"owner_unit_id": b_chief_unit}, headers=h)
        assert listed.json()["total"] == 0
        r = client.post(f"/api/tasks/{tid}/transitions", json={"to": "in_progress"}, headers=h)
        assert r.status_code == 404
        r = client.post(f"/api/tasks/{tid}/reports", json={"text": "x"}, headers=h)
        assert r.status_code == 404
