"""Rates: Wilson and Garwood intervals against published tables, and their coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from qingzhi.analysis.rates import (
    poisson_bounds,
    poisson_interval,
    rate_per_10k,
    rate_ratio_interval,
    wilson_bounds,
    wilson_interval,
)

# Newcombe (1998), Statistics in Medicine 17:857-872, Table I: methods 3 (Wilson score) and
# 4 (score with continuity correction), four decimals.
NEWCOMBE = [
    ((81, 263), (0.2553, 0.3662), (0.2535, 0.3682)),
    ((15, 148), (0.0624, 0.1605), (0.0598, 0.1644)),
    ((0, 20), (0.0000, 0.1611), (0.0000, 0.2005)),
    ((1, 29), (0.0061, 0.1718), (0.0018, 0.1963)),
]

# Exact 95% limits for a Poisson mean (Garwood 1936; the table reproduced by Ulm 1990).
GARWOOD = {
    0: (0.0, 3.689),
    1: (0.0253, 5.572),
    2: (0.2422, 7.225),
    3: (0.6187, 8.767),
    5: (1.6235, 11.668),
    10: (4.7954, 18.390),
    20: (12.217, 30.888),
}


@pytest.mark.parametrize(("kn", "score", "corrected"), NEWCOMBE)
def test_wilson_matches_newcombe_table(kn, score, corrected) -> None:
    k, n = kn
    r = wilson_interval(k, n)
    assert (round(r.low, 4), round(r.high, 4)) == score
    assert math.isclose(r.estimate, k / n)
    c = wilson_interval(k, n, continuity=True)
    assert (round(c.low, 4), round(c.high, 4)) == corrected


def test_wilson_by_hand_and_edges() -> None:
    # 8 of 10 at 95%: z = 1.95996, centre (8 + z²/2) / (10 + z²), half-width
    # z·sqrt(10·0.8·0.2 + z²/4) / (10 + z²) -> 0.4902 .. 0.9433.
    r = wilson_interval(8, 10)
    assert (round(r.low, 4), round(r.high, 4)) == (0.4902, 0.9433)
    assert wilson_interval(29, 29).high == 1.0
    assert wilson_interval(0, 29).low == 0.0
    empty = wilson_interval(0, 0)
    assert math.isnan(empty.estimate) and (empty.low, empty.high) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)
    low, _ = wilson_bounds(np.array([81, 15]), np.array([263, 148]))
    assert np.allclose(low, [0.25529, 0.06239], atol=1e-5)


@pytest.mark.parametrize(("k", "limits"), sorted(GARWOOD.items()))
def test_garwood_matches_published_limits(k, limits) -> None:
    r = poisson_interval(k)
    digits = 4 if limits[0] < 10 else 3
    assert round(r.low, digits) == pytest.approx(limits[0], abs=1.5 * 10**-digits)
    assert r.high == pytest.approx(limits[1], abs=1.5e-3)


def test_rate_per_10k_scales_the_exact_limits() -> None:
    # 5 incidents among 25,000 residents: 2.0 per 10,000, limits 0.4 × (1.6235, 11.668).
    r = rate_per_10k(5, 25_000)
    assert r.estimate == 2.0
    assert r.low == pytest.approx(0.4 * 1.62349, abs=1e-4)
    assert r.high == pytest.approx(0.4 * 11.66833, abs=1e-4)
    # A big station with the same rate has a much narrower interval: small stations are not
    # ranked on noise.
    big = rate_per_10k(50, 250_000)
    assert big.estimate == 2.0 and big.high - big.low < (r.high - r.low) / 2.5


def test_rate_ratio_exact_conditional() -> None:
    # 10 against 20 with equal exposure: Clopper-Pearson for 10/30 is [0.17287, 0.52812],
    # so r = p / (1 - p) in [0.2090, 1.1192].
    r = rate_ratio_interval(10, 20)
    assert r.estimate == 0.5
    assert (round(r.low, 4), round(r.high, 4)) == (0.2090, 1.1192)
    # Exposure scales the ratio: the same counts over half the exposure for a.
    h = rate_ratio_interval(10, 20, exposure_a=0.5)
    assert h.estimate == 1.0 and h.low == pytest.approx(2 * r.low)
    assert rate_ratio_interval(3, 0).high == math.inf
    assert rate_ratio_interval(0, 4).low == 0.0


def test_intervals_cover_at_least_nominal_in_simulation() -> None:
    rng = np.random.default_rng(7)
    # Garwood is exact: never below 95% coverage, for small and large means.
    for mean in (2.0, 9.0, 60.0):
        k = rng.poisson(mean, 20_000)
        low, high = poisson_bounds(k)
        cover = np.mean((low <= mean) & (mean <= high))
        assert cover >= 0.945, (mean, cover)
    # Wilson covers close to 95% on average over p (Newcombe: mean coverage 0.952).
    p = rng.uniform(0.05, 0.95, 20_000)
    n = rng.integers(20, 200, 20_000)
    k = rng.binomial(n, p)
    low, high = wilson_bounds(k, n)
    cover = np.mean((low <= p) & (p <= high))
    assert 0.94 <= cover <= 0.96, cover
    # The naive Wald interval, for comparison, undercovers at small n.
    n_small = np.full(20_000, 15)
    k_small = rng.binomial(n_small, 0.9)
    ph = k_small / n_small
    wald_half = stats.norm.ppf(0.975) * np.sqrt(ph * (1 - ph) / n_small)
    wald = np.mean(np.abs(ph - 0.9) <= wald_half)
    low, high = wilson_bounds(k_small, n_small)
    wilson = np.mean((low <= 0.9) & (high >= 0.9))
    assert wald < 0.9 < wilson
