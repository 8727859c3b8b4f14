"""Calls that follow other calls: near-repeat crime, recurring matters, duplicate calls.

* **Contagion** — burglary and theft follow a self-exciting (Hawkes) cluster process: each event
  triggers on average ``BRANCHING`` offspring within a few hundred metres and a few days, the
  near-repeat pattern of Johnson & Bowers (2004) and the ETAS-style model of Mohler et al. (2011).
  Offspring are new incidents, not repeat calls.
* **Recurrence** — some disputes and noise complaints recur at the same address days later
  (valid, ``repeat_of`` the earlier one).
* **Duplicates** — some incidents get 1–2 more calls minutes later (invalid, ``duplicate``,
  ``repeat_of`` the first), half of them from the same caller.

Each works on the generator's ``Calls`` (columns t, cat, sub, x, y, town, parent, …) and adds rows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from qingzhi.demo.categories import SUBTYPES
from qingzhi.demo.incident_spec import Calls
from qingzhi.demo.places import Places
from qingzhi.demo.texts import draw_callers

log = logging.getLogger(__name__)

CONTAGION_SUBTYPES = ("burglary", "theft", "theft_from_vehicle")
BRANCHING = 0.35  # mean offspring per event (< 1: a stable process)
CONTAGION_DAYS = 4.0  # mean delay of an offspring
CONTAGION_SD_M = 180.0  # spatial spread of an offspring
RECUR_SUBTYPES = ("family_dispute", "neighbour_dispute", "noise", "debt_dispute", "land_dispute")
RECUR_SHARE = 0.10  # of those: the matter recurs at the same address days later (valid)
RECUR_DAYS = (1.0, 21.0)
RECUR_SD_M = 10.0  # the same address, give or take a doorway
DUPLICATE_SHARE = 0.06  # valid incidents followed by 1–2 duplicate calls (invalid: duplicate)
DUPLICATE_DELAY_MIN = (2.0, 40.0)
DUPLICATE_SAME_CALLER = 0.5


def inflation(category_share: Mapping[str, float]) -> float:
    """Valid incidents per first call, counting the expected offspring and recurrences."""
    contagion_share = sum(
        category_share["criminal"] * s[1]
        for s in SUBTYPES["criminal"]
        if s[0] in CONTAGION_SUBTYPES
    )
    recur_share = sum(
        category_share[c] * s[1] * RECUR_SHARE
        for c in ("dispute", "public_order")
        for s in SUBTYPES[c]
        if s[0] in RECUR_SUBTYPES
    )
    return 1.0 + contagion_share * BRANCHING / (1.0 - BRANCHING) + recur_share


def add_contagion(rng: np.random.Generator, calls: Calls, places: Places, horizon: float) -> None:
    """Generations of offspring of the burglary and theft calls, before ``horizon`` seconds."""
    gen = np.flatnonzero(np.isin(calls["sub"], CONTAGION_SUBTYPES))
    while len(gen):
        src = np.repeat(gen, rng.poisson(BRANCHING, size=len(gen)))
        if not len(src):
            break
        ot = calls["t"][src] + rng.exponential(CONTAGION_DAYS * 86400.0, len(src))
        keep = ot < horizon
        src, ot = src[keep], ot[keep]
        ox = calls["x"][src] + rng.normal(0.0, CONTAGION_SD_M, len(src))
        oy = calls["y"][src] + rng.normal(0.0, CONTAGION_SD_M, len(src))
        ox, oy, otown = places.settle(ox, oy, calls["town"][src], rng)
        first = len(calls)
        calls.extend(src, t=ot, x=ox, y=oy, town=otown, parent=np.full(len(src), -1))
        gen = np.arange(first, len(calls))


def add_recurrences(rng: np.random.Generator, calls: Calls, horizon: float) -> None:
    """Recurring disputes and noise at the same address days later, before ``horizon``."""
    sub = calls["sub"]
    rec = np.flatnonzero(np.isin(sub, RECUR_SUBTYPES) & (rng.random(len(sub)) < RECUR_SHARE))
    rt = calls["t"][rec] + rng.uniform(*RECUR_DAYS, len(rec)) * 86400.0
    keep = rt < horizon
    rec, rt = rec[keep], rt[keep]
    x = calls["x"][rec] + rng.normal(0, RECUR_SD_M, len(rec))
    y = calls["y"][rec] + rng.normal(0, RECUR_SD_M, len(rec))
    calls.extend(rec, t=rt, x=x, y=y, parent=rec)


def add_duplicates(rng: np.random.Generator, calls: Calls, horizon: float) -> int:
    """Duplicate calls minutes after valid ones, before ``horizon``; how many were added."""
    src = np.flatnonzero(rng.random(len(calls)) < DUPLICATE_SHARE)
    src = np.repeat(src, rng.integers(1, 3, size=len(src)))
    dup_t = calls["t"][src] + rng.uniform(*DUPLICATE_DELAY_MIN, len(src)) * 60.0
    keep = dup_t < horizon
    src, dup_t = src[keep], dup_t[keep]
    same_caller = rng.random(len(src)) < DUPLICATE_SAME_CALLER
    other_phone, other_prefix = draw_callers(rng, len(src))
    calls.extend(
        src,
        t=dup_t,
        valid=np.zeros(len(src), dtype=bool),
        reason=np.full(len(src), "duplicate", dtype=object),
        parent=src,
        phone=np.where(same_caller, calls["phone"][src], other_phone),
        prefix=np.where(same_caller, calls["prefix"][src], other_prefix),
    )
    return len(src)
