"""Simulated panels and station records shaped like the demo county, with known truths.

Used by the simulation studies (``tests/analysis/test_*_sim.py``) and ``bench/kpi.py`` to check
that the estimators recover what was injected. Everything here is synthetic and labelled so.

Shape (the demo county, ``qingzhi.demo.county``): 26 stations — 2 urban (190,000 and 150,000
residents) and 24 rural sharing 595,000 (lognormal) — of which 17 rural stations are bundled
(treated: the smaller ones; the busiest stay alone), so 9 controls. About 60,000 valid calls a
year, 23% criminal or public order (``qingzhi.demo.incidents``): ≈ 12 per 10,000 residents per
month, more in town.

Panel model: ``y_st ~ Poisson(μ_st·ε_st)`` with ``μ_st = pop_s·rate·u_s·season_t·trend^(t/12)``
× the injected rate ratio on treated stations from the reform month (× ``spill`` on the
designated neighbours), ``ε`` = gamma noise (mean 1, variance ``overdispersion``) times an
AR(1) log-normal station shock, so a station's months are correlated (why clustering matters).
The county-wide trend of ``TREND = 0.886`` a year makes the seed's naive year-on-year figure
overstate a true −50% as about −55.7%.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qingzhi.analysis.panel import Panel
from qingzhi.analysis.scoring import StationRecords

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
N_STATIONS, N_TREATED = 26, 17
URBAN_POPULATION = (190_000, 150_000)
RURAL_POPULATION = 595_000
RATE_PER_10K_MONTH = 12.3  # criminal + public-order valid calls per 10,000 residents a month
VALID_PER_YEAR = 60_000
TREND = 0.886  # county-wide change a year (−11.4%)


def demo_populations(rng: np.random.Generator) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Residents of 26 stations (2 urban first) and which 17 are bundled (smaller rural ones)."""
    w = rng.lognormal(0.0, 0.35, 24)
    rural = np.round(RURAL_POPULATION * w / w.sum())
    pops = np.concatenate([np.array(URBAN_POPULATION, dtype=np.float64), rural])
    order = np.argsort(rural)  # the 17 smallest rural stations are bundled (the demo's rule)
    treated = np.zeros(N_STATIONS, dtype=bool)
    treated[2 + order[:N_TREATED]] = True
    return pops, treated


def simulate_panel(
    seed: int,
    *,
    rate_ratio: float = 0.5,
    months: int = 24,
    reform_index: int = 12,
    trend: float = TREND,
    overdispersion: float = 0.02,
    ar_sd: float = 0.05,
    ar_rho: float = 0.5,
    spill: float = 1.0,
    n_ring: int = 4,
    start: str = "2024-01",
) -> Panel:
    """A station × month panel of criminal + public-order calls with a known reform effect.

    The first ``n_ring`` control stations border treated stations (and get ``spill`` from the
    reform on); the other controls are far. Station codes are ``S01``…``S26``.
    """
    rng = np.random.default_rng(seed)
    pops, treated = demo_populations(rng)
    n = len(pops)
    u = rng.lognormal(0.0, 0.2, n) * np.where(np.arange(n) < 2, 1.5, 1.0)
    t = np.arange(months)
    season = 1.0 + 0.1 * np.sin(2 * np.pi * (t - 3) / 12.0)
    mu = (pops * RATE_PER_10K_MONTH / 1e4 * u)[:, None] * season[None, :] * trend ** (t / 12.0)
    controls = np.flatnonzero(~treated)
    ring = np.zeros(n, dtype=bool)
    ring[controls[:n_ring]] = True
    post = t >= reform_index
    mu = mu * np.where(treated[:, None] & post[None, :], rate_ratio, 1.0)
    mu = mu * np.where(ring[:, None] & post[None, :], spill, 1.0)
    shock = np.zeros((n, months))
    e = rng.normal(0.0, ar_sd, (n, months))
    for k in range(months):
        shock[:, k] = (ar_rho * shock[:, k - 1] if k else 0.0) + e[:, k]
    gamma = (
        rng.gamma(1.0 / overdispersion, overdispersion, (n, months))
        if overdispersion > 0
        else np.ones((n, months))
    )
    y = rng.poisson(mu * gamma * np.exp(shock - ar_sd**2 / (2 * (1 - ar_rho**2))))
    codes = tuple(f"S{i + 1:02d}" for i in range(n))
    treated_codes = [codes[i] for i in np.flatnonzero(treated)]
    neighbours = {
        codes[i]: (treated_codes[k % len(treated_codes)],)
        for k, i in enumerate(np.flatnonzero(ring))
    }
    first = np.datetime64(start, "M")
    return Panel(
        stations=codes,
        months=first + np.arange(months),
        values=y.astype(np.float64),
        treated=treated,
        reform_month=first + reform_index,
        exposure=pops,
        neighbours=neighbours,
        outcome="刑事治安警情（模拟）",
    )


