"""M/M/c queueing of a station's response units, hour by hour of the week.

A station (or a central station with its members) is an M/M/c queue: calls arrive as a Poisson
stream at rate λ (per hour, from the workload model), each keeps one of the ``c`` units on duty
busy for an exponential time of mean 1/μ (travel + on-scene), calls wait first come first served.
With offered load a = λ/μ:

* **Erlang B** by the stable recursion B(0, a) = 1, B(k, a) = a·B(k−1) / (k + a·B(k−1))
  (no factorials, no overflow; e.g. Cooper, *Introduction to Queueing Theory*, 1981, §3.4).
* **Erlang C**, the probability that a call waits: C(c, a) = c·B / (c − a·(1 − B)) for a < c
  (1 when a ≥ c: the queue is unstable).
* **Waiting time**: P(W > t) = C·exp(−(cμ − λ)·t), so E[W] = C / (cμ − λ) and the q-quantile of
  W is max(0, ln(C / (1 − q)) / (cμ − λ)) (Gross & Harris, *Fundamentals of Queueing Theory*).
* **Response time** R = W + T, the wait plus the travel time T from the unit's seat, taken
  independent of W. T is the empirical (weighted) distribution of travel minutes to the
  station's demand atoms, so P(R > r) = Σₖ pₖ·[1 if r < tₖ else C·exp(−θ(r − tₖ))] exactly,
  θ = cμ − λ; the 90th percentile solves P(R > r) = 0.1 by bisection. The same formula mixed
  over the hours (weighted by their calls) gives the week's percentile.
* **Hours of the week**: each hour is solved as a stationary queue with that hour's λ and c (the
  pointwise stationary approximation, Green & Kolesar 1991, *Management Science* 37(1):84–97;
  good when service is short against the hour-to-hour change, as here).

An hour with λ ≥ cμ (or calls and no unit) is unstable: its wait is infinite and it is reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from qingzhi.planning.model import HOURS_PER_WEEK, FloatArray, IntArray, bad

log = logging.getLogger(__name__)


def erlang_b_table(load: FloatArray, c_max: int) -> FloatArray:
    """Erlang B for every offered load in ``load`` (rows) and 0..c_max servers (columns)."""
    a = np.atleast_1d(np.asarray(load, dtype=np.float64))
    if (a < 0).any():
        raise bad("load", "负载不能为负")
    out = np.empty((len(a), c_max + 1))
    out[:, 0] = 1.0
    b = np.ones(len(a))
    for k in range(1, c_max + 1):
        b = a * b / (k + a * b)
        out[:, k] = b
    return out


def erlang_b(c: int, load: float) -> float:
    """Erlang B: the share of calls blocked with ``c`` servers and offered ``load`` Erlangs."""
    if c < 0:
        raise bad("c", "服务台数不能为负")
    return float(erlang_b_table(np.array([load]), c)[0, c])


def erlang_c_table(load: FloatArray, c_max: int) -> FloatArray:
    """Erlang C (probability of waiting) for each load and 0..c_max servers; 1 when unstable."""
    a = np.atleast_1d(np.asarray(load, dtype=np.float64))
    b = erlang_b_table(a, c_max)
    k = np.arange(c_max + 1, dtype=np.float64)[None, :]
    aa = a[:, None]
    stable = k > aa
    denom = np.where(stable, k - aa * (1.0 - b), 1.0)
    c = np.where(stable, k * b / denom, 1.0)
    return np.asarray(np.where(aa == 0, np.where(k > 0, 0.0, 1.0), c), dtype=np.float64)


def erlang_c(c: int, load: float) -> float:
    """Erlang C: the probability that a call waits in M/M/c with offered ``load`` Erlangs."""
    if c < 0:
        raise bad("c", "服务台数不能为负")
    return float(erlang_c_table(np.array([load]), c)[0, c])


def mean_wait_table(calls_per_hour: FloatArray, busy_minutes: float, c_max: int) -> FloatArray:
    """Mean wait (minutes) per hour (rows) for 0..c_max units (columns); inf when unstable."""
    lam = np.atleast_1d(np.asarray(calls_per_hour, dtype=np.float64)) / 60.0  # per minute
    if busy_minutes <= 0:
        raise bad("busy_minutes", "单次出警占用时间须为正数")
    mu = 1.0 / busy_minutes
    cw = erlang_c_table(lam / mu, c_max)
    k = np.arange(c_max + 1, dtype=np.float64)[None, :]
    theta = k * mu - lam[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(theta > 0, cw / np.where(theta > 0, theta, 1.0), np.inf)
    return np.asarray(np.where(lam[:, None] == 0, 0.0, w), dtype=np.float64)


@dataclass(frozen=True)
class QueuePrediction:
    """An operating unit's predicted service, per hour of the week and over the week."""

    p_wait: FloatArray  # (168,) share of calls that wait for a free unit
    mean_wait: FloatArray  # (168,) minutes; inf where unstable
    utilisation: FloatArray  # (168,) λ / (cμ); nan where no unit is on duty
    unstable_hours: tuple[int, ...]
    calls_per_week: float
    share_waiting: float  # over the week, weighted by calls
    mean_wait_minutes: float
    mean_travel_minutes: float
    mean_response_minutes: float  # wait + travel
    p90_response_minutes: float


