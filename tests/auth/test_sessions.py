"""Passwords, browser sessions, CSRF and the form login page."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.auth.models import User, WebSession
from qingzhi.auth.passwords import check_password, hash_password
from qingzhi.auth.service import token_digest
from qingzhi.store.db import Database
from tests.factories import PASSWORD, Org
from tests.helpers import cookie_login, form_login, login_form_token


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

    bad = form_login(client, "admin", "nope-nope")
    assert bad.status_code == 401
    assert "用户名或密码错误" in bad.text
    assert "qingzhi_session" not in client.cookies

    r = form_login(client, "admin", PASSWORD, "/")
    assert r.status_code == 303
    assert r.headers["location"] == "/start"  # each role's working screen (operator's loop)
    assert "httponly" in _set_cookies(r)["qingzhi_session"].lower()
    # an open redirect is not possible through ``next``
    r2 = form_login(client, "admin", PASSWORD, "//evil.example/")
    assert r2.headers["location"] == "/start"

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


def test_login_form_refuses_a_cross_site_post(client: TestClient, db: Database, org: Org) -> None:
    """A page on another site cannot sign the browser in (login CSRF): without the form's own
    token (its SameSite=Strict cookie does not travel on a cross-site post), or with a foreign
    Origin or Referer, the form answers 403 and opens no session."""
    with db.session() as session:
        before = session.execute(select(WebSession.id)).scalars().all()
    good = {"username": "admin", "password": PASSWORD, "next": "/"}
    # no token at all (a cross-site post: no cookie, no field)
    r = client.post("/login", data=good, follow_redirects=False)
    assert r.status_code == 403
    assert "请求来源校验失败" in r.text
    token = login_form_token(client)
    # the right token but posted from another site
    for header in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/x"}):
        r = client.post(
            "/login", data={**good, "login_csrf": token}, headers=header, follow_redirects=False
        )
        assert r.status_code == 403, header
    # a field that does not match the cookie (the attacker's page does not know the cookie)
    r = client.post("/login", data={**good, "login_csrf": "x" * 32}, follow_redirects=False)
    assert r.status_code == 403
    # nor a cookie that the field does not repeat
    client.cookies.delete("qingzhi_login_csrf", path="/login")
    r = client.post("/login", data={**good, "login_csrf": token}, follow_redirects=False)
    assert r.status_code == 403
    with db.session() as session:
        assert session.execute(select(WebSession.id)).scalars().all() == before
    # the same form from this site signs in
    r = form_login(client, "admin", PASSWORD)
    assert r.status_code == 303
    assert "qingzhi_session" in client.cookies


def test_json_login_refuses_another_origin(client: TestClient, org: Org) -> None:
    body = {"username": "admin", "password": PASSWORD}
    r = client.post("/api/auth/login", json=body, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "csrf_failed"
    # a form posing as JSON (text/plain needs no CORS preflight) is not read as JSON
    r = client.post(
        "/api/auth/login",
        content=json.dumps(body),
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 422
    assert "qingzhi_session" not in client.cookies
    assert client.post("/api/auth/login", json=body).status_code == 200
