"""Account lifecycle: listing accounts, disabling and enabling them, password resets and changes,
ending a user's sessions ("log out everywhere") and lifting login throttles. Every change is
audited in the same transaction.

- Disabling an account revokes its browser sessions and API tokens at once (enabling it again
  brings none of them back); its logins are then answered like a wrong password.
- An administrator's password reset ends the user's sessions (and, if asked, revokes their
  tokens) and clears the login throttle for the username.
- A user's own password change needs the current password, checked under the login throttle
  like a login, and ends the user's other sessions.
- "Log out everywhere" revokes every session of the caller (the current one too) and, if asked,
  every API token.

A user manager manages the accounts in their scope (a unit administrator those of the unit);
others are answered 404, as if they did not exist.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Result, func, select, update
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth import throttle
from qingzhi.auth.context import Actor
from qingzhi.auth.models import ApiToken, User, WebSession
from qingzhi.auth.passwords import check_new_password, check_password
from qingzhi.auth.permissions import Perm
from qingzhi.auth.service import (
    checked_password,
    manages,
    record_user,
    set_password,
    user_snapshot,
)
from qingzhi.config import Settings
from qingzhi.errors import NotFound, ValidationFailed
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ended:
    """How many live sessions and API tokens a change ended."""

    sessions: int = 0
    tokens: int = 0


@dataclass(frozen=True)
class UserSummary:
    """An account as an administrator sees it: live sessions and tokens, the login throttle."""

    user: User
    sessions: int
    tokens: int
    failed_logins: int
    guarded_until: dt.datetime | None
    locked_addresses: tuple[str, ...]


def get_user(
    *, session: Session, actor: Actor, user_id: int | None = None, username: str | None = None
) -> User:
    """An account the actor manages, by id or username (404 otherwise)."""
    actor.require(Perm.user_manage)
    if user_id is not None:
        user = session.get(User, user_id)
    else:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not manages(actor, user):
        raise NotFound(f"用户 {username or user_id} 不存在或不在您的权限范围内")
    return user


def list_users(
    *, session: Session, actor: Actor, settings: Settings, now: dt.datetime | None = None
) -> list[UserSummary]:
    """The accounts the actor manages, by username."""
    actor.require(Perm.user_manage)
    now = now or utcnow()
    users = [
        u
        for u in session.execute(select(User).order_by(User.username)).scalars()
        if manages(actor, u)
    ]
    live_sessions: dict[int, int] = dict(
        session.execute(
            select(WebSession.user_id, func.count())
            .where(WebSession.revoked_at.is_(None), WebSession.expires_at > now)
            .group_by(WebSession.user_id)
        ).all()
    )
    live_tokens: dict[int, int] = dict(
        session.execute(
            select(ApiToken.user_id, func.count())
            .where(ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
            .group_by(ApiToken.user_id)
        ).all()
    )
    states = throttle.account_states(
        session=session, settings=settings, usernames=[u.username for u in users], now=now
    )
    out = []
    for u in users:
        state = states.get(u.username, throttle.AccountState())
        out.append(
            UserSummary(
                u,
                live_sessions.get(u.id, 0),
                live_tokens.get(u.id, 0),
                state.failures,
                state.guarded_until,
                state.locked_addresses,
            )
        )
    return out


def _end_all(
    session: Session, user_id: int, *, tokens: bool, keep_session_id: int | None = None
) -> Ended:
    """Revoke the user's live sessions (but ``keep_session_id``) and, if asked, tokens."""
    now = utcnow()
    sessions = update(WebSession).where(
        WebSession.user_id == user_id,
        WebSession.revoked_at.is_(None),
        WebSession.expires_at > now,
    )
    if keep_session_id is not None:
        sessions = sessions.where(WebSession.id != keep_session_id)
    n_sessions = _affected(session.execute(sessions.values(revoked_at=now)))
    n_tokens = 0
    if tokens:
        n_tokens = _affected(
            session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        )
    return Ended(n_sessions, n_tokens)


def _affected(result: Result[Any]) -> int:
    return int(cast("CursorResult[Any]", result).rowcount)


def _record(session: Session, actor: Actor, action: str, user: User, **diff: object) -> None:
    record_user(session, actor, action, user, diff={"username": user.username, **diff})


def set_active(*, session: Session, actor: Actor, user: User, active: bool) -> Ended:
    """Enable or disable an account; disabling revokes its sessions and tokens at once."""
    actor.require(Perm.user_manage)
    if not active and user.id == actor.user_id:
        raise ValidationFailed.field("user", "不能停用自己的账号")
    if user.active == active:
        return Ended()
    before = user_snapshot(user)
    user.active = active
    ended = Ended() if active else _end_all(session, user.id, tokens=True)
    record_user(
        session,
        actor,
        "user.enable" if active else "user.disable",
        user,
        diff={
            **audit.diff_of(before, user_snapshot(user)),
            "sessions_ended": ended.sessions,
            "tokens_revoked": ended.tokens,
        },
    )
    return ended


