"""Incidents: three indexes that cost every insert more than they gave any query go.

- ``(caller_phone, received_at)``: its one reader is repeat linking, which looks for the same
  caller within 24 hours; the received-time index finds that window (a county's calls of a
  day, a few hundred) in milliseconds: 4-12 ms for three days on a store ten times as dense as
  the county, against 0.04-0.4 ms with the phone index. Phone numbers arrive in random order,
  so each insert landed on a random leaf and every batch rewrote most of the index's pages.
- ``(category, received_at)`` and ``(status, received_at)``: lists are read newest first a page
  at a time, and a category or a status is a share of calls large enough (a few per cent and
  up) that walking the received-time index finds a page in no time; open incidents, the one
  status filter that must be quick however old the store, have their own partial index
  (``ix_incident_open``, migration 0004).

Bulk intake without the three ran 6-13% faster than with them, in the same runs.

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

DROPPED = {
    "ix_incident_phone_received": ["caller_phone", "received_at"],
    "ix_incident_category_received": ["category", "received_at"],
    "ix_incident_status_received": ["status", "received_at"],
}


def upgrade() -> None:
    for name in DROPPED:
        op.drop_index(name, table_name="incident")


def downgrade() -> None:
    for name, columns in DROPPED.items():
        op.create_index(name, "incident", columns)
