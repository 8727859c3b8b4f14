"""Larson's hypercube queueing model: units that answer each other's calls, exact and approximate.

N response units, each at a home location, serve calls from J demand atoms (Poisson rates λⱼ,
exponential busy time of common mean 1/μ). A call goes to the first free unit in its atom's
fixed dispatch preference list (nearest first, from the travel times); when every unit is busy
it waits in one first-come-first-served queue (the infinite-line case) and is taken by the
first unit to free up. The model gives each unit's workload ρₙ, the share of each atom's calls
each unit answers, and hence each atom's mean travel and response time.

* **Exact** (Larson 1974, "A hypercube queuing model for facility location and redistricting in
  urban emergency services", *Computers & Operations Research* 1(1):67–95): a continuous-time
  Markov chain on the 2ᴺ busy/free vectors. The generator is built sparse (upward moves by the
  preference lists, downward moves at rate μ) and its balance equations are solved with SciPy's
  sparse LU. The queue states (all busy, k waiting) hang off the all-busy vertex only and form
  a geometric tail with ratio λ/(Nμ), so the hypercube's distribution is that of the zero-line
  (loss) chain rescaled (an excursion that returns to the state it left changes no other ratio).
  2ᴺ states: for validation and small systems (a bundle) only; ``EXACT_MAX_UNITS`` bounds it.
* **Approximate** (Larson 1975, "Approximating the performance of urban emergency service
  systems", *Operations Research* 23(5):845–868; in the form of Jarvis 1985, *Management Science*
  31(2):235–239, and Budge, Ingolfsson & Erkut 2009, *Operations Research* 57(1):251–255): units
  are taken as busy independently with probabilities ρₙ, corrected by Q(N, ρ, k) so that the
  number busy follows the exact M/M/N law:
  Q(N, ρ, k) = Σ_{m=k}^{N−1} [m!/(m−k)!]·[(N−k)!/N!]·[(N−m)/(N−k)]·Pₘ / (ρᵏ(1−ρ)),
  with Pₘ the M/M/N probability of m busy and ρ = λ/(Nμ). The fixed point
  ρₙ = (Vₙ + q) / (1 + Vₙ), Vₙ = (1/μ)·Σⱼ λⱼ·Σₖ[aⱼₖ = n]·Q(N, ρ, k)·Π_{l<k} ρ_{aⱼₗ},
  q = λ·P_Q/(Nμ) (the queued calls, which every unit shares equally), is found by iteration;
  O(N·J) per step, so a county of a hundred units is immediate.

In both, a queued call waits E[W | wait] = 1/(Nμ − λ) (the busy count is M/M/N whatever the
dispatch order) and travels from a unit's home (the hypercube's usual simplification), each
unit equally likely.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.linalg import bicgstab, spsolve
from scipy.special import gammaln

from qingzhi.planning.model import FloatArray, IntArray, bad

log = logging.getLogger(__name__)

EXACT_MAX_UNITS = 20  # 2^20 states: about 2 GB and a minute; validation only
DIRECT_MAX_UNITS = 10  # sparse LU up to 2^10 states, BiCGSTAB beyond


@dataclass(frozen=True)
class HypercubeSystem:
    """Units, atoms, rates, travel and dispatch preferences (rates per minute, times minutes)."""

    atom_rates: FloatArray  # (J,) calls per minute
    travel: FloatArray  # (N, J) minutes from unit n's home to atom j
    busy_minutes: float  # common mean busy time per call
    preference: IntArray  # (J, N) units in dispatch order for each atom

    def __post_init__(self) -> None:
        n, j = np.shape(self.travel)
        if np.shape(self.atom_rates) != (j,):
            raise bad("atom_rates", "各原子的到达率个数与行驶时间矩阵不符")
        if np.shape(self.preference) != (j, n):
            raise bad("preference", "派警优先顺序须为每个原子列出全部单位")
        if (np.asarray(self.atom_rates) < 0).any():
            raise bad("atom_rates", "到达率不能为负")
        if self.busy_minutes <= 0:
            raise bad("busy_minutes", "单次出警占用时间须为正数")
        pref = np.sort(np.asarray(self.preference), axis=1)
        if not (pref == np.arange(n)[None, :]).all():
            raise bad("preference", "每个原子的派警优先顺序须是全部单位的一个排列")
        if self.load >= n:
            raise bad("atom_rates", f"总负载 {self.load:.2f} 不低于单位数 {n}，队列不稳定")

    @property
    def n_units(self) -> int:
        """N."""
        return int(np.shape(self.travel)[0])

    @property
    def load(self) -> float:
        """Offered load λ/μ in Erlangs."""
        return float(np.sum(self.atom_rates)) * self.busy_minutes


@dataclass(frozen=True)
class HypercubeResult:
    """Unit workloads, dispatch shares, waiting and per-atom travel and response times."""

    method: str  # "exact" or "larson1975"
    workload: FloatArray  # (N,) fraction of time each unit is busy
    dispatch: FloatArray  # (N, J) share of all calls that come from atom j and go to unit n
    p_wait: float  # share of calls that find every unit busy
    mean_wait: float  # minutes, over all calls
    atom_travel: FloatArray  # (J,) mean travel minutes of the atom's calls
    mean_travel: float
    mean_response: float  # wait + travel, over all calls
    states: int  # 2^N for the exact model, N for the approximation
    iterations: int = 0

    @property
    def atom_response(self) -> FloatArray:
        """Mean response minutes per atom (FCFS: every atom waits alike)."""
        return np.asarray(self.atom_travel + self.mean_wait, dtype=np.float64)


def preference_from_travel(
    travel: FloatArray, first: Sequence[Sequence[int]] | None = None
) -> IntArray:
    """Dispatch order per atom: the units in ``first[j]`` (nearest first), then the rest by time."""
    t = np.asarray(travel, dtype=np.float64)
    n, j = t.shape
    out = np.empty((j, n), dtype=np.int64)
    for a in range(j):
        own = [] if first is None else list(first[a])
        key = t[:, a] + np.where(np.isin(np.arange(n), own), -1e9, 0.0)
        out[a] = np.lexsort((np.arange(n), key))
    return out


def _mmn_busy(load: float, n: int) -> tuple[FloatArray, float]:
    """M/M/N: probabilities of m = 0..N−1 busy, and of all busy (queue included)."""
    m = np.arange(n)
    logp = m * np.log(load) - gammaln(m + 1) if load > 0 else np.where(m == 0, 0.0, -np.inf)
    rho = load / n
    log_full = n * np.log(load) - gammaln(n + 1) - np.log1p(-rho) if load > 0 else -np.inf
    top = max(float(logp.max()), float(log_full))
    p = np.exp(logp - top)
    full = float(np.exp(log_full - top))
    z = p.sum() + full
    return np.asarray(p / z, dtype=np.float64), full / z


def correction_factors(load: float, n: int) -> FloatArray:
    """Larson's Q(N, ρ, k) for k = 0..N−1 (infinite-line M/M/N probabilities)."""
    p, _ = _mmn_busy(load, n)
    rho = load / n
    q = np.zeros(n)
    m = np.arange(n)
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    for k in range(n):
        mm = m[k:]
        lt = (
            gammaln(mm + 1)
            - gammaln(mm - k + 1)
            + gammaln(n - k + 1)
            - gammaln(n + 1)
            + np.log((n - mm) / (n - k))
            + logp[k:]
            - k * np.log(rho)
            - np.log1p(-rho)
        )
        q[k] = float(np.exp(lt).sum())
    return q


