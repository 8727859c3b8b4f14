"""The demo county's organisation before the reform: its units and who works where.

The seed: 504 sworn officers in all; three headquarters units; 26 stations, whose sworn officers
before the reform are fixed in the two urban ones and shared by workload (≈ population^0.8, at
least ``RURAL_MIN_SWORN``) among the rural ones; five rural traffic squads of 3 sworn officers and
2 auxiliaries, each serving 3 stations (``County.traffic_groups``); auxiliaries by ``AUX_RATIO``;
桂阳's community team of 21 sworn officers and 21 auxiliaries in its 8 zones.

``build_organisation(county, seed)`` is that organisation, the same for the same seed;
``qingzhi.demo.reform.reformed`` moves the same people into the reformed one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from qingzhi.demo.bundling import N_TRAFFIC_SQUADS
from qingzhi.demo.county import County
from qingzhi.demo.draws import apportion
from qingzhi.demo.reference import BUREAU_CODE, GUIYANG_CODE
from qingzhi.demo.roster import Person, Roster, teams
from qingzhi.demo.townships import Township
from qingzhi.demo.zones import Zone, draw_zones
from qingzhi.org.enums import OfficerKind, Team, UnitKind

log = logging.getLogger(__name__)

SWORN_TOTAL = 504  # sworn officers (seed): 504 / 935,000 × 10,000 = 5.39
# Non-station units: (code suffix, name, kind, sworn, auxiliaries).
HQ_UNITS = (
    ("QZ", "情报指挥中心", UnitKind.command_centre, 36, 12),
    ("XZ", "刑事侦查大队", UnitKind.criminal_investigation, 52, 26),
    ("JX", "交巡警大队", UnitKind.traffic_squad, 46, 80),
)
COUNTY_TRAFFIC_CODE = BUREAU_CODE + "JX"  # the county traffic squad (交巡警大队)
# Station sworn officers before the reform (urban fixed; rural share the rest by workload).
URBAN_SWORN_PRE = {"500231001": 52, "500231002": 40}
RURAL_MIN_SWORN = 6
AUX_RATIO = {"urban": 1.0, "rural": 0.7}
SQUAD_SWORN, SQUAD_AUX = 3, 2  # each pre-reform rural traffic squad (seed)
SQUAD_CODES = tuple(f"{BUREAU_CODE}JX{i:02d}" for i in range(1, N_TRAFFIC_SQUADS + 1))
GUIYANG_COMMUNITY = 21  # 桂阳: 21 sworn + 21 auxiliaries in the community team (seed)


@dataclass
class UnitRow:
    """A unit of the demo organisation as the org bundle states it."""

    code: str
    name: str
    kind: UnitKind
    geometry: BaseGeometry | None = None
    central: str | None = None
    population: int | None = None
    traffic_integrated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Organisation:
    """The units (by code), the zones and the people of one organisation of the county."""

    units: list[UnitRow]
    zones: list[Zone]
    people: list[Person]


def sworn_before_reform(county: County) -> dict[str, int]:
    """Sworn officers per station before the reform (urban fixed, rural by workload)."""
    rural = [t for t in county.townships if not t.urban]
    station_total = SWORN_TOTAL - sum(u[3] for u in HQ_UNITS) - N_TRAFFIC_SQUADS * SQUAD_SWORN
    rural_sworn = apportion(
        np.array([t.population for t in rural], dtype=np.float64) ** 0.8,
        station_total - sum(URBAN_SWORN_PRE.values()),
        RURAL_MIN_SWORN,
    )
    sworn = dict(URBAN_SWORN_PRE)
    sworn.update({t.code: int(n) for t, n in zip(rural, rural_sworn, strict=True)})
    return sworn


def build_organisation(county: County, seed: int) -> Organisation:
    """The pre-reform organisation of ``county``: units, 桂阳's zones, every officer."""
    roster = Roster(np.random.default_rng([seed, 1]))
    for suffix, _, _, sworn, aux in HQ_UNITS:
        roster.add_many(BUREAU_CODE + suffix, OfficerKind.sworn, sworn)
        roster.add_many(BUREAU_CODE + suffix, OfficerKind.auxiliary, aux)
    zones = draw_zones(county.township(GUIYANG_CODE), county.epsg, roster.rng)
    sworn_pre = sworn_before_reform(county)
    for t in county.townships:
        if t.code == GUIYANG_CODE:
            _staff_guiyang(roster, t, sworn_pre[t.code], [z.code for z in zones])
        else:
            _staff_station(roster, t, sworn_pre[t.code])
    for code in SQUAD_CODES:
        roster.add_many(code, OfficerKind.sworn, SQUAD_SWORN)
        roster.add_many(code, OfficerKind.auxiliary, SQUAD_AUX)

    units = [_station(t) for t in county.townships]
    units += [
        UnitRow(code=BUREAU_CODE + s, name=name, kind=kind) for s, name, kind, _, _ in HQ_UNITS
    ]
    for code, group in zip(SQUAD_CODES, county.traffic_groups, strict=True):
        host = county.township(group[0])
        units.append(
            UnitRow(
                code=code,
                name=f"{host.short_name}交巡警中队",
                kind=UnitKind.traffic_squad,
                geometry=unary_union([county.township(c).polygon for c in group]),
                extra={"covers": list(group)},
            )
        )
    units.sort(key=lambda u: u.code)
    return Organisation(units=units, zones=zones, people=roster.people)


def _station(t: Township) -> UnitRow:
    """The police station of township ``t`` (its jurisdiction is the township)."""
    return UnitRow(
        code=t.code,
        name=f"{t.short_name}派出所",
        kind=UnitKind.urban_station if t.urban else UnitKind.rural_station,
        geometry=t.polygon,
        population=t.population,
        extra={"township": t.full_name, "seat": list(t.seat)},
    )


def _staff_station(roster: Roster, t: Township, n: int) -> None:
    """``n`` sworn officers and the auxiliaries of ``AUX_RATIO`` in teams, for station ``t``."""
    for team in teams(n):
        roster.add(t.code, OfficerKind.sworn, team)
    for team in teams(round(n * AUX_RATIO["urban" if t.urban else "rural"])):
        roster.add(t.code, OfficerKind.auxiliary, team)


def _staff_guiyang(roster: Roster, t: Township, n: int, zone_codes: list[str]) -> None:
    """桂阳: its community team of 21 + 21 spread over the zones, then the other teams."""
    zone_slots = [zone_codes[i % len(zone_codes)] for i in range(GUIYANG_COMMUNITY)]
    others = teams(n - GUIYANG_COMMUNITY)
    sworn_teams = [Team.community] * GUIYANG_COMMUNITY + [x for x in others if x != Team.community]
    sworn_teams += [Team.case] * (n - len(sworn_teams))
    for i, team in enumerate(sworn_teams):
        zone = zone_slots[i] if i < GUIYANG_COMMUNITY else None
        roster.add(t.code, OfficerKind.sworn, team, zone)
    for i in range(GUIYANG_COMMUNITY):
        roster.add(t.code, OfficerKind.auxiliary, Team.community, zone_slots[i])
    n_aux_other = round(n * AUX_RATIO["urban"]) - GUIYANG_COMMUNITY
    for team in teams(max(n_aux_other, 0)):
        roster.add(t.code, OfficerKind.auxiliary, Team.case if team == Team.community else team)
