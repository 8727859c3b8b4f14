"""Synthetic control per treated station (合成控制), a robustness check for the DiD.

Abadie, Diamond & Hainmueller (2010), "Synthetic control methods for comparative case studies",
*JASA* 105:493-505. For one treated station, the synthetic station is the convex combination of
control stations (weights ≥ 0 summing to 1, by constrained least squares with scipy's SLSQP)
whose monthly rates per 10,000 residents best match the treated station's before the reform;
the effect is the ratio of the treated station's post-reform rate to its synthetic's. Pooling
the 17 bundled stations into one unit would be meaningless (they differ in size and level), so
each treated station gets its own synthetic control.

Inference is by placebo in space: every control station in turn is treated as if reformed and
matched from the other controls; a treated station's p-value is the share of
{itself, placebos} whose post/pre RMSPE ratio is at least its own. With ``m`` controls the
smallest possible p-value is 1/(m + 1), so fewer than ``MIN_DONORS`` controls is refused.
A treated station outside the controls' range (its pre-reform level above all of them) cannot
be matched by any convex combination; ``in_hull`` says so and its estimate should be ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from qingzhi.analysis.rates import PER_10K
from qingzhi.errors import ValidationFailed

if TYPE_CHECKING:
    from qingzhi.analysis.panel import Panel

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
MIN_DONORS = 5
MIN_PRE_MONTHS = 3


@dataclass(frozen=True)
class SynthUnit:
    """One treated station against its synthetic control."""

    station: str
    weights: FloatArray  # one per donor (``SynthResult.donors``)
    pre_rmspe: float  # root mean squared prediction error before the reform (rate per 10,000)
    post_rmspe: float
    rmspe_ratio: float  # post / pre: the placebo test's statistic
    rate_ratio: float  # post-reform actual rate / synthetic rate
    p_value: float  # placebo in space
    in_hull: bool  # its mean pre-reform rate lies within the donors' range
    actual: FloatArray  # monthly rates (for the chart)
    synthetic: FloatArray


@dataclass(frozen=True)
class SynthResult:
    """Synthetic controls of all treated stations, with the placebo distribution."""

    donors: tuple[str, ...]
    units: tuple[SynthUnit, ...]
    placebo_ratios: FloatArray  # each donor's post/pre RMSPE ratio as a placebo
    median_rate_ratio: float  # over treated stations inside the hull
    min_p: float  # 1 / (donors + 1): the smallest p-value possible

    def unit(self, station: str) -> SynthUnit:
        """The result for one treated station (KeyError when absent)."""
        for u in self.units:
            if u.station == station:
                return u
        raise KeyError(station)


def weights(target: FloatArray, donors: FloatArray) -> FloatArray:
    """Convex weights (≥ 0, sum 1) minimising ‖target − donors·w‖²; donors is (months, k)."""
    k = donors.shape[1]
    scale = float(np.mean(target**2)) or 1.0

    def loss(w: FloatArray) -> float:
        r = target - donors @ w
        return float(r @ r) / scale

    def grad(w: FloatArray) -> FloatArray:
        return np.asarray(-2.0 * donors.T @ (target - donors @ w) / scale, dtype=np.float64)

    res = optimize.minimize(
        loss,
        np.full(k, 1.0 / k),
        jac=grad,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * k,
        constraints=[{"type": "eq", "fun": lambda w: np.sum(w) - 1.0, "jac": lambda w: np.ones(k)}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    w = np.clip(np.asarray(res.x, dtype=np.float64), 0.0, None)
    return np.asarray(w / w.sum(), dtype=np.float64)


def _fit(y: FloatArray, pool: FloatArray, t0: int) -> tuple[FloatArray, FloatArray, float, float]:
    w = weights(y[:t0], pool[:t0])
    synth = pool @ w
    pre = float(np.sqrt(np.mean((y[:t0] - synth[:t0]) ** 2)))
    post = float(np.sqrt(np.mean((y[t0:] - synth[t0:]) ** 2)))
    return w, synth, pre, post


def synthetic_control(panel: Panel, *, min_donors: int = MIN_DONORS) -> SynthResult:
    """Synthetic control on rates for each treated station, with placebo-in-space p-values."""
    donors_idx = np.flatnonzero(~panel.treated)
    if len(donors_idx) < min_donors:
        raise ValidationFailed.field(
            "method",
            f"合成控制至少需要 {min_donors} 个对照派出所，当前只有 {len(donors_idx)} 个",
        )
    t0 = panel.reform_index
    if t0 < MIN_PRE_MONTHS:
        raise ValidationFailed.field(
            "reform_month", f"合成控制需要改革前至少 {MIN_PRE_MONTHS} 个月的数据"
        )
    rates = panel.values if panel.exposure is None else panel.values / panel.exposure * PER_10K
    pool = rates[donors_idx].T  # (months, donors)
    placebo = np.empty(len(donors_idx))
    for j in range(len(donors_idx)):
        others = np.delete(pool, j, axis=1)
        _, _, pre, post = _fit(pool[:, j], others, t0)
        placebo[j] = post / pre if pre > 0 else np.inf
    lo, hi = pool[:t0].mean(axis=0).min(), pool[:t0].mean(axis=0).max()
    units = []
    for i in np.flatnonzero(panel.treated):
        y = rates[i]
        w, synth, pre, post = _fit(y, pool, t0)
        ratio = post / pre if pre > 0 else np.inf
        p = (1 + int(np.sum(placebo >= ratio))) / (1 + len(placebo))
        s_post = float(synth[t0:].sum())
        rr = float(y[t0:].sum() / s_post) if s_post > 0 else np.nan
        level = float(y[:t0].mean())
        units.append(
            SynthUnit(
                panel.stations[i], w, pre, post, ratio, rr, p, bool(lo <= level <= hi), y, synth
            )
        )
    inside = [u.rate_ratio for u in units if u.in_hull and np.isfinite(u.rate_ratio)]
    median = float(np.median(inside)) if inside else np.nan
    log.info("synthetic control: %d treated, %d donors", len(units), len(donors_idx))
    return SynthResult(
        tuple(panel.stations[i] for i in donors_idx),
        tuple(units),
        placebo,
        median,
        1.0 / (len(donors_idx) + 1),
    )
