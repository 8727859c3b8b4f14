"""Rates and proportions with honest intervals: Wilson, Garwood (exact Poisson) and rate ratios.

A station's clearance rate, its share of calls dispatched within 3 minutes or its incidents per
10,000 residents are estimates from small numbers; each comes here with its interval, so a small
station is never ranked on noise.

* **Proportions** — the Wilson (1927) score interval, with or without continuity correction,
  as methods 3 and 4 of Newcombe (1998), "Two-sided confidence intervals for the single
  proportion: comparison of seven methods", *Statistics in Medicine* 17:857-872. Unlike the
  textbook Wald interval it stays inside [0, 1] and covers close to its nominal rate for small
  ``n`` and proportions near 0 or 1 (a clearance rate of 84%, a dispatch share of 97%).
* **Counts and rates** — the exact (Garwood 1936, "Fiducial limits for the Poisson
  distribution", *Biometrika* 28:437-442) interval for a Poisson mean from chi-square quantiles:
  ``[chi2(a/2; 2k) / 2, chi2(1 - a/2; 2k + 2) / 2]``, scaled to a rate per ``per`` units of
  exposure (per 10,000 residents). It never covers less than its nominal rate.
* **Rate ratios** — two Poisson counts ``a`` and ``b`` with exposures ``ea`` and ``eb``: given
  ``a + b``, ``a`` is binomial with ``p = ea·r / (ea·r + eb)`` where ``r`` is the rate ratio, so
  the exact (Clopper-Pearson) interval for ``p`` maps to one for ``r`` (the conditional method
  of Przyborowski & Wilenski 1940, as in ``trends.change_test``).

Scalar functions return an ``Interval``; the ``*_bounds`` functions take arrays (vectorised).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
PER_10K = 10_000.0


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided confidence interval (``nan`` estimate: undefined)."""

    estimate: float
    low: float
    high: float
    confidence: float = 0.95

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the interval (ends included)."""
        return self.low <= value <= self.high


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def wilson_bounds(
    successes: ArrayLike,
    trials: ArrayLike,
    *,
    confidence: float = 0.95,
    continuity: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """Wilson score bounds for arrays of successes out of trials (``n = 0`` gives [0, 1])."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("successes must be between 0 and trials")
    z = _z(confidence)
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / np.where(n > 0, n, 1.0), 0.0)
        if not continuity:
            centre = (k + z2 / 2.0) / (n + z2)
            half = z * np.sqrt(n * p * (1.0 - p) + z2 / 4.0) / (n + z2)
            low, high = centre - half, centre + half
        else:
            # Newcombe (1998), method 4.
            nn = np.where(n > 0, n, 1.0)
            root_lo = np.sqrt(np.maximum(z2 - 2.0 - 1.0 / nn + 4.0 * p * (n * (1.0 - p) + 1.0), 0))
            root_hi = np.sqrt(np.maximum(z2 + 2.0 - 1.0 / nn + 4.0 * p * (n * (1.0 - p) - 1.0), 0))
            low = (2.0 * n * p + z2 - 1.0 - z * root_lo) / (2.0 * (n + z2))
            high = (2.0 * n * p + z2 + 1.0 + z * root_hi) / (2.0 * (n + z2))
    low = np.where(k == 0, 0.0, low)
    high = np.where(k == n, 1.0, high)
    low = np.where(n > 0, np.clip(low, 0.0, 1.0), 0.0)
    high = np.where(n > 0, np.clip(high, 0.0, 1.0), 1.0)
    return np.asarray(low, np.float64), np.asarray(high, np.float64)


def wilson_interval(
    successes: int, trials: int, *, confidence: float = 0.95, continuity: bool = False
) -> Interval:
    """Wilson score interval for a proportion (``nan`` estimate and [0, 1] when trials is 0)."""
    low, high = wilson_bounds(successes, trials, confidence=confidence, continuity=continuity)
    estimate = successes / trials if trials > 0 else math.nan
    return Interval(estimate, float(low), float(high), confidence)


def poisson_bounds(
    counts: ArrayLike,
    exposure: ArrayLike = 1.0,
    *,
    per: float = 1.0,
    confidence: float = 0.95,
) -> tuple[FloatArray, FloatArray]:
    """Exact (Garwood) bounds for Poisson rates ``count / exposure × per`` on arrays."""
    k = np.asarray(counts, dtype=np.float64)
    e = np.asarray(exposure, dtype=np.float64)
    if np.any(k < 0):
        raise ValueError("counts must be non-negative")
    if np.any(e <= 0):
        raise ValueError("exposure must be positive")
    alpha = 1.0 - confidence
    _z(confidence)
    low = np.where(k > 0, stats.chi2.ppf(alpha / 2.0, 2.0 * np.maximum(k, 1.0)) / 2.0, 0.0)
    high = stats.chi2.ppf(1.0 - alpha / 2.0, 2.0 * k + 2.0) / 2.0
    return np.asarray(low * per / e, np.float64), np.asarray(high * per / e, np.float64)


def poisson_interval(
    count: int, *, exposure: float = 1.0, per: float = 1.0, confidence: float = 0.95
) -> Interval:
    """Exact Garwood interval for a Poisson count or rate (``count / exposure × per``)."""
    low, high = poisson_bounds(count, exposure, per=per, confidence=confidence)
    return Interval(count / exposure * per, float(low), float(high), confidence)


def rate_per_10k(count: int, population: float, *, confidence: float = 0.95) -> Interval:
    """Events per 10,000 residents with the exact Garwood interval."""
    return poisson_interval(count, exposure=population, per=PER_10K, confidence=confidence)


def rate_ratio_bounds(
    count_a: ArrayLike,
    count_b: ArrayLike,
    exposure_a: ArrayLike = 1.0,
    exposure_b: ArrayLike = 1.0,
    *,
    confidence: float = 0.95,
) -> tuple[FloatArray, FloatArray]:
    """Exact conditional bounds for the ratio of two Poisson rates ``(a/ea) / (b/eb)``."""
    a = np.asarray(count_a, dtype=np.float64)
    b = np.asarray(count_b, dtype=np.float64)
    scale = np.asarray(exposure_b, dtype=np.float64) / np.asarray(exposure_a, dtype=np.float64)
    alpha = 1.0 - confidence
    _z(confidence)
    # Clopper-Pearson bounds for p = a / (a + b) from beta quantiles, then r = p / (1 - p).
    p_lo = np.where(a > 0, stats.beta.ppf(alpha / 2.0, np.maximum(a, 1.0), b + 1.0), 0.0)
    p_hi = np.where(b > 0, stats.beta.ppf(1.0 - alpha / 2.0, a + 1.0, np.maximum(b, 1.0)), 1.0)
    with np.errstate(divide="ignore"):
        low = p_lo / (1.0 - p_lo) * scale
        high = np.where(p_hi < 1.0, p_hi / (1.0 - p_hi) * scale, np.inf)
    return np.asarray(low, np.float64), np.asarray(high, np.float64)


def rate_ratio_interval(
    count_a: int,
    count_b: int,
    *,
    exposure_a: float = 1.0,
    exposure_b: float = 1.0,
    confidence: float = 0.95,
) -> Interval:
    """Exact conditional interval for the rate ratio ``(a/ea) / (b/eb)`` of two counts."""
    low, high = rate_ratio_bounds(count_a, count_b, exposure_a, exposure_b, confidence=confidence)
    if count_b > 0:
        estimate = (count_a / exposure_a) / (count_b / exposure_b)
    else:
        estimate = math.nan if count_a == 0 else math.inf
    return Interval(estimate, float(low), float(high), confidence)
