"""Factories: a small organisation (urban and rural stations, a 2合1 central station, users)
and incidents taken in through the intake service (routed, audited and published as real calls).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from qingzhi.auth import service as auth
from qingzhi.auth.context import Actor, system_actor
from qingzhi.auth.permissions import Role
from qingzhi.config import Settings
from qingzhi.incidents import intake as incidents
from qingzhi.incidents.schemas import IncidentCreate, IncidentRead
from qingzhi.org.enums import DutyStatus, OfficerKind, Team, UnitKind
from qingzhi.org.models import Bureau, Officer, Unit, Zone
from qingzhi.store.db import Database

PASSWORD = "correct-horse-9"
# The stations' jurisdictions: squares of SIDE degrees from these south-west corners (lon, lat).
SIDE = 0.1
CORNERS = {
    "A": (107.0, 30.0),
    "B": (107.1, 30.0),
    "R1": (107.0, 30.1),
    "R2": (107.1, 30.1),
    "S": (107.3, 30.3),
}
# When the test does not say: a day before the demo's and the browser tests' "now".
RECEIVED_AT = "2026-11-01T10:00:00+08:00"
INTAKE_SETTINGS = Settings(database_url="sqlite://")
_serial = itertools.count(1)


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

    def on_duty(self, code: str) -> list[int]:
        """The ids of the unit's officers on duty, in police-number order."""
        unit_id = self.id(code)
        return [
            o.id
            for o in self.officers.values()
            if o.unit_id == unit_id and o.duty_status == DutyStatus.on_duty
        ]


def incident_body(**overrides: object) -> dict[str, object]:
    """A valid body of ``POST /api/incidents`` inside station A (lon 107.0–107.1, lat
    30.0–30.1), WGS-84; ``overrides`` replace its fields."""
    base: dict[str, object] = {
        "source_id": "110-20261101-0001",
        "received_at": RECEIVED_AT,
        "category": "public_order",
        "subtype": "fight",
        "description": "两名男子在烧烤店门口打架",
        "address": "城一社区人民路12号",
        "caller_phone": "13812345678",
        "location": {"lon": 107.05, "lat": 30.05, "datum": "wgs84"},
        "priority": 2,
    }
    base.update(overrides)
    return base


def inside(code: str) -> tuple[float, float]:
    """The centre of station ``code``'s jurisdiction (lon, lat, WGS-84)."""
    lon, lat = CORNERS[code]
    return round(lon + SIDE / 2, 6), round(lat + SIDE / 2, 6)


def incident_item(
    *,
    at: dt.datetime | str = RECEIVED_AT,
    category: str = "dispute",
    unit: str | None = "A",
    location: tuple[float, float] | None = None,
    source_id: str | None = None,
    **fields: Any,
) -> IncidentCreate:
    """A call to take in, at ``location`` (lon, lat; WGS-84) or else the centre of station
    ``unit`` (neither: a call without coordinates), with the other ``fields`` of
    ``IncidentCreate`` as given; a fresh source id unless one is given."""
    point = location if location is not None else inside(unit) if unit is not None else None
    return IncidentCreate.model_validate(
        {
            "source_id": source_id or f"F-{next(_serial)}",
            "received_at": at,
            "category": category,
            **({"location": {"lon": point[0], "lat": point[1]}} if point else {}),
            **fields,
        }
    )


def make_incident(
    session: Session,
    *,
    actor: Actor | None = None,
    settings: Settings | None = None,
    **item: Any,
) -> IncidentRead:
    """One call (``incident_item(**item)``) taken in through the intake service: routed, linked
    to its repeats, audited and published as a real call is."""
    inc, _ = incidents.intake(
        session=session,
        actor=actor or system_actor(),
        settings=settings or INTAKE_SETTINGS,
        item=incident_item(**item),
    )
    return inc


def add_incident(db: Database, **kwargs: Any) -> int:
    """``make_incident`` in a transaction of its own (committed on a committed database); the
    new incident's id."""
    with db.session(write=True) as session:
        return make_incident(session, **kwargs).id


def build_org(session: Session) -> Org:
    """A bureau with two urban stations (A, B), a central station C over rural R1+R2, and S."""
    bureau = Bureau(code="TEST", name="测试县公安局", population=100_000)
    session.add(bureau)
    session.flush()
    specs = [
        ("A", "城一派出所", UnitKind.urban_station, 40_000, square(*CORNERS["A"], SIDE)),
        ("B", "城二派出所", UnitKind.urban_station, 30_000, square(*CORNERS["B"], SIDE)),
        ("R1", "甲镇派出所", UnitKind.rural_station, 10_000, square(*CORNERS["R1"], SIDE)),
        ("R2", "乙镇派出所", UnitKind.rural_station, 10_000, square(*CORNERS["R2"], SIDE)),
        ("S", "丙镇派出所", UnitKind.rural_station, 10_000, square(*CORNERS["S"], SIDE)),
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
