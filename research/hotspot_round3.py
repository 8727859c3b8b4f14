"""Third round of variants of the recommended method on the validation quarters (issue 6 research).

Same protocol as ``hotspot_research.py --bank``: for each single-type series (Break and Enter
Residential/Other, Theft from Vehicle, Mischief) and each validation quarter (2023-Q2, Q3, Q4) a
variant is fitted on the 365 days before the quarter and scored by the evaluation protocol (study
mask = cells active before the quarter, ties to the lower flat index); hits are pooled over the
quarters and compared with naive counts over all history. Nothing here looks at 2024. The features
of every day from 2021-10-01 to 2023-12-31 are computed once per series (cells active before
2024-01-01; each quarter's masks are applied when fitting and scoring), so the two quarters before
2023-Q2 are available to the variants that choose a weight on earlier quarters. Variants (the
recommended kernel + g150 feature set unless said otherwise):

* ``hier:LAM``: the three series fitted jointly, a per-series intercept and per-series coefficients
  ``b + d_s`` with the penalty ``LAM / 2 * |d_s|^2`` (the likelihood is per event of the three
  series together, so a sparse series is shrunk more); ``hier:inf`` = one set of coefficients for
  all three (pooled), ``LAM = 0`` is the recommended separate fit;
* ``blend:K`` / ``blendall:K``: the model's log-rate plus ``w * log(1 + all-history count)``, with
  ``w`` from a grid chosen per series (``blendall``: one ``w`` for the three series) by the tuning
  objective on the K quarters before, each forecast by the model fitted on the year before it;
* ``topw:SHARE``: the same score with ``w`` fitted by Poisson likelihood (the model's log-rate as
  offset) on the cells of each fit day in the model's top SHARE;
* ``avg:A+B``: the mean log-rate of several fits (``sep`` the recommended, ``pool`` = ``hier:inf``,
  ``smooth`` the previous smooth set);
* ``plus:F,G``: extra columns: ``x:pts:c`` / ``s:pts:c`` (log 1 + distinct event locations, i.e.
  hundred-block points, of all crime / the series in the cell so far), ``s:nb`` / ``x:nb`` (log 1 +
  the series' / all crime's all-history count per cell of the cell's VPD neighbourhood, the
  majority NEIGHBOURHOOD of the cell's 2020-2023 rows), ``s:all:g600``, ``s:all:g1200``.

    .venv/bin/python -m research.hotspot_round3 [--only 'NAME;...'] [--ceiling]

About 5 min of CPU without the ``hier:*`` variants; each ``hier:LAM`` adds 5-20 min.
``--ceiling`` prints only the half-quarter diagnostic (``half_quarter_ceiling``).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from bench.hotspot_eval import DATA, REPO, VALIDATION, load
from qingzhi.analysis.ensemble import (
    KERNEL_FEATURES,
    SMOOTH_FEATURES,
    fit_loglinear,
    surface_features,
)
from qingzhi.analysis.evaluation import Period, n_selected
from qingzhi.analysis.events import EventTable
from qingzhi.analysis.forecast import FloatArray, SeriesData, series_on_grid
from qingzhi.analysis.grid import grid_for
from research.hotspot_research import COVERAGES, SERIES

log = logging.getLogger(__name__)

PRIOR = (Period.of("2022-10-01", 92), Period.of("2023-01-01", 90))
QUARTERS = PRIOR + VALIDATION
FIRST = PRIOR[0].start - 365
END = Period.of("2024-01-01", 1).start
FIT_DAYS = 365
KG = list(KERNEL_FEATURES)
EXTRA = ["x:pts:c", "s:pts:c", "s:nb", "x:nb", "s:all:g600", "s:all:g1200"]
W_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
VARIANTS = (
    "kernel",
    "hier:inf",
    "hier:0.003",
    "hier:0.01",
    "hier:0.03",
    "blend:1",
    "blend:2",
    "blendall:2",
    "topw:0.05",
    "topw:0.01",
    "avg:sep+pool",
    "avg:sep+smooth",
    "avg:sep+pool+smooth",
    "plus:x:pts:c",
    "plus:x:pts:c,s:pts:c",
    "plus:s:nb,x:nb",
    "plus:s:all:g600,s:all:g1200",
)


@dataclass
class Bank:
    """Features (days x cells x columns), events and all-history counts of one series."""

    x: NDArray[np.float32]
    y: NDArray[np.float32]
    count: NDArray[np.float32]
    names: list[str]

    def rows(self, day: int) -> NDArray[np.int64]:
        """Rows (cells, ascending) with at least one event before ``day``."""
        return np.flatnonzero(self.count[day - FIRST] > 0).astype(np.int64)

    def block(
        self, first_day: int, days: int, rows: NDArray[np.int64], cols: list[str]
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Features, events and counts of days [first_day, first_day + days) on ``rows``."""
        ci = [self.names.index(c) for c in cols]
        d0 = first_day - FIRST
        x = self.x[d0 : d0 + days][:, rows][:, :, ci].astype(np.float64)
        y = self.y[d0 : d0 + days][:, rows].astype(np.float64)
        c = self.count[d0 : d0 + days][:, rows].astype(np.float64)
        return x, y, c


