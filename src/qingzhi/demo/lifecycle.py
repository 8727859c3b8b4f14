"""How long the demo's calls take: dispatch, the drive, a queue when the station is busy, handling.

Dispatch within about 1–3 minutes (ref: hand over to the handling unit within 3 minutes), slower
for lower priorities and busy stations; arrival after turn-out and the drive from the handling
station (straight-line distance × ``DETOUR`` over road speed) plus a queue delay when the station
had more calls in the last hour than it absorbs; handling by category (a mediated dispute takes
its mediation time); then closure. Invalid calls are only closed, a minute or so after reception.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qingzhi.demo.categories import CATEGORIES
from qingzhi.demo.draws import FloatArray, IntArray
from qingzhi.demo.outcomes import Mediation, draw_mediation

log = logging.getLogger(__name__)

DISPATCH_MEDIAN_S = 75.0  # ref: hand over to the handling unit within 3 minutes
DISPATCH_S_PER_EXCESS = 15.0
TURNOUT_S = 120.0
SPEED_KMH = {"urban": 28.0, "rural": 42.0}
DETOUR = 1.35  # road distance over straight-line distance
LOAD_WINDOW_S = 3600.0
LOAD_CAPACITY = {"urban": 6, "rural": 2}  # incidents per hour a station absorbs without queueing
QUEUE_MIN_PER_EXCESS = 9.0
HANDLING_MEDIAN_MIN = {
    "criminal": 75.0,
    "public_order": 45.0,
    "traffic": 50.0,
    "dispute": 30.0,
    "assistance": 40.0,
}
CLOSE_MEDIAN_MIN = 20.0


@dataclass(frozen=True)
class Lifecycle:
    """The lifecycle times of every call (seconds from the window's start), and mediation."""

    dispatched: FloatArray
    arrived: FloatArray
    resolved: FloatArray
    closed: FloatArray
    invalid_closed: FloatArray  # when the call is invalid: closed without dispatch
    mediation: Mediation


def excess_load(
    t: FloatArray, valid: NDArray[np.bool_], town: IntArray, urban: NDArray[np.bool_]
) -> FloatArray:
    """Valid calls at the same station in the hour before each call, beyond its capacity."""
    load = np.zeros(len(t))
    for i in np.unique(town):
        sel = np.flatnonzero(valid & (town == i))
        ts = np.sort(t[sel])
        load[sel] = np.searchsorted(ts, t[sel], side="left") - np.searchsorted(
            ts, t[sel] - LOAD_WINDOW_S, side="left"
        )
    capacity = np.where(urban, LOAD_CAPACITY["urban"], LOAD_CAPACITY["rural"])
    return np.asarray(np.maximum(load - capacity, 0), dtype=np.float64)


def draw_lifecycle(
    rng: np.random.Generator,
    *,
    t: FloatArray,
    priority: IntArray,
    cat: IntArray,
    valid: NDArray[np.bool_],
    urban: NDArray[np.bool_],
    distance: FloatArray,
    excess: FloatArray,
    mediation_median_min: float | None = None,
) -> Lifecycle:
    """Dispatch, arrival, resolution and closure of calls received at ``t``.

    ``distance`` is the straight line from the handling station (metres), ``excess`` the
    station's load beyond capacity (``excess_load``).
    """
    n = len(t)
    dispatch = DISPATCH_MEDIAN_S * rng.lognormal(0.0, 0.5, n) * (0.6 + 0.2 * (priority - 1))
    dispatch += DISPATCH_S_PER_EXCESS * excess
    speed = np.where(urban, SPEED_KMH["urban"], SPEED_KMH["rural"]) / 3.6
    travel = TURNOUT_S + distance * DETOUR / speed * rng.lognormal(0.0, 0.2, n)
    queue = rng.exponential(QUEUE_MIN_PER_EXCESS * 60.0, n) * excess
    handling_median = np.array([HANDLING_MEDIAN_MIN[c] for c in CATEGORIES])[cat] * 60.0
    handling = handling_median * rng.lognormal(0.0, 0.6, n)
    mediation = draw_mediation(
        rng, valid & (cat == CATEGORIES.index("dispute")), median_min=mediation_median_min
    )
    handling = np.where(mediation.mediated, mediation.minutes * 60.0, handling)
    t_dispatch = t + np.round(dispatch)
    t_arrive = t_dispatch + np.round(travel + queue)
    t_resolve = t_arrive + np.round(handling)
    t_close = t_resolve + np.round(CLOSE_MEDIAN_MIN * 60.0 * rng.lognormal(0.0, 0.5, n))
    inv_close = t + np.round(60.0 * rng.lognormal(0.3, 0.5, n))
    return Lifecycle(t_dispatch, t_arrive, t_resolve, t_close, inv_close, mediation)
