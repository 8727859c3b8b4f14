"""Event tables: located, timestamped events as numpy arrays, and a CSV reader for them.

An ``EventTable`` holds projected coordinates in metres (``x``, ``y``), times as
``datetime64[s]`` (local wall-clock time, no time zone: analysis works in the bureau's local day)
and an optional string category per event. ``read_events_csv`` reads one or more CSV files (plain
or gzipped), builds the time from one column (ISO text) or several integer columns (for example
``YEAR,MONTH,DAY,HOUR,MINUTE``), projects lon/lat through pyproj when asked, and drops rows without
a usable location (blank, non-numeric or zero coordinates, as in the Vancouver police export).
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
_TIME_UNITS = ("Y", "M", "D", "h", "m", "s")


@dataclass(frozen=True)
class EventTable:
    """Located events: x/y in metres of a projected CRS, local times, optional categories."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    t: NDArray[np.datetime64]
    category: NDArray[np.str_] | None = None

    def __post_init__(self) -> None:
        n = len(self.x)
        if len(self.y) != n or len(self.t) != n:
            raise ValueError("x, y and t must have the same length")
        if self.category is not None and len(self.category) != n:
            raise ValueError("category must have the same length as x")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def t_days(self) -> NDArray[np.float64]:
        """Times as fractional days since 1970-01-01 (local)."""
        seconds = self.t.astype("datetime64[s]").astype(np.int64)
        return seconds.astype(np.float64) / SECONDS_PER_DAY

    def select(self, mask: NDArray[np.bool_]) -> EventTable:
        """Return the events where ``mask`` is true."""
        cat = None if self.category is None else self.category[mask]
        return EventTable(self.x[mask], self.y[mask], self.t[mask], cat)

    def of_categories(self, categories: Sequence[str]) -> EventTable:
        """Return the events whose category is one of ``categories``."""
        if self.category is None:
            raise ValueError("this event table has no categories")
        return self.select(np.isin(self.category, list(categories)))

    def sorted_by_time(self) -> EventTable:
        """Return the events in time order (stable)."""
        order = np.argsort(self.t, kind="stable")
        return self.select(order)  # type: ignore[arg-type]


def make_events(
    x: Sequence[float] | NDArray[np.float64],
    y: Sequence[float] | NDArray[np.float64],
    t: Sequence[str] | NDArray[np.datetime64],
    category: Sequence[str] | None = None,
) -> EventTable:
    """Build an ``EventTable`` from plain sequences (times as ISO strings or datetime64)."""
    cat = None if category is None else np.asarray(category, dtype=np.str_)
    return EventTable(
        np.asarray(x, dtype=np.float64),
        np.asarray(y, dtype=np.float64),
        np.asarray(t, dtype="datetime64[s]"),
        cat,
    )


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return io.TextIOWrapper(open(path, "rb"), encoding="utf-8-sig", newline="")


def _rows(paths: Sequence[Path]) -> Iterator[dict[str, str]]:
    for path in paths:
        with _open_text(path) as fh:
            yield from csv.DictReader(fh)


def _to_float(values: list[str]) -> NDArray[np.float64]:
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        try:
            out[i] = float(v)
        except ValueError:
            continue
    return out


def times_from_parts(parts: Sequence[NDArray[np.float64]]) -> NDArray[np.datetime64]:
    """Build datetime64[s] from year[, month, day, hour, minute, second] arrays (NaT if missing)."""
    if not 1 <= len(parts) <= len(_TIME_UNITS):
        raise ValueError("give between one and six time parts (year ... second)")
    n = len(parts[0])
    bad = np.zeros(n, dtype=bool)
    for p in parts:
        bad |= ~np.isfinite(p)
    filled = [np.where(np.isfinite(p), p, 1).astype(np.int64) for p in parts]
    defaults = [1970, 1, 1, 0, 0, 0]
    full = [*filled, *(np.full(n, d, dtype=np.int64) for d in defaults[len(parts) :])]
    year, month, day, hour, minute, second = full
    months = ((year - 1970) * 12 + (month - 1)).astype("datetime64[M]")
    t = months.astype("datetime64[s]")
    t = t + ((day - 1) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second).astype(
        "timedelta64[s]"
    )
    t[bad] = np.datetime64("NaT")
    return np.asarray(t, dtype="datetime64[s]")


def _parse_iso(values: list[str]) -> NDArray[np.datetime64]:
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[s]")
    for i, v in enumerate(values):
        text = v.strip().replace("/", "-")
        if not text:
            continue
        try:
            out[i] = np.datetime64(text.replace(" ", "T")[:19], "s")
        except ValueError:
            continue
    return out


def read_events_csv(
    paths: Sequence[str | Path],
    *,
    time_cols: Sequence[str],
    x_col: str | None = None,
    y_col: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    crs: str | None = None,
    category_col: str | None = None,
    categories: Sequence[str] | None = None,
) -> EventTable:
    """Read located events from CSV files (``.gz`` too); drop rows without location or time.

    Give either ``x_col``/``y_col`` (already projected metres) or ``lon_col``/``lat_col`` with a
    projected ``crs`` such as ``EPSG:32648``. Several ``time_cols`` are read as integer parts
    (year, month, day, hour, minute, second); one column is read as ISO text.
    """
    use_lonlat = lon_col is not None or lat_col is not None
    if use_lonlat:
        if lon_col is None or lat_col is None or crs is None:
            raise ValueError("lon/lat input needs both columns and a projected --crs")
        cx, cy = lon_col, lat_col
    else:
        if x_col is None or y_col is None:
            raise ValueError("give x and y columns, or lon and lat columns with a CRS")
        cx, cy = x_col, y_col
    if not time_cols:
        raise ValueError("give at least one time column")
    wanted = [cx, cy, *time_cols] + ([category_col] if category_col else [])
    cols: dict[str, list[str]] = {c: [] for c in wanted}
    resolved = [Path(p) for p in paths]
    for row in _rows(resolved):
        for c in wanted:
            value = row.get(c)
            if value is None:
                raise ValueError(f"column {c!r} not found in the CSV header")
            cols[c].append(value)
    xs = _to_float(cols[cx])
    ys = _to_float(cols[cy])
    if len(time_cols) == 1:
        t = _parse_iso(cols[time_cols[0]])
    else:
        t = times_from_parts([_to_float(cols[c]) for c in time_cols])
    ok = np.isfinite(xs) & np.isfinite(ys) & (xs != 0) & (ys != 0) & ~np.isnat(t)
    if use_lonlat:
        from pyproj import Transformer

        tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        px, py = tr.transform(xs[ok], ys[ok])
        xs = xs.copy()
        ys = ys.copy()
        xs[ok] = px
        ys[ok] = py
    cat = np.asarray(cols[category_col], dtype=np.str_) if category_col else None
    table = EventTable(xs, ys, t, cat)
    dropped = int((~ok).sum())
    table = table.select(ok)
    if categories is not None:
        table = table.of_categories(categories)
    log.info("read %d located events from %d file(s); dropped %d", len(table), len(paths), dropped)
    return table.sorted_by_time()
