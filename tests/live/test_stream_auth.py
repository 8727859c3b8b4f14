"""An open event stream follows its credential: once the token is revoked or expired, the
session logged out or the user disabled, it sends ``signed_out`` and ends; a changed scope ends
it so that the client reconnects under the new one. Over real HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from qingzhi.auth import accounts, tokens
from qingzhi.auth.context import system_actor
from qingzhi.auth.models import ApiToken, User
from qingzhi.config import Settings
from qingzhi.org.models import Unit
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database
from tests.factories import PASSWORD, add_incident
from tests.live.server import SSEReader, serve

RECHECK = 0.3
DEADLINE = 10.0  # the stream must have ended by then (it re-checks every RECHECK seconds)


@pytest.fixture
def recheck_server(committed: Database) -> Iterator[str]:
    """The app with a short credential re-check."""
    settings = Settings(
        database_url="sqlite://", live_poll_seconds=0.2, live_recheck_seconds=RECHECK
    )
    with serve(committed, settings) as url:
        yield url


def _token(db: Database, username: str) -> tuple[str, int]:
    with db.session(write=True) as session:
        token, row = tokens.create_token(session=session, actor=system_actor(), username=username)
        return token, row.id


def _signed_out(reader: SSEReader) -> None:
    """The stream says ``signed_out`` and ends."""
    reader.next("signed_out", timeout=DEADLINE)
    assert reader.ended.wait(DEADLINE)


def test_revoked_token_ends_the_stream(committed: Database, recheck_server: str) -> None:
    token, token_id = _token(committed, "dispatcher")
    reader = SSEReader(f"{recheck_server}/api/live/stream", {"Authorization": f"Bearer {token}"})
    try:
        assert reader.status == 200
        iid = add_incident(committed, source_id="T-1", location=(107.05, 30.05))
        assert reader.next("incident", timeout=DEADLINE).data["id"] == iid
        with committed.session(write=True) as session:
            tokens.revoke_token(session=session, actor=system_actor(), token_id=token_id)
        _signed_out(reader)
    finally:
        reader.close()


def test_expired_token_ends_the_stream(committed: Database, recheck_server: str) -> None:
    token, token_id = _token(committed, "commander")
    reader = SSEReader(f"{recheck_server}/api/live/stream", {"Authorization": f"Bearer {token}"})
    try:
        assert reader.status == 200
        with committed.session(write=True) as session:
            row = session.get(ApiToken, token_id)
            assert row is not None
            row.expires_at = utcnow() - dt.timedelta(seconds=1)
        _signed_out(reader)
    finally:
        reader.close()


def _cookie_login(url: str, username: str) -> tuple[httpx.Client, dict[str, str]]:
    client = httpx.Client(base_url=url, timeout=30)
    r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    cookie = client.cookies["qingzhi_session"]
    return client, {"Cookie": f"qingzhi_session={cookie}", "X-CSRF-Token": r.json()["csrf_token"]}


def test_logout_ends_the_sessions_stream(committed: Database, recheck_server: str) -> None:
    """A central station chief's session stream goes on through its re-checks (the scope read
    again is the same), then ends at logout."""
    client, headers = _cookie_login(recheck_server, "chief_c")
    reader = SSEReader(f"{recheck_server}/api/live/stream", {"Cookie": headers["Cookie"]})
    try:
        assert reader.status == 200
        time.sleep(3 * RECHECK)  # let it re-check a few times
        member = add_incident(
            committed, source_id="T-R1", location=(107.05, 30.15)
        )  # station R1, a member of C
        assert reader.next("incident", timeout=DEADLINE).data["id"] == member
        assert not reader.ended.is_set()
        r = client.post("/api/auth/logout", headers={"X-CSRF-Token": headers["X-CSRF-Token"]})
        assert r.status_code == 204
        _signed_out(reader)
    finally:
        reader.close()
        client.close()


def test_disabling_the_user_ends_the_stream(committed: Database, recheck_server: str) -> None:
    client, headers = _cookie_login(recheck_server, "analyst")
    reader = SSEReader(f"{recheck_server}/api/live/stream", {"Cookie": headers["Cookie"]})
    try:
        assert reader.status == 200
        with committed.session(write=True) as session:
            user = accounts.get_user(session=session, actor=system_actor(), username="analyst")
            accounts.set_active(session=session, actor=system_actor(), user=user, active=False)
        _signed_out(reader)
        # and it cannot come back
        assert (
            httpx.get(
                f"{recheck_server}/api/live/stream",
                headers={"Cookie": headers["Cookie"]},
                timeout=5,
            ).status_code
            == 401
        )
    finally:
        reader.close()
        client.close()


def test_a_changed_scope_ends_the_stream_for_a_reconnect(
    committed: Database, recheck_server: str
) -> None:
    """chief_a moves from station A to B: the stream of A's events ends without signing out
    (the client reconnects and gets B's)."""
    token, _ = _token(committed, "chief_a")
    reader = SSEReader(f"{recheck_server}/api/live/stream", {"Authorization": f"Bearer {token}"})
    try:
        assert reader.status == 200
        with committed.session(write=True) as session:
            user = session.execute(select(User).where(User.username == "chief_a")).scalar_one()
            user.unit_id = session.execute(select(Unit.id).where(Unit.code == "B")).scalar_one()
        assert reader.ended.wait(DEADLINE)
        kinds = []
        while not reader.messages.empty():
            kinds.append(reader.messages.get().event)
        assert "signed_out" not in kinds
        again = SSEReader(f"{recheck_server}/api/live/stream", {"Authorization": f"Bearer {token}"})
        try:
            assert again.status == 200
            add_incident(
                committed, source_id="T-A", location=(107.05, 30.05)
            )  # station A: no longer in scope
            mine = add_incident(committed, source_id="T-B", location=(107.15, 30.05))  # station B
            assert again.next("incident", timeout=DEADLINE).data["id"] == mine
        finally:
            again.close()
    finally:
        reader.close()