def _tail(r: float, pw: FloatArray, theta: FloatArray, t: FloatArray, w: FloatArray) -> FloatArray:
    """P(R > r) per hour for R = W + T (rows: hours; T discrete on t with weights w)."""
    gap = r - t[None, :]
    with np.errstate(over="ignore", invalid="ignore"):
        tail_w = np.where(
            gap < 0, 1.0, pw[:, None] * np.exp(-np.where(gap > 0, gap, 0.0) * theta[:, None])
        )
    tail_w = np.where(np.isfinite(theta)[:, None] & (theta[:, None] > 0), tail_w, 1.0)
    return np.asarray(tail_w @ w, dtype=np.float64)


def response_quantile(
    q: float,
    calls_per_hour: FloatArray,
    p_wait: FloatArray,
    theta_per_minute: FloatArray,
    travel_minutes: FloatArray,
    travel_weights: FloatArray,
) -> float:
    """The q-quantile of response = wait + travel, mixed over hours by their calls."""
    if not 0.0 < q < 1.0:
        raise bad("q", "分位数须在 0 与 1 之间")
    lam = np.asarray(calls_per_hour, dtype=np.float64)
    if lam.sum() <= 0:
        return float("nan")
    mix = lam / lam.sum()
    t = np.asarray(travel_minutes, dtype=np.float64)
    w = np.asarray(travel_weights, dtype=np.float64) / np.sum(travel_weights)
    busy = lam > 0
    pw, th, mix = p_wait[busy], theta_per_minute[busy], mix[busy]
    if (~(th > 0)).any() and mix[~(th > 0)].sum() >= 1.0 - q:
        return float("inf")
    lo, hi = 0.0, float(t.max()) + 1.0
    while float(mix @ _tail(hi, pw, th, t, w)) > 1.0 - q:
        hi *= 2.0
        if hi > 1e9:
            return float("inf")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if float(mix @ _tail(mid, pw, th, t, w)) > 1.0 - q:
            lo = mid
        else:
            hi = mid
    return hi


def predict(
    calls_per_hour: FloatArray,
    busy_minutes: float,
    on_duty: IntArray,
    travel_minutes: FloatArray | None = None,
    travel_weights: FloatArray | None = None,
) -> QueuePrediction:
    """M/M/c prediction for one operating unit over the 168 hours of the week."""
    lam_h = np.asarray(calls_per_hour, dtype=np.float64)
    c = np.asarray(on_duty, dtype=np.int64)
    if lam_h.shape != (HOURS_PER_WEEK,) or c.shape != (HOURS_PER_WEEK,):
        raise bad("calls_per_hour", "须为一周 168 个小时的数据")
    if (lam_h < 0).any():
        raise bad("calls_per_hour", "到达率不能为负")
    if (c < 0).any():
        raise bad("on_duty", "在岗数不能为负")
    if busy_minutes <= 0:
        raise bad("busy_minutes", "单次出警占用时间须为正数")
    t = np.zeros(1) if travel_minutes is None else np.asarray(travel_minutes, dtype=np.float64)
    w = np.ones(len(t)) if travel_weights is None else np.asarray(travel_weights, dtype=np.float64)
    w = w / w.sum()
    lam = lam_h / 60.0
    mu = 1.0 / busy_minutes
    c_max = int(c.max()) if len(c) else 0
    table = erlang_c_table(lam / mu, c_max)
    pw = table[np.arange(HOURS_PER_WEEK), c]
    pw = np.where(lam == 0, 0.0, pw)
    theta = c * mu - lam
    stable = (theta > 0) | (lam == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mw = np.where(
            lam == 0, 0.0, np.where(theta > 0, pw / np.where(theta > 0, theta, 1), np.inf)
        )
        util = np.where(c > 0, lam / (c * mu), np.nan)
    unstable = tuple(int(h) for h in np.flatnonzero(~stable))
    total = float(lam_h.sum())
    mean_travel = float(np.dot(t, w))
    if total > 0:
        share = float(np.dot(lam_h, pw) / total)
        mean_wait = (
            float(np.dot(lam_h, np.where(lam_h > 0, mw, 0.0)) / total)
            if stable.all()
            else float("inf")
        )
        p90 = response_quantile(0.9, lam_h, pw, np.where(lam > 0, theta, 1.0), t, w)
    else:
        share, mean_wait, p90 = 0.0, 0.0, float("nan")
    return QueuePrediction(
        p_wait=pw,
        mean_wait=mw,
        utilisation=util,
        unstable_hours=unstable,
        calls_per_week=total,
        share_waiting=share,
        mean_wait_minutes=mean_wait,
        mean_travel_minutes=mean_travel,
        mean_response_minutes=mean_wait + mean_travel,
        p90_response_minutes=p90,
    )
