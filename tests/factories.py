"""Factories: a small organisation (urban and rural stations, a 2合1 central station, users)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from qingzhi.auth import service as auth
from qingzhi.auth.context import system_actor
from qingzhi.auth.permissions import Role
from qingzhi.org.enums import DutyStatus, OfficerKind, Team, UnitKind
from qingzhi.org.models import Bureau, Officer, Unit, Zone

PASSWORD = "correct-horse-9"


def square(x0: float, y0: float, size: float = 0.1) -> str:
    """A square polygon as stored GeoJSON text (compact, as the services store it)."""
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]}, separators=(",", ":"))


@dataclass
class Org:
    bureau: Bureau
    units: dict[str, Unit]
    zones: dict[str, Zone]
    officers: dict[str, Officer]
    users: dict[str, str] = field(default_factory=dict)  # username -> role

    def id(self, code: str) -> int:
        return self.units[code].id


def build_org(session: Session) -> Org:
    """A bureau with two urban stations (A, B), a central station C over rural R1+R2, and S."""
    bureau = Bureau(code="TEST", name="测试县公安局", population=100_000)
    session.add(bureau)
    session.flush()
    specs = [
        ("A", "城一派出所", UnitKind.urban_station, 40_000, square(107.0, 30.0)),
        ("B", "城二派出所", UnitKind.urban_station, 30_000, square(107.1, 30.0)),
        ("R1", "甲镇派出所", UnitKind.rural_station, 10_000, square(107.0, 30.1)),
        ("R2", "乙镇派出所", UnitKind.rural_station, 10_000, square(107.1, 30.1)),
        ("S", "丙镇派出所", UnitKind.rural_station, 10_000, square(107.3, 30.3)),
        ("C", "甲乙中心派出所", UnitKind.central_station, None, None),
        ("CMD", "情指中心", UnitKind.command_centre, None, None),
    ]
    units: dict[str, Unit] = {}
    for code, name, kind, pop, geom in specs:
        u = Unit(
            bureau_id=bureau.id, code=code, name=name, kind=kind, population=pop, jurisdiction=geom
        )
        session.add(u)
        units[code] = u
    session.flush()
    units["R1"].central_id = units["C"].id
    units["R2"].central_id = units["C"].id
    zones = {
        "A-Z1": Zone(code="A-Z1", name="城一一片区", station_id=units["A"].id, population=20_000),
        "B-Z1": Zone(code="B-Z1", name="城二一片区", station_id=units["B"].id, population=15_000),
    }
    session.add_all(zones.values())
    session.flush()
    officers: dict[str, Officer] = {}
    counts = {
        "A": (20, 10),
        "B": (15, 5),
        "R1": (4, 2),
        "R2": (3, 2),
        "C": (3, 1),
        "S": (5, 2),
        "CMD": (6, 0),
    }
    for code, (sworn, aux) in counts.items():
        for i in range(sworn + aux):
            okind = OfficerKind.sworn if i < sworn else OfficerKind.auxiliary
            number = f"{code}{i:03d}"
            o = Officer(
                police_number=number,
                name=f"{units[code].name[:2]}警员{i}",
                kind=okind,
                unit_id=units[code].id,
                team=Team.case if i % 2 else Team.community,
                duty_status=DutyStatus.on_duty if i % 3 else DutyStatus.off_duty,
            )
            session.add(o)
            officers[number] = o
    session.flush()
    org = Org(bureau, units, zones, officers)
    actor = system_actor("factory")
    users = [
        ("admin", Role.admin, None),
        ("commander", Role.commander, None),
        ("dispatcher", Role.dispatcher, None),
        ("analyst", Role.analyst, None),
        ("chief_a", Role.station_chief, "A"),
        ("chief_c", Role.station_chief, "C"),
        ("officer_a", Role.officer, "A"),
        ("aux_a", Role.auxiliary, "A"),
        ("viewer", Role.viewer, None),
    ]
    for username, role, unit in users:
        auth.create_user(
            session=session,
            actor=actor,
            username=username,
            password=PASSWORD,
            role=role,
            unit_code=unit,
        )
        org.users[username] = role
    return org
