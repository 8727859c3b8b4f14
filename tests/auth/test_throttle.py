"""Login throttling: a growing delay after ``login_slow_after`` failures, a lock after
``login_lock_after``, and a reset on success."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.auth import service as auth
from qingzhi.auth.models import User
from qingzhi.config import Settings
from qingzhi.errors import AccountLocked, TooManyAttempts, Unauthenticated
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database
from tests.factories import PASSWORD, Org
from tests.helpers import audit_count

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def attempt(db: Database, settings: Settings, password: str, at: dt.datetime) -> object:
    """One login attempt at ``at``: the error's class, or "ok"."""
    with db.session(write=True) as session:
        outcome = auth.login(
            session=session, settings=settings, username="officer_a", password=password, now=at
        )
    if outcome.error is not None:
        return type(outcome.error)
    assert outcome.user is not None
    return "ok"


def user_state(db: Database) -> tuple[int, dt.datetime | None]:
    with db.session() as session:
        u = session.execute(select(User).where(User.username == "officer_a")).scalar_one()
        return u.failed_logins, u.locked_until


def test_delay_then_lock_then_unlock(db: Database, settings: Settings, org: Org) -> None:
    assert (settings.login_slow_after, settings.login_lock_after) == (3, 6)
    s = dt.timedelta(seconds=1)
    for i in range(3):
        assert attempt(db, settings, "bad-password", T0 + i * 0.1 * s) is Unauthenticated
    assert user_state(db)[0] == 3
    last = T0 + 0.2 * s
    # after 3 failures: wait 2^0 = 1 s; the right password does not help during the wait
    assert attempt(db, settings, PASSWORD, last + 0.5 * s) is TooManyAttempts
    assert attempt(db, settings, "bad-password", last + 0.9 * s) is TooManyAttempts
    assert user_state(db)[0] == 3  # throttled attempts are not counted as failures
    assert attempt(db, settings, "bad-password", last + 1.1 * s) is Unauthenticated  # 4th
    last = last + 1.1 * s
    # now wait 2^1 = 2 s
    assert attempt(db, settings, "bad-password", last + 1.9 * s) is TooManyAttempts
    assert attempt(db, settings, "bad-password", last + 2.1 * s) is Unauthenticated  # 5th
    last = last + 2.1 * s
    assert attempt(db, settings, "bad-password", last + 3.9 * s) is TooManyAttempts
    assert attempt(db, settings, "bad-password", last + 4.1 * s) is Unauthenticated  # 6th: lock
    locked_at = last + 4.1 * s
    failures, locked_until = user_state(db)
    assert failures == 0  # the count restarts once the lock is set
    assert locked_until is not None
    assert locked_until == locked_at + dt.timedelta(minutes=settings.login_lock_minutes)
    # locked: even the right password is refused until the lock ends
    assert attempt(db, settings, PASSWORD, locked_at + 60 * s) is AccountLocked
    assert attempt(db, settings, PASSWORD, locked_until - s) is AccountLocked
    assert attempt(db, settings, PASSWORD, locked_until + s) == "ok"
    assert user_state(db) == (0, None)


def test_success_resets_the_count(db: Database, settings: Settings, org: Org) -> None:
    s = dt.timedelta(seconds=1)
    assert attempt(db, settings, "bad-password", T0) is Unauthenticated
    assert attempt(db, settings, "bad-password", T0 + s) is Unauthenticated
    assert user_state(db)[0] == 2
    assert attempt(db, settings, PASSWORD, T0 + 2 * s) == "ok"
    assert user_state(db)[0] == 0
    # two more failures right away are not throttled: the count started again
    assert attempt(db, settings, "bad-password", T0 + 2.1 * s) is Unauthenticated
    assert attempt(db, settings, "bad-password", T0 + 2.2 * s) is Unauthenticated
    assert attempt(db, settings, PASSWORD, T0 + 2.3 * s) == "ok"


def test_delay_is_capped(db: Database, org: Org) -> None:
    settings = Settings(
        database_url="sqlite://", login_slow_after=1, login_lock_after=50, login_max_delay_seconds=5
    )
    at = T0
    for _ in range(12):  # 2^11 s uncapped; each attempt comes 6 s after the last
        at += dt.timedelta(seconds=6)
        assert attempt(db, settings, "bad-password", at) is Unauthenticated
    assert attempt(db, settings, PASSWORD, at + dt.timedelta(seconds=4.5)) is TooManyAttempts
    assert attempt(db, settings, PASSWORD, at + dt.timedelta(seconds=5.5)) == "ok"


def test_failures_are_audited(db: Database, settings: Settings, org: Org) -> None:
    before = audit_count(db)
    assert attempt(db, settings, "bad-password", T0) is Unauthenticated
    assert audit_count(db) == before + 1


def test_http_answers_429_with_retry_after_and_423_when_locked(
    client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    def post(password: str):
        return client.post("/api/auth/login", json={"username": "officer_a", "password": password})

    for _ in range(settings.login_slow_after):
        assert post("bad-password").status_code == 401
    # make the pending delay long enough not to race the clock: 5 failures → 2^2 = 4 s
    with db.session(write=True) as session:
        u = session.execute(select(User).where(User.username == "officer_a")).scalar_one()
        u.failed_logins = 5
        u.last_failed_at = utcnow()
    r = post(PASSWORD)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "too_many_attempts"
    assert 1 <= int(r.headers["Retry-After"]) <= 5
    assert "qingzhi_session" not in client.cookies

    # locked account: 423 with the right password
    with db.session(write=True) as session:
        u = session.execute(select(User).where(User.username == "officer_a")).scalar_one()
        u.failed_logins = 0
        u.last_failed_at = None
        u.locked_until = utcnow() + dt.timedelta(minutes=10)
    r = post(PASSWORD)
    assert r.status_code == 423
    assert r.json()["error"]["code"] == "account_locked"
    # and the form login page says so too
    page = client.post("/login", data={"username": "officer_a", "password": PASSWORD})
    assert page.status_code == 423
    assert "锁定" in page.text


def test_http_lock_after_repeated_failures(
    client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    """Real clock: failures spaced past each delay by rewinding ``last_failed_at``."""
    for _ in range(settings.login_lock_after):
        with db.session(write=True) as session:
            u = session.execute(select(User).where(User.username == "officer_a")).scalar_one()
            if u.last_failed_at is not None:
                u.last_failed_at = utcnow() - dt.timedelta(hours=1)
        r = client.post("/api/auth/login", json={"username": "officer_a", "password": "bad-pw-1"})
        assert r.status_code == 401
    r = client.post("/api/auth/login", json={"username": "officer_a", "password": PASSWORD})
    assert r.status_code == 423
