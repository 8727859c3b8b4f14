"""Event tables: located, timestamped events as numpy arrays, and a CSV reader for them.

An ``EventTable`` holds projected coordinates in metres (``x``, ``y``), times as
``datetime64[s]`` (local wall-clock time, no time zone: analysis works in the bureau's local day)
and an optional string category per event. ``read_events`` reads one or more CSV files (plain
or gzipped), builds the time from one column (ISO text) or several integer columns (for example
``YEAR,MONTH,DAY,HOUR,MINUTE``), projects lon/lat through pyproj when asked, and drops rows without
a usable location (blank, non-numeric or zero coordinates, as in the Vancouver police export) or
without a usable time. A time column in another layout (US ``MM/DD/YYYY``, say) is read with a
``strptime`` format. ``read_events`` also returns a ``ReadReport``: how many rows were dropped and
why, with examples, so a caller can say why a file gave no events. ``require_projected`` refuses a
CRS that is not projected in metres (grid cells of "150" degrees would hold a whole city).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
_TIME_UNITS = ("Y", "M", "D", "h", "m", "s")
EXAMPLES_KEPT = 3
_US_DATE = re.compile(r"^\s*\d{1,2}/\d{1,2}/\d{4}")


def require_projected(crs: str) -> None:
    """Raise ValueError unless ``crs`` is a projected CRS whose axes are in metres."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        parsed = CRS.from_user_input(crs)
    except CRSError:
        raise ValueError(f"无法识别的坐标系 {crs!r}") from None
    if not parsed.is_projected:
        raise ValueError(
            f"坐标系 {crs} 不是投影坐标系（{parsed.name}，单位为度）：格网须以米计，"
            "请给出投影坐标系，例如 UTM（EPSG:32648，重庆）"
        )
    units = {a.unit_name for a in parsed.axis_info}
    if units != {"metre"}:
        raise ValueError(f"坐标系 {crs} 的单位为 {'/'.join(sorted(units))}，须为米")


@dataclass(frozen=True)
class ReadReport:
    """What a CSV read kept and dropped: row counts by reason, with a few (row, value) examples.

    Rows are numbered as in a spreadsheet (the header is row 1), prefixed by the file name when
    several files were read.
    """

    rows: int
    kept: int
    bad_time: int
    bad_location: int
    time_examples: tuple[tuple[str, str], ...] = field(default=())
    location_examples: tuple[tuple[str, str], ...] = field(default=())

    def us_dates(self) -> bool:
        """Whether the unparsed times look like US dates (MM/DD/YYYY)."""
        return any(_US_DATE.match(v) for _, v in self.time_examples)

    def describe(self) -> str:
        """A one-paragraph Chinese account of the rows dropped and why."""
        parts = [f"共 {self.rows} 行，可用 {self.kept} 行"]
        if self.bad_time:
            ex = "；".join(f"{r} {v!r}" for r, v in self.time_examples)
            parts.append(f"时间无法解析 {self.bad_time} 行（例：{ex}）")
            if self.us_dates():
                parts.append("时间像美式“月/日/年”，请用 --time-format '%m/%d/%Y %H:%M' 等格式")
            else:
                parts.append("可用 --time-format 指定时间格式（strptime，例如 '%d.%m.%Y %H:%M'）")
        if self.bad_location:
            ex = "；".join(f"{r} {v}" for r, v in self.location_examples)
            parts.append(f"无坐标或坐标为空/非数/为 0 的 {self.bad_location} 行（例：{ex}）")
        return "，".join(parts[:2]) + ("；" + "；".join(parts[2:]) if parts[2:] else "")


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


def _rows(paths: Sequence[Path]) -> Iterator[tuple[str, dict[str, str]]]:
    """Each row with its label: spreadsheet row number (header = 1), with the file when several."""
    for path in paths:
        prefix = f"{path.name} " if len(paths) > 1 else ""
        with _open_text(path) as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                yield f"{prefix}第 {n} 行", row


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


