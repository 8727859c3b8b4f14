"""A task whose source is a brief's draft action names the brief and the action; a bad or
invisible one is refused naming ``source_ref``, nothing written."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from qingzhi.store.db import Database
from qingzhi.tasks.models import Task
from tests.factories import Org
from tests.helpers import rows


@pytest.mark.parametrize("ref", ["x", "1", "999:1", "0:1", "1:x"])
def test_bad_brief_finding_refs_are_refused(
    client: TestClient, admin: dict[str, str], db: Database, org: Org, ref: str
) -> None:
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    body = {
        "title": "简报建议",
        "owner_unit_id": org.id("A"),
        "deadline": deadline,
        "source_kind": "brief_finding",
        "source_ref": ref,
    }
    r = client.post("/api/tasks", json=body, headers=admin)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0]["field"] == "source_ref"
    assert rows(db, Task) == 0