@dataclass(frozen=True)
class ScoringTruth:
    """The true parameters of each station's records for one quarter (one entry per station)."""

    stations: tuple[str, ...]
    groups: tuple[str, ...]
    population: FloatArray
    incidents: FloatArray  # expected valid incidents in the quarter
    prevention: FloatArray  # P(criminal or public order)
    last_year: FloatArray  # expected valid incidents a year earlier
    repeat: FloatArray  # P(repeat call)
    dispatched: FloatArray  # P(dispatched)
    fast_dispatch: FloatArray  # P(≤ 3 min | dispatched)
    town: FloatArray  # P(arrived in town)
    fast_arrival: FloatArray  # P(≤ 5 min | arrived in town)

    def values(self) -> dict[str, FloatArray]:
        """The true indicator values (expected rates, ratios and shares)."""
        return {
            "prevention_rate": 1e4 * self.incidents * self.prevention / self.population,
            "prevention_change": self.incidents / self.last_year,
            "repeat_share": self.repeat,
            "dispatch_3min": self.fast_dispatch,
            "arrival_5min_town": self.fast_arrival,
        }


def scoring_truth(seed: int, *, quarter_scale: float = 0.25) -> ScoringTruth:
    """Station parameters for one quarter, shaped like the demo county (urban/central/rural)."""
    rng = np.random.default_rng(seed)
    pops, treated = demo_populations(rng)
    n = len(pops)
    groups = ["urban", "urban"]
    central = set(np.flatnonzero(treated)[:8].tolist())
    groups += ["central" if i in central else "rural" for i in range(2, n)]
    weight = pops * np.where(np.arange(n) < 2, 1.4, 1.0) * rng.lognormal(0.0, 0.15, n)
    incidents = VALID_PER_YEAR * quarter_scale * weight / weight.sum()
    return ScoringTruth(
        stations=tuple(f"S{i + 1:02d}" for i in range(n)),
        groups=tuple(groups),
        population=pops,
        incidents=incidents,
        prevention=rng.uniform(0.18, 0.28, n),
        last_year=incidents / rng.uniform(0.8, 1.15, n),
        repeat=rng.uniform(0.03, 0.09, n),
        dispatched=rng.uniform(0.9, 0.99, n),
        fast_dispatch=rng.uniform(0.85, 0.98, n),
        town=rng.uniform(0.2, 0.5, n),
        fast_arrival=rng.uniform(0.6, 0.9, n),
    )


def simulate_records(truth: ScoringTruth, rng: np.random.Generator) -> list[StationRecords]:
    """One quarter's incident records per station drawn from the truth (flags per record)."""
    out = []
    for i, code in enumerate(truth.stations):
        n = int(rng.poisson(truth.incidents[i]))
        m = int(rng.poisson(truth.last_year[i]))
        dispatched = rng.random(n) < truth.dispatched[i]
        town = rng.random(n) < truth.town[i]
        incidents = {
            "prevention": rng.random(n) < truth.prevention[i],
            "repeat": rng.random(n) < truth.repeat[i],
            "dispatched": dispatched,
            "dispatched_3min": dispatched & (rng.random(n) < truth.fast_dispatch[i]),
            "town_arrived": town,
            "town_arrived_5min": town & (rng.random(n) < truth.fast_arrival[i]),
        }
        last = {"prevention": rng.random(m) < truth.prevention[i]}
        out.append(
            StationRecords(
                code,
                truth.groups[i],
                float(truth.population[i]),
                {"incidents": incidents, "incidents_last_year": last},
            )
        )
    return out
