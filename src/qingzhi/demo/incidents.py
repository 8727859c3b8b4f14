"""A year of synthetic 110 calls for the demo county (pure numpy: no database, no web).

``generate_incidents(county, days=365, seed=…, start=…)`` returns ``IncidentSpec`` records, one per
call, valid or not, sorted by reception time. Each spec maps 1:1 onto the intake body
(``IncidentSpec.to_intake()``): source_id, received_at, category, subtype, description, address,
caller_phone, location {lon, lat, datum: wgs84}, priority, valid, invalid_reason, the lifecycle
times, plus the demo-only fields (station_code, repeat_of, case and mediation outcomes).

How the calls are made, each part with its figures and their sources in its own module:

* **Volume and seasonality** (``qingzhi.demo.rates``) — daily counts around a rate shaped by
  hour-of-day, weekday, month and the Spring Festival; invalid calls about 30% of all calls.
* **Categories** (``qingzhi.demo.categories``) — category and subtype shares, usual priorities,
  why an invalid call was invalid.
* **Places** (``qingzhi.demo.places``) — township by population, near its seat, in its villages,
  on a trunk road or at a persistent hotspot.
* **Repeats** (``qingzhi.demo.repeats``) — near-repeat contagion of burglary and theft, recurring
  disputes, duplicate calls.
* **Lifecycle** (``qingzhi.demo.lifecycle``) — dispatch, the drive, queueing, handling, closure.
* **Cases and disputes** (``qingzhi.demo.outcomes``) — clearance and fast clearance, mediation.
* **Words** (``qingzhi.demo.texts``) — addresses, descriptions, callers' numbers.

Everything is synthetic and labelled so; same county, seed, start and days → identical specs.
The parts draw from one generator in a fixed order; changing that order changes the demo.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qingzhi.demo.categories import (
    CATEGORIES,
    NON_POLICE_SUBTYPES,
    draw_invalid_reasons,
    draw_priorities,
    draw_subtypes,
)
from qingzhi.demo.county import County
from qingzhi.demo.draws import FloatArray, IntArray, pick
from qingzhi.demo.incident_spec import Calls, IncidentSpec, local_midnight, source_ids
from qingzhi.demo.lifecycle import draw_lifecycle, excess_load
from qingzhi.demo.outcomes import draw_clearance, draw_mediation_outcomes
from qingzhi.demo.places import Places
from qingzhi.demo.rates import DEFAULT_RATES, RateModel, clock, festival_days
from qingzhi.demo.repeats import add_contagion, add_duplicates, add_recurrences, inflation
from qingzhi.demo.texts import draw_callers, draw_wording, phone_number
from qingzhi.geo.projection import to_lonlat

log = logging.getLogger(__name__)

__all__ = ["IncidentSpec", "generate_incidents"]

DEFAULT_START = dt.date(2025, 1, 1)
DEFAULT_SEED = 110


def generate_incidents(
    county: County,
    *,
    days: int = 365,
    seed: int = DEFAULT_SEED,
    start: dt.date = DEFAULT_START,
    rates: RateModel = DEFAULT_RATES,
    town_factor: Mapping[str, Mapping[str, float]] | None = None,
    mediation_median_min: float | None = None,
) -> list[IncidentSpec]:
    """Synthetic 110 calls for ``days`` days from ``start`` (local dates), sorted by time.

    ``town_factor`` scales a category's first calls in some townships (category → township code
    → factor: the pre-reform year's crime in the stations the reform bundled);
    ``mediation_median_min`` replaces the median time of a mediated dispute. Each window draws
    from a stream of its own (seeded with its first day), so two years are two samples."""
    if days < 1:
        raise ValueError("days must be at least 1")
    rng = np.random.default_rng([seed, county.seed, start.toordinal()])
    places = Places(county, rng)
    factors = {
        key: np.array([town_factor.get(key, {}).get(t.code, 1.0) for t in county.townships])
        for key in CATEGORIES
        if town_factor and key in town_factor
    }
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    festival = festival_days(dates)
    horizon = days * 86400.0

    calls = _first_calls(rng, rates, places, dates, festival, factors)
    add_contagion(rng, calls, places, horizon)
    calls["phone"], calls["prefix"] = draw_callers(rng, len(calls))
    add_recurrences(rng, calls, horizon)
    n_valid = len(calls)
    calls["valid"] = np.ones(n_valid, dtype=bool)
    calls["reason"] = np.full(n_valid, None, dtype=object)
    n_dup = add_duplicates(rng, calls, horizon)
    n_other = max(rates.invalid_total(n_valid) - n_dup, 0)
    _add_invalid(rng, calls, rates, places, dates, festival, n_other)
    return _specs(rng, county, places, start, calls, mediation_median_min)


def _first_calls(
    rng: np.random.Generator,
    rates: RateModel,
    places: Places,
    dates: list[dt.date],
    festival: NDArray[np.bool_],
    factors: Mapping[str, FloatArray],
) -> Calls:
    """The first calls of valid incidents, category by category (no repeats yet)."""
    base_valid = rates.valid_base(len(dates), inflation(rates.category_share))
    cols: dict[str, list[Any]] = {k: [] for k in ("t", "cat", "sub", "x", "y", "town")}
    for ci, key in enumerate(CATEGORIES):
        weight = rates.day_weight(dates, key, festival)
        expected = base_valid * rates.category_share[key]
        n = int(rng.poisson(expected))
        factor = factors.get(key)
        n_extra = 0  # the extra calls of townships with a factor, placed inside them
        if factor is not None:
            n_extra = int(rng.poisson(expected * (places.mean_factor(key, factor) - 1.0)))
        day = pick(rng, weight, n + n_extra)
        sub = draw_subtypes(rng, key, n + n_extra, festival[day])
        t = clock(rng, day, rates.draw_hours(rng, key, sub))
        x, y, town = places.sample(rng, n, key)
        if factor is not None:
            ex, ey, et = places.sample_within(rng, n_extra, key, factor - 1.0)
            x, y, town = (
                np.concatenate([x, ex]),
                np.concatenate([y, ey]),
                np.concatenate([town, et]),
            )
        for name, col in zip(cols, (t, np.full(n + n_extra, ci), sub, x, y, town), strict=True):
            cols[name].append(col)
    return Calls(
        t=np.concatenate(cols["t"]),
        cat=np.concatenate(cols["cat"]).astype(np.int64),
        sub=np.concatenate(cols["sub"]),
        x=np.concatenate(cols["x"]),
        y=np.concatenate(cols["y"]),
        town=np.concatenate(cols["town"]).astype(np.int64),
        parent=np.full(sum(len(c) for c in cols["t"]), -1, dtype=np.int64),
    )


def _add_invalid(
    rng: np.random.Generator,
    calls: Calls,
    rates: RateModel,
    places: Places,
    dates: list[dt.date],
    festival: NDArray[np.bool_],
    n: int,
) -> None:
    """``n`` invalid calls other than duplicates: silent, pranks, enquiries, non-police matters."""
    day = pick(rng, rates.day_weight(dates, "invalid", festival), n)
    t = clock(rng, day, pick(rng, rates.hour_weight("invalid"), n))
    x, y, town = places.sample(rng, n, "invalid")
    reason = draw_invalid_reasons(rng, n)
    phone, prefix = draw_callers(rng, n)
    calls.append(
        t=t,
        cat=np.full(n, -1),
        sub=np.full(n, None, dtype=object),
        x=x,
        y=y,
        town=town,
        parent=np.full(n, -1),
        phone=phone,
        prefix=prefix,
        valid=np.zeros(n, dtype=bool),
        reason=reason,
    )
    # Non-police matters are labour / consumer / debt quarrels sent to other departments.
    cat, sub = calls["cat"], calls["sub"]
    non_police = calls["reason"] == "non_police"
    cat[non_police] = CATEGORIES.index("dispute")
    sub[non_police] = np.array(NON_POLICE_SUBTYPES, dtype=object)[
        rng.integers(0, len(NON_POLICE_SUBTYPES), int(non_police.sum()))
    ]
    cat[cat < 0] = CATEGORIES.index("assistance")


def _roots(parent: IntArray) -> IntArray:
    """The first call about each call's matter (itself when it repeats none)."""
    root = np.arange(len(parent))
    has_parent = parent >= 0
    root[has_parent] = parent[has_parent]
    while True:
        up = parent[root]
        nxt = np.where(up >= 0, up, root)
        if np.array_equal(nxt, root):
            return root
        root = nxt


