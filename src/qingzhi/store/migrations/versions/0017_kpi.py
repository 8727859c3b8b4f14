"""Station evaluation and reform impact: scoring schemes (a row a version) and reforms with the
stations they changed.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import qingzhi.store.base

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kpi_scheme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("toml", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_kpi_scheme_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_scheme")),
        sa.UniqueConstraint("digest", name=op.f("uq_kpi_scheme_digest")),
    )
    op.create_table(
        "reform",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("effective", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_reform_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reform")),
    )
    op.create_table(
        "reform_unit",
        sa.Column("reform_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reform_id"],
            ["reform.id"],
            name=op.f("fk_reform_unit_reform_id_reform"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_reform_unit_unit_id_unit")),
        sa.PrimaryKeyConstraint("reform_id", "unit_id", name=op.f("pk_reform_unit")),
    )
    op.create_index(op.f("ix_reform_unit_unit_id"), "reform_unit", ["unit_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reform_unit_unit_id"), table_name="reform_unit")
    op.drop_table("reform_unit")
    op.drop_table("reform")
    op.drop_table("kpi_scheme")
