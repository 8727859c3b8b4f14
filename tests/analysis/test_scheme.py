"""Scoring schemes: TOML validation naming the field, defaults, content versioning."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qingzhi.analysis.indicators import FAMILY_NAMES, INDICATOR_BY_ID, INDICATORS, indicator
from qingzhi.analysis.scheme import DEFAULT_SCHEME_TOML, default_scheme, parse_scheme
from qingzhi.errors import ValidationFailed

SMALL = """
name = "测试方案"
[indicators.prevention_rate]
weight = 0.6
normalise = "group"
[indicators.dispatch_3min]
weight = 0.4
normalise = "target"
target = 0.9
"""


def fields(text: str) -> list[str]:
    with pytest.raises(ValidationFailed) as err:
        parse_scheme(text)
    assert err.value.status == 422
    return [d["field"] for d in err.value.details]


def test_catalogue_states_definitions_directions_and_availability() -> None:
    ids = [i.id for i in INDICATORS]
    assert len(ids) == len(set(ids))
    for ind in INDICATORS:
        assert ind.name and ind.definition and ind.data_note
        assert ind.direction in ("higher", "lower") and ind.family in FAMILY_NAMES
    # Prevention is judged on fewer calls, not on more cases; pending data says why.
    assert indicator("prevention_rate").direction == "lower"
    assert indicator("operation_effect").available  # special operations are stored now
    assert indicator("operation_effect").direction == "higher"
    assert indicator("clearance").available  # the cases domain holds its data
    families = {i.family for i in INDICATORS}
    assert families == {"prevention", "service", "case", "follow_up"}


def test_default_scheme_weighs_prevention_most_and_pending_take_no_weight() -> None:
    s = default_scheme()
    by_family: dict[str, float] = {}
    for it in s.items:
        fam = indicator(it.indicator).family
        by_family[fam] = by_family.get(fam, 0.0) + it.weight
        if not indicator(it.indicator).available:
            assert it.weight == 0.0, it.indicator
    assert by_family["prevention"] == pytest.approx(0.6)
    assert by_family["prevention"] == max(by_family.values())
    assert {it.indicator for it in s.items} == {i.id for i in INDICATORS}
    assert s.item("prevention_rate").direction == "lower"  # the catalogue's default


def test_parse_small_scheme() -> None:
    s = parse_scheme(SMALL)
    assert s.name == "测试方案"
    assert [it.indicator for it in s.items] == ["dispatch_3min", "prevention_rate"]
    assert s.item("dispatch_3min").target == 0.9
    assert s.item("prevention_rate").target is None
    assert len(s.version) == 12 and s.digest.startswith(s.version)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("prevention_rate]", "prevention_ratee]"), "indicators.prevention_ratee"),
        (("weight = 0.6", "weight = -0.6"), "indicators.prevention_rate.weight"),
        (("weight = 0.6", 'weight = "0.6"'), "indicators.prevention_rate.weight"),
        (("weight = 0.6", "weight = 0.5"), "indicators"),
        (('normalise = "group"', 'normalise = "zscore"'), "indicators.prevention_rate.normalise"),
        (("target = 0.9", "target = 0"), "indicators.dispatch_3min.target"),
        (("target = 0.9", ""), "indicators.dispatch_3min.target"),
        (
            ('normalise = "group"', 'normalise = "group"\ntarget = 3'),
            "indicators.prevention_rate.target",
        ),
        (
            ('normalise = "group"', 'normalise = "group"\ndirection = "up"'),
            "indicators.prevention_rate.direction",
        ),
        (
            ('normalise = "group"', 'normalise = "group"\nwieght = 1'),
            "indicators.prevention_rate.wieght",
        ),
        (('name = "测试方案"', 'name = ""'), "name"),
        (('name = "测试方案"', 'name = "x"\nversion = 2'), "version"),
        (("weight = 0.6", "weight = 0.6 ="), "scheme"),
    ],
)
def test_bad_schemes_name_the_field(change, field) -> None:
    old, new = change
    assert field in fields(SMALL.replace(old, new, 1))


def test_weights_sum_to_one_within_1e9_and_pending_indicators_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No indicator of the catalogue lacks data today: make one pending to see it refused.
    pending_one = replace(indicator("operation_effect"), available=False, data_note="暂无数据")
    monkeypatch.setitem(INDICATOR_BY_ID, "operation_effect", pending_one)
    ok = SMALL.replace("weight = 0.4", "weight = 0.4000000000001")
    assert parse_scheme(ok).item("dispatch_3min").weight == 0.4000000000001
    assert fields(SMALL.replace("weight = 0.4", "weight = 0.40000001")) == ["indicators"]
    pending = SMALL + '[indicators.operation_effect]\nweight = 0.1\nnormalise = "group"\n'
    pending = pending.replace("weight = 0.6", "weight = 0.5")
    assert fields(pending) == ["indicators.operation_effect.weight"]
    # Every error at once: the service can show them all.
    many = SMALL.replace("weight = 0.6", "weight = -1").replace("target = 0.9", "target = -2")
    assert set(fields(many)) == {
        "indicators.dispatch_3min.target",
        "indicators.prevention_rate.weight",
    }


def test_version_follows_content_not_layout() -> None:
    base = parse_scheme(SMALL)
    relaid = "# 注释\n" + SMALL.replace(
        "[indicators.dispatch_3min]", "\n\n[indicators.dispatch_3min]"
    )
    assert parse_scheme(relaid).digest == base.digest
    # Order of the tables does not matter either.
    a, b = SMALL.split("[indicators.dispatch_3min]")
    swapped = (
        'name = "测试方案"\n[indicators.dispatch_3min]' + b + a.replace('name = "测试方案"', "")
    )
    assert parse_scheme(swapped).digest == base.digest
    for old, new in [
        ("weight = 0.6", "weight = 0.7"),
        ("target = 0.9", "target = 0.95"),
        ('normalise = "group"', 'normalise = "group"\ndirection = "higher"'),
    ]:
        changed = SMALL.replace(old, new)
        if "0.7" in new:
            changed = changed.replace("weight = 0.4", "weight = 0.3")
        assert parse_scheme(changed).version != base.version
    assert parse_scheme(DEFAULT_SCHEME_TOML).version == default_scheme().version
