"""Saved plans (规划方案): bundling, allocation, simulation and road runs with their inputs.

A plan has a kind, a title, its status (computing, ready, failed, applied, rejected), its JSON
parameters, the inputs it read and the results it computed, an error when it failed, the job
that computed it, the unit it is placed in for scope, who made it and who decided on it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import qingzhi.store.base

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the plan table."""
    op.create_table(
        "plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "bundle",
                "allocate",
                "simulate",
                "roads",
                name="plankind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "computing",
                "ready",
                "failed",
                "applied",
                "rejected",
                name="planstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_plan_job_id_job")),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_plan_unit_id_unit")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_plan_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["app_user.id"], name=op.f("fk_plan_decided_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
    )
    op.create_index(op.f("ix_plan_unit_id"), "plan", ["unit_id"], unique=False)
    op.create_index("ix_plan_kind_created", "plan", ["kind", "created_at"], unique=False)


def downgrade() -> None:
    """Drop the plan table."""
    op.drop_index("ix_plan_kind_created", table_name="plan")
    op.drop_index(op.f("ix_plan_unit_id"), table_name="plan")
    op.drop_table("plan")
