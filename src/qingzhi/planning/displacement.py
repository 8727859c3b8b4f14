"""Displacement risk of a bundling plan: what a plan costs the places that lose a seat.

London's station closures were followed by more violent crime near the closed stations (the
anchor cited in the planning issue: +11 %); a plan must not look good on travel time alone.
This module does **not** predict crime: it measures the exposure a plan creates, per station
whose seat stops answering calls (a bundle member) and for the neighbours of such stations:

* ``extra_minutes`` — mean travel to the station's calls from its operating seat, less from
  its own seat;
* ``crime_calls`` — the station's crime and disorder calls per week (the calls a lost presence
  may displace);
* ``exposure`` — crime_calls × extra_minutes: crime-and-disorder call-minutes per week added;
* ``neighbours_at_risk`` — stations adjacent to one whose seat closed and which keep their own
  seat (where displaced crime would go).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from qingzhi.planning.bundling import BundlingPlan, BundlingProblem, evaluate_plan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeatLoss:
    """One station whose seat no longer answers its calls."""

    station: str
    answered_from: str
    extra_minutes: float
    crime_calls: float
    exposure: float


@dataclass(frozen=True)
class DisplacementRisk:
    """The plan's exposure, per station and in total."""

    seats_closed: int
    losses: tuple[SeatLoss, ...]
    total_exposure: float  # call-minutes of crime and disorder per week
    crime_calls_without_seat: float
    neighbours_at_risk: tuple[str, ...]


def displacement_risk(
    problem: BundlingProblem, plan: BundlingPlan, crime_calls: Mapping[str, float]
) -> DisplacementRisk:
    """The exposure ``plan`` creates (``crime_calls``: crime + disorder calls per week)."""
    score = evaluate_plan(problem, plan)
    losses = []
    for b in plan.bundles:
        for m in b.members:
            extra = score.travel_minutes[m] - score.own_seat_minutes[m]
            c = float(crime_calls.get(m, 0.0))
            losses.append(SeatLoss(m, b.centre, extra, c, c * extra))
    closed = {x.station for x in losses}
    at_risk = sorted({n for m in closed for n in problem.adjacency.get(m, set())} - closed)
    return DisplacementRisk(
        seats_closed=len(losses),
        losses=tuple(sorted(losses, key=lambda x: -x.exposure)),
        total_exposure=sum(x.exposure for x in losses),
        crime_calls_without_seat=sum(x.crime_calls for x in losses),
        neighbours_at_risk=tuple(at_risk),
    )
