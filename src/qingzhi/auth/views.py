"""Accounts API: login/logout, the signed-in user, users and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from qingzhi.auth import service
from qingzhi.auth.context import Actor
from qingzhi.auth.models import ApiToken, User, WebSession
from qingzhi.auth.permissions import PERMISSIONS, Perm
from qingzhi.auth.schemas import (
    LoginRequest,
    SessionInfo,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
)
from qingzhi.errors import LOCKED_RESPONSE, NotFound
from qingzhi.params import IdPath
from qingzhi.web.deps import Principal, principal, request_id_of, require, settings_of, transaction

router = APIRouter(prefix="/api", tags=["auth"])


def user_read(user: User) -> UserRead:
    """The API view of a user."""
    return UserRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        role_label=user.role.label,
        unit_id=user.unit_id,
        officer_id=user.officer_id,
        active=user.active,
        permissions=sorted(p.value for p in PERMISSIONS[user.role]),
    )


def token_read(row: ApiToken) -> TokenRead:
    """The API view of a token (never the token itself)."""
    return TokenRead(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def sign_in(request: Request, response: Response, username: str, password: str) -> SessionInfo:
    """Check the password (throttled), open a session and set its cookies."""
    settings = settings_of(request)
    rid = request_id_of(request)
    with transaction(request, write=True) as session:
        outcome = service.login(
            session=session,
            settings=settings,
            username=username,
            password=password,
            request_id=rid,
        )
        if outcome.user is not None:
            actor = service.actor_for(session, outcome.user, request_id=rid, via="login")
            token, web = service.start_session(
                session=session, settings=settings, user=outcome.user, actor=actor
            )
            info = SessionInfo(user=user_read(outcome.user), csrf_token=web.csrf_token)
    if outcome.error is not None:
        raise outcome.error
    max_age = settings.session_hours * 3600
    response.set_cookie(
        settings.session_cookie,
        token,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    response.set_cookie(
        settings.csrf_cookie,
        info.csrf_token or "",
        max_age=max_age,
        httponly=False,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    return info


@router.post("/auth/login", response_model=SessionInfo, responses=LOCKED_RESPONSE)
def login(body: LoginRequest, request: Request, response: Response) -> SessionInfo:
    """Sign in with a password; sets the HttpOnly session cookie and returns the CSRF token."""
    return sign_in(request, response, body.username, body.password)


def sign_out(request: Request, response: Response, who: Principal) -> None:
    """Revoke the browser session and clear its cookies."""
    settings = settings_of(request)
    if who.session_id is not None:
        with transaction(request, write=True) as session:
            web = session.get(WebSession, who.session_id)
            if web is not None:
                service.end_session(session=session, web_session=web, actor=who.actor)
    response.delete_cookie(settings.session_cookie, path="/")
    response.delete_cookie(settings.csrf_cookie, path="/")


@router.post("/auth/logout", status_code=204)
def logout(request: Request, response: Response, who: Principal = Depends(principal)) -> None:
    """Sign out."""
    sign_out(request, response, who)


@router.get("/me", response_model=SessionInfo)
def me(request: Request, who: Principal = Depends(principal)) -> SessionInfo:
    """The signed-in user."""
    with transaction(request, write=False) as session:
        user = _user(session, who.actor.user_id)
        return SessionInfo(user=user_read(user), csrf_token=who.csrf_token)


def _user(session: Session, user_id: int | None) -> User:
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise NotFound()
    return user


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(
    body: UserCreate, request: Request, actor: Actor = Depends(require(Perm.user_manage))
) -> UserRead:
    """Create an account (administrators)."""
    with transaction(request, write=True) as session:
        user = service.create_user(
            session=session,
            actor=actor,
            username=body.username,
            password=body.password,
            role=body.role,
            unit_code=body.unit,
            officer_number=body.officer,
            display_name=body.display_name,
        )
        return user_read(user)


@router.get("/tokens", response_model=list[TokenRead])
def list_tokens(
    request: Request, actor: Actor = Depends(require(Perm.token_own))
) -> list[TokenRead]:
    """The caller's API tokens."""
    with transaction(request, write=False) as session:
        return [token_read(t) for t in service.list_tokens(session=session, actor=actor)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(
    body: TokenCreate, request: Request, actor: Actor = Depends(require(Perm.token_own))
) -> TokenCreated:
    """Issue an API token for the caller; the token is in this answer only."""
    with transaction(request, write=True) as session:
        token, row = service.create_token(
            session=session, actor=actor, username=actor.name, name=body.name
        )
        return TokenCreated(**token_read(row).model_dump(), token=token)


@router.delete("/tokens/{token_id}", response_model=TokenRead)
def revoke_token(
    token_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.token_own))
) -> TokenRead:
    """Revoke an API token."""
    with transaction(request, write=True) as session:
        return token_read(service.revoke_token(session=session, actor=actor, token_id=token_id))
