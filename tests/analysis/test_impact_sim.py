"""Simulation study of the reform impact estimators on demo-shaped panels.

Panels (``qingzhi.analysis.kpi_sim.simulate_panel``): 26 stations × 24 months, 17 treated from
month 13, a county-wide fall of 11.4% a year, overdispersion and correlated station shocks, a
known injected rate ratio. The naive year-on-year figure credits the county's fall to the
reform; the DiD does not. With 26 clusters of very unequal size (two large urban controls) the
usual CR1 interval undercovers; the jackknife CV3 interval is the one reported.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from qingzhi.analysis.impact import did, naive_yoy, placebo_in_time
from qingzhi.analysis.kpi_sim import TREND, simulate_panel


def test_naive_yoy_overstates_the_effect_and_did_recovers_it() -> None:
    naive, ratios = [], []
    for seed in range(20):
        p = simulate_panel(100 + seed, rate_ratio=0.5)
        naive.append(naive_yoy(p, "treated").change)
        ratios.append(did(p, draws=99).rate_ratio)
    # The seed's figure: 0.5 × 0.886 - 1 = -55.7% for a true -50%.
    assert np.mean(naive) == pytest.approx(0.5 * TREND - 1, abs=0.01)
    assert np.mean(naive) < -0.54
    assert np.exp(np.mean(np.log(ratios))) == pytest.approx(0.5, abs=0.01)


def test_pinned_panels_with_and_without_an_effect() -> None:
    # One panel, with and without the injected effect (same noise). A single panel's interval
    # misses the truth about 5% of the time (seed 2026 does: 0.570 [0.517, 0.627]); the study
    # below measures how often.
    with_effect = simulate_panel(2028, rate_ratio=0.5)
    d = did(with_effect)
    assert d.low <= 0.5 <= d.high and d.high < 0.6 and d.p_boot < 0.01
    assert naive_yoy(with_effect, "treated").change < -0.53
    pl = placebo_in_time(with_effect)
    assert pl.low <= 1.0 <= pl.high and pl.p_value > 0.05
    none = simulate_panel(2028, rate_ratio=1.0)
    n = did(none)
    assert n.low <= 1.0 <= n.high and n.p_value > 0.05 and n.p_boot > 0.05
    # Without a control group the county's fall would look like an effect.
    assert naive_yoy(none, "treated").change < -0.08


def study(rate_ratio: float, n: int, base: int) -> dict[str, float]:
    q = stats.t.ppf(0.975, 25)
    cv3 = cr1 = rejected = placebo = 0
    for s in range(n):
        p = simulate_panel(base + s, rate_ratio=rate_ratio)
        d = did(p, draws=199)
        cv3 += d.low <= rate_ratio <= d.high
        cr1 += abs(d.log_coef - np.log(rate_ratio)) <= q * d.se_cr1
        rejected += d.p_value < 0.05
        placebo += placebo_in_time(p, draws=199).p_value < 0.05
    return {"cv3": cv3 / n, "cr1": cr1 / n, "rejected": rejected / n, "placebo": placebo / n}


@pytest.mark.slow
@pytest.mark.parametrize("rate_ratio", [0.5, 1.0])
def test_did_interval_covers_and_placebo_is_quiet(rate_ratio) -> None:
    r = study(rate_ratio, 200, base=int(rate_ratio * 10_000))
    assert r["cv3"] >= 0.92, r  # nominal 95%; the issue asks for at least 90%
    assert r["cr1"] <= r["cv3"], r  # CR1 is the narrower, undercovering one
    assert r["placebo"] <= 0.10, r  # nominal 5%; measured 6-9% on these panels
    if rate_ratio == 1.0:
        assert r["rejected"] <= 0.08, r
    else:
        assert r["rejected"] == 1.0, r
