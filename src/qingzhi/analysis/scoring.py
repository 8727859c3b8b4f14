"""Station scores and ranks with bootstrap intervals (绩效考核计分与排名).

Input: one ``StationRecords`` per station for the period (its group, residents and, per source,
boolean columns with one flag per record: see ``qingzhi.analysis.indicators``) and a ``Scheme``.
Output: a ``ScoreBoard`` — each station's indicators (value, exact interval, normalised value),
score with its interval, rank with its interval, and the stations it is tied with.

Method.

* **Indicators** are plug-in estimates from the records (rates per 10,000 residents, shares,
  year-on-year ratios), each with its analytic interval (Garwood, Wilson or exact conditional:
  ``qingzhi.analysis.rates``). An undefined value (a share with no records, a ratio with no
  baseline) is scored on its reference (normalised 1.0) and flagged.
* **Score** = 100 × Σ wᵢ·nᵢ with the scheme's normalisation nᵢ (``qingzhi.analysis.scheme``);
  group references are the unweighted mean of the group's stations (peers count as equals),
  recomputed in every draw — so a small, noisy peer widens everyone's interval in its group,
  which is the honest uncertainty of a peer comparison. A group of one scores 100 on it.
* **Uncertainty**: the Poisson bootstrap (Hanley & MacGibbon 2006, "Creating non-parametric
  bootstrap samples using Poisson frequencies", *Comput. Methods Programs Biomed.* 83:57-62;
  Chamandy et al. 2012): each record of each station is drawn Poisson(1) times, independently.
  Unlike resampling a fixed number of records, this lets a station's count vary (a count of
  incidents is itself the noisy quantity: variance ≈ the count), and it lets the draws of all
  stations be independent, so group means, scores and ranks are recomputed jointly per draw.
  Records with identical flags are exchangeable, so a pattern seen ``m`` times is drawn as one
  Poisson(m): exact, and fast enough for 26 stations × 1,000 draws in milliseconds.
* **Intervals** are bootstrap percentiles; the rank interval is the percentiles of each
  station's rank over the draws. Stations whose score intervals overlap are **tied**: a
  station's displayed rank range runs from 1 + (stations surely better) to n − (stations surely
  worse), so a small station is not placed on noise.

Indicators of a scheme whose source no station provides are excluded for the period (reason in
``ScoreBoard.excluded``) and the remaining weights rescaled to sum to 1.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from qingzhi.analysis.indicators import INDICATOR_BY_ID, SOURCE_NAMES, Indicator, Measure
from qingzhi.analysis.rates import PER_10K, poisson_bounds, rate_ratio_bounds, wilson_bounds
from qingzhi.analysis.scheme import Scheme, SchemeItem
from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
MAX_DRAWS = 10_000
CHUNK_CELLS = 2_000_000  # Poisson draws held at once (16 MB)


@dataclass(frozen=True)
class StationRecords:
    """One station's records for the period: ``records[source][column]`` is one flag a record."""

    station: str  # the unit's code
    group: str  # normalisation group: "urban", "rural", "central", …
    population: float  # registered residents (for rates per 10,000)
    records: Mapping[str, Mapping[str, BoolArray]]


@dataclass(frozen=True)
class IndicatorScore:
    """One indicator of one station: value, exact interval, normalised value, effective weight."""

    indicator: str
    value: float  # nan when undefined (no denominator)
    low: float
    high: float
    numerator: int
    denominator: float  # records, baseline count, or residents for rates
    normalised: float  # 1.0 = on the reference
    weight: float  # effective weight after exclusions
    defined: bool


@dataclass(frozen=True)
class StationScore:
    """A station's score and rank with their bootstrap intervals, and who it is tied with."""

    station: str
    group: str
    score: float
    score_low: float
    score_high: float
    rank: int  # 1 = best, by the point score
    rank_low: int  # bootstrap percentile interval of the rank
    rank_high: int
    rank_best: int  # displayed range: 1 + stations whose interval lies wholly above
    rank_worst: int  # n − stations whose interval lies wholly below
    tied_with: tuple[str, ...]  # stations whose score intervals overlap this one's
    indicators: tuple[IndicatorScore, ...]


