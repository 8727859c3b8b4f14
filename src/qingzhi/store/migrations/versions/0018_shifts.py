"""Duty rosters: shift patterns by unit (hours, cycle of days, street or office duty) and the
shift each officer works with their phase in its cycle.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import qingzhi.store.base

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duty_shift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("starts_min", sa.Integer(), nullable=False),
        sa.Column("ends_min", sa.Integer(), nullable=False),
        sa.Column("cycle_days", sa.Integer(), nullable=False),
        sa.Column("on_days", sa.Integer(), nullable=False),
        sa.Column("street", sa.Boolean(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("created_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_duty_shift_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_shift")),
        sa.UniqueConstraint("code", name=op.f("uq_duty_shift_code")),
    )
    op.create_index(op.f("ix_duty_shift_unit_id"), "duty_shift", ["unit_id"], unique=False)
    op.create_table(
        "duty_roster",
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_duty_roster_officer_id_officer")
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"], ["duty_shift.id"], name=op.f("fk_duty_roster_shift_id_duty_shift")
        ),
        sa.PrimaryKeyConstraint("officer_id", name=op.f("pk_duty_roster")),
    )
    op.create_index(op.f("ix_duty_roster_shift_id"), "duty_roster", ["shift_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_duty_roster_shift_id"), table_name="duty_roster")
    op.drop_table("duty_roster")
    op.drop_index(op.f("ix_duty_shift_unit_id"), table_name="duty_shift")
    op.drop_table("duty_shift")
