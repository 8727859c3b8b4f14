"""The forecasting methods by name, with their frozen default settings.

The defaults were chosen by ``bench/hotspot_eval.py`` on the validation quarter before the
evaluation period (see docs/analysis.md) and are frozen here; ``make_forecaster`` builds a method
by name so the CLI, services and the bench all use the same construction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from qingzhi.analysis.forecast import Forecaster
from qingzhi.analysis.prediction import KernelDensity, NaiveCounts, ProspectiveHotspot

log = logging.getLogger(__name__)

ParamValue = float | int | str

STANDARD_METHODS: tuple[str, ...] = ("naive", "kde", "prospective")
ALL_METHODS: tuple[str, ...] = (*STANDARD_METHODS, "hindsight")

DEFAULTS: dict[str, dict[str, ParamValue]] = {
    "naive": {},
    "kde": {"bandwidth": 150.0, "tau": 180.0, "kernel": "gaussian"},
    "prospective": {"bandwidth": 400.0, "window": 56.0},
}


def make_forecaster(
    name: str, train_days: float | None = 365.0, params: Mapping[str, ParamValue] | None = None
) -> Forecaster:
    """Build the forecaster ``name`` with its defaults, overridden by ``params``."""
    p: dict[str, ParamValue] = dict(DEFAULTS.get(name, {}))
    if params:
        p.update(params)
    if name == "naive":
        return NaiveCounts(window=float(p.get("window", train_days or 0)) or None)
    if name == "kde":
        return KernelDensity(
            bandwidth=float(p["bandwidth"]),
            tau=float(p["tau"]),
            window=float(p.get("window", train_days or 0)) or None,
            kernel=str(p["kernel"]),
        )
    if name == "prospective":
        return ProspectiveHotspot(bandwidth=float(p["bandwidth"]), window=float(p["window"]))
    raise ValueError(f"unknown method {name!r}; choose from {', '.join(ALL_METHODS)}")


def expand_methods(spec: str) -> list[str]:
    """Parse a comma list of method names; ``all`` means every method including hindsight."""
    names = [s.strip() for s in spec.split(",") if s.strip()]
    out: list[str] = []
    for n in names:
        for m in ALL_METHODS if n == "all" else (n,):
            if m not in ALL_METHODS:
                raise ValueError(f"unknown method {m!r}; choose from {', '.join(ALL_METHODS)}")
            if m not in out:
                out.append(m)
    return out
