"""The analysis API's budget: what one request may cost, checked before anything is loaded.

Budget (this project's deployment target, a 2-core server with a few GB of memory, shared by the
whole bureau): **one request at most 1 GB of memory and 30 s**, and a background forecast fit
(``intel.forecasting``, run as a job) at most 2 GB and 10 minutes. Every analysis endpoint
derives its cost from its parameters and the store's counts before it loads or allocates, and
refuses with a 422 naming the field and saying the limit when the cost is over (a bigger ``cell``
or a shorter range always brings it back in). The unit costs below were measured on the demo
county (85,620 calls; ``bench/analysis_bounds.py`` prints them at every bound):

==============  ===============================================  =============================
endpoint        cost driver (limit)                               measured unit cost
==============  ===============================================  =============================
every one       incidents loaded (``MAX_EVENTS``)                 ~8 µs, ~100 B each
trends          periods x groups in the table (``MAX_TREND_CELLS``) JSON of the table
hotspots        grid cells (``MAX_GRID_CELLS``)                   ~8 µs, ~250 B a cell
nearrepeat      pairs within the largest distance band            ~70 B a pair,
                (``MAX_KNOX_PAIRS``), pairs x permutations         ~70 ns a pair per permutation
                (``MAX_KNOX_WORK``); edges finite, at most
                ``MAX_KNOX_DISTANCE_M`` and ``MAX_KNOX_DAYS``
warnings        grid cells, scanned cell-days                      ~20 ns a region value per
                (``MAX_SCAN_CELL_DAYS``), replicates x cell-days   replicate (16 region sizes a
                (``MAX_SCAN_WORK``)                                cell-day)
forecast        grid cells (``MAX_FORECAST_CELLS``), fit rows =    features ~1.5 µs a cell-day of
                active cells x fit days (``MAX_FIT_ROWS``);        the grid; optimiser ~10 µs and
                a fit over ``forecast_inline_seconds`` is a job    ~300 B a row
==============  ===============================================  =============================

The grid of every map is the extent of the jurisdictions in the caller's scope (``intel.areas``),
not the bounding box of the incidents, so a mis-geocoded call far away cannot stretch it.
"""

from __future__ import annotations

import logging

from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

MAX_EVENTS = 1_000_000
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
# Measured unit costs of a forecast fit (2-core machine): the daily features over the whole grid,
# and the optimiser over the rows of the design matrix (about 150 L-BFGS-B iterations).
FIT_SECONDS_PER_GRID_CELL_DAY = 1.5e-6
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
