"""What a 110 call is about: categories, subtypes with their usual priority, invalid reasons.

Sources: /shared/reference/110-domain.md ("ref") and the seed. Subtype codes are those of
``qingzhi.incidents.enums.SUBTYPES``; priority 1 特急, 2 紧急, 3 一般, 4 咨询.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qingzhi.demo.draws import IntArray, pick

log = logging.getLogger(__name__)

# Category shares of valid incidents. ref: traffic about 30% of a city desk's calls (mostly
# congestion); criminal + public order about 10% of all calls (≈ 14% of valid ones); a station's
# daily work is mostly disputes, fights and other public-order matters, and help requests.
CATEGORY_SHARE = {
    "criminal": 0.09,
    "public_order": 0.14,
    "traffic": 0.28,
    "dispute": 0.26,
    "assistance": 0.23,
}
CATEGORIES = tuple(CATEGORY_SHARE)
# Subtypes, their share in the category and usual priority. ref: reports, help requests,
# class-three incidents.
SUBTYPES: dict[str, tuple[tuple[str, float, int], ...]] = {
    "criminal": (
        ("theft", 0.30, 3),  # traditional theft: the seed's 84% clearance figure
        ("burglary", 0.14, 2),
        ("vehicle_theft", 0.08, 3),
        ("theft_from_vehicle", 0.05, 3),
        ("pickpocketing", 0.04, 3),
        ("fraud", 0.10, 3),
        ("telecom_fraud", 0.12, 3),  # seed: 20 telecom-fraud suspects, 1.8 million yuan recovered
        ("assault", 0.09, 1),
        ("robbery", 0.02, 1),
        ("snatching", 0.02, 2),
        ("drugs", 0.02, 3),
        ("other_criminal", 0.02, 3),
    ),
    "public_order": (
        ("fight", 0.30, 2),
        ("gambling", 0.12, 3),
        ("noise", 0.20, 3),
        ("disturbance", 0.12, 2),
        ("property_damage", 0.08, 3),
        ("minor_theft", 0.08, 3),
        ("threat", 0.05, 2),
        ("drug_use", 0.02, 3),
        ("other_public_order", 0.03, 3),
    ),
    "traffic": (
        ("accident_property", 0.38, 3),
        ("accident_injury", 0.14, 1),
        ("congestion", 0.22, 3),  # ref: traffic calls are mostly congestion
        ("drunk_driving", 0.04, 2),
        ("hit_and_run", 0.03, 2),
        ("road_hazard", 0.08, 2),
        ("illegal_parking", 0.09, 4),
        ("other_traffic", 0.02, 3),
    ),
    "dispute": (
        ("family_dispute", 0.26, 3),
        ("neighbour_dispute", 0.24, 3),
        ("labour_dispute", 0.10, 3),
        ("consumer_dispute", 0.10, 3),
        ("land_dispute", 0.09, 3),
        ("debt_dispute", 0.08, 3),
        ("traffic_dispute", 0.09, 3),
        ("other_dispute", 0.04, 3),
    ),
    "assistance": (
        ("missing_elderly", 0.07, 2),  # ref: missing elderly people, children, mentally ill
        ("missing_child", 0.03, 1),
        ("missing_person", 0.04, 2),
        ("mental_illness", 0.06, 2),
        ("suicide_attempt", 0.03, 1),
        ("drowning", 0.01, 1),
        ("fall", 0.03, 1),
        ("fire", 0.03, 1),
        ("utility_hazard", 0.06, 2),  # ref: water, power, gas hazards
        ("locked_out", 0.16, 4),
        ("lost_property", 0.14, 4),
        ("medical", 0.08, 2),
        ("animal", 0.06, 3),
        ("other_assistance", 0.20, 4),
    ),
}
# Subtypes with a larger share during the Spring Festival (people come home).
FESTIVAL_BOOST_SUBTYPES = ("gambling", "family_dispute", "drunk_driving", "fight", "debt_dispute")
INVALID_REASONS = {  # share of invalid calls other than duplicates; ref: silent, prank, malicious
    "hang_up": 0.42,
    "prank": 0.12,
    "malicious": 0.03,
    "test": 0.04,
    "non_police": 0.30,  # ref: labour, commercial, consumer matters transferred elsewhere
    "enquiry": 0.09,
}
# Invalid calls about non-police matters: labour / consumer / debt quarrels sent elsewhere.
NON_POLICE_SUBTYPES = ("labour_dispute", "consumer_dispute", "debt_dispute")
PRIORITY_SHIFT = ((-1, 0.08), (0, 0.84), (1, 0.08))  # a call's priority off its subtype's usual


def draw_subtypes(
    rng: np.random.Generator, category: str, n: int, festival: NDArray[np.bool_]
) -> NDArray[Any]:
    """``n`` subtypes of ``category``; calls on festival days favour the festival subtypes."""
    names = [s[0] for s in SUBTYPES[category]]
    p = np.array([s[1] for s in SUBTYPES[category]])
    base = pick(rng, p, n)
    boost = [j for j, s in enumerate(names) if s in FESTIVAL_BOOST_SUBTYPES]
    if boost and festival.any():  # during the festival the boosted subtypes take a larger share
        pf = p.copy()
        pf[boost] *= 2.0
        base = np.where(festival, pick(rng, pf, n), base)
    return np.array(names, dtype=object)[base]


def draw_priorities(
    rng: np.random.Generator, sub: NDArray[Any], valid: NDArray[np.bool_], reason: NDArray[Any]
) -> IntArray:
    """Priorities: the subtype's usual one, sometimes a step off; invalid calls 4 (咨询).

    A duplicate call keeps the priority its matter would have.
    """
    usual = {s[0]: s[2] for c in SUBTYPES.values() for s in c}
    priority = np.array([usual.get(s, 3) if s else 4 for s in sub], dtype=np.int64)
    steps = [s for s, _ in PRIORITY_SHIFT]
    shift = rng.choice(steps, size=len(sub), p=[p for _, p in PRIORITY_SHIFT])
    priority = np.clip(priority + shift, 1, 4)
    priority[~valid] = np.where(reason[~valid] == "duplicate", priority[~valid], 4)
    return np.asarray(priority, dtype=np.int64)


def draw_invalid_reasons(rng: np.random.Generator, n: int) -> NDArray[Any]:
    """Reasons of ``n`` invalid calls other than duplicates, by ``INVALID_REASONS``."""
    reasons = list(INVALID_REASONS)
    return np.array(reasons, dtype=object)[pick(rng, [INVALID_REASONS[r] for r in reasons], n)]
