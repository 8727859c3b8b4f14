"""The analysis API's budget: what one request may cost, checked before anything is loaded.

Budget (this project's deployment target, a 2-core server shared by the whole bureau): **one
request at most 1 GB of memory and 30 s**, and a background forecast fit (``intel.forecasting``,
run as a job) at most 2 GB and 10 minutes. Every analysis endpoint derives its cost from its
parameters and the store's counts before it loads or allocates, and refuses with a 422 naming
the field and saying the limit when the cost is over (a bigger ``cell``, fewer days or
replicates, or a shorter range always brings it back in).

Costs at the bounds, bureau-wide on the demo county (85,620 calls in a year; 2-core machine
shared with other work, load average 7-12; ``bench/analysis_bounds.py``, peak memory above the
process's own):

================  ==========================================  =====================================
endpoint          limits                                      at the bound (default in brackets)
================  ==========================================  =====================================
every one         ``MAX_EVENTS`` incidents loaded             ~20-33 µs and ~0.4 kB an incident
                                                              (60k: 1.1-2.0 s, 23 MB)
trends            ``MAX_TREND_CELLS`` periods x groups        (2.0 s, 24 MB)
hotspots          ``MAX_GRID_CELLS`` cells                    861k cells (42 m): 5.6 s, 182 MB
                                                              (150 m: 2.3 s, 24 MB)
nearrepeat        ``MAX_KNOX_DISTANCE_M``, ``MAX_KNOX_DAYS``,  4.99M pairs (2.5 km, 60 perm.):
                  ``MAX_KNOX_PAIRS`` pairs in the largest      24 s, 323 MB (400 m: 1.4 s, 8 MB)
                  band, ``MAX_KNOX_WORK`` pairs x perm.
warnings          ``MAX_SCAN_CELL_DAYS`` scanned cell-days,    ~380k cell-days x 75 replicates:
                  ``MAX_SCAN_WORK`` replicates x cell-days     16.8 s, 196 MB (2.5 s, 27 MB)
forecast          in the request: estimated fit time at most  the default's fit (1.84M rows,
                  ``settings.forecast_inline_seconds``; in a   150 m): 15-19 s, 477 MB, so a job;
                  job: ``MAX_FORECAST_CELLS`` cells,           984k cells x 360 days: 165 s, 281 MB;
                  ``MAX_FIT_ROWS`` rows, ``MAX_FIT_SECONDS``   3.8M rows: 25 s, 945 MB
================  ==========================================  =====================================

The grid of every map is the extent of the jurisdictions in the caller's scope (``intel.areas``),
not the bounding box of the incidents, so a mis-geocoded call far away cannot stretch it.
"""

from __future__ import annotations

import logging

from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

MAX_EVENTS = 750_000
MAX_TREND_CELLS = 200_000
MAX_GRID_CELLS = 1_500_000
MAX_KNOX_DISTANCE_M = 5_000.0
MAX_KNOX_DAYS = 365.0
MAX_KNOX_PAIRS = 5_000_000
MAX_KNOX_WORK = 300_000_000  # pairs x permutations
MAX_SCAN_CELL_DAYS = 400_000  # the scan holds (cells x days x 16 region sizes) sums, ~50 MB each
MAX_SCAN_WORK = 30_000_000  # replicates x scanned cell-days
MAX_FORECAST_CELLS = 1_000_000
MAX_FIT_ROWS = 5_000_000
MAX_FIT_SECONDS = 600.0  # estimated (fit_seconds)
# Unit costs of a forecast fit (2-core machine): the daily features over the whole grid (measured
# 0.5-2 µs a cell-day, the less the larger the grid), and the optimiser over the rows of the
# design matrix (about 10 µs a row: some 150 L-BFGS-B iterations; ~250 B a row).
FIT_SECONDS_PER_GRID_CELL_DAY = 1.0e-6
FIT_SECONDS_PER_ROW = 1.0e-5


def over(field: str, what: str, value: int, limit: int, advice: str) -> ValidationFailed:
    """The 422 for a request whose cost is over the budget."""
    return ValidationFailed.field(field, f"{what} {value:,} 超过上限 {limit:,}；{advice}")


def check_events(n: int) -> None:
    """Refuse loading more than ``MAX_EVENTS`` incidents."""
    if n > MAX_EVENTS:
        raise over("start", "所选范围内的警情", n, MAX_EVENTS, "请缩短时间范围或选择类别")


def check_grid(cells: int, field: str = "cell", limit: int | None = None) -> None:
    """Refuse a grid of more than ``limit`` cells (default ``MAX_GRID_CELLS``)."""
    limit = MAX_GRID_CELLS if limit is None else limit
    if cells > limit:
        raise over(field, "网格", cells, limit, "请增大 cell（格网边长，米）")


def fit_seconds(grid_cells: int, rows: int, fit_days: int) -> float:
    """Estimated seconds of a forecast fit on this kind of machine."""
    return FIT_SECONDS_PER_GRID_CELL_DAY * grid_cells * fit_days + FIT_SECONDS_PER_ROW * rows
