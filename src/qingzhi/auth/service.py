"""Accounts and logins: creating users, throttled password checks and logins, browser sessions.

Passwords are argon2id and follow the rules of ``qingzhi.auth.passwords``; only the demo loader
creates accounts outside them (``password_policy=False``).

Logins are throttled by ``qingzhi.auth.throttle`` (its docstring has the rules). An unknown
username, a disabled account and a wrong password are answered alike (401, the same message,
one argon2 check each), and a throttled attempt alike for all (429 with ``Retry-After``). API
tokens and the actor behind a token or a session on each request are ``auth.tokens``'.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth import passwords, throttle
from qingzhi.auth.context import Actor
from qingzhi.auth.models import User, WebSession
from qingzhi.auth.passwords import check_new_password, check_password, hash_password
from qingzhi.auth.permissions import Perm, Role
from qingzhi.auth.scope import Scope, scope_for_unit
from qingzhi.config import Settings
from qingzhi.errors import (
    Conflict,
    QingzhiError,
    TooManyAttempts,
    Unauthenticated,
    ValidationFailed,
)
from qingzhi.org.models import Officer, Unit
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database
from qingzhi.store.rows import snapshot

log = logging.getLogger(__name__)

BAD_LOGIN = "用户名或密码错误"


def set_password(user: User, password: str, *, vetted: bool = True) -> None:
    """Store a new password hash (``vetted``: it was checked against the rules)."""
    user.password_hash = hash_password(password)
    user.password_vetted = vetted
    user.password_changed_at = utcnow()


def token_digest(token: str) -> str:
    """SHA-256 of a session or API token: only this is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


USER_AUDITED = ("username", "display_name", "role", "unit_id", "officer_id", "active")


def record_user(
    session: Session,
    actor: Actor,
    action: str,
    user: User,
    *,
    after: dict[str, Any] | None = None,
    diff: dict[str, Any] | None = None,
) -> None:
    """An event of an account in the audit trail, in the caller's transaction: the entity is
    the user, the unit theirs."""
    audit.record(
        session=session,
        actor=actor,
        action=action,
        entity_kind="user",
        entity_id=user.id,
        unit_id=user.unit_id,
        after=after,
        diff=diff,
    )


def user_snapshot(user: User) -> dict[str, object]:
    """The audited fields of a user (never the password hash)."""
    return snapshot(user, USER_AUDITED)


def actor_for(session: Session, user: User, *, request_id: str | None, via: str) -> Actor:
    """The acting principal of a signed-in user."""
    return Actor(
        user_id=user.id,
        name=user.username,
        role=user.role,
        scope=scope_for_unit(session, user.unit_id),
        request_id=request_id,
        unit_id=user.unit_id,
        via=via,
    )


def create_user(
    *,
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    role: Role | str,
    unit_code: str | None = None,
    officer_number: str | None = None,
    display_name: str | None = None,
    password_policy: bool = True,
) -> User:
    """Create an account; its scope is its unit (with a central station's members) or the bureau.
    The password must follow the rules unless ``password_policy`` is off (the demo loader)."""
    actor.require(Perm.user_manage)
    username = username.strip()
    if not username or len(username) > 64:
        raise ValidationFailed.field("username", "用户名不能为空且不超过64个字符")
    if password_policy:
        check_new_password(password, username=username)
    try:
        role = Role(role)
    except ValueError:
        raise ValidationFailed.field(
            "role", f"未知角色 {role!r}，可选：{', '.join(r.value for r in Role)}"
        ) from None
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"用户名 {username} 已存在", details=[{"field": "username"}])
    unit_id = None
    if unit_code:
        unit = session.execute(select(Unit).where(Unit.code == unit_code)).scalar_one_or_none()
        if unit is None:
            raise ValidationFailed.field("unit", f"单位代码 {unit_code} 不存在")
        unit_id = unit.id
    if not actor.scope.admits(unit_id):  # a unit-scoped manager cannot create wider accounts
        raise ValidationFailed.field("unit", "只能为您权限范围内的单位创建用户")
    officer_id = None
    if officer_number:
        officer = session.execute(
            select(Officer).where(Officer.police_number == officer_number)
        ).scalar_one_or_none()
        if officer is None:
            raise ValidationFailed.field("officer", f"警号 {officer_number} 不存在")
        officer_id = officer.id
        display_name = display_name or officer.name
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        unit_id=unit_id,
        officer_id=officer_id,
    )
    set_password(user, password, vetted=password_policy)
    session.add(user)
    session.flush()
    record_user(session, actor, "user.create", user, after=user_snapshot(user))
    return user


@dataclass(frozen=True)
class LoginOutcome:
    """The result of a login: the user with their new session's cookie token and CSRF token,
    or the error to show (the attempt is saved either way)."""

    user: User | None
    error: QingzhiError | None
    token: str | None = None
    csrf_token: str | None = None


