"""Supervised tasks (督办): tasks, their co-operating units, progress reports and attachments.

A task has a title, instructions, a source (kind and reference), the issuing unit and person, the
owner unit (and optionally an officer), a deadline, a priority, a feedback cadence in hours and a
status (qingzhi.tasks.lifecycle); overdue is derived from the deadline, never stored. Reports
carry text; attachments name their file by its SHA-256 (the file lives under the data directory).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import qingzhi.store.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

STATUSES = (
    "draft",
    "issued",
    "accepted",
    "in_progress",
    "submitted",
    "returned",
    "verified",
    "cancelled",
)
SOURCES = ("none", "brief_finding", "warning", "hotspot", "incident", "case")


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, qingzhi.store.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column(
            "source_kind",
            sa.Enum(*SOURCES, name="sourcekind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("source_ref", sa.String(length=64), nullable=True),
        sa.Column("issuer_unit_id", sa.Integer(), nullable=True),
        sa.Column("issuer_user_id", sa.Integer(), nullable=True),
        sa.Column("issuer_name", sa.String(length=100), nullable=False),
        sa.Column("owner_unit_id", sa.Integer(), nullable=False),
        sa.Column("owner_officer_id", sa.Integer(), nullable=True),
        _time("deadline", nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("feedback_hours", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="taskstatus", native_enum=False, length=32),
            nullable=False,
        ),
        _time("issued_at"),
        _time("accepted_at"),
        _time("submitted_at"),
        _time("closed_at"),
        _time("last_report_at"),
        _time("feedback_due_at"),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_unit_id"], ["unit.id"], name=op.f("fk_task_issuer_unit_id_unit")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_user_id"], ["app_user.id"], name=op.f("fk_task_issuer_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["owner_unit_id"], ["unit.id"], name=op.f("fk_task_owner_unit_id_unit")
        ),
        sa.ForeignKeyConstraint(
            ["owner_officer_id"], ["officer.id"], name=op.f("fk_task_owner_officer_id_officer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
    )
    op.create_index(op.f("ix_task_issuer_unit_id"), "task", ["issuer_unit_id"], unique=False)
    op.create_index(
        "ix_task_owner_status_deadline", "task", ["owner_unit_id", "status", "deadline"]
    )
    op.create_index("ix_task_status_deadline", "task", ["status", "deadline"])
    op.create_index("ix_task_source", "task", ["source_kind", "source_ref"])

    op.create_table(
        "task_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_task_unit_task_id_task")),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_task_unit_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_unit")),
        sa.UniqueConstraint("task_id", "unit_id", name="uq_task_unit_task_id_unit"),
    )
    op.create_index(op.f("ix_task_unit_task_id"), "task_unit", ["task_id"], unique=False)
    op.create_index(op.f("ix_task_unit_unit_id"), "task_unit", ["unit_id"], unique=False)

    op.create_table(
        "task_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        _time("at", nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_task_report_task_id_task")),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_task_report_unit_id_unit")),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["app_user.id"],
            name=op.f("fk_task_report_author_user_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_report")),
    )
    op.create_index(op.f("ix_task_report_task_id"), "task_report", ["task_id"], unique=False)

    op.create_table(
        "task_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        _time("uploaded_at", nullable=False),
        sa.Column("uploader_name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_task_attachment_task_id_task")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["task_report.id"],
            name=op.f("fk_task_attachment_report_id_task_report"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_attachment")),
    )
    for column in ("task_id", "report_id", "sha256"):
        op.create_index(
            op.f(f"ix_task_attachment_{column}"), "task_attachment", [column], unique=False
        )


def downgrade() -> None:
    op.drop_table("task_attachment")
    op.drop_table("task_report")
    op.drop_table("task_unit")
    op.drop_table("task")
