"""The permission matrix of /api/community: every role against every route (the rows of
``qingzhi.auth.permissions`` for community.read / community.write / community.manage, with
personal.read for a party's full details)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from qingzhi.auth.permissions import PERMISSIONS, Perm, Role
from qingzhi.community.views import router
from qingzhi.store.db import Database
from tests.auth.test_permissions import USER_OF_ROLE
from tests.community.conftest import Community
from tests.factories import Org
from tests.helpers import bearer

READ, WRITE, MANAGE = Perm.community_read, Perm.community_write, Perm.community_manage


def _soon() -> str:
    """A minute from now, taken when the request is built (the dispute is reported then; a
    time taken at import would fall behind it in a long run)."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()


@dataclass
class Ctx:
    """Fresh ids for one role's run."""

    org: Org
    community: Community
    dispute: int
    visit: int


Build = Callable[[Ctx], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Endpoint:
    """A route, the permissions it needs, how to call it."""

    method: str
    template: str
    perms: tuple[Perm, ...]
    build: Build


def _get(path: str) -> Build:
    return lambda c: (path, {})


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/community/units/{unit_id}/teams",
        (READ,),
        lambda c: (f"/api/community/units/{c.org.id('A')}/teams", {}),
    ),
    Endpoint(
        "GET",
        "/api/community/units/{unit_id}/board",
        (READ,),
        lambda c: (f"/api/community/units/{c.org.id('A')}/board", {}),
    ),
    Endpoint(
        "PATCH",
        "/api/community/officers/{officer_id}",
        (MANAGE,),
        lambda c: (
            f"/api/community/officers/{c.community.officer1}",
            {"json": {"role": "村居组织副书记"}},
        ),
    ),
    Endpoint("GET", "/api/community/posts", (READ,), _get("/api/community/posts")),
    Endpoint(
        "POST",
        "/api/community/posts",
        (MANAGE,),
        lambda c: (
            "/api/community/posts",
            {"json": {"zone_id": c.community.zone1, "name": "城一警务室"}},
        ),
    ),
    Endpoint("GET", "/api/community/partners", (READ,), _get("/api/community/partners")),
    Endpoint(
        "POST",
        "/api/community/partners",
        (MANAGE,),
        lambda c: (
            "/api/community/partners",
            {
                "json": {
                    "zone_id": c.community.zone1,
                    "kind": "lawyer",
                    "name": "陈律师",
                    "organisation": "某律所",
                }
            },
        ),
    ),
    Endpoint("GET", "/api/community/visits", (READ,), _get("/api/community/visits")),
    Endpoint(
        "POST",
        "/api/community/visits",
        (WRITE,),
        lambda c: (
            "/api/community/visits",
            {"json": {"zone_id": c.community.zone1, "outside_reason": "协助"}},
        ),
    ),
    Endpoint(
        "GET",
        "/api/community/visits/{visit_id}",
        (READ,),
        lambda c: (f"/api/community/visits/{c.visit}", {}),
    ),
    Endpoint(
        "POST",
        "/api/community/visits/{visit_id}/transitions",
        (WRITE,),
        lambda c: (f"/api/community/visits/{c.visit}/transitions", {"json": {"to": "done"}}),
    ),
    Endpoint(
        "POST",
        "/api/community/visits/{visit_id}/task",
        (WRITE, Perm.task_issue),
        lambda c: (f"/api/community/visits/{c.visit}/task", {"json": {"title": "排查"}}),
    ),
    Endpoint("GET", "/api/community/disputes", (READ,), _get("/api/community/disputes")),
    Endpoint(
        "POST",
        "/api/community/disputes",
        (WRITE,),
        lambda c: ("/api/community/disputes", {"json": {"zone_id": c.community.zone1}}),
    ),
    Endpoint(
        "GET",
        "/api/community/disputes/{dispute_id}",
        (READ,),
        lambda c: (f"/api/community/disputes/{c.dispute}", {}),
    ),
    Endpoint(
        "GET",
        "/api/community/disputes/{dispute_id}",
        (READ, Perm.personal_read),
        lambda c: (f"/api/community/disputes/{c.dispute}?unmask=true", {}),
    ),
    Endpoint(
        "PATCH",
        "/api/community/disputes/{dispute_id}",
        (WRITE,),
        lambda c: (f"/api/community/disputes/{c.dispute}", {"json": {"risk": "high"}}),
    ),
    Endpoint(
        "POST",
        "/api/community/disputes/{dispute_id}/sessions",
        (WRITE,),
        lambda c: (
            f"/api/community/disputes/{c.dispute}/sessions",
            {
                "json": {
                    "package": "police_lawyer",
                    "started_at": _soon(),
                    "ended_at": _soon(),
                    "outcome": "agreed",
                }
            },
        ),
    ),
    Endpoint(
        "POST",
        "/api/community/disputes/{dispute_id}/transitions",
        (WRITE,),
        lambda c: (
            f"/api/community/disputes/{c.dispute}/transitions",
            {"json": {"to": "referred", "referred_to": "司法所"}},
        ),
    ),
    Endpoint(
        "GET",
        "/api/community/disputes/{dispute_id}/timeline",
        (READ,),
        lambda c: (f"/api/community/disputes/{c.dispute}/timeline", {}),
    ),
    Endpoint("GET", "/api/community/packages", (READ,), _get("/api/community/packages")),
    Endpoint(
        "GET",
        "/api/community/measures",
        (READ,),
        _get("/api/community/measures?from=2026-01-01&to=2026-12-31"),
    ),
]


