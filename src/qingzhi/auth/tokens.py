"""API tokens (every token expires) and the actor behind a request's token or browser session.

A token is shown once and only its SHA-256 digest stored (``service.token_digest``). The actor of
a bearer token or of a session is found in one statement outside any transaction, as every API
request and every open event stream needs it; a token's last use is recorded at most once an
hour (``touch_token``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, aliased

from qingzhi.auth.context import Actor
from qingzhi.auth.models import ApiToken, User, WebSession
from qingzhi.auth.permissions import Perm
from qingzhi.auth.scope import Scope
from qingzhi.auth.service import manages, record_user, token_digest
from qingzhi.config import Settings, get_settings
from qingzhi.errors import NotFound, Unauthenticated, ValidationFailed
from qingzhi.org.models import Unit
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database, HotRead

log = logging.getLogger(__name__)

TOKEN_PREFIX = "qz_"  # noqa: S105 - a visible marker, not a secret


def create_token(
    *,
    session: Session,
    actor: Actor,
    username: str,
    name: str = "",
    expires_days: int | None = None,
    settings: Settings | None = None,
) -> tuple[str, ApiToken]:
    """Issue an API token for ``username``, valid for ``expires_days`` (default
    ``QINGZHI_TOKEN_DAYS``, at most ``QINGZHI_TOKEN_MAX_DAYS``); the plain token is returned
    once and never stored."""
    settings = settings or get_settings()
    days = settings.token_days if expires_days is None else expires_days
    if not 1 <= days <= settings.token_max_days:
        raise ValidationFailed.field("expires_days", f"有效期须为1至{settings.token_max_days}天")
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"用户 {username} 不存在")
    if user.id == actor.user_id:
        actor.require(Perm.token_own)
    elif not manages(actor, user):
        actor.require(Perm.user_manage)
        raise NotFound(f"用户 {username} 不存在或不在您的权限范围内")
    if not user.active:
        raise ValidationFailed.field("username", f"用户 {username} 已停用")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + dt.timedelta(days=days)
    row = ApiToken(
        user_id=user.id,
        name=name,
        prefix=token[:10],
        token_hash=token_digest(token),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    record_user(
        session,
        actor,
        "token.create",
        user,
        diff={
            "token": row.id,
            "prefix": row.prefix,
            "name": name,
            "expires_at": expires_at.isoformat(),
        },
    )
    return token, row


_MEMBER = aliased(Unit)


def _with_actor(*head: Any, user_id: Any) -> Select[*tuple[Any, ...]]:
    """``head``, then the active user ``user_id`` names and the members of the user's unit when
    it is a central station (one row per member, or one row with no member): the actor in one
    round trip (``_actor_of_rows``)."""
    return (
        select(*head, User.id, User.username, User.role, User.unit_id, _MEMBER.id)
        .join(User, User.id == user_id)
        .outerjoin(_MEMBER, _MEMBER.central_id == User.unit_id)
        .where(User.active.is_(True))
    )


# A live token with its actor. Expiry is compared in Python (HotRead binds raw values; the
# column's result type converts what it reads).
_BEARER = HotRead(
    _with_actor(
        ApiToken.id, ApiToken.last_used_at, ApiToken.expires_at, user_id=ApiToken.user_id
    ).where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None))
)
# The same for a browser session, by its id (an open event stream re-checks it).
_SESSION = HotRead(
    _with_actor(
        WebSession.id, WebSession.revoked_at, WebSession.expires_at, user_id=WebSession.user_id
    ).where(WebSession.id == bindparam("session_id"))
)


def _actor_of_rows(rows: list[tuple[Any, ...]], request_id: str | None, via: str) -> Actor:
    _, _, _, user_id, username, role, unit_id, _ = rows[0]
    return Actor(
        user_id=user_id,
        name=username,
        role=role,
        scope=Scope.of_unit(unit_id, (r[7] for r in rows if r[7] is not None)),
        request_id=request_id,
        unit_id=unit_id,
        via=via,
    )


def bearer_actor(*, db: Database, token: str, request_id: str | None) -> tuple[Actor, int | None]:
    """The actor behind a live API token (one statement outside any transaction: it runs on
    every API request), and the token's id when its last use is due to be recorded (see
    ``touch_token``). Revoked and expired tokens and disabled users are refused."""
    rows = _BEARER.all(db, digest=token_digest(token))
    if not rows:
        raise Unauthenticated("API 令牌无效或已吊销")
    token_id, last_used, expires_at = rows[0][:3]
    now = utcnow()
    if expires_at <= now:
        raise Unauthenticated("API 令牌已过期")
    actor = _actor_of_rows(rows, request_id, "token")
    stale = last_used is None or now - last_used >= TOKEN_USE_RESOLUTION
    return actor, token_id if stale else None


def session_actor(*, db: Database, session_id: int, request_id: str | None) -> Actor:
    """The actor of a live browser session by its id (one statement outside any transaction);
    a revoked or expired session or a disabled user is refused."""
    rows = _SESSION.all(db, session_id=session_id)
    if not rows:
        raise Unauthenticated("登录已失效，请重新登录")
    _, revoked_at, expires_at = rows[0][:3]
    if revoked_at is not None:
        raise Unauthenticated("登录已失效，请重新登录")
    if expires_at <= utcnow():
        raise Unauthenticated("登录已过期，请重新登录")
    return _actor_of_rows(rows, request_id, "session")


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
    if row is None or (row.user_id != actor.user_id and not manages(actor, row.user)):
        raise NotFound()
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record_user(
            session,
            actor,
            "token.revoke",
            row.user,
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
