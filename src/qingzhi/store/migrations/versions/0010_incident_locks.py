"""Placeholder for the incident/dispatch concurrency work (to be filled in or removed before it
lands). That work needed no schema change: it decides on locked rows (see incidents.service).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