def _context(client: TestClient, db: Database, org: Org, community: Community) -> Ctx:
    admin = bearer(db, "admin")
    visit = client.post(
        "/api/community/visits",
        json={"zone_id": community.zone1, "status": "planned", "planned_for": "2026-11-20"},
        headers=admin,
    ).json()["id"]
    dispute = client.post(
        "/api/community/disputes",
        json={"zone_id": community.zone1, "parties": [{"name": "甲", "phone": "13700000001"}]},
        headers=admin,
    ).json()["id"]
    return Ctx(org, community, dispute, visit)


def test_table_covers_routes() -> None:
    routes = {
        (m, r.path) for r in router.routes if isinstance(r, APIRoute) for m in r.methods or ()
    }
    assert routes == {(e.method, e.template) for e in ENDPOINTS}


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_role_matrix(
    role: Role, client: TestClient, db: Database, org: Org, community: Community
) -> None:
    """Each role gets 403 exactly where the table says it lacks a permission (the others may
    get any answer but 401/403 and 5xx)."""
    headers = bearer(db, USER_OF_ROLE[role])
    wrong = []
    for endpoint in ENDPOINTS:
        path, kwargs = endpoint.build(_context(client, db, org, community))
        r = client.request(endpoint.method, path, headers=headers, **kwargs)
        allowed = all(p in PERMISSIONS[role] for p in endpoint.perms)
        ok = (
            (r.status_code < 500 and r.status_code not in (401, 403))
            if allowed
            else (r.status_code == 403)
        )
        if not ok:
            wrong.append((endpoint.method, path, r.status_code, r.text[:160]))
    assert wrong == []


def test_admin_succeeds_and_each_permission_is_checked(
    client: TestClient,
    db: Database,
    org: Org,
    community: Community,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = bearer(db, "admin")
    for endpoint in ENDPOINTS:
        path, kwargs = endpoint.build(_context(client, db, org, community))
        r = client.request(endpoint.method, path, headers=headers, **kwargs)
        assert 200 <= r.status_code < 300, (endpoint.template, r.text)
        for perm in endpoint.perms:
            path, kwargs = endpoint.build(_context(client, db, org, community))
            with monkeypatch.context() as m:
                m.setitem(PERMISSIONS, Role.admin, frozenset(Perm) - {perm})
                r = client.request(endpoint.method, path, headers=headers, **kwargs)
            assert r.status_code == 403, (endpoint.template, perm, r.status_code)
