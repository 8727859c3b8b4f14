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


class Study:
    """Simulations of one scheme from one seed, drawn only as far as a test asks and kept, so
    that the tests of a module share them (the first n are the same whoever asks first)."""

    def __init__(self, scheme_text: str | None, seed: int) -> None:
        self.truth = scoring_truth(11)
        self.scheme = default_scheme() if scheme_text is None else parse_scheme(scheme_text)
        true_values = self.truth.values()
        # The simulation draws incidents only: the scorer leaves the other sources' indicators
        # out and rescales the weights, and so does the true score (score_values rescales).
        items = [it for it in self.scheme.items if it.weight > 0 and it.indicator in true_values]
        values = np.column_stack([true_values[it.indicator] for it in items])
        self.true_score = score_values(values, list(self.truth.groups), items)
        self.rng = np.random.default_rng(seed)
        self.hits: list[np.ndarray] = []  # per simulation: did each station's interval hold it

    def coverage(self, n_sims: int) -> tuple[float, np.ndarray]:
        """The share of the first ``n_sims`` simulations whose interval held the true score:
        over all stations, and per station."""
        while len(self.hits) < n_sims:
            s = len(self.hits)
            board = score_stations(
                simulate_records(self.truth, self.rng), self.scheme, draws=1000, seed=s
            )
            low = np.array([board.station(code).score_low for code in self.truth.stations])
            high = np.array([board.station(code).score_high for code in self.truth.stations])
            self.hits.append((low <= self.true_score) & (self.true_score <= high))
        per_station = np.mean(self.hits[:n_sims], axis=0)
        return float(per_station.mean()), per_station


@pytest.fixture(scope="module")
def three() -> Study:
    """The three-indicator scheme's simulations (seed 2), shared by the small and full study."""
    return Study(THREE, seed=2)


def test_score_intervals_cover_on_a_small_study(three: Study) -> None:
    overall, per_station = three.coverage(60)
    # 60 × 26 intervals: a gross miscalibration (a fixed-n bootstrap, say, which gives rates
    # no variance at all) would be far outside this band.
    assert 0.91 <= overall <= 0.98, overall
    assert per_station.min() >= 0.8


@pytest.mark.slow
def test_score_intervals_cover_at_nominal_rate_on_1000_simulations(three: Study) -> None:
    overall, per_station = three.coverage(1000)  # the small study's 60 and 940 more
    assert abs(overall - 0.95) <= 0.02, overall
    assert per_station.min() >= 0.92, per_station.min()


@pytest.mark.slow
def test_default_scheme_intervals_cover() -> None:
    overall, _ = Study(None, seed=3).coverage(200)
    assert abs(overall - 0.95) <= 0.02, overall