def _parse_format(values: list[str], time_format: str) -> NDArray[np.datetime64]:
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[s]")
    for i, v in enumerate(values):
        try:
            moment = dt.datetime.strptime(v.strip(), time_format)
        except ValueError:
            continue
        out[i] = np.datetime64(moment.replace(tzinfo=None), "s")
    return out


def read_events(
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
    time_format: str | None = None,
) -> tuple[EventTable, ReadReport]:
    """Read located events from CSV files (``.gz`` too) and report the rows dropped and why.

    Give either ``x_col``/``y_col`` (already projected metres) or ``lon_col``/``lat_col`` with a
    projected ``crs`` such as ``EPSG:32648``. Several ``time_cols`` are read as integer parts
    (year, month, day, hour, minute, second); one column is read as ISO text, or with the
    ``strptime`` layout ``time_format`` when given (for example ``%m/%d/%Y %H:%M``).
    """
    use_lonlat = lon_col is not None or lat_col is not None
    if use_lonlat:
        if lon_col is None or lat_col is None or crs is None:
            raise ValueError("经纬度输入须同时给出经度列、纬度列和投影坐标系 --crs")
        require_projected(crs)
        cx, cy = lon_col, lat_col
    else:
        if x_col is None or y_col is None:
            raise ValueError("请给出 x/y 列（投影坐标，米），或经纬度列和投影坐标系")
        cx, cy = x_col, y_col
    if not time_cols:
        raise ValueError("请至少给出一个时间列")
    if time_format is not None and len(time_cols) != 1:
        raise ValueError("--time-format 只用于单个时间列（多个时间列按年、月、日……整数读取）")
    wanted = [cx, cy, *time_cols] + ([category_col] if category_col else [])
    cols: dict[str, list[str]] = {c: [] for c in wanted}
    labels: list[str] = []
    resolved = [Path(p) for p in paths]
    for label, row in _rows(resolved):
        for c in wanted:
            value = row.get(c)
            if value is None:
                raise ValueError(f"CSV 表头中没有列 {c!r}（有：{', '.join(row)}）")
            cols[c].append(value)
        labels.append(label)
    xs = _to_float(cols[cx])
    ys = _to_float(cols[cy])
    if len(time_cols) > 1:
        t = times_from_parts([_to_float(cols[c]) for c in time_cols])
    elif time_format is not None:
        t = _parse_format(cols[time_cols[0]], time_format)
    else:
        t = _parse_iso(cols[time_cols[0]])
    located = np.isfinite(xs) & np.isfinite(ys) & (xs != 0) & (ys != 0)
    timed = ~np.isnat(t)
    ok = located & timed
    if use_lonlat:
        from pyproj import Transformer

        tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        px, py = tr.transform(xs[ok], ys[ok])
        xs = xs.copy()
        ys = ys.copy()
        xs[ok] = px
        ys[ok] = py
    cat = np.asarray(cols[category_col], dtype=np.str_) if category_col else None

    def shown(index: int) -> str:
        return " / ".join(cols[c][index] for c in time_cols)

    bad_time = np.flatnonzero(~timed)
    bad_place = np.flatnonzero(~located)
    report = ReadReport(
        rows=len(labels),
        kept=int(ok.sum()),
        bad_time=len(bad_time),
        bad_location=len(bad_place),
        time_examples=tuple((labels[i], shown(i)) for i in bad_time[:EXAMPLES_KEPT]),
        location_examples=tuple(
            (labels[i], f"{cols[cx][i]!r}, {cols[cy][i]!r}") for i in bad_place[:EXAMPLES_KEPT]
        ),
    )
    table = EventTable(xs, ys, t, cat).select(ok)
    if categories is not None:
        table = table.of_categories(categories)
    log.info(
        "read %d located events from %d file(s); %d rows without time, %d without location",
        len(table),
        len(paths),
        report.bad_time,
        report.bad_location,
    )
    return table.sorted_by_time(), report
