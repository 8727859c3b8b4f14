"""Live: the event bus table and officers' live state (status, last position, camera).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import qingzhi.store.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_event")),
    )
    op.create_index(op.f("ix_live_event_at"), "live_event", ["at"], unique=False)
    op.create_table(
        "officer_live",
        sa.Column("officer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.Column("heading", sa.Float(), nullable=True),
        sa.Column("fix_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("camera_url", sa.String(length=500), nullable=True),
        sa.Column("updated_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_officer_live_incident_id_incident"),
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_officer_live_officer_id_officer")
        ),
        sa.PrimaryKeyConstraint("officer_id", name=op.f("pk_officer_live")),
    )
    op.create_index(
        op.f("ix_officer_live_incident_id"), "officer_live", ["incident_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_officer_live_incident_id"), table_name="officer_live")
    op.drop_table("officer_live")
    op.drop_index(op.f("ix_live_event_at"), table_name="live_event")
    op.drop_table("live_event")
