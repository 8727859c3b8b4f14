"""A visit's finding opens a task (督办任务) through the tasks domain: the visit its source, the
visit's station the owner (its officer the owner officer), issued and audited on both sides;
refused, naming the field and writing nothing, without a finding or title, or for an owner the
caller may not issue to; only for those who may issue tasks and see the visit. A task posted
with a visit as its source names one that exists in the issuer's community scope (422 naming
``source_ref`` otherwise) and links to the visit's record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from qingzhi.audit.models import AuditRecord
from qingzhi.store.db import Database
from qingzhi.tasks.models import Task
from tests.community.conftest import Community
from tests.factories import Org
from tests.helpers import rows

FINDING = "3栋两户因排水沟堵塞争执，需要城管协调清淤"


def _visit(client: TestClient, zone: int, findings: str = FINDING) -> int:
    r = client.post(
        "/api/community/visits",
        json={
            "zone_id": zone,
            "purpose": "dispute_screening",
            "address": "人民路12号",
            "findings": findings,
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_a_finding_opens_a_task_owned_by_the_visits_station(
    as_user: Callable[[str], TestClient], db: Database, org: Org, community: Community
) -> None:
    vid = _visit(as_user("cop_a1"), community.zone1)
    before = dt.datetime.now(dt.UTC)
    r = as_user("chief_a").post(f"/api/community/visits/{vid}/task", json={})
    assert r.status_code == 201, r.text
    (tid,) = r.json()["task_ids"]
    task = as_user("chief_a").get(f"/api/tasks/{tid}").json()
    assert task["title"] == "走访发现：" + FINDING
    assert (task["source_kind"], task["source_ref"]) == ("visit", str(vid))
    assert task["owner_unit"]["id"] == org.id("A")
    assert task["source_label"] == "走访发现"
    assert task["owner_officer_id"] == community.officer1  # the visit's officer (A000)
    assert task["status"] == "issued"
    due = dt.datetime.fromisoformat(task["deadline"]) - before
    assert dt.timedelta(days=3) <= due < dt.timedelta(days=3, minutes=5)
    assert FINDING in task["instructions"] and f"走访 #{vid}" in task["instructions"]
    # audited on the task and on the visit; the visit names its task, for its officer too
    assert rows(db, AuditRecord, AuditRecord.action == "task.created") == 1
    assert (
        rows(db, AuditRecord, AuditRecord.action == "visit.task", AuditRecord.entity_id == str(vid))
        == 1
    )
    assert as_user("cop_a1").get(f"/api/community/visits/{vid}").json()["task_ids"] == [tid]
    listed = as_user("chief_a").get("/api/community/visits").json()["items"]
    assert [v["task_ids"] for v in listed if v["id"] == vid] == [[tid]]


def test_refused_naming_the_field_with_nothing_written(
    as_user: Callable[[str], TestClient], db: Database, org: Org, community: Community
) -> None:
    bare = _visit(as_user("cop_a1"), community.zone1, findings="")
    vid = _visit(as_user("cop_a1"), community.zone1)

    def refused(visit: int, body: dict[str, object], field: str) -> None:
        r = as_user("chief_a").post(f"/api/community/visits/{visit}/task", json=body)
        assert r.status_code == 422, r.text
        assert field in r.text

    refused(bare, {}, "title")  # no finding to name the task after
    refused(vid, {"owner_unit_id": org.id("B")}, "owner_unit_id")  # not the chief's to task
    refused(vid, {"deadline": "2020-01-01T00:00:00+00:00"}, "deadline")
    # a zone officer may not issue tasks; a chief of another station does not see the visit
    assert as_user("cop_a1").post(f"/api/community/visits/{vid}/task", json={}).status_code == 403
    assert as_user("chief_c").post(f"/api/community/visits/{vid}/task", json={}).status_code == 404
    assert rows(db, Task) == 0
    assert rows(db, AuditRecord, AuditRecord.action.like("task.%")) == 0
    assert rows(db, AuditRecord, AuditRecord.action == "visit.task") == 0
    # with a title, a visit without a finding may open one
    r = as_user("chief_a").post(
        f"/api/community/visits/{bare}/task", json={"title": "复查独居老人门锁"}
    )
    assert r.status_code == 201 and len(r.json()["task_ids"]) == 1


def _visit_task(client: TestClient, owner: int, ref: str) -> Any:
    return client.post(
        "/api/tasks",
        json={
            "title": "排水沟清淤协调",
            "instructions": "联系城管清淤",
            "owner_unit_id": owner,
            "deadline": (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat(),
            "source_kind": "visit",
            "source_ref": ref,
        },
    )


def test_a_visit_source_is_checked_like_the_others_and_links_to_the_visit(
    as_user: Callable[[str], TestClient], db: Database, org: Org, community: Community
) -> None:
    vid = _visit(as_user("cop_a1"), community.zone1)  # station A's zone A-Z1
    # unknown, not a number, and another station's visit (chief_c issues to C, sees not A's)
    for who, owner, ref in (
        ("chief_a", org.id("A"), "999999"),
        ("chief_a", org.id("A"), "三号"),
        ("chief_c", org.id("C"), str(vid)),
    ):
        r = _visit_task(as_user(who), owner, ref)
        assert r.status_code == 422, (who, ref, r.text)
        assert [d["field"] for d in r.json()["error"]["details"]] == ["source_ref"]
    assert rows(db, Task) == 0
    assert rows(db, AuditRecord, AuditRecord.action.like("task.%")) == 0
    # in scope: accepted, and the task links to the visit's record, which its reader may open
    r = _visit_task(as_user("chief_a"), org.id("A"), str(vid))
    assert r.status_code == 201, r.text
    task = as_user("chief_a").get(f"/api/tasks/{r.json()['id']}").json()
    assert task["source_url"] == f"/api/community/visits/{vid}"
    assert as_user("chief_a").get(task["source_url"]).json()["task_ids"] == [task["id"]]
    page = as_user("chief_a").get(f"/tasks/{task['id']}")
    assert page.status_code == 200
    assert f'<a href="/api/community/visits/{vid}">#{vid}</a>' in page.text
