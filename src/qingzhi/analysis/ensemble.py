"""A learned multi-scale, multi-window forecaster: this project's own hotspot method.

The published comparisons (Daws; Rosser, Davies, Bowers, Johnson & Cheng 2017) find that no
single surface wins everywhere: recent counts carry the dynamics (near-repeats, a new problem
place), long windows carry the stable structure, and smoothing helps sparse series but blurs dense
ones. Rather than choose, this method learns how to mix them.

For day D each cell gets candidate rates ``f / mean f`` (each surface scaled to mean one over the
cells active so far) of:

* the series' counts in trailing windows (7 days to all history) at several spatial scales (the
  cell itself and Gaussian smoothing of 150 and 300 m),
* counts on the same weekday, and exponentially time-decayed counts (30 and 180 days), and
* optionally the same counts for a context series (for example all located crime when
  forecasting one crime type: a sparse type tends to occur where other crime is).

The forecast is a non-negative mixture ``lambda = sum_k w_k f_k``: an inhomogeneous Poisson model
whose weights maximise the Poisson likelihood of the cell-day counts on training days just before
the evaluation period (L-BFGS-B with w >= 0), each day's features built only from the history
before it. This is the stacking of density estimates of Smyth & Wolpert (1999) applied to crime
surfaces; weights are learned once and frozen, like the other methods' settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, optimize
from threadpoolctl import threadpool_limits

from qingzhi.analysis.forecast import FloatArray, Forecaster, SeriesData

log = logging.getLogger(__name__)

# The fits stop at L-BFGS-B's default tolerance, in a flat valley of nearly collinear columns, so
# where they stop depends on the last bits of the loss and gradient. OpenBLAS sums a product in
# as many slices as it has threads: the same fit on 1 and 2 threads gave coefficients 0.02
# apart and 387 against 390 of Vancouver's Theft from Vehicle events at 1%. The fits therefore
# run their matrix products on one BLAS thread whatever the process's setting (the machine's
# cores, OPENBLAS_NUM_THREADS, a server under load): one fit gives one answer on this machine.
# A CPU with other BLAS kernels (AVX-512 instead of AVX2) may still round differently.
FIT_BLAS_THREADS = 1
# Progress of a fit: (fraction done 0..1, what it is doing, in Chinese). The daily features take
# this share of the fraction, the optimiser the rest (about 150 L-BFGS-B iterations).
Progress = Callable[[float, str], None]
FEATURE_SHARE = 0.5
EXPECTED_ITERATIONS = 150


def _feature_progress(progress: Progress | None, done: int, days: int) -> None:
    if progress is not None:
        progress(FEATURE_SHARE * done / days, f"计算特征：第 {done}/{days} 天")


def _iteration_progress(progress: Progress | None) -> Callable[[object], None] | None:
    if progress is None:
        return None
    count = [0]

    def step(_: object) -> None:
        count[0] += 1
        share = min(count[0] / EXPECTED_ITERATIONS, 0.99)
        progress(FEATURE_SHARE + (1 - FEATURE_SHARE) * share, f"拟合系数：第 {count[0]} 次迭代")

    return step


@dataclass(frozen=True)
class FeatureSpec:
    """Which windows (days; 0 = all history) and smoothing scales (metres; 0 = none) to use."""

    windows: tuple[float, ...] = (7.0, 28.0, 91.0, 365.0, 0.0)
    scales: tuple[float, ...] = (0.0, 150.0, 300.0)
    context_windows: tuple[float, ...] = (365.0, 0.0)
    context_scales: tuple[float, ...] = (0.0, 150.0)
    weekday_windows: tuple[float, ...] = (365.0, 0.0)
    decays: tuple[float, ...] = (30.0, 180.0)

    def names(self, with_context: bool) -> list[str]:
        """Feature names in column order."""
        out = [f"w{w:g}_s{s:g}" for w in self.windows for s in self.scales]
        out += [f"weekday_w{w:g}" for w in self.weekday_windows]
        out += [f"decay{d:g}" for d in self.decays]
        if with_context:
            out += [f"ctx_w{w:g}_s{s:g}" for w in self.context_windows for s in self.context_scales]
        return out


def _surfaces(
    history: SeriesData, day: int, windows: Sequence[float], scales: Sequence[float]
) -> list[FloatArray]:
    grid = history.grid
    out: list[FloatArray] = []
    active = max(int((history.counts() > 0).sum()), 1)
    for w in windows:
        base = (history if w <= 0 else history.since(day - w)).counts().reshape(grid.shape)
        for s in scales:
            surf = (
                base
                if s <= 0
                else ndimage.gaussian_filter(base, s / grid.cell, mode="constant", truncate=3.0)
            )
            out.append(_scaled(surf.ravel(), active))
    return out


def _scaled(flat: FloatArray, active: int) -> FloatArray:
    mean = float(flat.sum()) / active
    return flat / mean if mean > 0 else np.zeros_like(flat)


def features(history: SeriesData, day: int, spec: FeatureSpec) -> FloatArray:
    """The feature matrix (cells x features) for ``day`` from the history before it."""
    cols = _surfaces(history, day, spec.windows, spec.scales)
    active = max(int((history.counts() > 0).sum()), 1)
    for w in spec.weekday_windows:
        h = history if w <= 0 else history.since(day - w)
        same = (np.floor(h.t).astype(np.int64) - day) % 7 == 0
        flat = np.bincount(h.cell[same], minlength=h.grid.n_cells).astype(np.float64)
        cols.append(_scaled(flat, active))
    for tau in spec.decays:
        cols.append(_scaled(history.counts(np.exp(-(day - history.t) / tau)), active))
    if history.context is not None:
        cols += _surfaces(history.context, day, spec.context_windows, spec.context_scales)
    return np.column_stack(cols)


def fit_mixture(x: FloatArray, y: FloatArray, progress: Progress | None = None) -> FloatArray:
    """Non-negative weights w maximising the Poisson likelihood of y under rate x @ w."""
    n, k = x.shape
    colsum = x.sum(axis=0)

    def loss(w: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        lam = x @ w + 1e-9
        f = (float(colsum @ w) - float(y @ np.log(lam))) / n
        grad = (colsum - x.T @ (y / lam)) / n
        return f, grad

    w0 = np.full(k, max(float(y.mean()), 1e-6) / k)
    with threadpool_limits(FIT_BLAS_THREADS, user_api="blas"):
        res = optimize.minimize(
            loss,
            w0,
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, None)] * k,
            options={"maxiter": 1000},
            callback=_iteration_progress(progress),
        )
    return np.asarray(res.x, dtype=np.float64)


class LearnedEnsemble(Forecaster):
    """Poisson regression on multi-window, multi-scale count features (see module docstring)."""

    def __init__(self, spec: FeatureSpec | None = None, name: str = "ensemble") -> None:
        self.spec = spec or FeatureSpec()
        self.name = name
        self.coef: FloatArray | None = None
        self.feature_names: list[str] = []
        self.fit_days = 0

    def fit(
        self, series: SeriesData, start: int, days: int, progress: Progress | None = None
    ) -> LearnedEnsemble:
        """Learn the weights on days [start, start + days) over cells active before ``start``."""
        mask = np.flatnonzero(series.before(start).counts() > 0)
        xs: list[FloatArray] = []
        ys: list[FloatArray] = []
        for i in range(days):
            day = start + i
            xs.append(features(series.before(day), day, self.spec)[mask])
            ys.append(series.before(day + 1).since(day).counts()[mask])
            _feature_progress(progress, i + 1, days)
        x = np.vstack(xs)
        y = np.concatenate(ys)
        self.coef = fit_mixture(x, y, progress)
        self.feature_names = self.spec.names(series.context is not None)
        self.fit_days = days
        log.info("ensemble fitted on %d cell-days: %s", len(y), self.params())
        return self

    def predict(self, history: SeriesData, day: int) -> FloatArray:
        """Expected events per cell on ``day`` under the learned mixture."""
        if self.coef is None:
            raise RuntimeError("fit the ensemble before predicting")
        x = features(history, day, self.spec)
        return np.asarray(x @ self.coef, dtype=np.float64)

    def params(self) -> dict[str, float | int | str]:
        """Settings and learned weights."""
        out: dict[str, float | int | str] = {}
        if self.coef is not None:
            total = max(float(self.coef.sum()), 1e-300)
            out.update(
                {
                    n: round(float(c) / total, 4)
                    for n, c in zip(self.feature_names, self.coef, strict=True)
                    if c > 1e-4 * total
                }
            )
        return out

    def history(self) -> dict[str, float | int | str]:
        """All history (its longest window) and the days its weights were fitted on."""
        return {"window_days": "all", "fit_days": self.fit_days}


def _gauss(flat: FloatArray, history: SeriesData, metres: float) -> FloatArray:
    grid = history.grid
    out = ndimage.gaussian_filter(
        flat.reshape(grid.shape), metres / grid.cell, mode="constant", truncate=3.0
    )
    return np.asarray(out, dtype=np.float64).ravel()


def fit_loglinear(
    x: FloatArray,
    y: FloatArray,
    weights: FloatArray | None = None,
    ridge: float = 0.0,
    progress: Progress | None = None,
) -> FloatArray:
    """Intercept and coefficients of the Poisson regression log E[y] = b0 + x @ b (max. lik.).

    ``weights`` weight each row's log-likelihood (default one); ``ridge`` adds
    ``ridge * |b|^2 / 2`` per unit of total weight (the intercept is not penalised).
    """
    xs = np.column_stack([np.ones(len(x)), x])
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    n = max(float(w.sum()), 1e-12)
    wy = w * y
    pen = np.ones(xs.shape[1])
    pen[0] = 0.0

    def loss(beta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        eta = np.minimum(xs @ beta, 50.0)
        lam = np.exp(eta)
        f = (float(w @ lam) - float(wy @ eta)) / n + 0.5 * ridge * float(pen @ (beta * beta))
        return f, (xs.T @ (w * lam - wy)) / n + ridge * pen * beta

    beta0 = np.zeros(xs.shape[1])
    beta0[0] = np.log(max(float(y.mean()), 1e-9))
    with threadpool_limits(FIT_BLAS_THREADS, user_api="blas"):
        res = optimize.minimize(
            loss,
            beta0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 1000},
            callback=_iteration_progress(progress),
        )
    return np.asarray(res.x, dtype=np.float64)


# ------------------------------------------------------------------ the log-linear ensemble
#
# Named surface features.
#
# A feature is named ``source:time:space``:
#
# * source ``s`` (the series) or ``x`` (the context series, rescaled by the ratio of the series'
#   all-history total to the context's, so it is in the series' units);
# * time ``all`` (all history), ``d<N>`` (exponential decay, N days) or ``w<N>`` (the last N days);
# * space ``c`` (the cell), ``r1`` (mean of the 8 neighbours), ``r2`` (mean of the 16 cells at
#   Chebyshev distance 2) or ``g<M>`` (Gaussian smoothing of M metres, truncated at 3 sigma).
#
# The column is log(1 + value). Separate ``c``/``r1``/``r2`` columns let the regression learn the
# spatial kernel's shape instead of fixing one bandwidth.

_RING1 = np.ones((3, 3))
_RING1[1, 1] = 0.0
_RING2 = np.ones((5, 5))
_RING2[1:4, 1:4] = 0.0


def _time_weights(history: SeriesData, day: int, time: str) -> FloatArray | None:
    if time == "all":
        return None
    n = float(time[1:])
    if time[0] == "d":
        return np.exp(-(day - history.t) / n)
    if time[0] == "w":
        return (history.t >= day - n).astype(np.float64)
    raise ValueError(f"unknown time weighting {time!r}")


def _spatial(flat: FloatArray, history: SeriesData, space: str) -> FloatArray:
    if space == "c":
        return flat
    grid = history.grid
    if space in ("r1", "r2"):
        ring = _RING1 if space == "r1" else _RING2
        out = ndimage.correlate(flat.reshape(grid.shape), ring, mode="constant", cval=0.0)
        return np.asarray(out, dtype=np.float64).ravel() / float(ring.sum())
    if space[0] == "g":
        return _gauss(flat, history, float(space[1:]))
    raise ValueError(f"unknown spatial operator {space!r}")


def surface_features(history: SeriesData, day: int, names: Sequence[str]) -> FloatArray:
    """log(1 + f) of each named surface (cells x features) for ``day`` from the history before."""
    own_total = float(history.counts().sum())
    counts: dict[tuple[str, str], FloatArray] = {}
    cols: list[FloatArray] = []
    for name in names:
        source, time, space = name.split(":")
        if (source, time) not in counts:
            if source == "s":
                flat = history.counts(_time_weights(history, day, time))
            elif source == "x":
                ctx = history.context
                if ctx is None:
                    raise ValueError(f"feature {name!r} needs a context series")
                total = float(ctx.counts().sum())
                scale = own_total / total if total > 0 else 0.0
                flat = ctx.counts(_time_weights(ctx, day, time)) * scale
            else:
                raise ValueError(f"unknown feature source {source!r}")
            counts[(source, time)] = flat
        cols.append(_spatial(counts[(source, time)], history, space))
    return np.log1p(np.maximum(np.column_stack(cols), 0.0))


# The previous recommended set (decays and one fixed 150 m smoothing) and the current one, whose
# separate cell / neighbour-ring / second-ring columns let the fit learn the kernel's shape.
SMOOTH_FEATURES: tuple[str, ...] = (
    "s:all:c",
    "s:d365:c",
    "s:d91:c",
    "s:d30:c",
    "s:all:g150",
    "x:all:g150",
)
KERNEL_FEATURES: tuple[str, ...] = (
    *(f"s:{t}:{r}" for t in ("all", "d365", "d91", "d30") for r in ("c", "r1", "r2")),
    *(f"x:all:{r}" for r in ("c", "r1", "r2")),
    "s:all:g150",
    "x:all:g150",
)


class LogLinearEnsemble(Forecaster):
    """Poisson log-linear regression on log counts of named surfaces (see ``surface_features``).

    The rate of a cell on day D is ``exp(b0 + sum_k b_k log(1 + f_k))`` = ``e^b0 * prod_k (1 +
    f_k)^b_k``: a multiplicative (geometric) mix of the surfaces rather than the additive mix of
    ``LearnedEnsemble``. The long-run count dominates the ranking while recency, the neighbourhood
    and the all-crime context re-rank cells of similar counts (and break the many ties of a sparse
    series), the empirical-Bayes idea of shrinking a cell towards its surroundings (Clayton &
    Kaldor 1987) in regression form. With the default feature set the cell, its ring of 8
    neighbours and the ring at distance 2 are separate columns for each time weighting, so the fit
    learns the spatial kernel rather than taking one bandwidth. The coefficients are fitted by
    maximum likelihood on the cell-days of the year before the first forecast day (features of
    each day from the history before it) and then frozen. The feature set was chosen by
    rolling-origin validation on 2023-Q2, Q3 and Q4 (see docs/analysis.md). Context features
    (``x:``) are left out when the series has no context.
    """

    def __init__(self, features: Sequence[str] = KERNEL_FEATURES, name: str = "ensemble") -> None:
        self.features = tuple(features)
        self.name = name
        self.coef: FloatArray | None = None
        self.feature_names: list[str] = []
        self.fit_days = 0

    def _used(self, history: SeriesData) -> list[str]:
        return [f for f in self.features if history.context is not None or not f.startswith("x:")]

    def fit(
        self, series: SeriesData, start: int, days: int, progress: Progress | None = None
    ) -> LogLinearEnsemble:
        """Fit on days [start, start + days) over cells active before ``start``.

        The design matrix (days x active cells rows, one column per feature) is filled in place:
        8 bytes per row and feature, the fit's largest allocation with the optimiser's copy.
        """
        mask = np.flatnonzero(series.before(start).counts() > 0)
        used = self._used(series)
        rows = len(mask)
        x = np.empty((days * rows, len(used)))
        y = np.empty(days * rows)
        for i in range(days):
            day = start + i
            x[i * rows : (i + 1) * rows] = surface_features(series.before(day), day, used)[mask]
            y[i * rows : (i + 1) * rows] = series.before(day + 1).since(day).counts()[mask]
            _feature_progress(progress, i + 1, days)
        self.coef = fit_loglinear(x, y, progress=progress)
        self.feature_names = ["intercept", *used]
        self.fit_days = days
        log.info("log-linear ensemble fitted on %d cell-days: %s", len(y), self.params())
        return self

    def state(self) -> dict[str, object]:
        """The fitted model as JSON-ready data (``from_state`` restores it)."""
        if self.coef is None:
            raise RuntimeError("fit the ensemble before saving it")
        return {
            "name": self.name,
            "features": list(self.features),
            "feature_names": self.feature_names,
            "coef": [float(c) for c in self.coef],
            "fit_days": self.fit_days,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, object]) -> LogLinearEnsemble:
        """The model saved by ``state`` (coefficients to the last bit: JSON keeps doubles)."""
        features, names, coef = state["features"], state["feature_names"], state["coef"]
        if not (isinstance(features, list) and isinstance(names, list) and isinstance(coef, list)):
            raise ValueError("not a saved log-linear ensemble")
        model = cls(features=[str(f) for f in features], name=str(state.get("name", "ensemble")))
        model.feature_names = [str(n) for n in names]
        model.coef = np.asarray(coef, dtype=np.float64)
        model.fit_days = int(str(state.get("fit_days", 0)))
        return model

    def predict(self, history: SeriesData, day: int) -> FloatArray:
        """Expected events per cell on ``day``."""
        if self.coef is None:
            raise RuntimeError("fit the ensemble before predicting")
        used = self._used(history)
        if used != self.feature_names[1:]:
            raise ValueError("the history's context does not match the fitted model")
        x = surface_features(history, day, used)
        return np.asarray(np.exp(self.coef[0] + x @ self.coef[1:]), dtype=np.float64)

    def params(self) -> dict[str, float | int | str]:
        """Fitted coefficients by feature."""
        if self.coef is None:
            return {}
        return {n: round(float(c), 4) for n, c in zip(self.feature_names, self.coef, strict=True)}

    def history(self) -> dict[str, float | int | str]:
        """All history (its all-history features) and the days its coefficients were fitted on."""
        return {"window_days": "all", "fit_days": self.fit_days}