def _finish(
    system: HypercubeSystem,
    method: str,
    workload: FloatArray,
    immediate: FloatArray,
    p_wait: float,
    states: int,
    iterations: int,
) -> HypercubeResult:
    """Add the queued calls (shared equally), then travel, wait and response."""
    n = system.n_units
    lam = system.atom_rates
    total = float(lam.sum())
    share = lam / total if total > 0 else np.zeros_like(lam)
    dispatch = immediate + share[None, :] * p_wait / n
    mu = 1.0 / system.busy_minutes
    mean_wait = p_wait / (n * mu - total) if total > 0 else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        atom_travel = np.where(
            share > 0, (dispatch * system.travel).sum(axis=0) / np.where(share > 0, share, 1), 0.0
        )
    mean_travel = float(np.dot(share, atom_travel))
    return HypercubeResult(
        method=method,
        workload=workload,
        dispatch=dispatch,
        p_wait=p_wait,
        mean_wait=float(mean_wait),
        atom_travel=np.asarray(atom_travel, dtype=np.float64),
        mean_travel=mean_travel,
        mean_response=mean_travel + float(mean_wait),
        states=states,
        iterations=iterations,
    )


def _solve(a: sparse.csc_matrix, rhs: FloatArray, guess: FloatArray) -> FloatArray:
    """The balance equations' solution: sparse LU when small, else BiCGSTAB from ``guess``.

    Sparse LU fills in badly on the hypercube's graph beyond about 10 units; BiCGSTAB with a
    diagonal preconditioner, started from the approximation's product-form guess, does not.
    """
    if a.shape[0] <= 1 << DIRECT_MAX_UNITS:
        return np.asarray(spsolve(a, rhs, permc_spec="COLAMD"), dtype=np.float64)
    csr = a.tocsr()
    d = csr.diagonal()
    d[d == 0] = 1.0
    x, info = bicgstab(csr, rhs, x0=guess, M=sparse.diags(1.0 / d), rtol=1e-12, maxiter=20_000)
    if info != 0:
        log.warning("hypercube: BiCGSTAB stopped without converging (info=%d)", info)
    return np.asarray(x, dtype=np.float64)


