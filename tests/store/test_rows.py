"""store.rows: a row's fields as a read model and as an audit snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from pydantic import BaseModel

from qingzhi.org.enums import Team, UnitKind
from qingzhi.store.rows import read_of, snapshot


class _Read(BaseModel):
    id: int
    name: str
    kind: UnitKind
    kind_label: str


@dataclass(frozen=True)
class _Entry:
    id: int
    diff: dict[str, int]


def test_read_of_takes_each_field_off_the_row_and_the_computed_ones_as_given() -> None:
    row = SimpleNamespace(id=7, name="城关派出所", kind=UnitKind.urban_station, extra="ignored")
    out = read_of(_Read, row, kind_label=row.kind.label)
    assert out == _Read(
        id=7, name="城关派出所", kind=UnitKind.urban_station, kind_label="城区派出所"
    )


def test_read_of_serves_dataclasses_and_a_given_field_wins_over_the_row() -> None:
    row = SimpleNamespace(id=3, diff='{"a": 1}')
    assert read_of(_Entry, row, diff={"a": 1}) == _Entry(id=3, diff={"a": 1})


def test_read_of_refuses_a_field_the_row_does_not_have() -> None:
    with pytest.raises(AttributeError):
        read_of(_Read, SimpleNamespace(id=1, name="x", kind=UnitKind.other))


def test_snapshot_names_the_fields_in_order_with_enums_as_their_text() -> None:
    row = SimpleNamespace(code="A1", kind=UnitKind.rural_station, team=None, zone_id=4)
    snap = snapshot(row, ("kind", "code", "team", "zone_id"))
    assert list(snap) == ["kind", "code", "team", "zone_id"]
    assert snap == {"kind": "rural_station", "code": "A1", "team": None, "zone_id": 4}
    assert type(snap["kind"]) is str
    assert snapshot(SimpleNamespace(team=Team.case), ("team",)) == {"team": "case"}
