"""Community fixtures: station A's second zone, two community-team officers embedded in A's
zones with their own accounts, and valid identity numbers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from qingzhi.auth import service as auth
from qingzhi.auth.context import system_actor
from qingzhi.auth.permissions import Role
from qingzhi.community.idnumber import check_character
from qingzhi.org.enums import DutyStatus, Team
from qingzhi.org.models import Zone
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


@pytest.fixture
def community(db: Database, org: Org) -> Community:
    """A second zone for A (the west half is A-Z1, the east half A-Z2) and two zone officers
    with accounts (``cop_a1``, ``cop_a2``); A-Z1 gets its geometry too."""
    with db.session(write=True) as session:
        z1 = session.get(Zone, org.zones["A-Z1"].id)
        assert z1 is not None
        z1.geometry = square(107.0, 30.0, 0.05)
        z2 = Zone(code="A-Z2", name="城一二片区", station_id=org.id("A"), population=10_400)
        z2.geometry = square(107.05, 30.0, 0.05)
        session.add(z2)
        session.flush()
        for number, zone in (("A000", z1.id), ("A003", z2.id)):
            officer = session.merge(org.officers[number])
            officer.team, officer.zone_id = Team.community, zone
            officer.duty_status = DutyStatus.on_duty
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
        return Community(z1.id, z2.id, org.officers["A000"].id, org.officers["A003"].id)
