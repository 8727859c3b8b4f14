"""Special operations (专项行动: a task's area, period and displacement ring) and the deadline
notice a task last had on the live stream (so that the scheduler announces each once).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("deadline_notice", sa.String(length=16), nullable=True))
    op.create_table(
        "task_operation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("area", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("ring_m", sa.Integer(), nullable=False),
        sa.Column("categories", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_task_operation_task_id_task")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_operation")),
        sa.UniqueConstraint("task_id", name=op.f("uq_task_operation_task_id")),
    )


def downgrade() -> None:
    op.drop_table("task_operation")
    with op.batch_alter_table("task") as batch:
        batch.drop_column("deadline_notice")