def load_with_neighbourhoods(data: Path) -> tuple[EventTable, NDArray[np.int64]]:
    """All located events with TYPE as category, and each event's neighbourhood code."""
    by_type, by_nb = load(data), load(data, category_col="NEIGHBOURHOOD")
    if not (np.array_equal(by_type.x, by_nb.x) and np.array_equal(by_type.t, by_nb.t)):
        raise SystemExit("the two reads of the files disagree")
    assert by_nb.category is not None
    _, code = np.unique(by_nb.category, return_inverse=True)
    return by_type, code.astype(np.int64)


def _first_seen(series: SeriesData) -> tuple[FloatArray, NDArray[np.int64]]:
    """Time and cell of the first event at each distinct location (x, y)."""
    keys = np.round(series.x * 10).astype(np.int64) * 10**10 + np.round(series.y * 10).astype(
        np.int64
    )
    _, first = np.unique(keys, return_index=True)  # t is sorted: the first index is the earliest
    return series.t[first], series.cell[first]


def build_bank(events: EventTable, nb_code: NDArray[np.int64], category: str) -> Bank:
    """Every day's features from 2021-10-01 to 2023-12-31 for one series."""
    assert events.category is not None
    ev = events.of_categories([category])
    grid = grid_for(ev.x, ev.y, 150.0)
    series = series_on_grid(ev, grid, events)
    ctx = series.context
    assert ctx is not None
    cells = np.flatnonzero(series.before(END).counts() > 0)
    n = grid.n_cells
    # cell -> neighbourhood: the majority of the cell's located rows before 2024
    all_cells = grid.flat_index(events.x, events.y)
    ok = (all_cells >= 0) & (events.t_days < END)
    votes = np.zeros((n, int(nb_code.max()) + 1))
    np.add.at(votes, (all_cells[ok], nb_code[ok]), 1.0)
    cell_nb = np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), -1)
    has = cell_nb >= 0
    per_nb = np.maximum(np.bincount(cell_nb[has], minlength=votes.shape[1]), 1).astype(float)
    ctx_pt = _first_seen(ctx)
    own_pt = _first_seen(series)
    names = [*KG, *EXTRA]
    days = END - FIRST
    x = np.zeros((days, len(cells), len(names)), dtype=np.float32)
    y = np.zeros((days, len(cells)), dtype=np.float32)
    count = np.zeros((days, len(cells)), dtype=np.float32)
    for i in range(days):
        day = FIRST + i
        hist = series.before(day)
        assert hist.context is not None
        own = hist.counts()
        other = hist.context.counts()
        scale = float(own.sum()) / max(float(other.sum()), 1.0)
        cols = [surface_features(hist, day, [*KG, "s:all:g600", "s:all:g1200"])]
        for pt_t, pt_c in (ctx_pt, own_pt):
            seen = (pt_t < day) & (pt_c >= 0)
            cols.append(np.log1p(np.bincount(pt_c[seen], minlength=n).astype(float))[:, None])
        for flat, k in ((own, 1.0), (other, scale)):
            rate = np.bincount(cell_nb[has], weights=flat[has], minlength=len(per_nb)) / per_nb
            cols.append(np.log1p(np.where(has, rate[np.maximum(cell_nb, 0)] * k, 0.0))[:, None])
        full = np.column_stack(cols)
        order = [*KG, "s:all:g600", "s:all:g1200", "x:pts:c", "s:pts:c", "s:nb", "x:nb"]
        x[i] = full[cells][:, [order.index(c) for c in names]]
        y[i] = series.before(day + 1).since(day).counts()[cells]
        count[i] = own[cells]
    return Bank(x, y, count, names)


