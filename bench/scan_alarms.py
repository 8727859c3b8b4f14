"""How often the early-warning scan alarms on real data, and on how many calls (issue 6).

Weekly prospective scans over 2023 on the Vancouver records (500 m cells over each window's
bounding box, the 365 days before each week as the baseline, 99 replicates, alpha 0.05), for
the three single-type series, with two baselines in the same run:

* ``good-turing``: ``warning.scan_baseline`` as shipped: the cells without history share the
  Good-Turing chance of a call in a new place;
* ``token``: the same, but every cell's share carries an even part of one pseudo-event, so the
  cells without history share a single pseudo-event and a call in a new place is all but
  impossible under it (the formula before the change, here on the same cells).

A scan that alarms on a single call in a place with no history is reporting the baseline's
blind spot, not a cluster: the table gives the alarms and how many of them rest on one call.

    .venv/bin/python bench/scan_alarms.py [--data DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hotspot_eval import DATA, load
from qingzhi.analysis import warning
from qingzhi.analysis.grid import grid_for

SERIES = ("Break and Enter Residential/Other", "Theft from Vehicle", "Mischief")


def token_baseline(
    cell_counts: np.ndarray, day_counts: np.ndarray, hw: np.ndarray, weekdays: np.ndarray
) -> np.ndarray:
    """The earlier baseline: cell shares (count + 1 / n_cells) / (total + 1), same day rates."""
    day_rate = warning.scan_baseline(np.ones(1) * cell_counts.sum(), day_counts, hw, weekdays)[0]
    share = (cell_counts + 1.0 / len(cell_counts)) / (cell_counts.sum() + 1.0)
    return np.asarray(share[:, None] * day_rate[None, :], dtype=np.float64)


def weekly(x: np.ndarray, y: np.ndarray, day: np.ndarray, token: bool) -> list[float]:
    """Observed calls of each week's alarm (NaN for a week without one)."""
    out = []
    first, last = (int(np.datetime64(d, "D").astype(int)) for d in ("2023-01-08", "2024-01-01"))
    for end in range(first, last, 7):
        w = (day >= end - 372) & (day < end)
        r = warning.scan_on_grid(
            grid_for(x[w], y[w], 500.0),
            x[w],
            y[w],
            day[w],
            history_start=end - 372,
            recent_start=end - 7,
            end=end,
            baseline_of=token_baseline if token else None,
        )
        out.append(r.observed if r.alarm else float("nan"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    ev = load(args.data)
    print("series                              baseline      weeks  alarms  on one call  seconds")
    for name in SERIES:
        s = ev.of_categories([name])
        day = s.t.astype("datetime64[D]").astype(np.int64)
        for token in (False, True):
            began = time.perf_counter()
            obs = np.array(weekly(s.x, s.y, day, token))
            alarms = obs[~np.isnan(obs)]
            print(
                f"{name[:34]:35s} {'token' if token else 'good-turing':12s} {len(obs):6d} "
                f"{len(alarms):7d} {int((alarms <= 1).sum()):12d} "
                f"{time.perf_counter() - began:8.1f}"
            )


if __name__ == "__main__":
    main()