def _product_guess(system: HypercubeSystem, states: IntArray) -> FloatArray:
    """Product-form start: independent units with the approximation's workloads (loss chain)."""
    n = system.n_units
    w = np.clip(solve_approx(system).workload, 1e-6, 1 - 1e-6)
    logp = np.zeros(len(states))
    for u in range(n):
        logp += np.where((states >> u) & 1, np.log(w[u]), np.log1p(-w[u]))
    p = np.exp(logp - logp.max())
    return np.asarray(p / p.sum(), dtype=np.float64)


def _first_free(order: IntArray, free: list[NDArray[np.bool_]], size: int) -> IntArray:
    """For every state, the first free unit in ``order`` (−1 when all are busy)."""
    f = np.full(size, -1, dtype=np.int64)
    open_ = np.ones(size, dtype=bool)
    for u in order.tolist():
        sel = open_ & free[u]
        f[sel] = u
        open_ &= ~free[u]
    return f


def solve_exact(system: HypercubeSystem) -> HypercubeResult:
    """Larson's exact hypercube (2^N states, sparse generator, sparse LU)."""
    n = system.n_units
    if n > EXACT_MAX_UNITS:
        raise bad("units", f"精确超立方体模型最多 {EXACT_MAX_UNITS} 个单位（现为 {n} 个）")
    size = 1 << n
    states = np.arange(size, dtype=np.int64)
    lam = np.asarray(system.atom_rates, dtype=np.float64)
    mu = 1.0 / system.busy_minutes
    # group atoms with the same preference list: they move the chain identically; the upward
    # rates are summed per (state, unit) over the groups, so memory is 2^N × N whatever the
    # number of atoms and distinct dispatch orders (one array of 2^N entries per group was 7 GB
    # for 16 units and 3,287 atoms)
    prefs, group = np.unique(system.preference, axis=0, return_inverse=True)
    group = group.reshape(-1)
    free = [((states >> u) & 1) == 0 for u in range(n)]
    g_rate = np.bincount(group, weights=lam, minlength=len(prefs))
    up = np.zeros((size, n))
    for g, order in enumerate(prefs):
        f = _first_free(order, free, size)
        ok = f >= 0
        up[states[ok], f[ok]] += g_rate[g]
    src, unit = np.nonzero(up)
    rows: list[IntArray] = [src.astype(np.int64)]
    cols: list[IntArray] = [src.astype(np.int64) | (np.int64(1) << unit.astype(np.int64))]
    vals: list[FloatArray] = [up[src, unit]]
    del up
    for u in range(n):
        busy = states[((states >> u) & 1) == 1]
        rows.append(busy)
        cols.append(busy ^ (1 << u))
        vals.append(np.full(len(busy), mu))
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    v = np.concatenate(vals)
    out_rate = np.bincount(r, weights=v, minlength=size)
    # balance: Σ_s π_s q(s, t) = π_t·out(t); solve Aᵀπ = 0 with the last row replaced by Σπ = 1
    keep = c != size - 1
    diag = np.arange(size - 1)
    a = sparse.csc_matrix(
        (
            np.concatenate([v[keep], -out_rate[:-1], np.ones(size)]),
            (
                np.concatenate([c[keep], diag, np.full(size, size - 1)]),
                np.concatenate([r[keep], diag, np.arange(size)]),
            ),
        ),
        shape=(size, size),
    )
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    pi_loss = _solve(a, rhs, _product_guess(system, states))
    pi_loss = np.maximum(pi_loss, 0.0)
    pi_loss /= pi_loss.sum()
    rho = system.load / n
    full = size - 1
    tail = pi_loss[full] * rho / (1.0 - rho)
    z = 1.0 + tail
    pi = pi_loss / z
    p_wait = float((pi_loss[full] + tail) / z)
    bits = (states[:, None] >> np.arange(n)[None, :]) & 1
    workload = np.asarray(pi @ bits + tail / z, dtype=np.float64)
    total = float(lam.sum())
    served = np.zeros((len(prefs), n))
    for g, order in enumerate(prefs):
        f = _first_free(order, free, size)
        ok = f >= 0
        served[g] = np.bincount(f[ok], weights=pi[ok], minlength=n)
    share = lam / total if total > 0 else np.zeros_like(lam)
    immediate = (served[group] * share[:, None]).T
    return _finish(system, "exact", workload, immediate, p_wait, size, 0)


