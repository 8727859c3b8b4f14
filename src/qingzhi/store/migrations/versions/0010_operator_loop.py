"""The operator's loop: several units per incident, each assignment with its own times, and the
result recorded at 结警.

``incident_assignment`` gains ``status`` (dispatched → arrived → cleared, the assignment
lifecycle of ``qingzhi.incidents.lifecycle``), ``arrived_at``, ``cleared_at`` and ``note``; a
unique partial index ``ux_incident_assignment_active`` on ``officer_id`` over the rows not yet
cleared makes "an officer on at most one active assignment" a rule of the database as well as of
the service (which decides it on the officers' locked live rows). Existing rows take their state
from their incident: an open dispatched or arrived incident keeps its assignments active (with
the incident's arrival time when it arrived), every other one is cleared at the time the
incident was resolved, closed or last changed. ``incident.result`` keeps the 处理结果 given at 结警.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import qingzhi.store.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('dispatched', 'arrived')"

_FILL_ACTIVE = """
UPDATE incident_assignment SET
  status = (SELECT i.status FROM incident i WHERE i.id = incident_assignment.incident_id),
  arrived_at = (SELECT i.arrived_at FROM incident i WHERE i.id = incident_assignment.incident_id)
WHERE (SELECT i.status FROM incident i WHERE i.id = incident_assignment.incident_id)
  IN ('dispatched', 'arrived')
"""
_FILL_CLEARED = """
UPDATE incident_assignment SET
  arrived_at = (SELECT i.arrived_at FROM incident i WHERE i.id = incident_assignment.incident_id),
  cleared_at = COALESCE(
    (SELECT i.resolved_at FROM incident i WHERE i.id = incident_assignment.incident_id),
    (SELECT i.closed_at FROM incident i WHERE i.id = incident_assignment.incident_id),
    (SELECT i.updated_at FROM incident i WHERE i.id = incident_assignment.incident_id),
    assigned_at)
WHERE status = 'cleared'
"""
_ONE_ACTIVE_EACH = """
UPDATE incident_assignment SET status = 'cleared', cleared_at = assigned_at
WHERE status IN ('dispatched', 'arrived') AND id NOT IN (
  SELECT MAX(a.id) FROM incident_assignment a
  WHERE a.status IN ('dispatched', 'arrived') GROUP BY a.officer_id)
"""


def upgrade() -> None:
    """Add the assignment's lifecycle columns, fill them from the incidents, index the active."""
    with op.batch_alter_table("incident_assignment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=32), nullable=False, server_default="cleared")
        )
        batch_op.add_column(
            sa.Column("arrived_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("cleared_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("note", sa.String(length=500), nullable=False, server_default="")
        )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("result", sa.String(length=500), nullable=True))

    op.execute(_FILL_ACTIVE)
    op.execute(_FILL_CLEARED)
    # Should an officer be on two open incidents in old data, only their latest stays active.
    op.execute(_ONE_ACTIVE_EACH)
    with op.batch_alter_table("incident_assignment", schema=None) as batch_op:
        batch_op.create_index(
            "ux_incident_assignment_active",
            ["officer_id"],
            unique=True,
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )


def downgrade() -> None:
    """Drop the columns and the index."""
    with op.batch_alter_table("incident_assignment", schema=None) as batch_op:
        batch_op.drop_index("ux_incident_assignment_active")
        batch_op.drop_column("note")
        batch_op.drop_column("cleared_at")
        batch_op.drop_column("arrived_at")
        batch_op.drop_column("status")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("result")
