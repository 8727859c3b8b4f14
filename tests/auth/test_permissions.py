"""The permission matrix: every role against every endpoint of the foundation.

One table (``ENDPOINTS``) names each route and the permissions it needs; what each role may do is
derived from ``qingzhi.auth.permissions.PERMISSIONS``. A route that stops checking its permission
fails ``test_route_checks_each_of_its_permissions`` (the permission is taken away from the
administrator one at a time); a route missing from the table fails ``test_table_covers_routes``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.audit.views import router as audit_router
from qingzhi.auth import service as auth
from qingzhi.auth import tokens
from qingzhi.auth.context import system_actor
from qingzhi.auth.models import User
from qingzhi.auth.permissions import PERMISSIONS, Perm, Role
from qingzhi.auth.views import router as auth_router
from qingzhi.org import exchange
from qingzhi.org.views import router as org_router
from qingzhi.store.db import Database
from tests.factories import PASSWORD, Org
from tests.helpers import bearer

USER_OF_ROLE = {
    Role.admin: "admin",
    Role.commander: "commander",
    Role.dispatcher: "dispatcher",
    Role.analyst: "analyst",
    Role.station_chief: "chief_a",
    Role.officer: "officer_a",
    Role.auxiliary: "aux_a",
    Role.viewer: "viewer",
}


@dataclass
class Ctx:
    """What the requests of one run need: the org, the caller, ids and an import bundle."""

    org: Org
    username: str
    spare_token_id: int
    chief_a_user_id: int
    spare_user_id: int
    bundle_zip: bytes

    def unit(self, code: str) -> int:
        return self.org.units[code].id


Request = tuple[str, dict[str, Any]]  # path, keyword arguments of TestClient.request


@dataclass(frozen=True)
class Endpoint:
    """One route: its family, method, path template, needed permissions and a request builder.

    ``perms`` is None for a public route, () for any signed-in user.
    """

    family: str
    method: str
    template: str
    perms: tuple[Perm, ...] | None
    build: Callable[[Ctx], Request]


def _get(path: str) -> Callable[[Ctx], Request]:
    return lambda c: (path, {})


def _on_spare_user(action: str, body: dict[str, Any] | None) -> Callable[[Ctx], Request]:
    return lambda c: (f"/api/users/{c.spare_user_id}/{action}", {"json": body})


ENDPOINTS: list[Endpoint] = [
    # auth / me
    Endpoint(
        "auth",
        "POST",
        "/api/auth/login",
        None,
        lambda c: ("/api/auth/login", {"json": {"username": c.username, "password": PASSWORD}}),
    ),
    Endpoint("auth", "GET", "/api/me", (), _get("/api/me")),
    Endpoint("auth", "POST", "/api/auth/logout", (), _get("/api/auth/logout")),
    Endpoint(
        "auth",
        "POST",
        "/api/me/password",
        (),
        lambda c: (
            "/api/me/password",
            {"json": {"current_password": PASSWORD, "new_password": "fresh-Passw0rd-9"}},
        ),
    ),
    Endpoint(
        "auth",
        "POST",
        "/api/me/sessions/revoke",
        (),
        lambda c: ("/api/me/sessions/revoke", {"json": {}}),
    ),
    # users
    Endpoint(
        "users",
        "POST",
        "/api/users",
        (Perm.user_manage,),
        lambda c: (
            "/api/users",
            {
                "json": {
                    "username": f"new_{c.username}",
                    "password": "long-enough-1",
                    "role": "viewer",
                }
            },
        ),
    ),
    Endpoint("users", "GET", "/api/users", (Perm.user_manage,), _get("/api/users")),
    *(
        Endpoint(
            "users",
            "POST",
            f"/api/users/{{user_id}}/{action}",
            (Perm.user_manage,),
            _on_spare_user(action, body),
        )
        for action, body in (
            ("disable", None),
            ("enable", None),
            ("password", {"password": "reset-Passw0rd-7"}),
            ("sessions/revoke", {"tokens": True}),
            ("unlock", {"address": "10.0.0.9"}),
        )
    ),
    # tokens
    Endpoint("tokens", "GET", "/api/tokens", (Perm.token_own,), _get("/api/tokens")),
    Endpoint(
        "tokens",
        "POST",
        "/api/tokens",
        (Perm.token_own,),
        lambda c: ("/api/tokens", {"json": {"name": "matrix"}}),
    ),
    Endpoint(
        "tokens",
        "DELETE",
        "/api/tokens/{token_id}",
        (Perm.token_own,),
        lambda c: (f"/api/tokens/{c.spare_token_id}", {}),
    ),
    # org read
    Endpoint("org.summary", "GET", "/api/org/summary", (Perm.org_read,), _get("/api/org/summary")),
    Endpoint("units.read", "GET", "/api/units", (Perm.org_read,), _get("/api/units?q=城")),
    Endpoint(
        "units.read",
        "GET",
        "/api/units/{unit_id}",
        (Perm.org_read,),
        lambda c: (f"/api/units/{c.unit('A')}", {}),
    ),
    Endpoint("zones.read", "GET", "/api/zones", (Perm.org_read,), _get("/api/zones")),
    Endpoint(
        "zones.read",
        "GET",
        "/api/zones/{zone_id}",
        (Perm.org_read,),
        lambda c: (f"/api/zones/{c.org.zones['A-Z1'].id}", {}),
    ),
    Endpoint(
        "officers.read", "GET", "/api/officers", (Perm.officer_read,), _get("/api/officers?q=A0")
    ),
    Endpoint(
        "officers.read",
        "GET",
        "/api/officers/{officer_id}",
        (Perm.officer_read,),
        lambda c: (f"/api/officers/{c.org.officers['A000'].id}", {}),
    ),
    # org write
    Endpoint(
        "units.write",
        "POST",
        "/api/units",
        (Perm.org_write,),
        lambda c: ("/api/units", {"json": {"code": "NEW1", "name": "新单位", "kind": "other"}}),
    ),
    Endpoint(
        "units.write",
        "PATCH",
        "/api/units/{unit_id}",
        (Perm.org_write,),
        lambda c: (f"/api/units/{c.unit('A')}", {"json": {"population": 41_000}}),
    ),
    Endpoint(
        "bundle",
        "PUT",
        "/api/units/{unit_id}/members",
        (Perm.org_write,),
        lambda c: (f"/api/units/{c.unit('C')}/members", {"json": {"members": ["R1", "R2"]}}),
    ),
    Endpoint(
        "zones.write",
        "POST",
        "/api/zones",
        (Perm.org_write,),
        lambda c: ("/api/zones", {"json": {"code": "A-Z9", "name": "新片区", "station": "A"}}),
    ),
    Endpoint(
        "zones.write",
        "PATCH",
        "/api/zones/{zone_id}",
        (Perm.org_write,),
        lambda c: (f"/api/zones/{c.org.zones['A-Z1'].id}", {"json": {"population": 21_000}}),
    ),
    Endpoint(
        "officers.write",
        "POST",
        "/api/officers",
        (Perm.officer_write,),
        lambda c: (
            "/api/officers",
            {"json": {"police_number": "N001", "name": "新警员", "kind": "sworn", "unit": "A"}},
        ),
    ),
    Endpoint(
        "officers.write",
        "PATCH",
        "/api/officers/{officer_id}",
        (Perm.officer_write,),
        lambda c: (
            f"/api/officers/{c.org.officers['A000'].id}",
            {"json": {"duty_status": "leave"}},
        ),
    ),
    # import / export
    Endpoint(
        "org.export",
        "GET",
        "/api/org/export",
        (Perm.org_read, Perm.officer_read),
        _get("/api/org/export"),
    ),
    Endpoint(
        "org.import",
        "POST",
        "/api/org/import",
        (Perm.org_write,),
        lambda c: (
            "/api/org/import",
            {"files": {"file": ("org.zip", c.bundle_zip, "application/zip")}},
        ),
    ),
    # map layers
    *(
        Endpoint(
            "layers",
            "GET",
            "/api/org/layers/{layer}",
            (Perm.org_read,),
            _get(f"/api/org/layers/{n}"),
        )
        for n in ("county", "units", "zones")
    ),
    # audit
    Endpoint(
        "audit.trail",
        "GET",
        "/api/audit/{entity_kind}/{entity_id}",
        (Perm.audit_read,),
        lambda c: (f"/api/audit/user/{c.chief_a_user_id}", {}),
    ),
    Endpoint(
        "audit.verify", "POST", "/api/audit/verify", (Perm.audit_verify,), _get("/api/audit/verify")
    ),
]


def expected_allowed(role: Role, endpoint: Endpoint) -> bool:
    """Whether ``role`` may call ``endpoint``, from the one permission table."""
    return endpoint.perms is None or all(p in PERMISSIONS[role] for p in endpoint.perms)


def _context(db: Database, org: Org, username: str) -> Ctx:
    with db.session(write=True) as session:
        _, spare = tokens.create_token(
            session=session, actor=system_actor("test"), username=username, name="spare"
        )
        chief = session.execute(select(User.id).where(User.username == "chief_a")).scalar_one()
        spare_user = auth.create_user(
            session=session,
            actor=system_actor("test"),
            username=f"spare_{username}",
            password="long-enough-1",
            role=Role.viewer,
            unit_code="A",
        )
        files = exchange.export_bundle(session=session, actor=system_actor("test"))
    return Ctx(org, username, spare.id, chief, spare_user.id, exchange.zip_bundle(files))


def _run(client: TestClient, endpoint: Endpoint, ctx: Ctx, headers: dict[str, str]) -> Any:
    path, kwargs = endpoint.build(ctx)
    return client.request(endpoint.method, path, headers=headers, **kwargs)


def test_table_covers_routes() -> None:
    """Every API route of the foundation is in the table (and the table has no stale rows)."""
    routes = {
        (method, route.path)
        for router in (auth_router, org_router, audit_router)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    table = {(e.method, e.template) for e in ENDPOINTS}
    assert routes == table


def test_table_has_every_family() -> None:
    """The families of the brief are all present."""
    families = {e.family for e in ENDPOINTS}
    assert families >= {
        "auth",
        "users",
        "tokens",
        "org.summary",
        "units.read",
        "zones.read",
        "officers.read",
        "units.write",
        "zones.write",
        "officers.write",
        "bundle",
        "org.import",
        "org.export",
        "layers",
        "audit.trail",
        "audit.verify",
    }


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_role_matrix(role: Role, client: TestClient, db: Database, org: Org) -> None:
    """Each role gets 403 exactly where the permission table says it lacks the permission."""
    username = USER_OF_ROLE[role]
    ctx = _context(db, org, username)
    headers = bearer(db, username)
    wrong = []
    for endpoint in ENDPOINTS:
        r = _run(client, endpoint, ctx, headers)
        if expected_allowed(role, endpoint):
            ok = r.status_code < 500 and r.status_code not in (401, 403)
        else:
            ok = r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
        if not ok:
            wrong.append((endpoint.method, endpoint.build(ctx)[0], r.status_code, r.text[:200]))
    assert wrong == [], f"{role}: unexpected answers {wrong}"


def test_matrix_allows_the_expected_successes(client: TestClient, db: Database, org: Org) -> None:
    """The administrator's calls do succeed (2xx), so 'allowed' is not just 'some 4xx'."""
    ctx = _context(db, org, "admin")
    headers = bearer(db, "admin")
    for endpoint in ENDPOINTS:
        r = _run(client, endpoint, ctx, headers)
        assert 200 <= r.status_code < 300, (endpoint.method, endpoint.template, r.text)


def test_route_checks_each_of_its_permissions(
    client: TestClient, db: Database, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Take each needed permission away from the administrator: the route must answer 403."""
    ctx = _context(db, org, "admin")
    headers = bearer(db, "admin")
    wrong = []
    for endpoint in ENDPOINTS:
        for perm in endpoint.perms or ():
            with monkeypatch.context() as m:
                m.setitem(PERMISSIONS, Role.admin, frozenset(Perm) - {perm})
                r = _run(client, endpoint, ctx, headers)
            if r.status_code != 403:
                wrong.append((endpoint.method, endpoint.template, str(perm), r.status_code))
    assert wrong == []


def test_unauthenticated_calls_are_refused(client: TestClient, db: Database, org: Org) -> None:
    """Without credentials every non-public route answers 401 (and a bad token too)."""
    ctx = _context(db, org, "admin")
    for headers in ({}, {"Authorization": "Bearer qz_not-a-token"}):
        for endpoint in ENDPOINTS:
            if endpoint.perms is None:
                continue
            r = _run(client, endpoint, ctx, headers)
            assert r.status_code == 401, (endpoint.method, endpoint.template, r.text)
            assert r.json()["error"]["code"] == "unauthenticated"
