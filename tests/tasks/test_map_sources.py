"""Issuing from the map's analysis layers: a hot cell or an early warning is the task's source
(kind and reference, as qz.js's popup sends them); a malformed reference is a 422."""

from __future__ import annotations

import datetime as dt

import httpx
from fastapi.testclient import TestClient

from qingzhi.store.db import Database
from qingzhi.tasks.models import Task
from tests.factories import Org
from tests.helpers import bearer, rows


def _post(
    client: TestClient, headers: dict[str, str], org: Org, kind: str, ref: str
) -> httpx.Response:
    body = {
        "title": "治安乱点查处",
        "owner_unit_id": org.id("A"),
        "deadline": (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat(),
        "source_kind": kind,
        "source_ref": ref,
    }
    return client.post("/api/tasks", json=body, headers=headers)


def test_a_task_from_a_hot_cell_or_a_warning_links_its_source(
    client: TestClient, db: Database, org: Org
) -> None:
    commander = bearer(db, "commander")
    made = {}
    for kind, ref in (
        ("hotspot", "2026-12-02/300/4242"),
        ("warning", "2026-12-02/scan"),
        ("warning", f"2026-12-02/unit/{org.id('A')}"),
    ):
        r = _post(client, commander, org, kind, ref)
        assert r.status_code == 201, r.text
        assert (r.json()["source_kind"], r.json()["source_ref"]) == (kind, ref)
        made[ref] = r.json()["id"]
    page = client.get(
        "/api/tasks",
        params={"source_kind": "hotspot", "source_ref": "2026-12-02/300/4242"},
        headers=commander,
    ).json()
    assert [t["id"] for t in page["items"]] == [made["2026-12-02/300/4242"]]
    assert page["items"][0]["source_label"] == "治安乱点"
    before = rows(db, Task)
    for kind, ref in (("hotspot", "4242"), ("warning", "2026-12-02/unit/x"), ("hotspot", "")):
        r = _post(client, commander, org, kind, ref)
        assert r.status_code == 422, (kind, ref, r.text)
        assert "source_ref" in {d["field"] for d in r.json()["error"]["details"]}
    assert rows(db, Task) == before
