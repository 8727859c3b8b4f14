"""Regression on the Vancouver police records: the protocol reproduces the reference figures.

The naive-count and hindsight hit rates at 1/5/10% were checked against a widely used open-source
implementation of the same protocol; each method's PAI is pinned so that a change shows.
"""

from __future__ import annotations

import numpy as np
import pytest

from qingzhi.analysis.evaluation import Period, evaluate, evaluate_hindsight
from qingzhi.analysis.events import EventTable
from qingzhi.analysis.forecast import series_on_grid
from qingzhi.analysis.grid import grid_for
from qingzhi.analysis.methods import make_forecaster, prepare
from qingzhi.analysis.prediction import NaiveCounts

# the real-data regression: loads and fits years of Vancouver records
pytestmark = pytest.mark.slow

SERIES = {
    "all": None,
    "bne": "Break and Enter Residential/Other",
    "tfv": "Theft from Vehicle",
    "mischief": "Mischief",
}
# (events in period, naive 1/5/10%, hindsight 1/5/10%)
REFERENCE = {
    "all": (6985, (0.307, 0.559, 0.659), (0.318, 0.585, 0.715)),
    "bne": (189, (0.127, 0.222, 0.296), (0.270, 0.836, 1.000)),
    "tfv": (1455, (0.253, 0.452, 0.530), (0.292, 0.571, 0.722)),
    "mischief": (1333, (0.262, 0.482, 0.606), (0.284, 0.598, 0.770)),
}


@pytest.mark.parametrize("key", list(SERIES))
def test_naive_and_hindsight_match_reference(vancouver: EventTable, key: str) -> None:
    cat = SERIES[key]
    ev = vancouver if cat is None else vancouver.of_categories([cat])
    s = series_on_grid(ev, grid_for(ev.x, ev.y, 150.0))
    period = Period.of("2024-01-01", 91)
    cov = (1.0, 5.0, 10.0)
    n, naive_ref, hind_ref = REFERENCE[key]
    naive = evaluate(s, NaiveCounts(365), period, cov)
    hind = evaluate_hindsight(s, period, cov)
    assert int(naive.totals.sum()) == n
    assert np.round(naive.hit_rate, 3).tolist() == list(naive_ref)
    assert np.round(hind.hit_rate, 3).tolist() == list(hind_ref)


# Events hit at 1% and 5% coverage on Theft from Vehicle (1,455 events), 2024-01-01 + 91 days,
# with the settings the bench's rolling-origin tuning chose on 2023-Q2..Q4 for this series
# (bench/hotspot_eval.py); the ensembles are fitted on the 365 days before the period. One event
# is 0.069 PAI at 1% and 0.014 at 5%.
PINNED_HITS = {
    "naive": ({"window": 730.0}, (370, 676)),
    "kde": ({"bandwidth": 50.0, "tau": 365.0, "window": 0.0}, (369, 675)),
    "prospective": ({"bandwidth": 150.0, "window": 365.0}, (353, 642)),
    "sepp": ({"bg_bandwidth": 75.0}, (365, 655)),
    "ensemble": ({}, (387, 688)),
    "mixture": ({}, (392, 678)),
}
# The learned methods (ensemble, mixture) fit with L-BFGS-B, which stops at its tolerance in a
# flat valley, so the last bits of the BLAS products move their ranking by a few events: their
# fits run on one BLAS thread (``ensemble.FIT_BLAS_THREADS``), which made them exact whatever the
# threads, load or test workers on the machine that pinned them (Intel, OpenBLAS's Haswell
# kernels), but the same Haswell kernels on an AMD EPYC gave 388/686 for the ensemble's 387/688,
# and AVX-512 kernels moved it by 3 (1 against 2 BLAS threads, before the fits were pinned: 387
# against 390 at 1%). So the learned methods are held to LEARNED_EVENTS; beyond that is a change
# of the method. The other methods are exact everywhere.
LEARNED_EVENTS = 3


@pytest.mark.parametrize("method", list(PINNED_HITS))
def test_method_hits_pinned(vancouver: EventTable, method: str) -> None:
    ev = vancouver.of_categories(["Theft from Vehicle"])
    s = series_on_grid(ev, grid_for(ev.x, ev.y, 150.0), context=vancouver)
    period = Period.of("2024-01-01", 91)
    params, expected = PINNED_HITS[method]
    forecaster = make_forecaster(method, 365.0, params)
    prepare(forecaster, s, period.start)
    result = evaluate(s, forecaster, period, (1.0, 5.0))
    hits = tuple(int(h) for h in result.hits.sum(axis=0))
    learned = method in ("ensemble", "mixture")
    tolerance = LEARNED_EVENTS if learned else 0
    assert int(result.totals.sum()) == 1455
    assert all(abs(h - e) <= tolerance for h, e in zip(hits, expected, strict=True)), hits