def _specs(
    rng: np.random.Generator,
    county: County,
    places: Places,
    start: dt.date,
    calls: Calls,
    mediation_median_min: float | None = None,
) -> list[IncidentSpec]:
    """Priority, lifecycle, outcomes, words and identifiers; the specs by reception time."""
    t = np.floor(calls["t"])  # whole seconds
    x, y, town, cat, sub = calls["x"], calls["y"], calls["town"], calls["cat"], calls["sub"]
    valid, reason, parent = calls["valid"], calls["reason"], calls["parent"]
    n = len(t)
    order = np.lexsort((np.arange(n), t))
    urban = places.urban[town]

    priority = draw_priorities(rng, sub, valid, reason)
    life = draw_lifecycle(
        rng,
        t=t,
        priority=priority,
        cat=cat,
        valid=valid,
        urban=urban,
        distance=np.hypot(x - places.seat[town, 0], y - places.seat[town, 1]),
        excess=excess_load(t, valid, town, urban),
        mediation_median_min=mediation_median_min,
    )
    is_crime = valid & (cat == CATEGORIES.index("criminal"))
    clearance = draw_clearance(rng, t, sub, is_crime)
    outcome = draw_mediation_outcomes(rng, n)
    ids = source_ids(t, order, start)
    lon, lat = to_lonlat(x, y, county.epsg)
    words = draw_wording(county, rng, n)
    epoch = local_midnight(start).timestamp()
    utc = dt.UTC

    def when(seconds: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(epoch + seconds, utc)

    # Plain Python lists: indexing them in the loop is far faster than numpy scalars.
    towns = county.townships
    town_l, root_l, urban_l = town.tolist(), _roots(parent).tolist(), urban.tolist()
    cat_l, valid_l, reason_l, parent_l = (
        cat.tolist(),
        valid.tolist(),
        reason.tolist(),
        parent.tolist(),
    )
    sub_l, prio_l = sub.tolist(), priority.tolist()
    phone_l, prefix_l = calls["phone"].tolist(), calls["prefix"].tolist()
    lon_l, lat_l = np.round(lon, 6).tolist(), np.round(lat, 6).tolist()
    t_l, td_l, ta_l = t.tolist(), life.dispatched.tolist(), life.arrived.tolist()
    tr_l, tc_l, ti_l = life.resolved.tolist(), life.closed.tolist(), life.invalid_closed.tolist()
    crime_l, disp_l = is_crime.tolist(), (valid & (cat == CATEGORIES.index("dispute"))).tolist()
    cleared_l, fast_l, tcl_l = (
        clearance.cleared.tolist(),
        clearance.fast.tolist(),
        clearance.at.tolist(),
    )
    med_l, medmin_l = life.mediation.mediated.tolist(), np.round(life.mediation.minutes, 1).tolist()
    outcome_l = outcome.tolist()

    specs: list[IncidentSpec] = []
    for i in order.tolist():
        r = root_l[i]
        ok, why, st = valid_l[i], reason_l[i], sub_l[i]
        crime, disp = crime_l[i], disp_l[i]
        specs.append(
            IncidentSpec(
                source_id=ids[i],
                received_at=when(t_l[i]),
                category=CATEGORIES[cat_l[i]],
                subtype=st if (ok or why in ("duplicate", "non_police")) else None,
                description=words.description(i, st, ok, why),
                address=words.address(towns[town_l[r]], town_l[r], urban_l[r], r),
                caller_phone=phone_number(prefix_l[i], phone_l[i]),
                lon=lon_l[i],
                lat=lat_l[i],
                priority=prio_l[i],
                valid=ok,
                invalid_reason=None if ok else why,
                station_code=towns[town_l[i]].code,
                dispatched_at=when(td_l[i]) if ok else None,
                arrived_at=when(ta_l[i]) if ok else None,
                # An invalid call is settled on the telephone (received → resolved → closed).
                resolved_at=when(tr_l[i]) if ok else when(ti_l[i]),
                closed_at=when(tc_l[i]) if ok else when(ti_l[i]),
                repeat_of=ids[parent_l[i]] if parent_l[i] >= 0 else None,
                cleared=cleared_l[i] if crime else None,
                cleared_at=when(tcl_l[i]) if crime and cleared_l[i] else None,
                fast_cleared=fast_l[i] if crime else None,
                mediated=med_l[i] if disp else None,
                mediation_outcome=(outcome_l[i] if med_l[i] else "referred") if disp else None,
                mediation_minutes=medmin_l[i] if med_l[i] else None,
            )
        )
    return specs