def solve_approx(
    system: HypercubeSystem, *, tol: float = 1e-10, max_iter: int = 1000
) -> HypercubeResult:
    """Larson's (1975) approximation for the infinite-line hypercube, by fixed-point iteration."""
    n = system.n_units
    lam = np.asarray(system.atom_rates, dtype=np.float64)
    total = float(lam.sum())
    mu = 1.0 / system.busy_minutes
    load = system.load
    rho = load / n
    if total == 0:
        zero = np.zeros((n, len(lam)))
        return _finish(system, "larson1975", np.zeros(n), zero, 0.0, n, 0)
    qk = correction_factors(load, n)
    _, p_wait = _mmn_busy(load, n)
    pref = np.asarray(system.preference, dtype=np.int64)
    q_share = total * p_wait / (n * mu)
    w = np.full(n, rho)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        rp = w[pref]  # (J, N) workloads along each atom's list
        before = np.cumprod(np.concatenate([np.ones((len(lam), 1)), rp[:, :-1]], axis=1), axis=1)
        contrib = lam[:, None] * qk[None, :] * before / mu
        v = np.zeros(n)
        np.add.at(v, pref, contrib)
        new = (v + q_share) / (1.0 + v)
        if np.max(np.abs(new - w)) < tol:
            w = new
            break
        w = new
    rp = w[pref]
    before = np.cumprod(np.concatenate([np.ones((len(lam), 1)), rp[:, :-1]], axis=1), axis=1)
    prob = qk[None, :] * before * (1.0 - rp)  # P(k-th choice answers | atom j)
    prob *= (1.0 - p_wait) / prob.sum(axis=1, keepdims=True)  # normalised to the immediate share
    immediate = np.zeros((n, len(lam)))
    cols = np.repeat(np.arange(len(lam))[:, None], n, axis=1)
    np.add.at(immediate, (pref, cols), prob * (lam / total)[:, None])
    return _finish(system, "larson1975", w, immediate, p_wait, n, it)
