"""Accounts API: login/logout, the signed-in user (password change, log out everywhere), account
management (list, create, disable/enable, password reset, ending sessions, unlock) and tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from qingzhi.auth import accounts, service, tokens
from qingzhi.auth.accounts import Ended, UserSummary
from qingzhi.auth.context import Actor
from qingzhi.auth.deps import (
    Principal,
    client_address,
    principal,
    request_id_of,
    require,
    require_same_origin,
)
from qingzhi.auth.models import ApiToken, User, WebSession
from qingzhi.auth.permissions import PERMISSIONS, Perm
from qingzhi.auth.schemas import (
    AccountChange,
    LoginRequest,
    PasswordChange,
    PasswordReset,
    SessionInfo,
    SessionsRevoke,
    TokenCreate,
    TokenCreated,
    TokenRead,
    Unlocked,
    UnlockRequest,
    UserAdminRead,
    UserCreate,
    UserRead,
)
from qingzhi.errors import NotFound
from qingzhi.params import IdPath
from qingzhi.store.deps import database, settings_of, transaction
from qingzhi.store.rows import read_of

router = APIRouter(prefix="/api", tags=["auth"])


def user_read(user: User) -> UserRead:
    """The API view of a user."""
    return read_of(
        UserRead,
        user,
        role_label=user.role.label,
        permissions=sorted(p.value for p in PERMISSIONS[user.role]),
    )


def user_admin_read(summary: UserSummary) -> UserAdminRead:
    """The API view of an account for its manager."""
    user = summary.user
    return UserAdminRead(
        **user_read(user).model_dump(),
        created_at=user.created_at,
        password_changed_at=user.password_changed_at,
        sessions=summary.sessions,
        tokens=summary.tokens,
        failed_logins=summary.failed_logins,
        guarded_until=summary.guarded_until,
        locked_addresses=list(summary.locked_addresses),
    )


def _change(user: User, ended: Ended) -> AccountChange:
    return AccountChange(
        user=user_read(user), sessions_ended=ended.sessions, tokens_revoked=ended.tokens
    )


def token_read(row: ApiToken) -> TokenRead:
    """The API view of a token (never the token itself)."""
    return read_of(TokenRead, row)


def _clear_cookies(request: Request, response: Response) -> None:
    settings = settings_of(request)
    response.delete_cookie(settings.session_cookie, path="/")
    response.delete_cookie(settings.csrf_cookie, path="/")


def sign_in(request: Request, response: Response, username: str, password: str) -> SessionInfo:
    """Check the password (throttled), open a session and set its cookies."""
    settings = settings_of(request)
    outcome = service.login(
        db=database(request),
        settings=settings,
        username=username,
        password=password,
        address=client_address(request),
        request_id=request_id_of(request),
    )
    if outcome.error is not None:
        raise outcome.error
    assert outcome.user is not None and outcome.token is not None  # login's contract
    info = SessionInfo(user=user_read(outcome.user), csrf_token=outcome.csrf_token)
    max_age = settings.session_hours * 3600
    response.set_cookie(
        settings.session_cookie,
        outcome.token,
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


@router.post("/auth/login", response_model=SessionInfo)
def login(body: LoginRequest, request: Request, response: Response) -> SessionInfo:
    """Sign in with a password; sets the HttpOnly session cookie and returns the CSRF token.
    Throttled (429 with Retry-After); a request from another site is refused."""
    require_same_origin(request)
    return sign_in(request, response, body.username, body.password)


def sign_out(request: Request, response: Response, who: Principal) -> None:
    """Revoke the browser session and clear its cookies."""
    if who.session_id is not None:
        with transaction(request, write=True) as session:
            web = session.get(WebSession, who.session_id)
            if web is not None:
                service.end_session(session=session, web_session=web, actor=who.actor)
    _clear_cookies(request, response)


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


@router.post("/me/password", response_model=AccountChange)
def change_password(
    body: PasswordChange, request: Request, who: Principal = Depends(principal)
) -> AccountChange:
    """Change one's own password (the current one is needed, and throttled like a login); the
    user's other sessions end."""
    ended = accounts.change_password(
        db=database(request),
        settings=settings_of(request),
        actor=who.actor,
        current_password=body.current_password,
        new_password=body.new_password,
        address=client_address(request),
        keep_session_id=who.session_id,
    )
    with transaction(request, write=False) as session:
        return _change(_user(session, who.actor.user_id), ended)


@router.post("/me/sessions/revoke", response_model=AccountChange)
def log_out_everywhere(
    body: SessionsRevoke,
    request: Request,
    response: Response,
    who: Principal = Depends(principal),
) -> AccountChange:
    """Log out everywhere: every session of the caller ends (this one too) and, with
    ``tokens``, every API token is revoked."""
    with transaction(request, write=True) as session:
        user = _user(session, who.actor.user_id)
        ended = accounts.end_sessions(
            session=session, actor=who.actor, user=user, tokens=body.tokens
        )
        change = _change(user, ended)
    _clear_cookies(request, response)
    return change


