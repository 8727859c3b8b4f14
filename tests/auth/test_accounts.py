"""Account lifecycle: disable/enable, password resets and changes, log out everywhere, token
expiry and the password rules; each audited."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.audit.service import ACTION_LABELS
from qingzhi.auth import service, tokens
from qingzhi.auth.context import system_actor
from qingzhi.auth.models import ApiToken, User
from qingzhi.auth.passwords import COMMON_PASSWORDS, password_problem
from qingzhi.config import Settings
from qingzhi.demo.loader import DEMO_PASSWORD
from qingzhi.errors import ValidationFailed
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database
from tests.factories import PASSWORD, Org
from tests.helpers import bearer, cookie_login, last_audit

NEW_PASSWORD = "Brand-new-secret-42"


def _user_id(db: Database, username: str) -> int:
    with db.session() as session:
        return session.execute(select(User.id).where(User.username == username)).scalar_one()


def _admin(client: TestClient) -> dict[str, str]:
    """Sign ``client`` in as the administrator; the CSRF header for its writes."""
    return {"X-CSRF-Token": cookie_login(client, "admin")}


def _login_status(client: TestClient, username: str, password: str) -> int:
    fresh = TestClient(client.app)
    return fresh.post(
        "/api/auth/login", json={"username": username, "password": password}
    ).status_code


def test_password_rules() -> None:
    assert password_problem("correct-horse-9", username="admin") is None
    assert password_problem("长城长城长城长城长城好", username="x") is not None  # 3 distinct
    assert password_problem("短密码1", username="x") is not None
    assert password_problem("x" * 257, username="x") is not None
    assert password_problem("aaaaaaaaaaaa", username="x") is not None
    assert password_problem("my-Officer_a-2026", username="officer_a") is not None
    assert password_problem("1234567890", username="x") is not None
    # the demo password is refused for every real account
    assert DEMO_PASSWORD.casefold() in COMMON_PASSWORDS
    assert password_problem(DEMO_PASSWORD, username="admin") is not None


def test_create_user_follows_the_rules(client: TestClient, org: Org) -> None:
    csrf = _admin(client)
    body = {"username": "new_one", "role": "viewer"}
    for bad in ("short-1", DEMO_PASSWORD, "new_one-password"):
        r = client.post("/api/users", json={**body, "password": bad}, headers=csrf)
        assert r.status_code == 422, bad
        assert r.json()["error"]["details"][0]["field"] == "password"
    r = client.post("/api/users", json={**body, "password": NEW_PASSWORD}, headers=csrf)
    assert r.status_code == 201, r.text


def test_disable_ends_sessions_and_tokens_at_once(
    client: TestClient, db: Database, org: Org
) -> None:
    victim = TestClient(client.app)
    cookie_login(victim, "officer_a")
    token = bearer(db, "officer_a")
    assert victim.get("/api/me").status_code == 200
    assert victim.get("/api/me", headers=token).status_code == 200
    csrf = _admin(client)
    uid = _user_id(db, "officer_a")
    r = client.post(f"/api/users/{uid}/disable", headers=csrf)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["active"] is False
    assert (r.json()["sessions_ended"], r.json()["tokens_revoked"]) == (1, 1)
    record = last_audit(db)
    assert (record.action, record.entity_id) == ("user.disable", str(uid))
    assert victim.get("/api/me").status_code == 401
    assert TestClient(client.app).get("/api/me", headers=token).status_code == 401
    # a disabled account's right password is answered like a wrong one
    assert _login_status(client, "officer_a", PASSWORD) == 401
    # enabling lets the password in again, but no old session or token comes back
    r = client.post(f"/api/users/{uid}/enable", headers=csrf)
    assert r.status_code == 200 and r.json()["user"]["active"] is True
    assert last_audit(db).action == "user.enable"
    assert victim.get("/api/me").status_code == 401
    assert TestClient(client.app).get("/api/me", headers=token).status_code == 401
    assert _login_status(client, "officer_a", PASSWORD) == 200


def test_an_admin_cannot_disable_themselves_nor_reach_outside_their_scope(
    client: TestClient, db: Database, org: Org
) -> None:
    csrf = _admin(client)
    r = client.post(f"/api/users/{_user_id(db, 'admin')}/disable", headers=csrf)
    assert r.status_code == 422
    with db.session(write=True) as session:
        service.create_user(
            session=session,
            actor=system_actor(),
            username="admin_a",
            password="long-enough-1",
            role="admin",
            unit_code="A",
        )
    unit_admin = bearer(db, "admin_a")
    api = TestClient(client.app)
    listed = {u["username"] for u in api.get("/api/users", headers=unit_admin).json()}
    assert listed == {"admin_a", "chief_a", "officer_a", "aux_a"}
    for name in ("commander", "chief_c"):
        r = api.post(f"/api/users/{_user_id(db, name)}/disable", headers=unit_admin)
        assert r.status_code == 404, name
    r = api.post(f"/api/users/{_user_id(db, 'officer_a')}/disable", headers=unit_admin)
    assert r.status_code == 200


def test_admin_password_reset(client: TestClient, db: Database, org: Org) -> None:
    victim = TestClient(client.app)
    cookie_login(victim, "analyst")
    token = bearer(db, "analyst")
    csrf = _admin(client)
    uid = _user_id(db, "analyst")
    r = client.post(f"/api/users/{uid}/password", json={"password": "weak"}, headers=csrf)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "password"
    r = client.post(f"/api/users/{uid}/password", json={"password": NEW_PASSWORD}, headers=csrf)
    assert r.status_code == 200
    assert (r.json()["sessions_ended"], r.json()["tokens_revoked"]) == (1, 0)
    assert victim.get("/api/me").status_code == 401
    assert TestClient(client.app).get("/api/me", headers=token).status_code == 200  # kept
    assert _login_status(client, "analyst", PASSWORD) == 401
    assert _login_status(client, "analyst", NEW_PASSWORD) == 200
    assert last_audit(db).action == "auth.login"
    body = {"password": "Another-secret-43", "revoke_tokens": True}
    r = client.post(f"/api/users/{uid}/password", json=body, headers=csrf)
    assert r.json()["tokens_revoked"] == 1
    assert TestClient(client.app).get("/api/me", headers=token).status_code == 401
    assert last_audit(db).action == "user.password_reset"
    assert "password" not in last_audit(db).diff.replace("password_reset", "")


def test_own_password_change(client: TestClient, db: Database, org: Org) -> None:
    other = TestClient(client.app)
    cookie_login(other, "dispatcher")
    csrf = {"X-CSRF-Token": cookie_login(client, "dispatcher")}
    wrong = {"current_password": "not-my-password", "new_password": NEW_PASSWORD}
    r = client.post("/api/me/password", json=wrong, headers=csrf)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "current_password"
    assert last_audit(db).action == "auth.login_failed"  # counted like a failed login
    weak = {"current_password": PASSWORD, "new_password": "dispatcher-1234"}
    r = client.post("/api/me/password", json=weak, headers=csrf)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "new_password"
    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert client.post("/api/me/password", json=right).status_code == 403  # CSRF, as any write
    r = client.post("/api/me/password", json=right, headers=csrf)
    assert r.status_code == 200, r.text
    assert r.json()["sessions_ended"] == 1
    assert client.get("/api/me").status_code == 200  # this session goes on
    assert other.get("/api/me").status_code == 401  # the other one ended
    assert _login_status(client, "dispatcher", NEW_PASSWORD) == 200
    assert _login_status(client, "dispatcher", PASSWORD) == 401
    with db.session() as session:
        user = session.execute(select(User).where(User.username == "dispatcher")).scalar_one()
        assert user.password_vetted and user.password_changed_at is not None


def test_log_out_everywhere(client: TestClient, db: Database, org: Org) -> None:
    phone = TestClient(client.app)
    cookie_login(phone, "commander")
    token = bearer(db, "commander")
    csrf = {"X-CSRF-Token": cookie_login(client, "commander")}
    r = client.post("/api/me/sessions/revoke", json={}, headers=csrf)
    assert r.status_code == 200
    assert (r.json()["sessions_ended"], r.json()["tokens_revoked"]) == (2, 0)
    assert client.get("/api/me").status_code == 401  # this one too
    assert phone.get("/api/me").status_code == 401
    assert "qingzhi_session" not in client.cookies
    api = TestClient(client.app)
    assert api.get("/api/me", headers=token).status_code == 200
    # with tokens: the bearer caller ends its own token too
    r = api.post("/api/me/sessions/revoke", json={"tokens": True}, headers=token)
    assert r.status_code == 200 and r.json()["tokens_revoked"] == 1
    assert api.get("/api/me", headers=token).status_code == 401
    record = last_audit(db)
    assert record.action == "auth.logout_all"
    assert ACTION_LABELS["auth.logout_all"] == "退出全部登录"


def test_token_expiry(client: TestClient, db: Database, org: Org, settings: Settings) -> None:
    csrf = {"X-CSRF-Token": cookie_login(client, "analyst")}
    r = client.post("/api/tokens", json={"name": "default"}, headers=csrf)
    created = r.json()
    made = dt.datetime.fromisoformat(created["created_at"])
    expires = dt.datetime.fromisoformat(created["expires_at"])
    assert round((expires - made) / dt.timedelta(days=1)) == settings.token_days == 90
    r = client.post("/api/tokens", json={"expires_days": 2}, headers=csrf)
    short = r.json()
    assert round((dt.datetime.fromisoformat(short["expires_at"]) - made).total_seconds()) in (
        range(2 * 86400 - 60, 2 * 86400 + 60)
    )
    too_long = settings.token_max_days + 1
    r = client.post("/api/tokens", json={"expires_days": too_long}, headers=csrf)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "expires_days"
    assert client.post("/api/tokens", json={"expires_days": 0}, headers=csrf).status_code == 422
    # an expired token is refused
    api = TestClient(client.app)
    auth = {"Authorization": f"Bearer {short['token']}"}
    assert api.get("/api/me", headers=auth).status_code == 200
    with db.session(write=True) as session:
        row = session.get(ApiToken, short["id"])
        assert row is not None
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
    r = api.get("/api/me", headers=auth)
    assert r.status_code == 401
    assert "过期" in r.json()["error"]["message"]


def test_no_token_for_a_disabled_account(db: Database, org: Org) -> None:
    with db.session(write=True) as session:
        user = session.execute(select(User).where(User.username == "viewer")).scalar_one()
        user.active = False
        with pytest.raises(ValidationFailed):
            tokens.create_token(session=session, actor=system_actor(), username="viewer")
