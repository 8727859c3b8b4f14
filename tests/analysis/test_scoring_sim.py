"""Simulation study: the score intervals cover the true score at their nominal rate.

The truth is a demo-shaped county (``qingzhi.analysis.kpi_sim.scoring_truth``: 26 stations,
a quarter's ~15,000 valid calls); each simulation draws every station's records afresh, scores
them with 1,000 Poisson-bootstrap draws and checks whether each station's 95% interval holds the
score computed from the true rates (group references included).
"""

from __future__ import annotations

import numpy as np
import pytest

from qingzhi.analysis.kpi_sim import scoring_truth, simulate_records
from qingzhi.analysis.scheme import default_scheme, parse_scheme
from qingzhi.analysis.scoring import score_stations, score_values

# Rate (group), year-on-year ratio (group) and a share (target): every measure and both
# normalisations, with few record patterns so 1,000 simulations take seconds, not minutes.
THREE = """
name = "覆盖率检验"
[indicators.prevention_rate]
weight = 0.5
normalise = "group"
[indicators.prevention_change]
weight = 0.2
normalise = "group"
[indicators.dispatch_3min]
weight = 0.3
normalise = "target"
target = 0.95
"""


def coverage(scheme_text: str | None, n_sims: int, seed: int) -> tuple[float, np.ndarray]:
    truth = scoring_truth(11)
    scheme = default_scheme() if scheme_text is None else parse_scheme(scheme_text)
    items = [it for it in scheme.items if it.weight > 0]
    true_values = truth.values()
    values = np.column_stack([true_values[it.indicator] for it in items])
    true_score = score_values(values, list(truth.groups), items)
    rng = np.random.default_rng(seed)
    hits = np.zeros(len(truth.stations))
    for s in range(n_sims):
        board = score_stations(simulate_records(truth, rng), scheme, draws=1000, seed=s)
        for i, code in enumerate(truth.stations):
            st = board.station(code)
            hits[i] += st.score_low <= true_score[i] <= st.score_high
    per_station = hits / n_sims
    return float(per_station.mean()), per_station


def test_score_intervals_cover_on_a_small_study() -> None:
    overall, per_station = coverage(THREE, 60, seed=1)
    # 60 × 26 intervals: a gross miscalibration (a fixed-n bootstrap, say, which gives rates
    # no variance at all) would be far outside this band.
    assert 0.91 <= overall <= 0.98, overall
    assert per_station.min() >= 0.8


@pytest.mark.slow
def test_score_intervals_cover_at_nominal_rate_on_1000_simulations() -> None:
    overall, per_station = coverage(THREE, 1000, seed=2)
    assert abs(overall - 0.95) <= 0.02, overall
    assert per_station.min() >= 0.92, per_station.min()


@pytest.mark.slow
def test_default_scheme_intervals_cover() -> None:
    overall, _ = coverage(None, 200, seed=3)
    assert abs(overall - 0.95) <= 0.02, overall
