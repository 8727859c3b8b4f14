"""Clearance (破案率) and fast clearance (快破率) from counts, with Wilson intervals.

Definitions (stated here, in the UI and in docs/cases.md):

* **clearance rate, period** = cases cleared in the period / cases opened in the period. The
  cleared cases need not be among those opened (a case opened last year may be cleared this
  one), so it can exceed 100% and is a ratio, not a proportion: it gets no interval.
* **clearance rate, cohort** = of the cases opened in the period, the share cleared so far: a
  proportion, with its Wilson (1927) score interval (``qingzhi.analysis.rates``).
* **fast-clearance rate** = cases cleared in the period within N hours of opening / cases
  cleared in the period (N a setting, 72 by default; every page prints it), with its Wilson
  interval.
* **recovered loss** = the loss recovered (元) of the cases cleared in the period, beside the
  loss of the cases opened in it.

Small counts carry wide intervals, so a station with 3 cases is not ranked on noise.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from qingzhi.analysis.rates import Interval, wilson_interval

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseCounts:
    """The counts one line of rates is computed from."""

    opened: int  # opened in the period
    cohort_cleared: int  # of those, cleared so far
    cleared: int  # cleared in the period (whenever opened)
    fast: int  # of those, cleared within N hours of opening
    loss_yuan: float = 0.0  # loss of the cases opened in the period
    recovered_yuan: float = 0.0  # recovered in the cases cleared in the period


@dataclass(frozen=True)
class ClearanceRates:
    """The rates of one line: period ratio, cohort and fast proportions with intervals."""

    counts: CaseCounts
    fast_hours: int
    clearance: float  # nan when nothing was opened
    cohort: Interval
    fast: Interval


def _proportion(k: int, n: int, confidence: float) -> Interval:
    if n == 0:
        return Interval(math.nan, 0.0, 1.0, confidence)
    return wilson_interval(k, n, confidence=confidence)


def clearance_rates(
    counts: CaseCounts, *, fast_hours: int, confidence: float = 0.95
) -> ClearanceRates:
    """The rates of ``counts`` (see the module's definitions)."""
    if min(counts.opened, counts.cohort_cleared, counts.cleared, counts.fast) < 0:
        raise ValueError("counts must be non-negative")
    if counts.cohort_cleared > counts.opened or counts.fast > counts.cleared:
        raise ValueError("a part cannot exceed its whole")
    ratio = counts.cleared / counts.opened if counts.opened else math.nan
    return ClearanceRates(
        counts=counts,
        fast_hours=fast_hours,
        clearance=ratio,
        cohort=_proportion(counts.cohort_cleared, counts.opened, confidence),
        fast=_proportion(counts.fast, counts.cleared, confidence),
    )
