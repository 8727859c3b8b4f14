"""Community policing (两队一室): officers' community roles and rota, community posts
(社区警务室), partners, household visits (入户走访), disputes (矛盾纠纷) with their parties,
mediation sessions and the calls linked to them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import qingzhi.store.base

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The community tables."""
    op.create_table(
        "community_post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("created_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["unit.id"], name=op.f("fk_community_post_station_id_unit")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_community_post_zone_id_zone")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_post")),
    )

    with op.batch_alter_table("community_post", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_post_station_id"), ["station_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_community_post_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "community_officer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("in_rota", sa.Boolean(), nullable=False),
        sa.Column("updated_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_community_officer_officer_id_officer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_officer")),
        sa.UniqueConstraint("officer_id", name=op.f("uq_community_officer_officer_id")),
    )

    op.create_table(
        "community_visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "planned", "done", "cancelled", name="visitstatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column(
            "target",
            sa.Enum("household", "business", name="visittarget", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "purpose",
            sa.Enum(
                "prevention",
                "dispute_screening",
                "return_visit",
                "key_person",
                "other",
                name="visitpurpose",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("planned_for", sa.Date(), nullable=True),
        sa.Column("visited_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("outside_zone", sa.Boolean(), nullable=False),
        sa.Column("outside_reason", sa.String(length=200), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("created_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_community_visit_officer_id_officer")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["unit.id"], name=op.f("fk_community_visit_station_id_unit")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_community_visit_zone_id_zone")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_visit")),
    )

    with op.batch_alter_table("community_visit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_visit_officer_id"), ["officer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_community_visit_station_id"), ["station_id"], unique=False
        )
        batch_op.create_index("ix_community_visit_zone_at", ["zone_id", "visited_at"], unique=False)

    op.create_table(
        "community_partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "secretary",
                "grid_worker",
                "lawyer",
                "other",
                name="partnerkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("created_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["unit.id"], name=op.f("fk_community_partner_station_id_unit")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_community_partner_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_community_partner_zone_id_zone")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_partner")),
    )

    with op.batch_alter_table("community_partner", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_partner_station_id"), ["station_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_community_partner_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "dispute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "family",
                "neighbour",
                "land_property",
                "labour",
                "consumer",
                "traffic_accident",
                "other",
                name="disputekind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "risk",
            sa.Enum("low", "medium", "high", name="risk", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "reported",
                "mediating",
                "settled",
                "partially_settled",
                "not_settled",
                "referred",
                "followed_up",
                "closed",
                name="disputestatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("reported_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_session_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("settled_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "reported",
                "mediating",
                "settled",
                "partially_settled",
                "not_settled",
                "referred",
                "followed_up",
                "closed",
                name="disputestatus",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("referred_to", sa.String(length=100), nullable=False),
        sa.Column("follow_up_due", sa.Date(), nullable=True),
        sa.Column("followed_up_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("watch_until", qingzhi.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attention", sa.Boolean(), nullable=False),
        sa.Column("repeat_calls", sa.Integer(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("created_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_dispute_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["unit.id"], name=op.f("fk_dispute_station_id_unit")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["community_visit.id"], name=op.f("fk_dispute_visit_id_community_visit")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_dispute_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_dispute_incident_id")),
    )

    with op.batch_alter_table("dispute", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dispute_station_reported", ["station_id", "reported_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dispute_visit_id"), ["visit_id"], unique=False)
        batch_op.create_index("ix_dispute_watch_until", ["watch_until"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispute_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "dispute_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("received_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("after_settlement", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["dispute.id"], name=op.f("fk_dispute_call_dispute_id_dispute")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_dispute_call_incident_id_incident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_call")),
        sa.UniqueConstraint("dispute_id", "incident_id", name=op.f("uq_dispute_call_dispute_id")),
    )

    with op.batch_alter_table("dispute_call", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dispute_call_dispute_id"), ["dispute_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dispute_call_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "dispute_party",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["dispute.id"], name=op.f("fk_dispute_party_dispute_id_dispute")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_party")),
    )

    with op.batch_alter_table("dispute_party", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dispute_party_dispute_id"), ["dispute_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dispute_party_phone"), ["phone"], unique=False)

    op.create_table(
        "mediation_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("package", sa.String(length=32), nullable=True),
        sa.Column("participants", sa.Text(), nullable=False),
        sa.Column("partner_ids", sa.Text(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("started_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "agreed",
                "partial",
                "failed",
                "adjourned",
                name="sessionoutcome",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("agreement", sa.Text(), nullable=False),
        sa.Column("created_at", qingzhi.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["dispute.id"], name=op.f("fk_mediation_session_dispute_id_dispute")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_mediation_session_officer_id_officer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mediation_session")),
    )

    with op.batch_alter_table("mediation_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mediation_session_dispute_id"), ["dispute_id"], unique=False
        )


def downgrade() -> None:
    """Drop the community tables."""
    with op.batch_alter_table("mediation_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mediation_session_dispute_id"))

    op.drop_table("mediation_session")

    with op.batch_alter_table("dispute_party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispute_party_phone"))
        batch_op.drop_index(batch_op.f("ix_dispute_party_dispute_id"))

    op.drop_table("dispute_party")

    with op.batch_alter_table("dispute_call", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispute_call_incident_id"))
        batch_op.drop_index(batch_op.f("ix_dispute_call_dispute_id"))

    op.drop_table("dispute_call")

    with op.batch_alter_table("dispute", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispute_zone_id"))
        batch_op.drop_index("ix_dispute_watch_until")
        batch_op.drop_index(batch_op.f("ix_dispute_visit_id"))
        batch_op.drop_index("ix_dispute_station_reported")

    op.drop_table("dispute")

    with op.batch_alter_table("community_partner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_partner_zone_id"))
        batch_op.drop_index(batch_op.f("ix_community_partner_station_id"))

    op.drop_table("community_partner")

    with op.batch_alter_table("community_visit", schema=None) as batch_op:
        batch_op.drop_index("ix_community_visit_zone_at")
        batch_op.drop_index(batch_op.f("ix_community_visit_station_id"))
        batch_op.drop_index(batch_op.f("ix_community_visit_officer_id"))

    op.drop_table("community_visit")

    op.drop_table("community_officer")

    with op.batch_alter_table("community_post", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_post_zone_id"))
        batch_op.drop_index(batch_op.f("ix_community_post_station_id"))

    op.drop_table("community_post")
