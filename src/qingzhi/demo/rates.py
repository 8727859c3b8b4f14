"""The rate model of the demo's 110 calls: how many, on which day, at which hour.

About 60,000 valid incidents a year (seed: "60,000+ valid incidents so far this year"), invalid
calls about 30% of all calls (ref: "invalid about 30%"). Calls of a category fall on a day by its
**month** and **weekday** profiles and a **Spring Festival** window (more family disputes,
gambling, fights and traffic accidents), and at an hour by its **hour-of-day** profile (burglaries
at night). Sources: /shared/reference/110-domain.md ("ref") and the seed.

``RateModel`` holds the volume and the category shares; ``DEFAULT_RATES`` is the demo's.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qingzhi.demo.categories import CATEGORY_SHARE, SUBTYPES
from qingzhi.demo.draws import FloatArray, IntArray, pick

log = logging.getLogger(__name__)

VALID_PER_YEAR = 60_000  # seed: "60,000+ valid incidents so far this year"
INVALID_SHARE = 0.30  # ref: invalid calls about 30% of all calls (silent, pranks, malicious)
# Hour-of-day profiles (local time, 0–23): relative weights.
HOURLY = {
    "criminal": [3, 3, 3, 3, 2, 2, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 4, 3],
    "public_order": [6, 5, 3, 2, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 6, 7, 8, 9, 10, 9, 8],
    "traffic": [2, 1, 1, 1, 1, 2, 4, 9, 10, 7, 6, 6, 7, 6, 6, 7, 8, 10, 10, 7, 5, 4, 3, 2],
    "dispute": [2, 1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 7, 7, 7, 7, 7, 7, 8, 9, 9, 8, 5, 3],
    "assistance": [3, 2, 2, 2, 2, 2, 3, 4, 6, 7, 7, 7, 6, 6, 6, 6, 6, 7, 7, 7, 6, 5, 4, 3],
    "invalid": [4, 4, 3, 3, 2, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 6, 5],
}
BURGLARY_NIGHT = [8, 9, 9, 8, 6, 3, 2, 2, 3, 4, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 5, 6, 7]
SUBTYPE_HOURLY = {"burglary": BURGLARY_NIGHT}  # subtypes with hours of their own
# Weekday (Mon..Sun): disorder and disputes rise at weekends, traffic on Fridays.
WEEKDAY = {
    "criminal": [1.0, 1.0, 1.0, 1.0, 1.05, 1.05, 1.0],
    "public_order": [0.9, 0.9, 0.9, 0.95, 1.1, 1.25, 1.15],
    "traffic": [1.0, 0.95, 0.95, 1.0, 1.15, 1.05, 1.0],
    "dispute": [0.95, 0.95, 0.95, 0.95, 1.0, 1.15, 1.1],
    "assistance": [1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.05],
    "invalid": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
}
# Month (Jan..Dec): summer brings fights, noise, drowning; winter fewer outdoor incidents.
MONTHLY = {
    "criminal": [1.0, 0.95, 0.95, 1.0, 1.0, 1.05, 1.1, 1.1, 1.0, 1.0, 1.0, 1.05],
    "public_order": [0.9, 0.9, 0.9, 0.95, 1.05, 1.15, 1.25, 1.2, 1.05, 0.95, 0.9, 0.9],
    "traffic": [1.1, 1.05, 0.95, 1.0, 1.0, 0.95, 1.0, 1.0, 1.0, 1.1, 0.95, 1.0],
    "dispute": [1.05, 1.1, 1.0, 1.0, 1.0, 1.0, 1.05, 1.0, 0.95, 0.95, 0.95, 1.0],
    "assistance": [0.95, 0.95, 0.95, 1.0, 1.0, 1.1, 1.2, 1.15, 1.0, 0.95, 0.9, 0.95],
    "invalid": [1.0] * 12,
}
# Spring Festival (春节): first day of the lunar year; multipliers from 10 days before to 7 after.
SPRING_FESTIVAL = {
    2020: (1, 25),
    2021: (2, 12),
    2022: (2, 1),
    2023: (1, 22),
    2024: (2, 10),
    2025: (1, 29),
    2026: (2, 17),
    2027: (2, 6),
    2028: (1, 26),
    2029: (2, 13),
    2030: (2, 3),
}
FESTIVAL_WINDOW = (-10, 7)
FESTIVAL_FACTOR = {  # people come home: gambling, family quarrels, drink-driving and crashes
    "criminal": 1.15,  # theft before the festival
    "public_order": 1.35,
    "traffic": 1.30,
    "dispute": 1.40,
    "assistance": 1.10,
    "invalid": 1.10,
}


@dataclass(frozen=True)
class RateModel:
    """The volume of calls, the category shares, and the day and hour profiles they follow."""

    valid_per_year: float = VALID_PER_YEAR
    invalid_share: float = INVALID_SHARE
    category_share: Mapping[str, float] = field(default_factory=lambda: dict(CATEGORY_SHARE))

    def valid_base(self, days: int, inflation: float) -> float:
        """Expected first calls of valid incidents in ``days`` days; repeats add ``inflation``."""
        return self.valid_per_year * (days / 365.0) / inflation

    def invalid_total(self, n_valid: int) -> int:
        """Invalid calls beside ``n_valid`` valid ones."""
        return round(n_valid * self.invalid_share / (1.0 - self.invalid_share))

    def day_weight(
        self, days: Sequence[dt.date], key: str, festival: NDArray[np.bool_]
    ) -> FloatArray:
        """Relative weight of each day for calls of ``key`` (a category or "invalid")."""
        month = np.array([MONTHLY[key][d.month - 1] for d in days])
        wday = np.array([WEEKDAY[key][d.weekday()] for d in days])
        fest = np.where(festival, FESTIVAL_FACTOR[key], 1.0)
        return np.asarray(month * wday * fest, dtype=np.float64)

    def hour_weight(self, key: str) -> list[int]:
        """Relative weight of each local hour (0–23) for calls of ``key``."""
        return HOURLY[key]

    def draw_hours(self, rng: np.random.Generator, category: str, sub: NDArray[Any]) -> IntArray:
        """The local hour of each call of ``category`` with subtypes ``sub``."""
        hour: IntArray = pick(rng, self.hour_weight(category), len(sub))
        for subtype, hourly in SUBTYPE_HOURLY.items():
            if any(s[0] == subtype for s in SUBTYPES[category]):
                own = sub == subtype
                hour[own] = pick(rng, hourly, int(own.sum()))
        return hour


DEFAULT_RATES = RateModel()


def festival_days(days: Sequence[dt.date]) -> NDArray[np.bool_]:
    """Whether each day lies in a Spring Festival window."""
    out = np.zeros(len(days), dtype=bool)
    for i, d in enumerate(days):
        for year in (d.year - 1, d.year, d.year + 1):
            if year in SPRING_FESTIVAL:
                m, dd = SPRING_FESTIVAL[year]
                off = (d - dt.date(year, m, dd)).days
                if FESTIVAL_WINDOW[0] <= off <= FESTIVAL_WINDOW[1]:
                    out[i] = True
    return out


def clock(rng: np.random.Generator, day: ArrayLike, hour: ArrayLike) -> FloatArray:
    """Seconds from the start of the window: day and hour given, uniform within the hour."""
    d, h = np.asarray(day), np.asarray(hour)
    return np.asarray(d * 86400.0 + h * 3600.0 + rng.uniform(0.0, 3600.0, len(d)), dtype=np.float64)
