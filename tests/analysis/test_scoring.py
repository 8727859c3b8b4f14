"""Station scoring: hand-computed scores and ranks, exclusions, errors, ties, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from qingzhi.analysis.scheme import parse_scheme
from qingzhi.analysis.scoring import StationRecords, score_stations
from qingzhi.errors import ValidationFailed

SCHEME = """
name = "手算方案"
[indicators.prevention_rate]
weight = 0.5
normalise = "group"
[indicators.dispatch_3min]
weight = 0.5
normalise = "target"
target = 0.9
"""


def flags(n: int, k: int) -> np.ndarray:
    """n records of which the first k are flagged."""
    return np.arange(n) < k


def station(
    code: str, group: str, pop: float, n: int, prevention: int, fast: int
) -> StationRecords:
    """n valid incidents, all dispatched, ``fast`` of them within 3 minutes."""
    return StationRecords(
        code,
        group,
        pop,
        {
            "incidents": {
                "prevention": flags(n, prevention),
                "dispatched": np.ones(n, dtype=bool),
                "dispatched_3min": flags(n, fast)[::-1],  # independent of prevention
            }
        },
    )


def hand_stations() -> list[StationRecords]:
    return [
        station("A", "rural", 10_000, 40, 20, 36),  # 20 per 10k; 90% fast
        station("B", "rural", 20_000, 50, 60 - 10, 40),  # 25 per 10k; 80% fast
        station("C", "urban", 10_000, 20, 10, 19),  # 10 per 10k; 95% fast
    ]


def test_hand_computed_scores_and_ranks() -> None:
    board = score_stations(hand_stations(), parse_scheme(SCHEME), draws=400, seed=1)
    a, b, c = (board.station(x) for x in "ABC")
    # Rural mean rate (20 + 25) / 2 = 22.5; lower is better: n = 1 - (v - 22.5) / 22.5.
    # A: 1 + 2.5/22.5 = 1.1111; B: 1 - 2.5/22.5 = 0.8889; C alone in its group: 1.
    # Dispatch against 0.9: A 1.0, B 1 + (0.8 - 0.9)/0.9 = 0.8889, C 1 + 0.05/0.9 = 1.0556.
    # Scores: A 105.56, C 102.78, B 88.89.
    assert a.score == pytest.approx(100 * (0.5 * (1 + 2.5 / 22.5) + 0.5 * 1.0))
    assert b.score == pytest.approx(100 * (0.5 * (1 - 2.5 / 22.5) + 0.5 * (1 - 0.1 / 0.9)))
    assert c.score == pytest.approx(100 * (0.5 * 1.0 + 0.5 * (1 + 0.05 / 0.9)))
    assert [s.station for s in board.stations] == ["A", "C", "B"]
    assert (a.rank, c.rank, b.rank) == (1, 2, 3)
    ind = {i.indicator: i for i in a.indicators}
    rate = ind["prevention_rate"]
    assert (rate.value, rate.numerator, rate.denominator) == (20.0, 20, 10_000)
    # Garwood limits for 20 events (12.217, 30.888), per 10,000 of 10,000 residents.
    assert rate.low == pytest.approx(12.2165, abs=1e-3) and rate.high == pytest.approx(
        30.888, abs=1e-3
    )
    share = ind["dispatch_3min"]
    assert (share.value, share.numerator, share.denominator) == (0.9, 36, 40.0)
    assert share.normalised == pytest.approx(1.0)
    assert rate.weight == 0.5 and board.weights == {"dispatch_3min": 0.5, "prevention_rate": 0.5}
    for s in board.stations:
        assert s.score_low <= s.score <= s.score_high
        assert 1 <= s.rank_low <= s.rank_high <= 3


def test_small_stations_get_wide_intervals_and_tie() -> None:
    # Same true rates; one station 20 times larger. The small one's interval is much wider,
    # and the two are shown as tied rather than ranked on noise.
    big = station("BIG", "rural", 200_000, 2000, 400, 1800)
    small = station("SMALL", "rural", 10_000, 100, 20, 90)
    other = station("OTHER", "rural", 50_000, 500, 100, 450)
    on_target = parse_scheme(
        SCHEME.replace('normalise = "group"', 'normalise = "target"\ntarget = 20.0')
    )
    board = score_stations([big, small, other], on_target, draws=1000, seed=3)
    b, s = board.station("BIG"), board.station("SMALL")
    assert b.score == pytest.approx(100.0) and s.score == pytest.approx(100.0)
    # Poisson noise: 20 times the residents, about sqrt(20) = 4.5 times narrower.
    assert (s.score_high - s.score_low) > 3 * (b.score_high - b.score_low)
    assert "BIG" in s.tied_with and "SMALL" in b.tied_with
    assert s.rank_best == 1 and s.rank_worst == 3
    # Against the group's (unweighted) mean, the reference carries the small station's noise
    # too, so even the big station's interval widens: peers are compared as equals.
    grouped = score_stations([big, small, other], parse_scheme(SCHEME), draws=1000, seed=3)
    g = grouped.station("BIG")
    assert (g.score_high - g.score_low) > 1.5 * (b.score_high - b.score_low)


def test_a_clearly_worse_station_is_not_tied() -> None:
    good = [station(f"G{i}", "rural", 100_000, 3000, 300, 2900) for i in range(3)]
    bad = station("BAD", "rural", 100_000, 3000, 900, 2000)
    board = score_stations([*good, bad], parse_scheme(SCHEME), draws=500, seed=2)
    worst = board.station("BAD")
    assert worst.rank == 4 and worst.tied_with == () and worst.rank_best == worst.rank_worst == 4
    assert set(board.station("G0").tied_with) == {"G1", "G2"}


def test_missing_source_is_excluded_and_weights_rescaled() -> None:
    text = SCHEME.replace('weight = 0.5\nnormalise = "group"', 'weight = 0.25\nnormalise = "group"')
    text += '[indicators.prevention_change]\nweight = 0.25\nnormalise = "group"\n'
    board = score_stations(hand_stations(), parse_scheme(text), draws=50, seed=1)
    assert board.excluded == (("prevention_change", "本期没有上年同期警情记录，不计权重"),)
    assert board.weights == pytest.approx({"prevention_rate": 1 / 3, "dispatch_3min": 2 / 3})


def test_undefined_share_scores_on_the_reference() -> None:
    s = hand_stations()
    empty = StationRecords(
        "E",
        "urban",
        5_000,
        {
            "incidents": {
                k: np.zeros(0, bool) for k in ("prevention", "dispatched", "dispatched_3min")
            }
        },
    )
    board = score_stations([*s, empty], parse_scheme(SCHEME), draws=50, seed=1)
    e = {i.indicator: i for i in board.station("E").indicators}
    assert not e["dispatch_3min"].defined and e["dispatch_3min"].normalised == 1.0
    assert (e["dispatch_3min"].low, e["dispatch_3min"].high) == (0.0, 1.0)
    assert e["prevention_rate"].value == 0.0


@pytest.mark.parametrize(
    ("stations", "field"),
    [
        ([], "stations"),
        ([station("A", "r", 0, 10, 1, 1)], "stations.A.population"),
        ([station("A", "r", 10, 10, 1, 1), station("A", "r", 10, 10, 1, 1)], "stations"),
        (
            [
                StationRecords(
                    "A",
                    "r",
                    10,
                    {
                        "incidents": {
                            "prevention": flags(3, 1),
                            "dispatched": flags(2, 1),
                            "dispatched_3min": flags(2, 1),
                        }
                    },
                )
            ],
            "stations.A.records.incidents",
        ),
        ([StationRecords("A", "r", 10, {"cases": {"cleared": flags(3, 1)}})], "period"),
        ([station("A", "r", 10, 0, 0, 0)], "period"),
    ],
)
def test_bad_input_names_the_field(stations, field) -> None:
    with pytest.raises(ValidationFailed) as err:
        score_stations(stations, parse_scheme(SCHEME), draws=10)
    assert err.value.details[0]["field"] == field


def test_scheme_version_change_leaves_old_scores_reproducible() -> None:
    data = hand_stations()
    v1 = parse_scheme(SCHEME)
    first = score_stations(data, v1)
    v2 = parse_scheme(SCHEME.replace("target = 0.9", "target = 0.95"))
    second = score_stations(data, v2)
    assert v2.version != v1.version and second.scheme_version == v2.version
    assert second.station("A").score != first.station("A").score
    again = score_stations(data, parse_scheme(SCHEME))  # the stored v1 text, parsed anew
    assert again == first  # same version, same seed (from the digest): identical, intervals too
    assert first.seed != second.seed


def test_bounds_on_draws_and_confidence() -> None:
    for kwargs, field in (
        ({"draws": 0}, "draws"),
        ({"draws": 10**6}, "draws"),
        ({"confidence": 1.0}, "confidence"),
    ):
        with pytest.raises(ValidationFailed) as err:
            score_stations(hand_stations(), parse_scheme(SCHEME), **kwargs)
        assert err.value.details[0]["field"] == field
