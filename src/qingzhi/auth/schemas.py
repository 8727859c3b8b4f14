"""Pydantic schemas of the accounts API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from qingzhi.auth.passwords import MAX_PASSWORD_LENGTH
from qingzhi.auth.permissions import Role
from qingzhi.params import Input


class LoginRequest(Input):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class UserCreate(Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(
        min_length=1, max_length=MAX_PASSWORD_LENGTH, description="follows the password rules"
    )
    role: Role
    unit: str | None = Field(default=None, description="unit code; none for bureau-wide scope")
    officer: str | None = Field(default=None, description="police number of the linked officer")
    display_name: str | None = Field(default=None, max_length=100)


class UserRead(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    role_label: str
    unit_id: int | None
    officer_id: int | None
    active: bool
    permissions: list[str]


class UserAdminRead(UserRead):
    """An account as its manager sees it: live credentials and the login throttle."""

    created_at: dt.datetime
    password_changed_at: dt.datetime | None
    sessions: int = Field(description="live browser sessions")
    tokens: int = Field(description="live API tokens")
    failed_logins: int = Field(description="consecutive failed logins from all addresses")
    guarded_until: dt.datetime | None = Field(
        description="while set, an address with a few failures is locked out of this account"
    )
    locked_addresses: list[str] = Field(description="client addresses locked out of it")


class AccountChange(BaseModel):
    """An account after a change, and the sessions and tokens the change ended."""

    user: UserRead
    sessions_ended: int
    tokens_revoked: int


class PasswordReset(Input):
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    revoke_tokens: bool = Field(default=False, description="revoke the user's API tokens too")


class PasswordChange(Input):
    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class SessionsRevoke(Input):
    tokens: bool = Field(default=False, description="revoke every API token too")


class UnlockRequest(Input):
    address: str | None = Field(
        default=None, max_length=64, description="also lift this client address's throttle"
    )


class Unlocked(BaseModel):
    cleared: int = Field(description="login throttle counters cleared")


class SessionInfo(BaseModel):
    user: UserRead
    csrf_token: str | None


class TokenCreate(Input):
    name: str = Field(default="", max_length=100)
    expires_days: int | None = Field(
        default=None, ge=1, description="days of validity (default and maximum: settings)"
    )


class TokenRead(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="shown once; only its hash is kept")