@dataclass(frozen=True)
class ScoreBoard:
    """All stations' scores for one period under one scheme version (sorted best first)."""

    scheme_version: str
    scheme_digest: str
    draws: int
    confidence: float
    seed: int
    weights: Mapping[str, float]  # effective weights of the scored indicators
    excluded: tuple[tuple[str, str], ...]  # (indicator, reason in Chinese)
    stations: tuple[StationScore, ...]

    def station(self, code: str) -> StationScore:
        """The score of one station (KeyError when absent)."""
        for s in self.stations:
            if s.station == code:
                return s
        raise KeyError(code)


def default_seed(scheme: Scheme) -> int:
    """The bootstrap seed used when none is given: from the scheme's digest (reproducible)."""
    return int(scheme.digest[:15], 16)


def normalise(values: FloatArray, groups: Sequence[str], items: Sequence[SchemeItem]) -> FloatArray:
    """Normalised values ``1 + s·(v − ref)/ref`` for values shaped (..., stations, items)."""
    v = np.asarray(values, dtype=np.float64)
    out = np.ones_like(v)
    g = np.asarray(groups)
    for j, it in enumerate(items):
        col = v[..., j]
        if it.normalise == "target":
            assert it.target is not None
            ref = np.full(col.shape, it.target)
        else:
            ref = np.empty_like(col)
            for name in np.unique(g):
                m = g == name
                with warnings.catch_warnings():  # an all-nan group: its reference is nan
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = np.nanmean(col[..., m], axis=-1, keepdims=True)
                ref[..., m] = mean
        sign = 1.0 if it.direction == "higher" else -1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            n = 1.0 + sign * (col - ref) / ref
        ok = np.isfinite(n) & (ref > 0)
        out[..., j] = np.where(ok, n, 1.0)
    return out


def score_values(
    values: FloatArray, groups: Sequence[str], items: Sequence[SchemeItem]
) -> FloatArray:
    """Scores (100 × Σ w·n) from indicator values shaped (..., stations, items)."""
    w = np.array([it.weight for it in items], dtype=np.float64)
    return np.asarray(100.0 * normalise(values, groups, items) @ (w / w.sum()), np.float64)


def _sum_specs(measure: Measure) -> tuple[tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...]]]:
    """The (source, columns ANDed) of the numerator and denominator sums of a measure."""
    if measure.kind == "rate":
        return (measure.source, (measure.numerator,)), (measure.source, ())
    if measure.kind == "share":
        den = () if measure.denominator is None else (measure.denominator,)
        return (measure.source, (measure.numerator, *den)), (measure.source, den)
    assert measure.baseline is not None
    return (measure.source, (measure.numerator,)), (measure.baseline, (measure.numerator,))


def _check(stations: Sequence[StationRecords]) -> None:
    if not stations:
        raise ValidationFailed.field("stations", "没有参与考核的派出所")
    codes = [s.station for s in stations]
    if len(set(codes)) != len(codes):
        raise ValidationFailed.field("stations", "派出所重复")
    for s in stations:
        if not (math.isfinite(s.population) and s.population > 0):
            raise ValidationFailed.field(f"stations.{s.station}.population", "户籍人口须大于 0")
        for source, cols in s.records.items():
            lengths = {len(np.asarray(c)) for c in cols.values()}
            if len(lengths) > 1:
                raise ValidationFailed.field(
                    f"stations.{s.station}.records.{source}", "各列记录数不一致"
                )


