"""Criminal cases (快侦快办): cases, their linked incidents, teams and notes.

A case has a number unique per bureau, a category and subtype, its unit, the opening time, the
loss (元, two decimals), whether it is a rapid case (快侦快办), a status (qingzhi.cases.lifecycle)
and its outcome: cleared at a time (with the hours from opening, what fast clearance compares),
suspects caught and loss recovered, or suspended. An incident belongs to at most one case.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import qingzhi.store.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, qingzhi.store.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "criminal_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bureau_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("subtype", sa.String(length=32), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        _time("opened_at", nullable=False),
        sa.Column("loss_yuan", sa.Numeric(14, 2), nullable=False),
        sa.Column("rapid", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "cleared", "suspended", name="casestatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        _time("cleared_at"),
        sa.Column("hours_to_clear", sa.Float(), nullable=True),
        sa.Column("suspects_caught", sa.Integer(), nullable=False),
        sa.Column("recovered_yuan", sa.Numeric(14, 2), nullable=False),
        _time("suspended_at"),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["bureau_id"], ["bureau.id"], name=op.f("fk_criminal_case_bureau_id_bureau")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_criminal_case_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criminal_case")),
        sa.UniqueConstraint("bureau_id", "number", name="uq_criminal_case_bureau_id_number"),
    )
    op.create_index(op.f("ix_criminal_case_unit_id"), "criminal_case", ["unit_id"], unique=False)
    op.create_index("ix_criminal_case_opened", "criminal_case", ["opened_at", "unit_id"])
    op.create_index("ix_criminal_case_cleared", "criminal_case", ["cleared_at", "unit_id"])

    op.create_table(
        "case_incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["criminal_case.id"], name=op.f("fk_case_incident_case_id_criminal_case")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_case_incident_incident_id_incident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_incident")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_case_incident_incident_id")),
    )
    op.create_index(op.f("ix_case_incident_case_id"), "case_incident", ["case_id"], unique=False)

    op.create_table(
        "case_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column(
            "role",
            sa.Enum("lead", "member", name="role", native_enum=False, length=32),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["criminal_case.id"], name=op.f("fk_case_member_case_id_criminal_case")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_case_member_unit_id_unit")),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_case_member_officer_id_officer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_member")),
    )
    op.create_index(op.f("ix_case_member_case_id"), "case_member", ["case_id"], unique=False)
    op.create_index(op.f("ix_case_member_unit_id"), "case_member", ["unit_id"], unique=False)

    op.create_table(
        "case_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        _time("at", nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["criminal_case.id"], name=op.f("fk_case_note_case_id_criminal_case")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_case_note_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_note")),
    )
    op.create_index(op.f("ix_case_note_case_id"), "case_note", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_table("case_note")
    op.drop_table("case_member")
    op.drop_table("case_incident")
    op.drop_table("criminal_case")
