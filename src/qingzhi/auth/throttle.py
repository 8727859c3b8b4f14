"""Login throttling: counters per username, per client address and per username from one address.

Every password check (a login, or the current password of a password change) is an *attempt*
by a submitted username U from a client address A. Three counters take part, whether or not U
is an account, so that an unknown username is answered exactly like a known one (the same 429
with the same ``Retry-After``):

- **pair** (U from A): consecutive failures. After ``login_slow_after`` of them each further
  attempt must come at least 2^(n − slow_after) seconds (at most ``login_max_delay_seconds``)
  after the last failure; after ``login_lock_after`` the pair is locked out until its failures
  are forgotten.
- **account** (U from every address): consecutive failures. From ``login_guard_after`` on the
  account is *guarded*: an address that has already failed ``login_slow_after`` times for U is
  locked out of U (instead of only after ``login_lock_after``). An address with fewer failures
  for U, in particular one with none, may still try: whoever types a wrong password for the
  administrator many times locks out only their own address, never the administrator at their
  own desk. A botnet gets ``login_slow_after`` guesses per address per ``login_lock_minutes``.
- **address** (A for every username): a leaky bucket of ``login_address_limit`` failures that
  drains evenly over ``login_address_window_minutes`` (a sliding window without a log); an
  attempt that would overflow it is refused, whatever the username. It stops spraying one
  password over many accounts.

A pair's and an account's failures are forgotten ``login_lock_minutes`` after their last failure
(so a lock lasts that long from the failure that set it); a success from A resets the pair U×A
and the account U and takes one failure back out of A's bucket. A refused attempt checks no
password and counts nothing. The counters are rows of ``login_throttle`` locked for the decision
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's writer holds the database's write lock), and an
attempt that may go ahead is counted as a failure *before* its password is checked (outside the
transaction), then forgiven if it succeeds: concurrent attempts are all counted and each
decision sees the ones before it. An administrator clears a username's counters (``unlock``).

The client address is the TCP peer unless it is a trusted reverse proxy
(``QINGZHI_TRUSTED_PROXIES``, see ``qingzhi.auth.deps.client_address``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qingzhi.auth.models import LoginThrottle
from qingzhi.config import Settings
from qingzhi.store.base import utcnow

log = logging.getLogger(__name__)

ACCOUNT, ADDRESS, PAIR = "account", "address", "pair"
SWEEP_BATCH = 200  # expired rows deleted with each recorded failure


@dataclass(frozen=True)
class Counter:
    """A counter's state at one moment (an expired row reads as empty)."""

    failures: int = 0
    level: float = 0.0
    last_at: dt.datetime | None = None


def _lock_span(settings: Settings) -> dt.timedelta:
    return dt.timedelta(minutes=settings.login_lock_minutes)


def _drain_rate(settings: Settings) -> float:
    """Failures per second leaving an address's bucket."""
    return settings.login_address_limit / (settings.login_address_window_minutes * 60)


def drained(settings: Settings, counter: Counter, now: dt.datetime) -> float:
    """An address bucket's level at ``now``."""
    if counter.last_at is None:
        return 0.0
    elapsed = max(0.0, (now - counter.last_at).total_seconds())
    return max(0.0, counter.level - elapsed * _drain_rate(settings))


def delay_after(settings: Settings, failures: int) -> float:
    """Seconds a pair must wait after its last failure, having ``failures`` of them."""
    if failures < settings.login_slow_after:
        return 0.0
    return float(min(2 ** (failures - settings.login_slow_after), settings.login_max_delay_seconds))


def guarded(settings: Settings, account: Counter) -> bool:
    """Whether an account has failed often enough (from all addresses) to be guarded."""
    return account.failures >= settings.login_guard_after


def lock_threshold(settings: Settings, account: Counter) -> int:
    """The failures that lock an address out of a username: fewer while it is guarded."""
    if guarded(settings, account):
        return min(settings.login_slow_after, settings.login_lock_after)
    return settings.login_lock_after


