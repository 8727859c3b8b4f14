"""Background jobs: one table for every kind of long computation (forecast fits first).

A job has a kind, JSON parameters, a status (queued, running, done, failed) with progress and a
message, its result (JSON, or a file path) or error, who created it (user and unit, for scope),
which process owns it and when that process last showed it was alive. At most one queued or
running job has a given key (unique partial index): concurrent requests for the same
computation share one job.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import qingzhi.store.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=True),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="jobstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("result_path", sa.String(length=500), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("heartbeat_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_job_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_job_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    op.create_index(op.f("ix_job_created_by"), "job", ["created_by"], unique=False)
    op.create_index("ix_job_kind_key", "job", ["kind", "key"], unique=False)
    op.create_index("ix_job_status_heartbeat", "job", ["status", "heartbeat_at"], unique=False)
    op.create_index(
        "uq_job_active_key",
        "job",
        ["key"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_job_active_key", table_name="job")
    op.drop_index("ix_job_status_heartbeat", table_name="job")
    op.drop_index("ix_job_kind_key", table_name="job")
    op.drop_index(op.f("ix_job_created_by"), table_name="job")
    op.drop_table("job")
