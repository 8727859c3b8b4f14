"""Pydantic schemas of the accounts API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from qingzhi.auth.permissions import Role
from qingzhi.params import Input


class LoginRequest(Input):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserCreate(Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=256)
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


class SessionInfo(BaseModel):
    user: UserRead
    csrf_token: str | None


class TokenCreate(Input):
    name: str = Field(default="", max_length=100)


class TokenRead(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="shown once; only its hash is kept")