def hits_of(scores: FloatArray, y: FloatArray) -> FloatArray:
    """Hits summed over days per coverage (scores, y: days x rows; ties to the lower row)."""
    n_sel = [n_selected(k, y.shape[1]) for k in COVERAGES]
    out = np.zeros(len(COVERAGES))
    for d in range(y.shape[0]):
        cum = np.cumsum(y[d][np.argsort(-scores[d], kind="stable")])
        out += [cum[k - 1] for k in n_sel]
    return out


class Runner:
    """Fits (cached) and scores the variants on the banks."""

    def __init__(self, banks: dict[str, Bank]) -> None:
        self.banks = banks
        self.cache: dict[tuple[object, ...], object] = {}

    def fit_block(self, s: str, q: Period, cols: list[str]) -> tuple[FloatArray, FloatArray]:
        bank = self.banks[s]
        start = q.start - FIT_DAYS
        x, y, _ = bank.block(start, FIT_DAYS, bank.rows(start), cols)
        return x.reshape(-1, len(cols)), y.ravel()

    def separate(self, s: str, q: Period, cols: list[str]) -> FloatArray:
        key = ("sep", s, q.start, tuple(cols))
        if key not in self.cache:
            self.cache[key] = fit_loglinear(*self.fit_block(s, q, cols))
        out = self.cache[key]
        assert isinstance(out, np.ndarray)
        return out

    def hierarchical(self, s: str, q: Period, lam: float) -> FloatArray:
        key = ("hier", q.start, lam)
        if key not in self.cache:
            self.cache[key] = self._fit_hierarchical(q, lam)
        out = self.cache[key]
        assert isinstance(out, dict)
        return np.asarray(out[s])

    def _fit_hierarchical(self, q: Period, lam: float) -> dict[str, FloatArray]:
        blocks = [self.fit_block(s, q, KG) for s in SERIES]
        xs = [np.column_stack([np.ones(len(x)), x]) for x, _ in blocks]
        ys = [y for _, y in blocks]
        n_events = sum(float(y.sum()) for y in ys)
        n_s, k = len(SERIES), len(KG)
        pooled = bool(np.isinf(lam))

        def unpack(p: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
            d = np.zeros((n_s, k)) if pooled else p[n_s + k :].reshape(n_s, k)
            return p[:n_s], p[n_s : n_s + k], d

        def loss(p: FloatArray) -> tuple[float, FloatArray]:
            a, b, d = unpack(p)
            f = 0.0
            ga, gb, gd = np.zeros(n_s), np.zeros(k), np.zeros((n_s, k))
            for i in range(n_s):
                eta = np.minimum(xs[i] @ np.concatenate([[a[i]], b + d[i]]), 50.0)
                rate = np.exp(eta)
                f += float(rate.sum() - ys[i] @ eta) / n_events
                g = xs[i].T @ (rate - ys[i]) / n_events
                ga[i], gb, gd[i] = g[0], gb + g[1:], g[1:]
            if pooled:
                return f, np.concatenate([ga, gb])
            f += 0.5 * lam * float((d * d).sum())
            return f, np.concatenate([ga, gb, (gd + lam * d).ravel()])

        seps = np.array([self.separate(s, q, KG) for s in SERIES])
        b0 = seps[:, 1:].mean(axis=0)
        p0 = [seps[:, 0], b0] + ([] if pooled else [(seps[:, 1:] - b0).ravel()])
        res = optimize.minimize(
            loss, np.concatenate(p0), jac=True, method="L-BFGS-B", options={"maxiter": 3000}
        )
        a, b, d = unpack(np.asarray(res.x, dtype=np.float64))
        return {s: np.concatenate([[a[i]], b + d[i]]) for i, s in enumerate(SERIES)}

    def model_score(self, s: str, q: Period, coef: FloatArray, w: float = 0.0) -> FloatArray:
        bank = self.banks[s]
        x, y, c = bank.block(q.start, q.days, bank.rows(q.start), KG)
        return hits_of(coef[0] + x @ coef[1:] + w * np.log1p(c), y)

    def chosen_w(self, s: str, q: Period, k: int, together: bool) -> float:
        """The grid weight with the best objective on the k quarters before ``q``."""
        prev = QUARTERS[QUARTERS.index(q) - k : QUARTERS.index(q)]
        group = SERIES if together else (s,)
        best = (-np.inf, 0.0)
        for w in W_GRID:
            score = 0.0
            for g in group:
                h = np.zeros(len(COVERAGES))
                for p in prev:
                    h += self.model_score(g, p, self.separate(g, p, KG), w)
                score += float(h[0] + h[2]) / sum(self.total(g, p) for p in prev)
            if score > best[0] + 1e-12:
                best = (score, w)
        return best[1]

    def top_w(self, s: str, q: Period, share: float) -> float:
        """w fitted by likelihood on each fit day's top ``share`` of cells by the model's score."""
        bank = self.banks[s]
        coef = self.separate(s, q, KG)
        start = q.start - FIT_DAYS
        x, y, c = bank.block(start, FIT_DAYS, bank.rows(start), KG)
        eta = coef[0] + x @ coef[1:]
        n_top = max(1, int(np.ceil(share * x.shape[1])))
        top = np.argsort(-eta, axis=1, kind="stable")[:, :n_top]
        off = np.take_along_axis(eta, top, axis=1).ravel()
        z = np.log1p(np.take_along_axis(c, top, axis=1)).ravel()
        yy = np.take_along_axis(y, top, axis=1).ravel()

        def loss(p: FloatArray) -> tuple[float, FloatArray]:
            e = off + p[0] + p[1] * z
            rate = np.exp(e)
            return float(rate.sum() - yy @ e), np.array([rate.sum() - yy.sum(), (rate - yy) @ z])

        res = optimize.minimize(loss, np.zeros(2), jac=True, method="L-BFGS-B")
        return float(res.x[1])

    def total(self, s: str, q: Period) -> float:
        bank = self.banks[s]
        d0 = q.start - FIRST
        return float(bank.y[d0 : d0 + q.days][:, bank.rows(q.start)].sum())

    def quarter_hits(self, name: str, s: str, q: Period) -> FloatArray:
        bank = self.banks[s]
        kind, _, arg = name.partition(":")
        if kind == "naive":
            _, y, c = bank.block(q.start, q.days, bank.rows(q.start), KG[:1])
            return hits_of(c, y)
        if kind == "kernel":
            return self.model_score(s, q, self.separate(s, q, KG))
        if kind == "hier":
            return self.model_score(s, q, self.hierarchical(s, q, float(arg)))
        if kind in ("blend", "blendall"):
            w = self.chosen_w(s, q, int(arg), kind == "blendall")
            log.warning("%s %s %s: w = %g", name, s, q.labels()[0], w)
            return self.model_score(s, q, self.separate(s, q, KG), w)
        if kind == "topw":
            w = self.top_w(s, q, float(arg))
            log.warning("%s %s %s: w = %.3f", name, s, q.labels()[0], w)
            return self.model_score(s, q, self.separate(s, q, KG), w)
        if kind == "plus":
            cols = KG + arg.split(",")
            x, y, _ = bank.block(q.start, q.days, bank.rows(q.start), cols)
            coef = self.separate(s, q, cols)
            return hits_of(coef[0] + x @ coef[1:], y)
        if kind == "avg":
            x, y, _ = bank.block(q.start, q.days, bank.rows(q.start), KG)
            etas = []
            for part in arg.split("+"):
                if part == "smooth":
                    sm = list(SMOOTH_FEATURES)
                    coef = self.separate(s, q, sm)
                    etas.append(coef[0] + x[:, :, [KG.index(f) for f in sm]] @ coef[1:])
                    continue
                coef = self.separate(s, q, KG) if part == "sep" else self.hierarchical(s, q, np.inf)
                etas.append(coef[0] + x @ coef[1:])
            return hits_of(np.mean(etas, axis=0), y)
        raise SystemExit(f"unknown variant {name!r}")

    def rates(self, name: str) -> dict[str, FloatArray]:
        """Pooled hit rates over the validation quarters per series."""
        return {
            s: sum((self.quarter_hits(name, s, q) for q in VALIDATION), np.zeros(len(COVERAGES)))
            / sum(self.total(s, q) for q in VALIDATION)
            for s in SERIES
        }


def ratios(ours: dict[str, FloatArray], base: dict[str, FloatArray]) -> tuple[float, float, float]:
    """Mean-rate ratios at 1% and 5% and the worst series x coverage ratio."""
    r1 = np.mean([ours[s][0] for s in SERIES]) / np.mean([base[s][0] for s in SERIES])
    r5 = np.mean([ours[s][2] for s in SERIES]) / np.mean([base[s][2] for s in SERIES])
    worst = min(ours[s][i] / base[s][i] for s in SERIES for i in range(len(COVERAGES)))
    return float(r1), float(r5), float(worst)


def half_quarter_ceiling(banks: dict[str, Bank]) -> dict[str, tuple[float, float]]:
    """Ratios at 1% and 5% to naive counts when half of the quarter itself is known.

    A rough diagnostic, not a bound (it uses future events, but crudely): on the even days of
    each validation quarter, cells are ranked by the all-history count plus ``m`` times the events
    of the quarter's odd days.
    """
    out: dict[str, tuple[float, float]] = {}
    for m in (0.0, 1.0, 4.0):
        rates = {}
        for s, bank in banks.items():
            h = np.zeros(len(COVERAGES))
            tot = 0.0
            for q in VALIDATION:
                _, y, c = bank.block(q.start, q.days, bank.rows(q.start), KG[:1])
                score = c[0] + m * y[1::2].sum(axis=0)
                h += hits_of(np.tile(score, (len(y[0::2]), 1)), y[0::2])
                tot += float(y[0::2].sum())
            rates[s] = h / tot
        if m == 0.0:
            base = rates
        r1, r5, _ = ratios(rates, base)
        out[f"count + {m:g} x odd days"] = (r1, r5)
        print(f"even days ranked by count + {m:g} x the quarter's odd days: {r1:.3f} {r5:.3f}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--only", default="", help="variant names separated by ';'")
    parser.add_argument(
        "--out", type=Path, default=REPO / "var" / "research" / "hotspot_round3.json"
    )
    parser.add_argument("--ceiling", action="store_true", help="only the half-quarter diagnostic")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    wanted = [n for n in args.only.split(";") if n] or list(VARIANTS)
    events, nb_code = load_with_neighbourhoods(args.data)
    banks = {}
    for s in SERIES:
        began = time.perf_counter()
        banks[s] = build_bank(events, nb_code, s)
        log.warning("%s: bank %.1f s", s, time.perf_counter() - began)
    if args.ceiling:
        half_quarter_ceiling(banks)
        return
    runner = Runner(banks)
    base = runner.rates("naive")
    summary: dict[str, dict[str, object]] = {}
    print("variant                          1% ratio  5% ratio  worst    (mean of 1%, 5%)")
    for name in wanted:
        began = time.perf_counter()
        rates = runner.rates(name)
        r1, r5, worst = ratios(rates, base)
        summary[name] = {
            "ratio_1": r1,
            "ratio_5": r5,
            "worst": worst,
            "hit_rate": {s: [round(float(v), 4) for v in rates[s]] for s in SERIES},
            "seconds": round(time.perf_counter() - began, 1),
        }
        print(f"{name:32s} {r1:8.3f}  {r5:8.3f}  {worst:6.3f}   ({(r1 + r5) / 2:.4f})", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "naive_all_history": {s: [round(float(v), 4) for v in base[s]] for s in SERIES},
        "variants": summary,
    }
    args.out.write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