def score_stations(
    stations: Sequence[StationRecords],
    scheme: Scheme,
    *,
    draws: int = 1000,
    confidence: float = 0.95,
    seed: int | None = None,
) -> ScoreBoard:
    """Score and rank stations under a scheme with Poisson-bootstrap intervals over records."""
    _check(stations)
    if not 1 <= draws <= MAX_DRAWS:
        raise ValidationFailed.field("draws", f"抽样次数须在 1 到 {MAX_DRAWS} 之间")
    if not 0.5 <= confidence < 1.0:
        raise ValidationFailed.field("confidence", "置信水平须在 0.5 到 1 之间")
    seed = default_seed(scheme) if seed is None else seed
    provided = {src for s in stations for src in s.records}
    excluded: list[tuple[str, str]] = []
    active: list[SchemeItem] = []
    for it in scheme.items:
        if it.weight <= 0:
            continue
        missing = [
            src for src in INDICATOR_BY_ID[it.indicator].measure.sources if src not in provided
        ]
        if missing:
            words = "、".join(SOURCE_NAMES.get(src, src) for src in missing)
            excluded.append((it.indicator, f"本期没有{words}记录，不计权重"))
        else:
            active.append(it)
    if not active:
        raise ValidationFailed.field("period", "该时段没有可计分的数据")
    inds = [INDICATOR_BY_ID[it.indicator] for it in active]
    total_records = sum(
        len(np.asarray(next(iter(s.records[src].values()), np.zeros(0))))
        for s in stations
        for src in {x for i in inds for x in i.measure.sources}
        if src in s.records
    )
    if total_records == 0:
        raise ValidationFailed.field("period", "该时段没有任何记录")
    w = np.array([it.weight for it in active])
    items = [replace(it, weight=float(x)) for it, x in zip(active, w / w.sum(), strict=True)]

    rng = np.random.default_rng(seed)
    n_st = len(stations)
    pops = np.array([s.population for s in stations], dtype=np.float64)
    sums = _bootstrap_sums(stations, inds, draws, rng)  # spec -> (draws + 1, stations)
    values = np.empty((draws + 1, n_st, len(items)))
    for j, ind in enumerate(inds):
        num_spec, den_spec = _sum_specs(ind.measure)
        num, den = sums[num_spec], sums[den_spec]
        with np.errstate(invalid="ignore", divide="ignore"):
            if ind.measure.kind == "rate":
                values[..., j] = PER_10K * num / pops
            else:
                values[..., j] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    groups = [s.group for s in stations]
    scores = score_values(values, groups, items)  # (draws + 1, stations)
    normed = normalise(values[0], groups, items)
    alpha = 1.0 - confidence
    lo_q, hi_q = 100 * alpha / 2, 100 * (1 - alpha / 2)
    boot = scores[1:]
    s_low = np.percentile(boot, lo_q, axis=0)
    s_high = np.percentile(boot, hi_q, axis=0)
    ranks = np.argsort(np.argsort(-boot, axis=1, kind="stable"), axis=1) + 1
    r_low = np.floor(np.percentile(ranks, lo_q, axis=0)).astype(int)
    r_high = np.ceil(np.percentile(ranks, hi_q, axis=0)).astype(int)
    point = stats.rankdata(-scores[0], method="min").astype(int)

    analytic = [
        _analytic(ind, sums, pops, confidence) for ind in inds
    ]  # per indicator: (numerator, denominator, low, high) arrays over stations
    results = []
    for i, s in enumerate(stations):
        above = int(np.sum(s_low > s_high[i]))
        below = int(np.sum(s_high < s_low[i]))
        tied = tuple(
            stations[k].station
            for k in range(n_st)
            if k != i and s_low[k] <= s_high[i] and s_high[k] >= s_low[i]
        )
        ind_scores = tuple(
            IndicatorScore(
                ind.id,
                float(values[0, i, j]),
                float(analytic[j][2][i]),
                float(analytic[j][3][i]),
                int(analytic[j][0][i]),
                float(analytic[j][1][i]),
                float(normed[i, j]),
                it.weight,
                bool(np.isfinite(values[0, i, j])),
            )
            for j, (ind, it) in enumerate(zip(inds, items, strict=True))
        )
        results.append(
            StationScore(
                s.station,
                s.group,
                float(scores[0, i]),
                float(s_low[i]),
                float(s_high[i]),
                int(point[i]),
                int(r_low[i]),
                int(r_high[i]),
                1 + above,
                n_st - below,
                tied,
                ind_scores,
            )
        )
    results.sort(key=lambda r: (r.rank, r.station))
    log.info("scored %d stations, scheme %s, %d draws", n_st, scheme.version, draws)
    return ScoreBoard(
        scheme.version,
        scheme.digest,
        draws,
        confidence,
        seed,
        {it.indicator: it.weight for it in items},
        tuple(excluded),
        tuple(results),
    )


