"""What became of the demo's criminal cases and disputes (快侦快办, 矛盾纠纷调解).

Criminal incidents carry clearance (about 84%: the seed's traditional theft figure; lower for
fraud, higher for assault and robbery, scaled so the mix gives 84%) and fast clearance (91.2% of
cleared cases cleared within ``FAST_CLEAR_HOURS``). Disputes carry mediation (about 88% mediated,
median about 30 minutes: seed "disputes … now settled in about 30 minutes") and its outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qingzhi.demo.draws import FloatArray, pick

log = logging.getLogger(__name__)

CLEARANCE_RATE = 0.84
FAST_CLEARANCE_RATE = 0.912  # share of cleared cases cleared within FAST_CLEAR_HOURS
FAST_CLEAR_HOURS = 72.0
CLEARANCE_BY_SUBTYPE = {"telecom_fraud": 0.55, "fraud": 0.7, "assault": 0.95, "robbery": 0.95}
MEDIATION_RATE = 0.88
MEDIATION_MEDIAN_MIN = 30.0
MEDIATION_OUTCOMES = (("settled", 0.90), ("partial", 0.06), ("unresolved", 0.04))


@dataclass(frozen=True)
class Mediation:
    """Which disputes were mediated, and how long mediation took (minutes, every row drawn)."""

    mediated: NDArray[np.bool_]
    minutes: FloatArray


@dataclass(frozen=True)
class Clearance:
    """Which crimes were cleared, which fast, and when (seconds from the window's start)."""

    cleared: NDArray[np.bool_]
    fast: NDArray[np.bool_]
    at: FloatArray


def draw_mediation(
    rng: np.random.Generator, is_dispute: NDArray[np.bool_], *, median_min: float | None = None
) -> Mediation:
    """Mediation of the disputes among the calls (``is_dispute``), ``median_min`` minutes in
    the median (default ``MEDIATION_MEDIAN_MIN``)."""
    n = len(is_dispute)
    mediated = is_dispute & (rng.random(n) < MEDIATION_RATE)
    median = MEDIATION_MEDIAN_MIN if median_min is None else median_min
    return Mediation(mediated, median * rng.lognormal(0.0, 0.45, n))


def draw_clearance(
    rng: np.random.Generator, t: FloatArray, sub: NDArray[Any], is_crime: NDArray[np.bool_]
) -> Clearance:
    """Clearance of the crimes among calls received at ``t`` with subtypes ``sub``."""
    n = len(t)
    p_clear = np.array([CLEARANCE_BY_SUBTYPE.get(s, 1.0) if s else 1.0 for s in sub])
    mix = p_clear[is_crime].mean() if is_crime.any() else 1.0
    p_clear = np.clip(p_clear * CLEARANCE_RATE / mix, 0.0, 0.99)
    cleared = is_crime & (rng.random(n) < p_clear)
    fast = cleared & (rng.random(n) < FAST_CLEARANCE_RATE)
    fast_h = rng.uniform(2.0, FAST_CLEAR_HOURS, n)
    slow_h = FAST_CLEAR_HOURS + rng.lognormal(np.log(24.0 * 12), 0.8, n)
    return Clearance(cleared, fast, t + np.round(np.where(fast, fast_h, slow_h) * 3600.0))


def draw_mediation_outcomes(rng: np.random.Generator, n: int) -> NDArray[Any]:
    """The outcome a mediation would have, for each of ``n`` calls."""
    outcomes = [o for o, _ in MEDIATION_OUTCOMES]
    return np.array(outcomes, dtype=object)[pick(rng, [p for _, p in MEDIATION_OUTCOMES], n)]