def _user(session: Session, user_id: int | None) -> User:
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise NotFound()
    return user


@router.get("/users", response_model=list[UserAdminRead])
def list_users(
    request: Request, actor: Actor = Depends(require(Perm.user_manage))
) -> list[UserAdminRead]:
    """The accounts the caller manages, with their live sessions, tokens and login throttle."""
    with transaction(request, write=False) as session:
        users = accounts.list_users(session=session, actor=actor, settings=settings_of(request))
        return [user_admin_read(u) for u in users]


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(
    body: UserCreate, request: Request, actor: Actor = Depends(require(Perm.user_manage))
) -> UserRead:
    """Create an account (administrators); the password must follow the password rules."""
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


@router.post("/users/{user_id}/disable", response_model=AccountChange)
def disable_user(
    user_id: int, request: Request, actor: Actor = Depends(require(Perm.user_manage))
) -> AccountChange:
    """Disable an account: its sessions and API tokens end at once."""
    with transaction(request, write=True) as session:
        user = accounts.get_user(session=session, actor=actor, user_id=user_id)
        ended = accounts.set_active(session=session, actor=actor, user=user, active=False)
        return _change(user, ended)


@router.post("/users/{user_id}/enable", response_model=AccountChange)
def enable_user(
    user_id: int, request: Request, actor: Actor = Depends(require(Perm.user_manage))
) -> AccountChange:
    """Enable a disabled account again (no old session or token comes back)."""
    with transaction(request, write=True) as session:
        user = accounts.get_user(session=session, actor=actor, user_id=user_id)
        ended = accounts.set_active(session=session, actor=actor, user=user, active=True)
        return _change(user, ended)


@router.post("/users/{user_id}/password", response_model=AccountChange)
def reset_password(
    user_id: int,
    body: PasswordReset,
    request: Request,
    actor: Actor = Depends(require(Perm.user_manage)),
) -> AccountChange:
    """Set a user's password: their sessions end (their tokens too with ``revoke_tokens``) and
    their login throttle is cleared."""
    with transaction(request, write=True) as session:
        user = accounts.get_user(session=session, actor=actor, user_id=user_id)
        ended = accounts.reset_password(
            session=session,
            actor=actor,
            user=user,
            password=body.password,
            revoke_tokens=body.revoke_tokens,
        )
        return _change(user, ended)


@router.post("/users/{user_id}/sessions/revoke", response_model=AccountChange)
def end_user_sessions(
    user_id: int,
    body: SessionsRevoke,
    request: Request,
    actor: Actor = Depends(require(Perm.user_manage)),
) -> AccountChange:
    """End every session of a user (and, with ``tokens``, revoke their API tokens)."""
    with transaction(request, write=True) as session:
        user = accounts.get_user(session=session, actor=actor, user_id=user_id)
        ended = accounts.end_sessions(session=session, actor=actor, user=user, tokens=body.tokens)
        return _change(user, ended)


@router.post("/users/{user_id}/unlock", response_model=Unlocked)
def unlock_user(
    user_id: int,
    body: UnlockRequest,
    request: Request,
    actor: Actor = Depends(require(Perm.user_manage)),
) -> Unlocked:
    """Lift the login throttle of an account (every address locked out of it), and of one
    client address with ``address``."""
    with transaction(request, write=True) as session:
        user = accounts.get_user(session=session, actor=actor, user_id=user_id)
        cleared = accounts.unlock(session=session, actor=actor, user=user, address=body.address)
        return Unlocked(cleared=cleared)


@router.get("/tokens", response_model=list[TokenRead])
def list_tokens(
    request: Request, actor: Actor = Depends(require(Perm.token_own))
) -> list[TokenRead]:
    """The caller's API tokens."""
    with transaction(request, write=False) as session:
        return [token_read(t) for t in tokens.list_tokens(session=session, actor=actor)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(
    body: TokenCreate, request: Request, actor: Actor = Depends(require(Perm.token_own))
) -> TokenCreated:
    """Issue an API token for the caller, valid ``expires_days`` (default and maximum are
    settings); the token is in this answer only."""
    with transaction(request, write=True) as session:
        token, row = tokens.create_token(
            session=session,
            actor=actor,
            username=actor.name,
            name=body.name,
            expires_days=body.expires_days,
            settings=settings_of(request),
        )
        return TokenCreated(**token_read(row).model_dump(), token=token)


@router.delete("/tokens/{token_id}", response_model=TokenRead)
def revoke_token(
    token_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.token_own))
) -> TokenRead:
    """Revoke an API token."""
    with transaction(request, write=True) as session:
        return token_read(tokens.revoke_token(session=session, actor=actor, token_id=token_id))
