"""Community fixtures: station A's second zone, two community-team officers embedded in A's
zones with their own accounts, and valid identity numbers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.auth import service as auth
from qingzhi.auth.context import system_actor
from qingzhi.auth.permissions import Role
from qingzhi.community.idnumber import check_character
from qingzhi.org.enums import DutyStatus, Team
from qingzhi.org.models import Officer, Unit, Zone
from qingzhi.store.db import Database
from tests.factories import PASSWORD, Org, square


def id_number(body: str = "50023119900101123") -> str:
    """A valid identity number (GB 11643) from its first 17 digits."""
    return body + check_character(body)


@dataclass
class Community:
    """Station A's zones and its two zone officers (officer A000 in A-Z1, A003 in A-Z2)."""

    zone1: int
    zone2: int
    officer1: int
    officer2: int


def set_up_community(session: Session) -> Community:
    """On the test org: a second zone for A (A-Z1 the west half, A-Z2 the east half, with
    geometries) and two zone officers with accounts (``cop_a1`` in A-Z1, ``cop_a2`` in A-Z2)."""
    a = session.scalars(select(Unit).where(Unit.code == "A")).one()
    z1 = session.scalars(select(Zone).where(Zone.code == "A-Z1")).one()
    z1.geometry = square(107.0, 30.0, 0.05)
    z2 = Zone(code="A-Z2", name="城一二片区", station_id=a.id, population=10_400)
    z2.geometry = square(107.05, 30.0, 0.05)
    session.add(z2)
    session.flush()
    ids = []
    for number, zone in (("A000", z1.id), ("A003", z2.id)):
        officer = session.scalars(select(Officer).where(Officer.police_number == number)).one()
        officer.team, officer.zone_id = Team.community, zone
        officer.duty_status = DutyStatus.on_duty
        ids.append(officer.id)
    for username, number in (("cop_a1", "A000"), ("cop_a2", "A003")):
        auth.create_user(
            session=session,
            actor=system_actor("test"),
            username=username,
            password=PASSWORD,
            role=Role.officer,
            unit_code="A",
            officer_number=number,
        )
    session.flush()
    return Community(z1.id, z2.id, ids[0], ids[1])


@pytest.fixture
def community(db: Database, org: Org) -> Community:
    """``set_up_community`` in the test's transaction."""
    with db.session(write=True) as session:
        return set_up_community(session)
