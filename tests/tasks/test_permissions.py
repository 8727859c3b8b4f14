"""Permission-matrix rows of the tasks and cases routes: every role against every route of
``/api/tasks`` and ``/api/cases`` (403 exactly where the one permission table says so), and
each route checks each of its permissions (taken away from the administrator one at a time)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from qingzhi.auth.permissions import PERMISSIONS, Perm, Role
from qingzhi.cases.views import router as cases_router
from qingzhi.store.db import Database
from qingzhi.tasks.views import router as tasks_router
from tests.auth.test_permissions import USER_OF_ROLE
from tests.factories import Org, add_incident
from tests.helpers import bearer

PDF = b"%PDF-1.4\n%%EOF\n"


@dataclass
class Ctx:
    task: int
    attachment: int
    case: int
    incident: int
    org: Org


Build = Callable[[Ctx], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Row:
    method: str
    template: str
    perms: tuple[Perm, ...]
    build: Build


def _later() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()


ROWS = [
    Row("GET", "/api/tasks", (Perm.task_read,), lambda c: ("/api/tasks", {})),
    Row(
        "POST",
        "/api/tasks",
        (Perm.task_issue,),
        lambda c: (
            "/api/tasks",
            {"json": {"title": "t", "owner_unit_id": c.org.id("A"), "deadline": _later()}},
        ),
    ),
    Row(
        "POST",
        "/api/tasks/operations",
        (Perm.task_issue,),
        lambda c: (
            "/api/tasks/operations",
            {
                "json": {
                    "title": "t",
                    "owner_unit_id": c.org.id("A"),
                    "deadline": _later(),
                    "starts_on": "2026-11-01",
                    "ends_on": "2026-11-14",
                    "area": "POLYGON ((107.02 30.02, 107.04 30.02, 107.04 30.04, 107.02 30.02))",
                }
            },
        ),
    ),
    Row(
        "GET",
        "/api/tasks/{task_id}/operation",
        (Perm.task_read,),
        lambda c: (f"/api/tasks/{c.task}/operation", {}),
    ),
    Row("GET", "/api/tasks/reminders", (Perm.task_read,), lambda c: ("/api/tasks/reminders", {})),
    Row("GET", "/api/tasks/{task_id}", (Perm.task_read,), lambda c: (f"/api/tasks/{c.task}", {})),
    Row(
        "POST",
        "/api/tasks/{task_id}/transitions",
        (Perm.task_read, Perm.task_issue),  # a cancel: the issuer's step
        lambda c: (f"/api/tasks/{c.task}/transitions", {"json": {"to": "cancelled"}}),
    ),
    Row(
        "POST",
        "/api/tasks/{task_id}/reports",
        (Perm.task_report,),
        lambda c: (f"/api/tasks/{c.task}/reports", {"json": {"text": "进展"}}),
    ),
    Row(
        "GET",
        "/api/tasks/{task_id}/reports",
        (Perm.task_read,),
        lambda c: (f"/api/tasks/{c.task}/reports", {}),
    ),
    Row(
        "GET",
        "/api/tasks/{task_id}/timeline",
        (Perm.task_read,),
        lambda c: (f"/api/tasks/{c.task}/timeline", {}),
    ),
    Row(
        "POST",
        "/api/tasks/{task_id}/attachments",
        (Perm.task_read,),
        lambda c: (
            f"/api/tasks/{c.task}/attachments",
            {"params": {"filename": "a.pdf"}, "content": PDF},
        ),
    ),
    Row(
        "GET",
        "/api/tasks/{task_id}/attachments",
        (Perm.task_read,),
        lambda c: (f"/api/tasks/{c.task}/attachments", {}),
    ),
    Row(
        "GET",
        "/api/tasks/{task_id}/attachments/{attachment_id}",
        (Perm.task_read,),
        lambda c: (f"/api/tasks/{c.task}/attachments/{c.attachment}", {}),
    ),
    Row("GET", "/api/cases", (Perm.case_read,), lambda c: ("/api/cases", {})),
    Row(
        "POST",
        "/api/cases",
        (Perm.case_write,),
        lambda c: ("/api/cases", {"json": {"incident_ids": [c.incident]}}),
    ),
    Row(
        "GET",
        "/api/cases/rates",
        (Perm.case_read,),
        lambda c: ("/api/cases/rates", {"params": {"start": "2026-01-01", "end": "2026-12-31"}}),
    ),
    Row("GET", "/api/cases/{case_id}", (Perm.case_read,), lambda c: (f"/api/cases/{c.case}", {})),
    Row(
        "POST",
        "/api/cases/{case_id}/incidents",
        (Perm.case_write,),
        lambda c: (f"/api/cases/{c.case}/incidents", {"json": {"incident_ids": [c.incident]}}),
    ),
    Row(
        "PUT",
        "/api/cases/{case_id}/team",
        (Perm.case_write,),
        lambda c: (
            f"/api/cases/{c.case}/team",
            {"json": {"members": [{"unit_id": c.org.id("A"), "role": "lead"}]}},
        ),
    ),
    Row(
        "POST",
        "/api/cases/{case_id}/outcome",
        (Perm.case_write,),
        lambda c: (f"/api/cases/{c.case}/outcome", {"json": {"status": "suspended"}}),
    ),
    Row(
        "GET",
        "/api/cases/{case_id}/notes",
        (Perm.case_read,),
        lambda c: (f"/api/cases/{c.case}/notes", {}),
    ),
    Row(
        "POST",
        "/api/cases/{case_id}/notes",
        (Perm.case_write,),
        lambda c: (f"/api/cases/{c.case}/notes", {"json": {"text": "笔记"}}),
    ),
]


def _context(client: TestClient, db: Database, org: Org) -> Ctx:
    """A task of A (accepted, with an attachment) and a case of A, made by the administrator
    and A's chief; a spare criminal incident of A for the routes that link or open."""
    admin, chief = bearer(db, "admin"), bearer(db, "chief_a")
    body = {"title": "矩阵", "owner_unit_id": org.id("A"), "deadline": _later()}
    task = client.post("/api/tasks", json=body, headers=admin).json()["id"]
    client.post(f"/api/tasks/{task}/transitions", json={"to": "accepted"}, headers=chief)
    att = client.post(
        f"/api/tasks/{task}/attachments", params={"filename": "a.pdf"}, content=PDF, headers=admin
    ).json()["id"]
    crime = add_incident(db, category="criminal", subtype="theft", unit="A")
    case = client.post("/api/cases", json={"incident_ids": [crime]}, headers=admin).json()["id"]
    spare = add_incident(db, category="criminal", subtype="theft", unit="A")
    return Ctx(task, att, case, spare, org)