def retry_after(
    settings: Settings, *, account: Counter, address: Counter, pair: Counter, now: dt.datetime
) -> float | None:
    """Seconds until an attempt would be allowed, or None if it may go ahead now."""
    waits = []
    level = drained(settings, address, now)
    if level + 1 > settings.login_address_limit:
        waits.append((level + 1 - settings.login_address_limit) / _drain_rate(settings))
    if pair.last_at is not None:
        if pair.failures >= lock_threshold(settings, account):
            waits.append((pair.last_at + _lock_span(settings) - now).total_seconds())
        elif (delay := delay_after(settings, pair.failures)) > 0:
            waits.append((pair.last_at + dt.timedelta(seconds=delay) - now).total_seconds())
    longest = max(waits, default=0.0)
    return longest if longest > 0 else None


@dataclass(frozen=True)
class Attempt:
    """The throttle's answer to an attempt: refused (``retry_after`` seconds), or counted as a
    failure until forgiven, with the counts it reached."""

    retry_after: float | None
    pair_failures: int = 0
    account_failures: int = 0
    locks: bool = False  # this failure, if it stays one, locks the pair out
    guarded: bool = False
    at: dt.datetime | None = None  # when it was counted

    @property
    def retry_seconds(self) -> int:
        """``retry_after`` rounded up to whole seconds (for the Retry-After header)."""
        return max(1, math.ceil(self.retry_after or 0))


def _keys(username: str, address: str) -> list[tuple[str, str, str]]:
    return sorted([(ACCOUNT, username, ""), (ADDRESS, "", address), (PAIR, username, address)])


