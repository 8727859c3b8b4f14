"""Measures of community policing (两队一室) over a period, for a zone, a station or a scope.

Pure: the community service turns rows into these value types. The measures follow the seed's
claims — disputes that took over an hour are settled in about 30 minutes, with fewer repeat
calls — and the issue's definitions:

- **mediation duration** of a dispute = first mediation session's start to settlement (the time
  it reached settled / partially settled / not settled / referred); its median over the disputes
  settled in the period, and the share settled within 30 minutes (``<= 30``);
- **settled in the community** (小事不出社区) = settled or partially settled, over all disputes
  that reached an outcome (referred and not settled are not);
- **repeat calls within 30 days of settlement** = the share of settled disputes with at least one
  later call linked to them (same parties' phone or place) within the watch window;
- **visits and coverage** = done visits; coverage = distinct households visited / estimated
  households (registered population / average household size: an estimate, stated so);
- **found by visits before they became calls** = disputes opened from a visit's finding, and of
  them those with no 110 call about them before they were opened.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

TARGET_MINUTES = 30.0
SETTLED = frozenset({"settled", "partially_settled"})
OUTCOMES = frozenset({"settled", "partially_settled", "not_settled", "referred"})


@dataclass(frozen=True)
class DisputeFact:
    """What the measures need of one dispute settled (or opened) in the period."""

    outcome: str | None  # the status it reached at settlement, None while not settled
    minutes: float | None  # first session start to settlement
    repeat_calls: int  # later calls linked within the watch window after settlement
    from_visit: bool
    called_before: bool  # a 110 call about it came before it was opened


@dataclass(frozen=True)
class Summary:
    """The measures of one group of disputes and visits."""

    disputes: int
    mediated: int
    median_minutes: float | None
    share_within_30: float | None
    share_in_community: float | None
    settled: int
    repeat_within_30: int
    repeat_rate: float | None
    visits: int
    households_estimate: int | None
    coverage: float | None
    found_by_visits: int
    found_before_call: int


def median_minutes(minutes: Sequence[float]) -> float | None:
    """The median duration (None without any)."""
    return float(np.median(np.asarray(minutes, dtype=float))) if len(minutes) else None


def share_within(minutes: Sequence[float], limit: float = TARGET_MINUTES) -> float | None:
    """The share of durations at most ``limit`` minutes (None without any)."""
    if not len(minutes):
        return None
    return float(np.mean(np.asarray(minutes, dtype=float) <= limit))


def households(population: int | None, household_size: float) -> int | None:
    """The estimated households of a registered population (rounded; None if unknown)."""
    if population is None or household_size <= 0:
        return None
    return max(1, round(population / household_size))


def coverage(visited_households: int, estimate: int | None) -> float | None:
    """The share of the estimated households visited (capped at 1; None if no estimate)."""
    if not estimate:
        return None
    return min(1.0, visited_households / estimate)


def summarise(
    facts: Sequence[DisputeFact],
    *,
    visits: int,
    visited_households: int,
    population: int | None,
    household_size: float,
) -> Summary:
    """The measures of one group (a zone, a station, a scope) for a period."""
    durations = [f.minutes for f in facts if f.outcome is not None and f.minutes is not None]
    durations = [m for m in durations if not math.isnan(m)]
    outcomes = [f for f in facts if f.outcome in OUTCOMES]
    settled = [f for f in outcomes if f.outcome in SETTLED]
    repeated = sum(1 for f in settled if f.repeat_calls > 0)
    estimate = households(population, household_size)
    from_visits = [f for f in facts if f.from_visit]
    return Summary(
        disputes=len(facts),
        mediated=len(durations),
        median_minutes=median_minutes(durations),
        share_within_30=share_within(durations),
        share_in_community=len(settled) / len(outcomes) if outcomes else None,
        settled=len(settled),
        repeat_within_30=repeated,
        repeat_rate=repeated / len(settled) if settled else None,
        visits=visits,
        households_estimate=estimate,
        coverage=coverage(visited_households, estimate),
        found_by_visits=len(from_visits),
        found_before_call=sum(1 for f in from_visits if not f.called_before),
    )
