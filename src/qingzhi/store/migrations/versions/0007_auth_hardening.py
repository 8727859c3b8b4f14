"""Auth hardening: the login throttle's own table, token expiry, password bookkeeping.

- ``login_throttle``: counters per submitted username, per client address and per username from
  one address (``qingzhi.auth.throttle``), for unknown usernames as for accounts, so that both
  are answered alike. They replace the user row's ``failed_logins``, ``last_failed_at`` and
  ``locked_until`` (read and written unlocked, they lost concurrent updates on PostgreSQL).
- ``api_token.expires_at``: every token expires. Tokens issued before this revision expire 90
  days after the upgrade, so that scripts using them have time to get new ones.
- ``app_user.password_vetted`` (the password is known not to be the demo password) and
  ``app_user.password_changed_at``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import qingzhi.store.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LEGACY_TOKEN_DAYS = 90


def upgrade() -> None:
    utc = qingzhi.store.base.UTCDateTime(timezone=True)
    op.create_table(
        "login_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("last_at", utc, nullable=False),
        sa.Column("expires_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttle")),
        sa.UniqueConstraint("kind", "username", "address", name=op.f("uq_login_throttle_kind")),
    )
    for column in ("username", "address", "expires_at"):
        op.create_index(op.f(f"ix_login_throttle_{column}"), "login_throttle", [column])

    # plain columns: SQLite (3.35+) drops them in place, without rebuilding the table
    for column in ("failed_logins", "last_failed_at", "locked_until"):
        op.drop_column("app_user", column)
    op.add_column(
        "app_user",
        sa.Column("password_vetted", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("app_user", sa.Column("password_changed_at", utc, nullable=True))

    op.add_column("api_token", sa.Column("expires_at", utc, nullable=True))
    tokens = sa.table("api_token", sa.column("expires_at", utc))
    legacy = dt.datetime.now(dt.UTC) + dt.timedelta(days=LEGACY_TOKEN_DAYS)
    op.execute(tokens.update().values(expires_at=legacy))
    with op.batch_alter_table("api_token") as batch:
        batch.alter_column("expires_at", existing_type=utc, nullable=False)


def downgrade() -> None:
    utc = qingzhi.store.base.UTCDateTime(timezone=True)
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("expires_at")
    op.drop_column("app_user", "password_changed_at")
    op.drop_column("app_user", "password_vetted")
    op.add_column(
        "app_user",
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("app_user", sa.Column("last_failed_at", utc, nullable=True))
    op.add_column("app_user", sa.Column("locked_until", utc, nullable=True))
    op.drop_table("login_throttle")
