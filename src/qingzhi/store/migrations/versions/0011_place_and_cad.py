"""The place and the CAD importer: the bureau's time zone and projected CRS (chosen once by
``qingzhi place init``), jurisdictions marked when derived from the calls' district column, and
the source system's own call type, district and beat kept on each incident beside the mapped
category, with a version number that a correction raises.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the place's settings and the incident's source fields and version."""
    op.add_column("bureau", sa.Column("timezone", sa.String(64), nullable=True))
    op.add_column("bureau", sa.Column("projected_crs", sa.String(32), nullable=True))
    op.add_column(
        "unit",
        sa.Column("jurisdiction_derived", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("incident", sa.Column("source_type", sa.String(100), nullable=True))
    op.add_column("incident", sa.Column("source_district", sa.String(64), nullable=True))
    op.add_column("incident", sa.Column("source_beat", sa.String(64), nullable=True))
    op.add_column(
        "incident",
        sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")),
    )


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("incident") as batch:
        for name in ("version", "source_beat", "source_district", "source_type"):
            batch.drop_column(name)
    with op.batch_alter_table("unit") as batch:
        batch.drop_column("jurisdiction_derived")
    with op.batch_alter_table("bureau") as batch:
        batch.drop_column("projected_crs")
        batch.drop_column("timezone")
