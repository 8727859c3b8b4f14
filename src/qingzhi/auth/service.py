"""Accounts: argon2id passwords, throttled logins, browser sessions and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, aliased

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.models import ApiToken, User, WebSession
from qingzhi.auth.permissions import Perm, Role
from qingzhi.auth.scope import Scope, scope_for_unit
from qingzhi.config import Settings
from qingzhi.errors import (
    AccountLocked,
    Conflict,
    NotFound,
    QingzhiError,
    TooManyAttempts,
    Unauthenticated,
    ValidationFailed,
)
from qingzhi.org.models import Officer, Unit
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database, HotRead

log = logging.getLogger(__name__)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("qingzhi-timing-equaliser")
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "qz_"  # noqa: S105 - a visible marker, not a secret


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    """SHA-256 of a session or API token: only this is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def user_snapshot(user: User) -> dict[str, object]:
    """The audited fields of a user (never the password hash)."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": str(user.role),
        "unit_id": user.unit_id,
        "officer_id": user.officer_id,
        "active": user.active,
    }


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
) -> User:
    """Create an account; its scope is its unit (with a central station's members) or the bureau."""
    actor.require(Perm.user_manage)
    username = username.strip()
    if not username or len(username) > 64:
        raise ValidationFailed.field("username", "用户名不能为空且不超过64个字符")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.field("password", f"密码至少{MIN_PASSWORD_LENGTH}个字符")
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
    if not actor.scope.contains(unit_id):  # a unit-scoped manager cannot create wider accounts
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
        password_hash=hash_password(password),
        role=role,
        unit_id=unit_id,
        officer_id=officer_id,
    )
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="user.create",
        entity_kind="user",
        entity_id=user.id,
        unit_id=unit_id,
        after=user_snapshot(user),
    )
    return user


@dataclass(frozen=True)
class LoginOutcome:
    """The result of a login attempt: a user, or the error to show once the attempt is saved."""

    user: User | None
    error: QingzhiError | None


def login(
    *,
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    request_id: str | None = None,
    now: dt.datetime | None = None,
) -> LoginOutcome:
    """Check a password with throttling; failures are recorded (commit before raising)."""
    now = now or utcnow()
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    bad = Unauthenticated("用户名或密码错误")
    if user is None or not user.active:
        check_password(_DUMMY_HASH, password)
        return LoginOutcome(None, bad)
    if user.locked_until is not None and now < user.locked_until:
        return LoginOutcome(
            None, AccountLocked(details={"locked_until": user.locked_until.isoformat()})
        )
    if user.failed_logins >= settings.login_slow_after and user.last_failed_at is not None:
        delay = min(
            2 ** (user.failed_logins - settings.login_slow_after),
            settings.login_max_delay_seconds,
        )
        wait = (user.last_failed_at + dt.timedelta(seconds=delay) - now).total_seconds()
        if wait > 0:
            return LoginOutcome(None, TooManyAttempts(details={"retry_after": int(wait) + 1}))
    actor = Actor(
        user_id=user.id,
        name=user.username,
        role=user.role,
        scope=scope_for_unit(session, user.unit_id),
        request_id=request_id,
        via="login",
    )
    if not check_password(user.password_hash, password):
        user.failed_logins += 1
        user.last_failed_at = now
        action = "auth.login_failed"
        if user.failed_logins >= settings.login_lock_after:
            user.locked_until = now + dt.timedelta(minutes=settings.login_lock_minutes)
            user.failed_logins = 0
            action = "auth.locked"
        audit.record(
            session=session,
            actor=actor,
            action=action,
            entity_kind="user",
            entity_id=user.id,
            unit_id=user.unit_id,
            diff={"failed_logins": user.failed_logins},
        )
        return LoginOutcome(None, bad)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.last_failed_at = None
    user.locked_until = None
    return LoginOutcome(user, None)