def _attempt_actor(username: str, user: User | None, request_id: str | None) -> Actor:
    """Who an attempt claims to be (for its audit record)."""
    return Actor(
        user_id=user.id if user is not None else None,
        name=username,
        role=user.role if user is not None else Role.viewer,
        scope=Scope.of_unit(user.unit_id) if user is not None else Scope.bureau(),
        request_id=request_id,
        unit_id=user.unit_id if user is not None else None,
        via="login",
    )


def checked_password(
    *,
    db: Database,
    settings: Settings,
    username: str,
    password: str,
    address: str,
    request_id: str | None = None,
    now: dt.datetime | None = None,
    purpose: str = "login",
) -> int | None:
    """Check ``username``'s password under the throttle: the user's id when it is right (the
    caller then calls ``throttle.forgive`` in its own transaction), None when it is wrong or the
    account is unknown or disabled (the failure is recorded and audited). Raises
    TooManyAttempts, the same for every username, when the throttle refuses the attempt."""
    with db.session(write=True) as session:
        attempt = throttle.reserve(
            session=session, settings=settings, username=username, address=address, now=now
        )
        row = session.execute(
            select(User.id, User.password_hash, User.active).where(User.username == username)
        ).first()
    if attempt.retry_after is not None:
        raise TooManyAttempts(
            f"登录尝试过于频繁，请 {attempt.retry_seconds} 秒后再试",
            details={"retry_after": attempt.retry_seconds},
        )
    stored = row.password_hash if row is not None and row.active else None
    right = passwords.check_dummy(password) if stored is None else check_password(stored, password)
    if right and row is not None:
        return int(row.id)
    with db.session(write=True) as session:
        user = session.get(User, row.id) if row is not None else None
        audit.record(
            session=session,
            actor=_attempt_actor(username, user, request_id),
            action="auth.locked" if attempt.locks else "auth.login_failed",
            entity_kind="user" if user is not None else "login",
            entity_id=user.id if user is not None else username,
            unit_id=user.unit_id if user is not None else None,
            diff={
                "address": address,
                "failures": attempt.pair_failures,
                "account_failures": attempt.account_failures,
                "guarded": attempt.guarded,
                "purpose": purpose,
            },
        )
        throttle.sweep(session=session, now=attempt.at or utcnow())
    return None


def login(
    *,
    db: Database,
    settings: Settings,
    username: str,
    password: str,
    address: str,
    request_id: str | None = None,
    now: dt.datetime | None = None,
) -> LoginOutcome:
    """Sign in with a password under the throttle; on success open a browser session."""
    try:
        user_id = checked_password(
            db=db,
            settings=settings,
            username=username,
            password=password,
            address=address,
            request_id=request_id,
            now=now,
        )
    except TooManyAttempts as exc:
        return LoginOutcome(None, exc)
    if user_id is None:
        return LoginOutcome(None, Unauthenticated(BAD_LOGIN))
    with db.session(write=True) as session:
        throttle.forgive(
            session=session,
            settings=settings,
            username=username,
            address=address,
            now=now or utcnow(),
        )
        user = session.get(User, user_id)
        if user is None or not user.active:  # disabled since the check
            return LoginOutcome(None, Unauthenticated(BAD_LOGIN))
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        actor = actor_for(session, user, request_id=request_id, via="login")
        token, web = start_session(
            session=session, settings=settings, user=user, actor=actor, address=address
        )
        return LoginOutcome(user, None, token, web.csrf_token)


def start_session(
    *, session: Session, settings: Settings, user: User, actor: Actor, address: str | None = None
) -> tuple[str, WebSession]:
    """Open a browser session; returns the cookie token (shown once) and the row."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=token_digest(token),
        csrf_token=secrets.token_urlsafe(24),
        user_id=user.id,
        expires_at=utcnow() + dt.timedelta(hours=settings.session_hours),
    )
    session.add(row)
    session.flush()
    record_user(session, actor, "auth.login", user, diff={"session": row.id, "address": address})
    return token, row


def resolve_session(*, session: Session, token: str) -> WebSession:
    """The live browser session for a cookie token."""
    row = session.execute(
        select(WebSession).where(WebSession.token_hash == token_digest(token))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise Unauthenticated("登录已过期，请重新登录")
    if not row.user.active:
        raise Unauthenticated("账号已停用")
    return row


def end_session(*, session: Session, web_session: WebSession, actor: Actor) -> None:
    """Log out: revoke the browser session."""
    web_session.revoked_at = utcnow()
    audit.record(
        session=session,
        actor=actor,
        action="auth.logout",
        entity_kind="user",
        entity_id=web_session.user_id,
        unit_id=actor.unit_id,
        diff={"session": web_session.id},
    )


def manages(actor: Actor, user: User) -> bool:
    """Whether ``actor`` may manage ``user``'s account: a user manager whose scope holds it."""
    return actor.can(Perm.user_manage) and actor.scope.admits(user.unit_id)