def _locked_rows(
    session: Session, keys: list[tuple[str, str, str]], now: dt.datetime
) -> dict[str, LoginThrottle]:
    """The counters' rows, created if missing and locked, in key order (no deadlocks)."""
    dialect = session.connection().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = [
        {
            "kind": kind,
            "username": username,
            "address": address,
            "failures": 0,
            "level": 0.0,
            "last_at": now,
            "expires_at": now,
        }
        for kind, username, address in keys
    ]
    session.execute(
        insert(LoginThrottle)
        .values(values)
        .on_conflict_do_nothing(index_elements=["kind", "username", "address"])
    )
    key = tuple_(LoginThrottle.kind, LoginThrottle.username, LoginThrottle.address)
    rows = session.execute(
        select(LoginThrottle)
        .where(key.in_(keys))
        .order_by(LoginThrottle.kind, LoginThrottle.username, LoginThrottle.address)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalars()
    return {row.kind: row for row in rows}


def _state(row: LoginThrottle, now: dt.datetime) -> Counter:
    if row.expires_at <= now or (row.failures == 0 and row.level <= 0):
        return Counter()
    return Counter(row.failures, row.level, row.last_at)


def _bucket_expiry(settings: Settings, level: float, now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=level / _drain_rate(settings))


def reserve(
    *,
    session: Session,
    settings: Settings,
    username: str,
    address: str,
    now: dt.datetime | None = None,
) -> Attempt:
    """Decide on an attempt on the locked counters; if it may go ahead, count it as a failure
    (``forgive`` takes it back when the password was right). The attempt's time is taken once
    the counters are locked (unless given), so that it never precedes a failure it sees."""
    rows = _locked_rows(session, _keys(username, address), now or utcnow())
    now = now or utcnow()
    account, addr, pair = (_state(rows[k], now) for k in (ACCOUNT, ADDRESS, PAIR))
    wait = retry_after(settings, account=account, address=addr, pair=pair, now=now)
    if wait is not None:
        log.info("login attempt for %r from %s refused for %.0f s", username, address, wait)
        sweep(session=session, now=now)  # with the empty rows this attempt may have created
        return Attempt(wait, pair.failures, account.failures, guarded=guarded(settings, account))
    expiry = now + _lock_span(settings)
    for row, state in ((rows[PAIR], pair), (rows[ACCOUNT], account)):
        row.failures, row.level, row.last_at, row.expires_at = state.failures + 1, 0.0, now, expiry
    level = drained(settings, addr, now) + 1
    bucket = rows[ADDRESS]
    bucket.failures, bucket.level, bucket.last_at = 0, level, now
    bucket.expires_at = _bucket_expiry(settings, level, now)
    after = Counter(rows[ACCOUNT].failures)
    return Attempt(
        None,
        rows[PAIR].failures,
        rows[ACCOUNT].failures,
        locks=rows[PAIR].failures >= lock_threshold(settings, after),
        guarded=guarded(settings, after),
        at=now,
    )


def forgive(
    *, session: Session, settings: Settings, username: str, address: str, now: dt.datetime
) -> None:
    """A successful attempt: reset the pair and the account, take it out of the address bucket."""
    rows = _locked_rows(session, _keys(username, address), now)
    for kind in (ACCOUNT, PAIR):
        session.delete(rows[kind])
    bucket = rows[ADDRESS]
    level = max(0.0, drained(settings, _state(bucket, now), now) - 1)
    bucket.level, bucket.last_at = level, now
    bucket.expires_at = _bucket_expiry(settings, level, now)


def sweep(*, session: Session, now: dt.datetime, limit: int = SWEEP_BATCH) -> int:
    """Delete up to ``limit`` rows that hold no state any more (rows locked by a concurrent
    attempt are skipped, never waited for); the number deleted."""
    expired = (
        select(LoginThrottle.id)
        .where(LoginThrottle.expires_at <= now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.execute(expired).scalars())
    if ids:
        session.execute(delete(LoginThrottle).where(LoginThrottle.id.in_(ids)))
    return len(ids)


def clear(*, session: Session, username: str | None = None, address: str | None = None) -> int:
    """Forget the counters of a username (its account and every pair) and/or of an address
    (its bucket and every pair); the number of counters removed."""
    ids: set[int] = set()
    for column, value, own in (
        (LoginThrottle.username, username, ACCOUNT),
        (LoginThrottle.address, address, ADDRESS),
    ):
        if value is not None:
            ids.update(
                session.execute(
                    select(LoginThrottle.id).where(
                        column == value, LoginThrottle.kind.in_([own, PAIR])
                    )
                ).scalars()
            )
    if ids:
        session.execute(delete(LoginThrottle).where(LoginThrottle.id.in_(ids)))
    return len(ids)


@dataclass(frozen=True)
class AccountState:
    """What an administrator sees of a username's throttle: its consecutive failures (from all
    addresses), whether it is guarded and until when, and the addresses locked out of it."""

    failures: int = 0
    guarded_until: dt.datetime | None = None
    locked_addresses: tuple[str, ...] = ()


def account_states(
    *, session: Session, settings: Settings, usernames: list[str], now: dt.datetime
) -> dict[str, AccountState]:
    """The throttle state of each of ``usernames`` that has one."""
    if not usernames:
        return {}
    rows = session.execute(
        select(LoginThrottle).where(
            LoginThrottle.username.in_(usernames),
            LoginThrottle.kind.in_([ACCOUNT, PAIR]),
            LoginThrottle.expires_at > now,
        )
    ).scalars()
    accounts: dict[str, Counter] = {}
    pairs: dict[str, list[tuple[str, Counter]]] = {}
    for row in rows:
        state = _state(row, now)
        if row.kind == ACCOUNT:
            accounts[row.username] = state
        else:
            pairs.setdefault(row.username, []).append((row.address, state))
    out = {}
    for name in set(accounts) | set(pairs):
        account = accounts.get(name, Counter())
        threshold = lock_threshold(settings, account)
        locked = tuple(sorted(a for a, c in pairs.get(name, []) if c.failures >= threshold))
        until = None
        if guarded(settings, account) and account.last_at is not None:
            until = account.last_at + _lock_span(settings)
        out[name] = AccountState(account.failures, until, locked)
    return out
