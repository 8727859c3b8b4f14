"""Audit checkpoints: a copy of each signed checkpoint of the audit chain.

The checkpoint file outside the database is what ``qingzhi audit verify --checkpoints`` trusts;
this table only lets one look checkpoints up beside the records.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import qingzhi.store.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``audit_checkpoint``."""
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    op.create_index(op.f("ix_audit_checkpoint_seq"), "audit_checkpoint", ["seq"], unique=False)


def downgrade() -> None:
    """Drop ``audit_checkpoint``."""
    op.drop_index(op.f("ix_audit_checkpoint_seq"), table_name="audit_checkpoint")
    op.drop_table("audit_checkpoint")
