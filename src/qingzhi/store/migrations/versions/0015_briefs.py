"""Briefs (日研判、周会商、月调度): the immutable archive of generated briefs (one row per
version: parameters, as-of time, figures, files with their hashes, a content hash) and the
scheduler's claims (one per kind, scope and period, the lock two runners share).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import qingzhi.store.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

KIND = sa.Enum("daily", "weekly", "monthly", name="briefkind", native_enum=False, length=32)


def upgrade() -> None:
    """The brief and brief_run tables."""
    op.create_table(
        "brief",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("scope_key", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("as_of", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_brief_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_brief_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brief")),
        sa.UniqueConstraint(
            "kind",
            "scope_key",
            "period_start",
            "version",
            name=op.f("uq_brief_kind"),
        ),
    )
    op.create_index("ix_brief_list", "brief", ["kind", "period_start"], unique=False)
    op.create_index(op.f("ix_brief_unit_id"), "brief", ["unit_id"], unique=False)
    op.create_table(
        "brief_run",
        sa.Column("kind", KIND, nullable=False),
        sa.Column("scope_key", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("claimed_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("brief_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["brief_id"], ["brief.id"], name=op.f("fk_brief_run_brief_id_brief")
        ),
        sa.PrimaryKeyConstraint("kind", "scope_key", "period_start", name=op.f("pk_brief_run")),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("brief_run")
    op.drop_index(op.f("ix_brief_unit_id"), table_name="brief")
    op.drop_index("ix_brief_list", table_name="brief")
    op.drop_table("brief")
