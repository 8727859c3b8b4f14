"""Concurrent wrong logins against a real server on a committed database (SQLite and
PostgreSQL): every attempt is counted and each decision sees the attempts before it."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.auth.models import LoginThrottle
from qingzhi.config import Settings
from qingzhi.store.db import Database
from tests.factories import PASSWORD
from tests.live.server import serve

PARALLEL = 20


def _parallel_wrong_logins(url: str, username: str) -> list[int]:
    """PARALLEL wrong-password logins released at once; their status codes."""
    barrier = threading.Barrier(PARALLEL)
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            barrier.wait()
            r = client.post(
                "/api/auth/login", json={"username": username, "password": "wrong-password"}
            )
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=one) for _ in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def _state(db: Database, username: str) -> tuple[dict[str, int], Counter[str]]:
    with db.session() as session:
        failures = {
            r.kind: r.failures
            for r in session.execute(
                select(LoginThrottle).where(LoginThrottle.username == username)
            ).scalars()
        }
        actions = Counter(
            session.execute(
                select(AuditRecord.action).where(
                    AuditRecord.action.in_(["auth.login_failed", "auth.locked"])
                )
            ).scalars()
        )
    return failures, actions


def _login(url: str, username: str, source: str = "127.0.0.1") -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=url, timeout=30, transport=transport) as client:
        r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        return r.status_code


def test_twenty_parallel_failures_are_all_counted_and_lock(committed: Database) -> None:
    """No delay before the 20th failure: all 20 are checked, all 20 counted (none lost), and
    the 20th locks this address out of the account, not the account's owner elsewhere."""
    settings = Settings(
        database_url="sqlite://",
        login_slow_after=PARALLEL,
        login_lock_after=PARALLEL,
        login_guard_after=PARALLEL,
        login_address_limit=100,
    )
    with serve(committed, settings) as url:
        statuses = _parallel_wrong_logins(url, "admin")
        assert statuses == [401] * PARALLEL
        failures, actions = _state(committed, "admin")
        assert failures == {"account": PARALLEL, "pair": PARALLEL}
        assert actions == {"auth.login_failed": PARALLEL - 1, "auth.locked": 1}
        assert _login(url, "admin") == 429  # locked out from this address
        assert _login(url, "admin", source="127.0.0.2") == 200  # the owner at another address


def test_parallel_failures_past_the_lock_are_refused_unchecked(committed: Database) -> None:
    """A lock after 3 failures: of 20 parallel attempts exactly 3 have their password checked
    (and fail), the other 17 are refused with 429 without a check."""
    settings = Settings(
        database_url="sqlite://", login_slow_after=3, login_lock_after=3, login_address_limit=100
    )
    with serve(committed, settings) as url:
        statuses = _parallel_wrong_logins(url, "nobody")  # an unknown name: the same rules
        assert Counter(statuses) == {401: 3, 429: PARALLEL - 3}
        failures, actions = _state(committed, "nobody")
        assert failures == {"account": 3, "pair": 3}
        assert actions == {"auth.login_failed": 2, "auth.locked": 1}