def _analytic(
    ind: Indicator,
    sums: Mapping[tuple[str, tuple[str, ...]], NDArray[np.int64]],
    pops: FloatArray,
    confidence: float,
) -> tuple[NDArray[np.int64], FloatArray, FloatArray, FloatArray]:
    """Observed numerators, denominators and exact bounds of one indicator for all stations."""
    num_spec, den_spec = _sum_specs(ind.measure)
    k = sums[num_spec][0]
    d = sums[den_spec][0].astype(np.float64)
    if ind.measure.kind == "rate":
        lo, hi = poisson_bounds(k, pops, per=PER_10K, confidence=confidence)
        d = pops
    elif ind.measure.kind == "share":
        lo, hi = wilson_bounds(k, d, confidence=confidence)
    else:
        lo, hi = rate_ratio_bounds(k, d, confidence=confidence)
    return k, d, lo, hi


def _bootstrap_sums(
    stations: Sequence[StationRecords],
    inds: Sequence[Indicator],
    draws: int,
    rng: np.random.Generator,
) -> dict[tuple[str, tuple[str, ...]], NDArray[np.int64]]:
    """Observed (row 0) and Poisson-bootstrap (rows 1..) sums of every flag combination needed."""
    specs = sorted({spec for ind in inds for spec in _sum_specs(ind.measure)})
    out: dict[tuple[str, tuple[str, ...]], NDArray[np.int64]] = {}
    for source in sorted({src for src, _ in specs}):
        cols = sorted({c for src, cs in specs if src == source for c in cs})
        n_pat = 1 << len(cols)
        counts = np.zeros((len(stations), n_pat), dtype=np.int64)
        for i, s in enumerate(stations):
            rec = s.records.get(source)
            if rec is None or not rec:
                continue
            n = len(np.asarray(next(iter(rec.values()))))
            code = np.zeros(n, dtype=np.int64)
            for b, c in enumerate(cols):
                if c not in rec:
                    raise ValueError(f"station {s.station}: source {source} lacks column {c}")
                code |= np.asarray(rec[c], dtype=bool).astype(np.int64) << b
            counts[i] = np.bincount(code, minlength=n_pat)
        seen = np.flatnonzero(counts.sum(axis=0) > 0)  # only patterns that occur
        lam = counts[:, seen].astype(np.float64)
        bits = (seen[:, None] >> np.arange(len(cols))[None, :]) & 1  # (patterns, cols)
        masks = {}
        for src, cs in specs:
            if src == source:
                mask = np.ones(len(seen), dtype=bool)
                for c in cs:
                    mask &= bits[:, cols.index(c)] == 1
                masks[(src, cs)] = mask.astype(np.float64)
                out[(src, cs)] = np.empty((draws + 1, len(stations)), dtype=np.int64)
                out[(src, cs)][0] = np.rint(lam @ masks[(src, cs)]).astype(np.int64)
        # Draw in chunks so memory stays bounded (chunk × stations × patterns) whatever ``draws``.
        chunk = max(1, CHUNK_CELLS // max(1, lam.size))
        for start in range(1, draws + 1, chunk):
            stop = min(draws + 1, start + chunk)
            draw = rng.poisson(lam, size=(stop - start, *lam.shape)).astype(np.float64)
            for spec, m in masks.items():
                out[spec][start:stop] = np.rint(draw @ m).astype(np.int64)
    return out