def test_rows_cover_the_routes() -> None:
    routes = {
        (method, route.path_format)
        for router in (tasks_router, cases_router)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert routes == {(r.method, r.template) for r in ROWS}


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_role_matrix(role: Role, client: TestClient, db: Database, org: Org) -> None:
    """403 exactly where the role lacks a route's permission; otherwise no 401/403/5xx from
    the permission (a side check, such as only the owner accepting, may still refuse)."""
    ctx = _context(client, db, org)
    headers = bearer(db, USER_OF_ROLE[role])
    wrong = []
    for row in ROWS:
        path, kwargs = row.build(ctx)
        r = client.request(row.method, path, headers=headers, **kwargs)
        if all(p in PERMISSIONS[role] for p in row.perms):
            details = r.json()["error"]["details"] if r.status_code >= 400 else None
            by_permission = isinstance(details, dict) and "permission" in details
            ok = r.status_code < 500 and r.status_code != 401 and not by_permission
        else:
            ok = r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
        if not ok:
            wrong.append((row.method, path, r.status_code, r.text[:160]))
    assert wrong == [], f"{role}: {wrong}"


def test_each_route_checks_its_permission(
    client: TestClient, db: Database, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = _context(client, db, org)
    headers = bearer(db, "admin")
    wrong = []
    for row in ROWS:
        for perm in row.perms:
            with monkeypatch.context() as m:
                m.setitem(PERMISSIONS, Role.admin, frozenset(Perm) - {perm})
                path, kwargs = row.build(ctx)
                r = client.request(row.method, path, headers=headers, **kwargs)
            if r.status_code != 403:
                wrong.append((row.method, row.template, str(perm), r.status_code))
    assert wrong == []


def test_the_table_says_who_issues_and_who_reports() -> None:
    """Commanders, station chiefs and the command centre's dispatchers issue; owners (chiefs,
    officers) report; analysts and auxiliaries read; viewers see no tasks."""
    issue = {r for r in Role if Perm.task_issue in PERMISSIONS[r]}
    report = {r for r in Role if Perm.task_report in PERMISSIONS[r]}
    assert issue == {Role.admin, Role.commander, Role.station_chief, Role.dispatcher}
    assert report == {Role.admin, Role.commander, Role.station_chief, Role.officer}
    assert Perm.task_read in PERMISSIONS[Role.auxiliary]
    assert Perm.task_read not in PERMISSIONS[Role.viewer]