def reset_password(
    *, session: Session, actor: Actor, user: User, password: str, revoke_tokens: bool = False
) -> Ended:
    """An administrator sets a user's password: their sessions end (tokens too if asked) and
    the login throttle for the username is cleared."""
    actor.require(Perm.user_manage)
    check_new_password(password, username=user.username)
    set_password(user, password)
    ended = _end_all(session, user.id, tokens=revoke_tokens)
    cleared = throttle.clear(session=session, username=user.username)
    _record(
        session,
        actor,
        "user.password_reset",
        user,
        sessions_ended=ended.sessions,
        tokens_revoked=ended.tokens,
        throttle_cleared=cleared,
    )
    return ended


def change_password(
    *,
    db: Database,
    settings: Settings,
    actor: Actor,
    current_password: str,
    new_password: str,
    address: str,
    keep_session_id: int | None = None,
    now: dt.datetime | None = None,
) -> Ended:
    """The caller changes their own password: the current one is checked under the login
    throttle; their other sessions end (all of them when the caller uses a token)."""
    check_new_password(new_password, username=actor.name, field="new_password")
    if new_password == current_password:
        raise ValidationFailed.field("new_password", "新密码不能与当前密码相同")
    user_id = checked_password(
        db=db,
        settings=settings,
        username=actor.name,
        password=current_password,
        address=address,
        request_id=actor.request_id,
        now=now,
        purpose="password_change",
    )
    if user_id is None or user_id != actor.user_id:
        raise ValidationFailed.field("current_password", "当前密码不正确")
    with db.session(write=True) as session:
        throttle.forgive(
            session=session,
            settings=settings,
            username=actor.name,
            address=address,
            now=now or utcnow(),
        )
        user = session.get(User, user_id)
        if user is None:
            raise NotFound()
        set_password(user, new_password)
        ended = _end_all(session, user.id, tokens=False, keep_session_id=keep_session_id)
        _record(session, actor, "user.password_change", user, sessions_ended=ended.sessions)
    return ended


def end_sessions(
    *,
    session: Session,
    actor: Actor,
    user: User,
    tokens: bool = False,
    keep_session_id: int | None = None,
) -> Ended:
    """End a user's sessions (and, if asked, revoke their tokens): "log out everywhere" for
    oneself, or an administrator's for a user they manage."""
    if user.id != actor.user_id:
        actor.require(Perm.user_manage)
        if not manages(actor, user):
            raise NotFound()
    ended = _end_all(session, user.id, tokens=tokens, keep_session_id=keep_session_id)
    _record(
        session,
        actor,
        "auth.logout_all",
        user,
        sessions_ended=ended.sessions,
        tokens_revoked=ended.tokens,
    )
    return ended


def unlock(
    *, session: Session, actor: Actor, user: User | None = None, address: str | None = None
) -> int:
    """Lift the login throttle of an account (every address locked out of it) and/or of a
    client address; the number of counters cleared."""
    actor.require(Perm.user_manage)
    if user is None and address is None:
        raise ValidationFailed.field("user", "须指定用户或地址")
    if user is not None and not manages(actor, user):
        raise NotFound()
    cleared = throttle.clear(
        session=session, username=user.username if user is not None else None, address=address
    )
    audit.record(
        session=session,
        actor=actor,
        action="auth.unlock",
        entity_kind="user" if user is not None else "address",
        entity_id=user.id if user is not None else str(address),
        unit_id=user.unit_id if user is not None else None,
        diff={"address": address, "cleared": cleared},
    )
    return cleared


def unvetted(*, db: Database) -> list[str]:
    """The active accounts whose password is not known to follow the rules (set by the demo
    loader, or before the rules), by username."""
    with db.session() as session:
        return list(
            session.execute(
                select(User.username)
                .where(User.active.is_(True), User.password_vetted.is_(False))
                .order_by(User.username)
            ).scalars()
        )


def accounts_using(*, db: Database, password: str) -> list[str]:
    """The active accounts whose password is ``password`` (the demo password: ``serve`` refuses
    to start while there are any). Only accounts not yet vetted are checked, one argon2 check
    each, in parallel; those that do not match are marked vetted, so the next check skips them."""
    with db.session() as session:
        rows = session.execute(
            select(User.id, User.username, User.password_hash).where(
                User.active.is_(True), User.password_vetted.is_(False)
            )
        ).all()
    if not rows:
        return []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # argon2 frees the GIL
        matches = list(pool.map(lambda r: check_password(r.password_hash, password), rows))
    vetted = [r.id for r, match in zip(rows, matches, strict=True) if not match]
    if vetted:
        with db.session(write=True) as session:
            session.execute(update(User).where(User.id.in_(vetted)).values(password_vetted=True))
    return sorted(r.username for r, match in zip(rows, matches, strict=True) if match)
