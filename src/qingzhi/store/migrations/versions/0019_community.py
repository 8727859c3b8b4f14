"""community: partial indexes on dispute.watch_until and dispute.visit_id (NULL for the
disputes intake opens, which then write no entry in either)

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("watch_until", "visit_id"):
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(f"ix_dispute_{column}", table_name="dispute")
        op.create_index(
            f"ix_dispute_{column}",
            "dispute",
            [column],
            unique=False,
            sqlite_where=where,
            postgresql_where=where,
        )


def downgrade() -> None:
    for column in ("watch_until", "visit_id"):
        op.drop_index(f"ix_dispute_{column}", table_name="dispute")
        op.create_index(f"ix_dispute_{column}", "dispute", [column], unique=False)
