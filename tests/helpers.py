"""Helpers shared by the tests: bearer tokens, cookie logins, acting users, row counts, ports."""

from __future__ import annotations

import io
import re
import socket
import zipfile
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingzhi.audit.models import AuditHead, AuditRecord
from qingzhi.auth import service as auth
from qingzhi.auth import tokens
from qingzhi.auth.context import Actor, system_actor
from qingzhi.auth.models import ApiToken, User, WebSession
from qingzhi.org.models import Bureau, Officer, Unit, Zone
from qingzhi.store.db import Database
from tests.factories import PASSWORD

COUNTED = (Bureau, Unit, Zone, Officer, User, ApiToken, WebSession, AuditRecord)


def bearer(db: Database, username: str, name: str = "test") -> dict[str, str]:
    """Authorization headers with a fresh API token for ``username`` (issued by the system)."""
    with db.session(write=True) as session:
        token, _ = tokens.create_token(
            session=session, actor=system_actor("test"), username=username, name=name
        )
    return {"Authorization": f"Bearer {token}"}


def cookie_login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in with a browser session; returns the CSRF token."""
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf_token"]
    assert isinstance(csrf, str) and csrf
    return csrf


def login_form_token(client: TestClient) -> str:
    """Open the login form (which sets its CSRF cookie); the token the form carries."""
    page = client.get("/login")
    match = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert match, "the login form carries its CSRF token"
    return match.group(1)


def form_login(
    client: TestClient, username: str, password: str = PASSWORD, next_page: str = "/"
) -> httpx.Response:
    """Sign in through the HTML login form as a browser does (the form first, then its post)."""
    data = {
        "username": username,
        "password": password,
        "next": next_page,
        "login_csrf": login_form_token(client),
    }
    return client.post("/login", data=data, follow_redirects=False)


def user_actor(session: Session, username: str) -> Actor:
    """The acting principal of a test user (as a request of theirs would have it)."""
    user = session.scalars(select(User).where(User.username == username)).one()
    return auth.actor_for(session, user, request_id=None, via="test")


def rows(db: Database, model: Any, *where: Any) -> int:
    """The number of rows of ``model`` (those matching ``where``)."""
    with db.session() as session:
        query = select(func.count()).select_from(model).where(*where)
        return int(session.execute(query).scalar_one())


def free_port() -> int:
    """A loopback TCP port free at the time of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def counts(db: Database) -> dict[str, int]:
    """Rows per table of the organisation and the audit trail, plus the chain head's seq."""
    with db.session() as session:
        out = {
            m.__tablename__: session.execute(select(func.count()).select_from(m)).scalar_one()
            for m in COUNTED
        }
        out["audit_head"] = session.execute(select(AuditHead.seq)).scalar_one()
    return out


def audit_count(db: Database) -> int:
    """The number of audit records."""
    return rows(db, AuditRecord)


def last_audit(db: Database) -> AuditRecord:
    """The newest audit record."""
    with db.session() as session:
        return session.execute(
            select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)
        ).scalar_one()


def unzip(data: bytes) -> dict[str, bytes]:
    """The files of a zip archive."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}
