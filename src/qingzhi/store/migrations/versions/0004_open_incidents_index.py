"""A partial index of open incidents, so the list of open incidents stays small to read.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The same literal condition is added by qingzhi.incidents.query to open-status filters: SQLite
# uses a partial index only when the query repeats the index's WHERE term.
OPEN = "status IN ('received', 'dispatched', 'arrived', 'transferred')"


def upgrade() -> None:
    op.execute(f"CREATE INDEX ix_incident_open ON incident (received_at, id) WHERE {OPEN}")


def downgrade() -> None:
    op.execute("DROP INDEX ix_incident_open")
