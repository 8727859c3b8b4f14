"""SQLite: new incidents enter the free-text index by batch, not by a per-row trigger.

An FTS5 insert inside a row trigger runs in a statement savepoint, and FTS5 flushes its pending
terms at every savepoint: each row wrote a segment of its own and bulk intake spent half its time
merging them. ``qingzhi.incidents.search.index_new`` now indexes a batch's rows with one
``INSERT … SELECT`` in the intake transaction. The update and delete triggers stay.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS incident_fts_insert")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER incident_fts_insert AFTER INSERT ON incident BEGIN "
            "INSERT INTO incident_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
