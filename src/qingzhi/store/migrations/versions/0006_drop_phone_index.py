"""Incidents: the ``(caller_phone, received_at)`` index goes.

Its one reader is repeat linking, which looks for the same caller within 24 hours; the
received-time index finds that window (a county's calls of a day, a few hundred) about as fast.
Phone numbers arrive in random order, so each insert landed on a random leaf of that index, and
every batch rewrote most of its pages: it cost about a sixth of bulk intake.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_incident_phone_received", table_name="incident")


def downgrade() -> None:
    op.create_index("ix_incident_phone_received", "incident", ["caller_phone", "received_at"])
