"""Passwords, browser sessions, CSRF and the form login page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.auth.models import User, WebSession
from qingzhi.auth.service import check_password, hash_password, token_digest
from qingzhi.store.db import Database
from tests.factories import PASSWORD, Org
from tests.helpers import cookie_login


def test_passwords_are_argon2id(db: Database, org: Org) -> None:
    with db.session() as session:
        hashes = session.execute(select(User.password_hash)).scalars().all()
    assert len(hashes) == len(org.users)
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert all(PASSWORD not in h for h in hashes)
    h = hash_password("another-secret")
    assert h.startswith("$argon2id$")
    assert check_password(h, "another-secret")
    assert not check_password(h, "another-secreT")
    assert not check_password("not a hash", "another-secret")


def _set_cookies(response) -> dict[str, str]:
    out = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        out[name] = header
    return out


def test_login_sets_httponly_samesite_cookie(client: TestClient, db: Database, org: Org) -> None:
    r = client.post("/api/auth/login", json={"username": "chief_a", "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["username"] == "chief_a"
    assert body["user"]["role"] == "station_chief"
    cookies = _set_cookies(r)
    session_cookie = cookies["qingzhi_session"].lower()
    assert "httponly" in session_cookie
    assert "samesite=strict" in session_cookie
    assert "path=/" in session_cookie
    # the CSRF cookie is readable by the page's script, but also same-site only
    csrf_cookie = cookies["qingzhi_csrf"].lower()
    assert "httponly" not in csrf_cookie
    assert "samesite=strict" in csrf_cookie
    # the session is stored by its hash only
    token = client.cookies["qingzhi_session"]
    with db.session() as session:
        rows = session.execute(select(WebSession)).scalars().all()
    assert [w.token_hash for w in rows] == [token_digest(token)]
    assert all(token not in (w.token_hash, w.csrf_token) for w in rows)
    assert rows[0].csrf_token == body["csrf_token"]
    me = client.get("/api/me")
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "chief_a"
    assert me.json()["csrf_token"] == body["csrf_token"]


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient, org: Org) -> None:
    a = client.post("/api/auth/login", json={"username": "chief_a", "password": "wrong-pass"})
    b = client.post("/api/auth/login", json={"username": "nobody", "password": "wrong-pass"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()
    assert "qingzhi_session" not in client.cookies


def test_state_change_with_cookie_needs_csrf_header(client: TestClient, org: Org) -> None:
    csrf = cookie_login(client, "admin")
    r = client.post("/api/tokens", json={"name": "x"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "csrf_failed"
    r = client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "csrf_failed"
    r = client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    # reading needs no CSRF token
    assert client.get("/api/tokens").status_code == 200
    # nothing was created by the refused requests
    assert [t["name"] for t in client.get("/api/tokens").json()] == ["x"]


def test_cross_site_origin_is_refused(client: TestClient, org: Org) -> None:
    csrf = cookie_login(client, "admin")
    ok = {"X-CSRF-Token": csrf}
    for origin in ("http://evil.example", "null", "http://testserver.evil.example"):
        r = client.post("/api/tokens", json={"name": "x"}, headers={**ok, "Origin": origin})
        assert r.status_code == 403, origin
        assert r.json()["error"]["code"] == "csrf_failed"
    r = client.post(
        "/api/tokens", json={"name": "x"}, headers={**ok, "Referer": "http://evil.example/page"}
    )
    assert r.status_code == 403
    r = client.post(
        "/api/tokens", json={"name": "x"}, headers={**ok, "Origin": "http://testserver"}
    )
    assert r.status_code == 201


def test_logout_revokes_the_session(client: TestClient, org: Org) -> None:
    csrf = cookie_login(client, "viewer")
    cookie = client.cookies["qingzhi_session"]
    assert client.post("/api/auth/logout").status_code == 403  # no CSRF header
    r = client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert client.get("/api/me").status_code == 401
    # the old cookie no longer works even if replayed
    client.cookies.set("qingzhi_session", cookie)
    assert client.get("/api/me").status_code == 401


def test_form_login_page(client: TestClient, org: Org) -> None:
    page = client.get("/login", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text
    # the overview redirects to the login form when not signed in
    r = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")

    bad = client.post("/login", data={"username": "admin", "password": "nope-nope"})
    assert bad.status_code == 401
    assert "用户名或密码错误" in bad.text
    assert "qingzhi_session" not in client.cookies

    r = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/"
    assert "httponly" in _set_cookies(r)["qingzhi_session"].lower()
    # an open redirect is not possible through ``next``
    r2 = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert r2.headers["location"] == "/"

    overview = client.get("/", headers={"accept": "text/html"})
    assert overview.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', overview.text)
    assert match, "the logout form carries the CSRF token"
    csrf = match.group(1)
    assert csrf == client.get("/api/me").json()["csrf_token"]

    # the logout form without the hidden field is refused; with it, it works
    refused = client.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    assert client.get("/api/me").status_code == 401


def test_security_headers(client: TestClient, org: Org) -> None:
    r = client.get("/login")
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Request-ID"]


def test_multipart_form_may_carry_the_csrf_token(client: TestClient, org: Org) -> None:
    csrf = cookie_login(client, "admin")
    data = client.get("/api/org/export").content
    upload = {"file": ("org.zip", data, "application/zip")}
    r = client.post("/api/org/import", files=upload)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "csrf_failed"
    r = client.post("/api/org/import", files=upload, data={"csrf_token": "wrong"})
    assert r.status_code == 403
    r = client.post("/api/org/import", files=upload, data={"csrf_token": csrf})
    assert r.status_code == 200, r.text
