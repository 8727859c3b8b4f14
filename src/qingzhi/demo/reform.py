"""The reform: the pre-reform organisation turned into the reformed one, moving the same people.

Three moves (seed): 17 rural stations are bundled into 8 central stations (所队合一, the bundles of
``County.bundles``, checked with the org service's own rule); bundling frees 32 sworn officers of
the member stations' case teams, 15 of whom go to the urban stations and 17 to the busiest units
(here the central stations' command rooms); and each rural traffic squad's 3 sworn officers join
the 3 stations it served (交所合一), its auxiliaries the county traffic squad; the squads stay as
units with no area and no people, named dissolved (已撤并).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import numpy as np
from shapely.geometry import mapping

from qingzhi.demo.bundling import BUNDLE_SIZES
from qingzhi.demo.county import County
from qingzhi.demo.draws import apportion
from qingzhi.demo.organisation import COUNTY_TRAFFIC_CODE, SQUAD_CODES, Organisation, UnitRow
from qingzhi.demo.reference import BUREAU_CODE, URBAN_CODES
from qingzhi.demo.roster import Person
from qingzhi.org.enums import OfficerKind, Team, UnitKind
from qingzhi.org.models import Unit
from qingzhi.org.service import check_bundle

log = logging.getLogger(__name__)

MOVED_TO_URBAN, MOVED_TO_BUSIEST = 15, 17  # officers freed by bundling (seed)
# Seed: "after bundling, criminal incidents −70.88% and public-order incidents −40.49% year on
# year in the bundled stations". The demo keeps the seed's figures for the reformed year and makes
# the year before it in the bundled stations the larger one: reformed / (1 − fall).
FALL_IN_BUNDLED = {"criminal": 0.7088, "public_order": 0.4049}
# Seed: "disputes that took over an hour now settled in about 30 minutes".
PRE_REFORM_MEDIATION_MIN = 70.0
DISSOLVED_SUFFIX = "（已撤并）"
CENTRAL_CODES = tuple(f"{BUREAU_CODE}ZX{i:02d}" for i in range(1, len(BUNDLE_SIZES) + 1))


def reformed(county: County, before: Organisation) -> Organisation:
    """The reformed organisation: ``before`` (left unchanged) after the reform's three moves."""
    people = [dataclasses.replace(p) for p in before.people]
    units = [dataclasses.replace(u) for u in before.units if u.code not in SQUAD_CODES]
    # The rural traffic squads are dissolved: kept as units (their history refers to them) with
    # no area and no people, named so.
    units += [
        dataclasses.replace(u, name=u.name + DISSOLVED_SUFFIX, geometry=None)
        for u in before.units
        if u.code in SQUAD_CODES
    ]
    by_code = {u.code: u for u in units}
    units += _central_stations(county, by_code)
    _move_freed(county, people)
    _integrate_traffic(county, people, by_code)
    units.sort(key=lambda u: u.code)
    return Organisation(units=units, zones=before.zones, people=people)


def pre_reform_rates(county: County) -> dict[str, Any]:
    """What the generator draws differently for the year before the reform (synthetic, from the
    seed's figures): more crime and disorder in the stations the reform bundled, slower
    mediation of disputes."""
    bundled = [m for b in county.bundles for m in b]
    factor = {
        key: {m: 1.0 / (1.0 - fall) for m in bundled} for key, fall in FALL_IN_BUNDLED.items()
    }
    return {"town_factor": factor, "mediation_median_min": PRE_REFORM_MEDIATION_MIN}


def _central_stations(county: County, by_code: dict[str, UnitRow]) -> list[UnitRow]:
    """One central station per bundle, named after its most populous member."""
    centrals = []
    for code, members in zip(CENTRAL_CODES, county.bundles, strict=True):
        lead = max((county.township(m) for m in members), key=lambda t: (t.population, t.code))
        centrals.append(
            UnitRow(
                code=code,
                name=f"{lead.short_name}中心派出所",
                kind=UnitKind.central_station,
                extra={"members": list(members), "bundle": f"{len(members)}合1"},
            )
        )
        for m in members:
            by_code[m].central = code
    _verify_bundles(county)
    return centrals


def _move_freed(county: County, people: list[Person]) -> None:
    """Free sworn officers of the member stations' case teams; send them where the work is."""
    bundled = [m for b in county.bundles for m in b]
    freed_per = apportion(np.ones(len(bundled)), MOVED_TO_URBAN + MOVED_TO_BUSIEST)
    freed: list[Person] = []
    for code, k in zip(bundled, freed_per, strict=True):
        case = [p for p in people if p.unit == code and p.kind == OfficerKind.sworn]
        case = [p for p in case if p.team == Team.case] or case
        freed.extend(case[-int(k) :] if k else [])
    urban_share = apportion(
        np.array([county.township(c).population for c in URBAN_CODES], dtype=np.float64),
        MOVED_TO_URBAN,
    )
    targets: list[tuple[str, Team]] = [
        (c, Team.case) for c, k in zip(URBAN_CODES, urban_share, strict=True) for _ in range(int(k))
    ]
    bundle_pop = np.array(
        [sum(county.township(m).population for m in b) for b in county.bundles], dtype=np.float64
    )
    busiest = apportion(bundle_pop, MOVED_TO_BUSIEST)
    targets += [
        (c, Team.command)
        for c, k in zip(CENTRAL_CODES, busiest, strict=True)
        for _ in range(int(k))
    ]
    for p, (unit, team) in zip(freed, targets, strict=True):
        p.unit, p.team, p.zone = unit, team, None


def _integrate_traffic(county: County, people: list[Person], by_code: dict[str, UnitRow]) -> None:
    """Each squad's sworn officers join the stations it served; its auxiliaries the county's."""
    for code, group in zip(SQUAD_CODES, county.traffic_groups, strict=True):
        squad = [p for p in people if p.unit == code and p.kind == OfficerKind.sworn]
        for p, station in zip(squad, group, strict=True):
            p.unit, p.team = station, Team.case
            by_code[station].traffic_integrated = True
    for p in people:
        if p.unit in SQUAD_CODES:
            p.unit = COUNTY_TRAFFIC_CODE


def _verify_bundles(county: County) -> None:
    """Check every bundle with the org service's own rule (check_bundle), on transient units."""
    for i, (code, members) in enumerate(zip(CENTRAL_CODES, county.bundles, strict=True)):
        central = Unit(id=10_000 + i, code=code, name=code, kind=UnitKind.central_station)
        units = [
            Unit(
                id=j,
                code=m,
                name=m,
                kind=UnitKind.rural_station,
                central_id=None,
                jurisdiction=json.dumps(mapping(county.township(m).polygon)),
            )
            for j, m in enumerate(members)
        ]
        check_bundle(central, units)
