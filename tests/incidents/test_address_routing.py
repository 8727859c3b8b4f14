"""Routing by address (a call without coordinates): station and zone names are found in the
address whatever its case, its width (全角/半角) or its spacing; a Latin name only as a word."""

from __future__ import annotations

import pytest

from qingzhi.incidents.routing import RegionIndex, match_text
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Unit
from qingzhi.store.db import Database
from tests.factories import Org


@pytest.fixture
def index(db: Database, org: Org) -> tuple[RegionIndex, dict[str, int]]:
    names = {"MS": "Main St", "N": "North", "H12": "１２号院", "WD": "Wenhua Road"}
    with db.session(write=True) as session:
        units = {
            code: Unit(bureau_id=org.bureau.id, code=code, name=name, kind=UnitKind.urban_station)
            for code, name in names.items()
        }
        session.add_all(units.values())
        session.flush()
        ids = {code: u.id for code, u in units.items()}
        return RegionIndex(session), {**ids, "S": org.id("S")}


def test_match_text_folds_case_width_and_spacing() -> None:
    assert match_text("MAIN  ST") == match_text("Main St") == "main st"
    assert match_text("１２号") == "12号"
    assert match_text("　Ｍａｉｎ\t ＳＴ ") == "main st"  # ideographic space, full-width letters


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("1200 MAIN  ST", "MS"),  # upper case, two spaces
        ("1200 main st, apt 4", "MS"),
        ("1200 Ｍａｉｎ　Ｓｔ", "MS"),  # full-width letters and an ideographic space
        ("城关镇12号院3栋", "H12"),  # the name is full-width, the address half-width
        ("城关镇１２号院３栋", "H12"),  # both full-width
        ("55 NORTH AVE", "N"),
        ("WENHUA\u00a0ROAD 8", "WD"),  # a no-break space
        ("丙镇场口", "S"),  # a Chinese name as before (丙镇派出所 → 丙镇)
    ],
)
def test_an_address_routes_to_the_station_named_in_it(index, address: str, code: str) -> None:
    routes, ids = index
    route = routes.route_address(address)
    assert (route.routed_by, route.station_id) == ("address", ids[code])


@pytest.mark.parametrize("address", ["100 Northampton Rd", "7 Mainstreet", "无名路"])
def test_a_name_inside_another_word_does_not_route(index, address: str) -> None:
    routes, _ = index
    route = routes.route_address(address)
    assert (route.routed_by, route.station_id) == ("queue", None)
