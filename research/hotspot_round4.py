"""Fourth round of variants of the recommended method on the validation quarters (issue 6 research).

Non-linearity in the recommended features. Same protocol and machinery as ``hotspot_round3.py``
(its ``Bank``/``Runner``: each series and validation quarter 2023-Q2..Q4 is fitted on the 365 days
before the quarter, scored by the evaluation protocol, hits pooled over the quarters and compared
with naive counts over all history; nothing here looks at 2024). Every variant starts from the
kernel + g150 feature set (``KERNEL_FEATURES``, 17 columns of log(1 + f)) and adds columns that are
computed from the fit year's cell-days only, then frozen for the quarter:

* ``inter:K``: pairwise products ``z_i * z_j`` (i < j) of the standardized base columns (mean and
  standard deviation over the fit year's cell-days) for the K most important base columns, where
  importance is ``|b_k| * sd(x_k)`` in the recommended (base) fit of the same series and fit year;
  K(K - 1) / 2 extra columns;
* ``hinge:Q``: for each base column, hinge terms ``max(0, x - knot)`` at its Q fit-year quantiles
  (Q = 1: the 90th percentile; Q = 2: the 75th and 95th), so each feature's response bends at the
  knot. A knot at or below the column's fit-year minimum (the hinge would equal the linear term,
  as for the many columns that are zero on most cell-days), at or above its maximum, or equal to
  the column's other knot is dropped.

The extra columns are fitted jointly with the base ones by ``fit_loglinear`` (no penalty unless
``--ridge``). Per fit, the extra terms' coefficients and the largest gradient component of the
mean Poisson loss at the solution (a convergence check) are logged and written to the JSON.

    nice -n 19 .venv/bin/python -m research.hotspot_round4 [--only 'NAME;...'] [--ridge R]

``kernel`` reproduces the recommended set's figures; ``inter:0`` is the base set fitted by this
code path (with ``--ridge R``: the ridge control for the other variants). The banks of
``hotspot_round3.build_bank`` take about 5 s per series, the fits 1-30 s each (9 per variant); the
default run took 7.5 min wall on the 2-core machine under ``nice -n 19``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.hotspot_eval import DATA, REPO
from qingzhi.analysis.ensemble import fit_loglinear
from qingzhi.analysis.evaluation import Period
from qingzhi.analysis.forecast import FloatArray
from research.hotspot_research import SERIES
from research.hotspot_round3 import (
    KG,
    Bank,
    Runner,
    build_bank,
    hits_of,
    load_with_neighbourhoods,
    ratios,
)

log = logging.getLogger(__name__)

VARIANTS = ("kernel", "inter:3", "inter:5", "hinge:1", "hinge:2")
HINGE_QUANTILES = {1: (0.90,), 2: (0.75, 0.95)}
RECOMMENDED_MEAN = 1.0316  # the adoption rule: mean of the 1% and 5% ratios above this ...
WORST_FLOOR = 0.997  # ... and the worst series x coverage ratio at least this


@dataclass
class Extra:
    """Extra columns derived from the base columns, frozen on a fit year."""

    mean: FloatArray
    sd: FloatArray
    pairs: list[tuple[int, int]] = field(default_factory=list)
    knots: list[tuple[int, float]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [f"{KG[i]}*{KG[j]}" for i, j in self.pairs] + [
            f"{KG[i]}>{k:.3f}" for i, k in self.knots
        ]

    def apply(self, x: FloatArray) -> FloatArray:
        """Base columns (last axis, in ``KG`` order) followed by the extra columns."""
        cols = [x]
        if self.pairs:
            z = (x - self.mean) / self.sd
            cols.append(np.stack([z[..., i] * z[..., j] for i, j in self.pairs], axis=-1))
        if self.knots:
            cols.append(np.stack([np.maximum(x[..., i] - k, 0.0) for i, k in self.knots], axis=-1))
        return np.concatenate(cols, axis=-1)


def max_gradient(x: FloatArray, y: FloatArray, coef: FloatArray) -> float:
    """Largest component of the mean Poisson loss's gradient at ``coef`` (unpenalised)."""
    eta = np.minimum(coef[0] + x @ coef[1:], 50.0)
    resid = np.exp(eta) - y
    grad = np.concatenate([[resid.sum()], x.T @ resid]) / len(y)
    return float(np.abs(grad).max())


