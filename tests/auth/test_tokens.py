"""API tokens: shown once, stored as SHA-256, revocable."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.auth import service, tokens
from qingzhi.auth.context import system_actor
from qingzhi.auth.models import ApiToken, User
from qingzhi.auth.service import token_digest
from qingzhi.errors import NotFound
from qingzhi.store.db import Database
from tests.factories import Org
from tests.helpers import bearer, cookie_login


def test_token_shown_once_stored_hashed_and_revocable(
    client: TestClient, db: Database, org: Org
) -> None:
    csrf = cookie_login(client, "analyst")
    r = client.post("/api/tokens", json={"name": "报表脚本"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["token"]
    assert token.startswith("qz_") and len(token) > 40
    assert created["prefix"] == token[:10]

    # listed without the token itself
    listing = client.get("/api/tokens")
    assert listing.status_code == 200
    assert token not in listing.text
    assert [t["id"] for t in listing.json()] == [created["id"]]
    assert "token" not in listing.json()[0]

    # the database keeps the SHA-256 only
    with db.session() as session:
        row = session.get(ApiToken, created["id"])
        assert row is not None
        assert row.token_hash == token_digest(token)
        assert len(row.token_hash) == 64
        stored = [row.name, row.prefix, row.token_hash]
    assert token not in stored

    # the token works as a bearer token (a fresh client: no cookies)
    api = TestClient(client.app)
    auth = {"Authorization": f"Bearer {token}"}
    me = api.get("/api/me", headers=auth)
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "analyst"
    assert me.json()["csrf_token"] is None
    # bearer requests need no CSRF token
    assert api.post("/api/tokens", json={"name": "second"}, headers=auth).status_code == 201

    # revoke → 401 from then on
    r = client.delete(f"/api/tokens/{created['id']}", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert r.json()["revoked_at"] is not None
    r = api.get("/api/me", headers=auth)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"


def test_cannot_revoke_someone_elses_token(client: TestClient, db: Database, org: Org) -> None:
    with db.session() as session:
        before = session.execute(select(ApiToken.id)).scalars().all()
    victim = bearer(db, "viewer")
    with db.session() as session:
        token_id = session.execute(
            select(ApiToken.id).where(ApiToken.id.not_in(before))
        ).scalar_one()
    r = client.delete(f"/api/tokens/{token_id}", headers=bearer(db, "analyst"))
    assert r.status_code == 404
    assert client.get("/api/me", headers=victim).status_code == 200
    # an administrator may revoke it
    r = client.delete(f"/api/tokens/{token_id}", headers=bearer(db, "admin"))
    assert r.status_code == 200
    assert client.get("/api/me", headers=victim).status_code == 401


def test_unknown_and_malformed_tokens(client: TestClient, org: Org) -> None:
    for value in ("Bearer ", "Bearer qz_x", "Bearer " + "a" * 500):
        r = client.get("/api/me", headers={"Authorization": value})
        assert r.status_code == 401


def test_deactivated_user_token_stops_working(client: TestClient, db: Database, org: Org) -> None:
    from qingzhi.auth.models import User

    headers = bearer(db, "officer_a")
    assert client.get("/api/me", headers=headers).status_code == 200
    with db.session(write=True) as session:
        user = session.execute(select(User).where(User.username == "officer_a")).scalar_one()
        user.active = False
    assert client.get("/api/me", headers=headers).status_code == 401


def test_last_use_is_recorded(client: TestClient, db: Database, org: Org) -> None:
    api = TestClient(client.app)
    listing = api.get("/api/tokens", headers=bearer(db, "analyst")).json()
    assert listing[0]["last_used_at"] is not None


def test_unit_scoped_manager_manages_only_accounts_in_scope(db: Database, org: Org) -> None:
    with db.session(write=True) as session:
        admin_a = service.create_user(
            session=session,
            actor=system_actor(),
            username="admin_a",
            password="long-enough-1",
            role="admin",
            unit_code="A",
        )
        actor = service.actor_for(session, admin_a, request_id=None, via="test")
        _, own = tokens.create_token(session=session, actor=actor, username="officer_a")
        assert own.user.username == "officer_a"
        with pytest.raises(NotFound):
            tokens.create_token(session=session, actor=actor, username="chief_c")
        with pytest.raises(NotFound):
            tokens.create_token(session=session, actor=actor, username="commander")
        other = session.execute(select(User).where(User.username == "chief_c")).scalar_one()
        _, theirs = tokens.create_token(
            session=session, actor=system_actor(), username=other.username
        )
        with pytest.raises(NotFound):
            tokens.revoke_token(session=session, actor=actor, token_id=theirs.id)


def test_bearer_lookup_outside_a_transaction(tmp_path: Path) -> None:
    """The per-request token lookup runs on a pooled connection without a session
    (``HotRead``): against committed data it gives the same actor as through the ORM, with the
    role as its enum, the scope of a central station with its members, and a revoked token
    refused at once."""
    import datetime as dt

    from qingzhi.auth.permissions import Role
    from qingzhi.errors import Unauthenticated
    from qingzhi.store.db import migrate
    from tests.factories import build_org

    url = f"sqlite:///{tmp_path / 'hot.db'}"
    migrate(url)
    db = Database(url)
    with db.session(write=True) as session:
        org = build_org(session)
        token, row = tokens.create_token(session=session, actor=system_actor(), username="chief_c")
        token_id = row.id
    actor, stale = tokens.bearer_actor(db=db, token=token, request_id="r1")
    assert actor.name == "chief_c" and actor.role is Role.station_chief
    assert actor.request_id == "r1" and actor.via == "token"
    assert actor.scope.units == frozenset({org.id("C"), org.id("R1"), org.id("R2")})
    assert stale == token_id  # never used: its use is due to be recorded
    with db.session(write=True) as session:
        tokens.touch_token(session=session, token_id=token_id)
    assert tokens.bearer_actor(db=db, token=token, request_id=None)[1] is None
    with db.session(write=True) as session:
        used = session.get(ApiToken, token_id)
        assert used is not None and used.last_used_at is not None
        used.last_used_at -= dt.timedelta(hours=2)
    assert tokens.bearer_actor(db=db, token=token, request_id=None)[1] == token_id
    with db.session(write=True) as session:
        tokens.revoke_token(session=session, actor=system_actor(), token_id=token_id)
    with pytest.raises(Unauthenticated):
        tokens.bearer_actor(db=db, token=token, request_id=None)
    db.dispose()
