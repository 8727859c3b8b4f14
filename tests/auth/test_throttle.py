"""Login throttling (``qingzhi.auth.throttle``): delays and a lock per username from one address,
a guard per username that never locks out a clean address, a sliding window per address, the
same answers for unknown and known usernames, and an administrator's unlock."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.auth import accounts, throttle
from qingzhi.auth import service as auth
from qingzhi.auth.context import system_actor
from qingzhi.auth.models import LoginThrottle
from qingzhi.auth.throttle import Counter
from qingzhi.config import Settings
from qingzhi.errors import TooManyAttempts, Unauthenticated
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database
from tests.factories import PASSWORD, Org
from tests.helpers import form_login, login_form_token

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)
RULES = Settings(
    database_url="sqlite://",
    login_slow_after=3,
    login_lock_after=6,
    login_lock_minutes=15,
    login_max_delay_seconds=60,
    login_guard_after=10,
    login_address_limit=30,
    login_address_window_minutes=15,
)


def attempt(
    db: Database,
    settings: Settings,
    password: str,
    at: dt.datetime,
    *,
    username: str = "officer_a",
    address: str = "10.0.0.1",
) -> object:
    """One login at ``at``: "ok", Unauthenticated, or (TooManyAttempts, its Retry-After)."""
    outcome = auth.login(
        db=db,
        settings=settings,
        username=username,
        password=password,
        address=address,
        now=at,
    )
    if outcome.error is None:
        assert outcome.user is not None and outcome.token
        return "ok"
    if isinstance(outcome.error, TooManyAttempts):
        return TooManyAttempts, outcome.error.details["retry_after"]
    return type(outcome.error)


def refused(result: object) -> bool:
    return isinstance(result, tuple) and result[0] is TooManyAttempts


def counters(db: Database, username: str = "officer_a") -> dict[tuple[str, str], int]:
    with db.session() as session:
        rows = session.execute(
            select(LoginThrottle).where(LoginThrottle.username == username)
        ).scalars()
        return {(r.kind, r.address): r.failures for r in rows}


# ---------------------------------------------------------------- the rules, hand-computed


def test_rules_by_hand() -> None:
    now = T0
    empty = Counter()
    # two failures of the pair: no delay yet
    assert (
        throttle.retry_after(RULES, account=empty, address=empty, pair=Counter(2, 0, now), now=now)
        is None
    )
    # 3 failures: wait 2^0 = 1 s after the last; 5 failures: 2^2 = 4 s
    pair = Counter(3, 0, now - 0.4 * S)
    assert throttle.retry_after(
        RULES, account=empty, address=empty, pair=pair, now=now
    ) == pytest.approx(0.6)
    pair = Counter(5, 0, now - S)
    assert throttle.retry_after(
        RULES, account=empty, address=empty, pair=pair, now=now
    ) == pytest.approx(3)
    # 6 failures (lock_after): locked until 15 min after the last failure
    pair = Counter(6, 0, now - 60 * S)
    assert throttle.retry_after(
        RULES, account=empty, address=empty, pair=pair, now=now
    ) == pytest.approx(840)
    # a guarded account (10 failures from all addresses) locks a pair out at 3 failures
    account = Counter(10, 0, now)
    pair = Counter(3, 0, now - 100 * S)
    assert throttle.retry_after(
        RULES, account=account, address=empty, pair=pair, now=now
    ) == pytest.approx(800)
    # … but not an address with fewer failures for it
    pair = Counter(2, 0, now - 100 * S)
    assert throttle.retry_after(RULES, account=account, address=empty, pair=pair, now=now) is None
    assert throttle.retry_after(RULES, account=account, address=empty, pair=empty, now=now) is None
    # the address bucket: 30 failures drain at 30 per 15 min = one per 30 s
    full = Counter(0, 30.0, now)
    assert throttle.retry_after(
        RULES, account=empty, address=full, pair=empty, now=now
    ) == pytest.approx(30)
    assert throttle.drained(RULES, full, now + 45 * S) == pytest.approx(28.5)
    assert (
        throttle.retry_after(RULES, account=empty, address=full, pair=empty, now=now + 30 * S)
        is None
    )
    # the delay is capped
    assert throttle.delay_after(RULES, 3 + 20) == 60


# ---------------------------------------------------------------- through the login service


def test_delay_then_lock_then_fresh(db: Database, org: Org) -> None:
    for i in range(3):
        assert attempt(db, RULES, "bad-password", T0 + i * 0.1 * S) is Unauthenticated
    last = T0 + 0.2 * S
    assert counters(db)[("pair", "10.0.0.1")] == 3
    # after 3 failures: wait 1 s; the right password does not help during the wait
    assert attempt(db, RULES, PASSWORD, last + 0.5 * S) == (TooManyAttempts, 1)
    assert refused(attempt(db, RULES, "bad-password", last + 0.9 * S))
    assert counters(db)[("pair", "10.0.0.1")] == 3  # refused attempts are not counted
    assert attempt(db, RULES, "bad-password", last + 1.1 * S) is Unauthenticated  # 4th
    last += 1.1 * S
    assert attempt(db, RULES, "bad-password", last + 1.9 * S) == (TooManyAttempts, 1)
    assert attempt(db, RULES, "bad-password", last + 2.1 * S) is Unauthenticated  # 5th
    last += 2.1 * S
    assert attempt(db, RULES, "bad-password", last + 4.1 * S) is Unauthenticated  # 6th: locked
    locked_at = last + 4.1 * S
    # locked out for 15 minutes: even the right password, from this address
    assert attempt(db, RULES, PASSWORD, locked_at + 60 * S) == (TooManyAttempts, 840)
    assert refused(attempt(db, RULES, PASSWORD, locked_at + 899 * S))
    # then the failures are forgotten: the right password works, and the count starts again
    assert attempt(db, RULES, PASSWORD, locked_at + 901 * S) == "ok"
    assert counters(db) == {}


def test_success_resets_the_count(db: Database, org: Org) -> None:
    assert attempt(db, RULES, "bad-password", T0) is Unauthenticated
    assert attempt(db, RULES, "bad-password", T0 + S) is Unauthenticated
    assert attempt(db, RULES, PASSWORD, T0 + 2 * S) == "ok"
    assert counters(db) == {}
    assert attempt(db, RULES, "bad-password", T0 + 2.1 * S) is Unauthenticated
    assert attempt(db, RULES, "bad-password", T0 + 2.2 * S) is Unauthenticated
    assert attempt(db, RULES, PASSWORD, T0 + 2.3 * S) == "ok"


def test_delay_is_capped(db: Database, org: Org) -> None:
    rules = RULES.model_copy(
        update={
            "login_slow_after": 1,
            "login_lock_after": 50,
            "login_guard_after": 50,
            "login_max_delay_seconds": 5,
        }
    )
    at = T0
    for _ in range(12):  # 2^11 s uncapped; each attempt comes 6 s after the last
        at += 6 * S
        assert attempt(db, rules, "bad-password", at) is Unauthenticated
    assert attempt(db, rules, PASSWORD, at + 4.5 * S) == (TooManyAttempts, 1)
    assert attempt(db, rules, PASSWORD, at + 5.5 * S) == "ok"


def _script(db: Database, username: str, address: str) -> list[object]:
    """A fixed sequence of wrong passwords, some too soon, on one username from one address."""
    offsets = [0, 0.1, 0.2, 0.5, 1.3, 1.5, 3.4, 7.5, 8, 16, 17, 2000]
    return [
        attempt(db, RULES, "bad-password", T0 + t * S, username=username, address=address)
        for t in offsets
    ]


def test_unknown_and_disabled_usernames_are_answered_like_an_account(
    db: Database, org: Org
) -> None:
    with db.session(write=True) as session:
        chief = accounts.get_user(session=session, actor=system_actor(), username="chief_a")
        accounts.set_active(session=session, actor=system_actor(), user=chief, active=False)
    real = _script(db, "officer_a", "10.0.0.1")
    assert real.count(Unauthenticated) >= 6 and sum(map(refused, real)) >= 4  # it did throttle
    assert _script(db, "nobody", "10.0.0.2") == real
    assert _script(db, "chief_a", "10.0.0.3") == real
    # a disabled account's right password is answered like a wrong one
    assert attempt(db, RULES, PASSWORD, T0, username="chief_a", address="10.0.0.4") is (
        Unauthenticated
    )


def test_locking_out_the_admin_does_not_lock_out_the_admin(db: Database, org: Org) -> None:
    """An attacker's failures lock out the attacker's address; the administrator at another
    address still signs in, also while the account is guarded."""
    at = T0
    for _ in range(RULES.login_lock_after):
        at += 100 * S  # past every delay
        assert attempt(db, RULES, "guess", at, username="admin", address="203.0.113.9") is (
            Unauthenticated
        )
    assert refused(attempt(db, RULES, PASSWORD, at + S, username="admin", address="203.0.113.9"))
    assert attempt(db, RULES, PASSWORD, at + S, username="admin", address="10.1.1.1") == "ok"
    # a botnet: 10 failures from 10 addresses guard the account ...
    for n in range(RULES.login_guard_after):
        at += S
        assert attempt(db, RULES, "guess", at, username="admin", address=f"198.51.100.{n}") is (
            Unauthenticated
        )
    # … under which an address is locked out after 3 failures (not 6)
    bot = "198.51.100.200"
    for _ in range(RULES.login_slow_after):
        at += 100 * S
        assert attempt(db, RULES, "guess", at, username="admin", address=bot) is Unauthenticated
    assert refused(attempt(db, RULES, "guess", at + 100 * S, username="admin", address=bot))
    # the administrator, with a typo first, still gets in from their desk
    desk = "10.1.1.1"
    assert attempt(db, RULES, "typo", at + 2 * S, username="admin", address=desk) is (
        Unauthenticated
    )
    assert attempt(db, RULES, PASSWORD, at + 3 * S, username="admin", address=desk) == "ok"


def test_one_address_cannot_spray_many_accounts(db: Database, org: Org) -> None:
    rules = RULES.model_copy(update={"login_address_limit": 5, "login_address_window_minutes": 1})
    names = ["admin", "commander", "nobody", "analyst", "viewer"]
    for name in names:
        assert attempt(db, rules, "guess", T0, username=name) is Unauthenticated
    # the bucket is full: any username from this address waits (one failure drains in 12 s)
    at = T0
    assert attempt(db, rules, PASSWORD, at, username="dispatcher") == (TooManyAttempts, 12)
    assert attempt(db, rules, PASSWORD, at, username="dispatcher", address="10.9.9.9") == "ok"
    assert attempt(db, rules, PASSWORD, at + 12.5 * S, username="dispatcher") == "ok"
    # successes do not fill it
    for n in range(10):
        assert attempt(db, rules, PASSWORD, at + (13 + n) * S, username="chief_a") == "ok"


def test_failures_are_audited(db: Database, org: Org) -> None:
    def trail() -> list[tuple[str, str, str]]:
        with db.session() as session:
            rows = session.execute(
                select(AuditRecord).where(AuditRecord.action.like("auth.%"))
            ).scalars()
            return [(r.action, r.entity_kind, r.actor) for r in rows]

    before = trail()
    assert attempt(db, RULES, "bad-password", T0) is Unauthenticated
    assert attempt(db, RULES, "bad-password", T0, username="nobody") is Unauthenticated
    assert attempt(db, RULES, PASSWORD, T0 + S) == "ok"
    assert trail()[len(before) :] == [
        ("auth.login_failed", "user", "officer_a"),
        ("auth.login_failed", "login", "nobody"),
        ("auth.login", "user", "officer_a"),
    ]


def test_admin_unlock(db: Database, org: Org) -> None:
    at = T0
    for _ in range(RULES.login_lock_after):
        at += 100 * S
        attempt(db, RULES, "guess", at)
    assert refused(attempt(db, RULES, PASSWORD, at + S))
    with db.session(write=True) as session:
        listed = accounts.list_users(session=session, actor=system_actor(), settings=RULES, now=at)
        mine = next(u for u in listed if u.user.username == "officer_a")
        assert (mine.failed_logins, mine.locked_addresses) == (6, ("10.0.0.1",))
        user = accounts.get_user(session=session, actor=system_actor(), username="officer_a")
        assert accounts.unlock(session=session, actor=system_actor(), user=user) == 2
    assert attempt(db, RULES, PASSWORD, at + 2 * S) == "ok"


# ---------------------------------------------------------------- over HTTP


def test_http_429_with_retry_after_alike_for_unknown_and_known(
    client: TestClient,
    db: Database,
    settings: Settings,
    org: Org,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frozen = utcnow()
    for module in (auth, throttle):  # the 1 s delay must not run out during the test
        monkeypatch.setattr(module, "utcnow", lambda: frozen)

    def post(username: str, password: str = "bad-password"):  # noqa: S107
        return client.post("/api/auth/login", json={"username": username, "password": password})

    answers = {}
    for name in ("officer_a", "nobody"):
        for _ in range(settings.login_slow_after):
            assert post(name).status_code == 401
        answers[name] = post(name, PASSWORD if name == "officer_a" else "x")
    real, unknown = answers["officer_a"], answers["nobody"]
    assert real.status_code == unknown.status_code == 429
    assert real.json() == unknown.json()
    assert real.json()["error"]["code"] == "too_many_attempts"
    assert real.headers["Retry-After"] == unknown.headers["Retry-After"] == "1"
    assert "qingzhi_session" not in client.cookies
    # the form login says so too, with the same header
    token = login_form_token(client)
    page = client.post(
        "/login", data={"username": "officer_a", "password": PASSWORD, "login_csrf": token}
    )
    assert page.status_code == 429
    assert page.headers["Retry-After"] == "1"
    assert "过于频繁" in page.text


def test_http_admin_unlock_and_listing(
    client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    with db.session(write=True) as session:
        for n in range(settings.login_lock_after):
            throttle.reserve(
                session=session,
                settings=settings,
                username="officer_a",
                address="testclient",
                now=utcnow() - dt.timedelta(seconds=100 * (settings.login_lock_after - n)),
            )
    assert form_login(client, "officer_a").status_code == 429
    admin = client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
    csrf = {"X-CSRF-Token": admin.json()["csrf_token"]}
    users = {u["username"]: u for u in client.get("/api/users").json()}
    assert users["officer_a"]["failed_logins"] == settings.login_lock_after
    assert users["officer_a"]["locked_addresses"] == ["testclient"]
    assert users["admin"]["sessions"] == 1
    r = client.post(f"/api/users/{users['officer_a']['id']}/unlock", json={}, headers=csrf)
    assert r.status_code == 200 and r.json()["cleared"] == 2
    client.cookies.clear()
    assert form_login(client, "officer_a").status_code == 303