class NonLinearRunner(Runner):
    """``Runner`` with the ``inter:K`` and ``hinge:Q`` variants."""

    def __init__(self, banks: dict[str, Bank], ridge: float = 0.0) -> None:
        super().__init__(banks)
        self.ridge = ridge
        self.fits: dict[str, list[dict[str, object]]] = {}

    def extra_columns(self, kind: str, arg: int, s: str, q: Period, x: FloatArray) -> Extra:
        """The extra columns of a variant on the fit year's base columns ``x`` (cell-days x 17)."""
        mean, sd = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-12)
        if kind == "inter":
            base = self.separate(s, q, KG)
            top = sorted(np.argsort(-np.abs(base[1:]) * sd, kind="stable")[:arg].tolist())
            pairs = [(i, j) for a, i in enumerate(top) for j in top[a + 1 :]]
            return Extra(mean, sd, pairs=pairs)
        knots: list[tuple[int, float]] = []
        lo, hi = x.min(axis=0), x.max(axis=0)
        for i in range(x.shape[1]):
            seen: list[float] = []
            for k in np.quantile(x[:, i], HINGE_QUANTILES[arg]).tolist():
                if k > lo[i] + 1e-9 and k < hi[i] - 1e-9 and all(abs(k - o) > 1e-9 for o in seen):
                    seen.append(k)
                    knots.append((i, float(k)))
        return Extra(mean, sd, knots=knots)

    def quarter_hits(self, name: str, s: str, q: Period) -> FloatArray:
        kind, _, arg = name.partition(":")
        if kind not in ("inter", "hinge"):
            return super().quarter_hits(name, s, q)
        began = time.perf_counter()
        x, y = self.fit_block(s, q, KG)
        extra = self.extra_columns(kind, int(arg), s, q, x)
        xt = extra.apply(x)
        del x
        coef = fit_loglinear(xt, y, ridge=self.ridge)
        grad = max_gradient(xt, y, coef)
        del xt
        fit_s = time.perf_counter() - began
        n_base = len(KG) + 1
        terms = dict(zip(extra.names(), coef[n_base:].tolist(), strict=True))
        shown = ", ".join(f"{k} {v:+.3f}" for k, v in terms.items())
        log.warning(
            "%s %s %s: fit %.0f s, max |grad| %.1e, %d extra: %s",
            name,
            s,
            q.labels()[0],
            fit_s,
            grad,
            len(terms),
            shown,
        )
        self.fits.setdefault(name, []).append(
            {
                "series": s,
                "quarter": q.labels()[0],
                "fit_seconds": round(fit_s, 1),
                "max_grad": grad,
                "base_coef": dict(
                    zip(["intercept", *KG], np.round(coef[:n_base], 4).tolist(), strict=True)
                ),
                "extra_coef": {k: round(v, 4) for k, v in terms.items()},
            }
        )
        bank = self.banks[s]
        xq, yq, _ = bank.block(q.start, q.days, bank.rows(q.start), KG)
        return hits_of(coef[0] + extra.apply(xq) @ coef[1:], yq)


def load_banks(data: Path) -> dict[str, Bank]:
    """The feature banks of the three single-type series."""
    events, nb_code = load_with_neighbourhoods(data)
    banks: dict[str, Bank] = {}
    for s in SERIES:
        began = time.perf_counter()
        banks[s] = build_bank(events, nb_code, s)
        log.warning("%s: bank %.1f s", s, time.perf_counter() - began)
    return banks


def run_variants(
    runner: Runner,
    wanted: list[str],
    out: Path,
    started: float,
    fits: dict[str, list[dict[str, object]]],
    extra: dict[str, object],
    rates_of: Callable[[str], dict[str, FloatArray]] | None = None,
) -> None:
    """Score each variant against naive counts over all history by the adoption rule, print its
    row and rewrite the JSON at ``out`` after each (``extra`` goes into the JSON as it is)."""
    rates_of = rates_of or runner.rates
    base = runner.rates("naive")
    summary: dict[str, dict[str, object]] = {}
    print("variant                          1% ratio  5% ratio  worst    (mean of 1%, 5%)  adopt")
    for name in wanted:
        began = time.perf_counter()
        rates = rates_of(name)
        r1, r5, worst = ratios(rates, base)
        mean = (r1 + r5) / 2
        adopt = mean > RECOMMENDED_MEAN and worst >= WORST_FLOOR
        summary[name] = {
            "ratio_1": r1,
            "ratio_5": r5,
            "worst": worst,
            "mean": mean,
            "adopted": adopt,
            "hit_rate": {s: [round(float(v), 4) for v in rates[s]] for s in SERIES},
            "seconds": round(time.perf_counter() - began, 1),
            "fits": fits.get(name, []),
        }
        print(
            f"{name:32s} {r1:8.3f}  {r5:8.3f}  {worst:6.3f}   ({mean:.4f})          "
            f"{'yes' if adopt else 'no'}",
            flush=True,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "naive_all_history": {s: [round(float(v), 4) for v in base[s]] for s in SERIES},
            **extra,
            "variants": summary,
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
        out.write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {out}; wall {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--only", default="", help="variant names separated by ';'")
    parser.add_argument("--ridge", type=float, default=0.0, help="ridge of the inter/hinge fits")
    parser.add_argument(
        "--out", type=Path, default=REPO / "var" / "research" / "hotspot_round4.json"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    wanted = [n for n in args.only.split(";") if n] or list(VARIANTS)
    started = time.perf_counter()
    runner = NonLinearRunner(load_banks(args.data), ridge=args.ridge)
    run_variants(runner, wanted, args.out, started, runner.fits, {"ridge": args.ridge})


if __name__ == "__main__":
    main()