def start_session(
    *, session: Session, settings: Settings, user: User, actor: Actor
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
    audit.record(
        session=session,
        actor=actor,
        action="auth.login",
        entity_kind="user",
        entity_id=user.id,
        unit_id=user.unit_id,
        diff={"session": row.id},
    )
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


def create_token(
    *, session: Session, actor: Actor, username: str, name: str = ""
) -> tuple[str, ApiToken]:
    """Issue an API token for ``username``; the plain token is returned once and never stored."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"用户 {username} 不存在")
    if user.id == actor.user_id:
        actor.require(Perm.token_own)
    elif not _manages(actor, user):
        actor.require(Perm.user_manage)
        raise NotFound(f"用户 {username} 不存在或不在您的权限范围内")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, prefix=token[:10], token_hash=token_digest(token))
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="token.create",
        entity_kind="user",
        entity_id=user.id,
        unit_id=user.unit_id,
        diff={"token": row.id, "prefix": row.prefix, "name": name},
    )
    return token, row


def _manages(actor: Actor, user: User) -> bool:
    """Whether ``actor`` may manage ``user``'s account: a user manager whose scope holds it."""
    return actor.can(Perm.user_manage) and actor.scope.contains(user.unit_id)


# A live token, its user, and the members of the user's unit when it is a central station (one
# row per member, or one row with no member): the actor in one round trip.
_MEMBER = aliased(Unit)
_BEARER = HotRead(
    select(
        ApiToken.id,
        ApiToken.last_used_at,
        User.id,
        User.username,
        User.role,
        User.unit_id,
        _MEMBER.id,
    )
    .join(User, User.id == ApiToken.user_id)
    .outerjoin(_MEMBER, _MEMBER.central_id == User.unit_id)
    .where(
        ApiToken.token_hash == bindparam("digest"),
        ApiToken.revoked_at.is_(None),
        User.active.is_(True),
    )
)


def bearer_actor(*, db: Database, token: str, request_id: str | None) -> tuple[Actor, int | None]:
    """The actor behind a live API token (one statement outside any transaction: it runs on
    every API request), and the token's id when its last use is due to be recorded (see
    ``touch_token``)."""
    rows = _BEARER.all(db, digest=token_digest(token))
    if not rows:
        raise Unauthenticated("API 令牌无效或已吊销")
    token_id, last_used, user_id, username, role, unit_id, _ = rows[0]
    scope = Scope.of_unit(unit_id, (r[6] for r in rows if r[6] is not None))
    actor = Actor(
        user_id=user_id,
        name=username,
        role=role,
        scope=scope,
        request_id=request_id,
        unit_id=unit_id,
        via="token",
    )
    stale = last_used is None or utcnow() - last_used >= TOKEN_USE_RESOLUTION
    return actor, token_id if stale else None


TOKEN_USE_RESOLUTION = dt.timedelta(hours=1)


def touch_token(*, session: Session, token_id: int, now: dt.datetime | None = None) -> None:
    """Record that a token was used (at most once an hour, to keep reads cheap)."""
    now = now or utcnow()
    row = session.get(ApiToken, token_id)
    if row is not None and (
        row.last_used_at is None or now - row.last_used_at >= TOKEN_USE_RESOLUTION
    ):
        row.last_used_at = now


def revoke_token(*, session: Session, actor: Actor, token_id: int) -> ApiToken:
    """Revoke an API token (its owner, or a user manager)."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != actor.user_id and not _manages(actor, row.user)):
        raise NotFound()
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session=session,
            actor=actor,
            action="token.revoke",
            entity_kind="user",
            entity_id=row.user_id,
            unit_id=row.user.unit_id,
            diff={"token": row.id, "prefix": row.prefix},
        )
    return row


def list_tokens(*, session: Session, actor: Actor) -> list[ApiToken]:
    """The caller's own API tokens."""
    return list(
        session.execute(
            select(ApiToken).where(ApiToken.user_id == actor.user_id).order_by(ApiToken.id)
        ).scalars()
    )
