"""A synthetic CAD export in the messy shape real ones come in (clearly synthetic), for the
importer's tests and ``bench/import_cad.py``.

The shape is that of a US city's calls-for-service export seen in issue 16: columns Date
(M/D/YYYY), Time (12-hour; most with a space-padded hour and **no AM/PM**, the rest with it),
Address, Zipcode, Category, ProblemType, PatrolDistrict, Substation, IncidentNumber, LAT, LON and
ResponseDate (epoch milliseconds, minutes after the call: what resolves the missing AM/PM).
Rows are not in time order; a few have an empty id, a placeholder point near 0/0 or a byte that
is not UTF-8 — what an import must report rather than choke on. The mapping that reads it is
``MAPPING``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

log = logging.getLogger(__name__)

HEADER = [
    "Date",
    "Time",
    "Address",
    "Zipcode",
    "Category",
    "ProblemType",
    "PatrolDistrict",
    "Substation",
    "IncidentNumber",
    "LAT",
    "LON",
    "ResponseDate",
]
CATEGORIES = {
    "Property Crime": ["Burglary of Vehicle", "Theft", "Burglary of Residence"],
    "Violent Crime": ["Assault", "Robbery"],
    "Traffic": ["Accident Minor", "Accident Major", "Traffic Hazard"],
    "Disturbance": ["Disturbance", "Loud Music", "Family Disturbance"],
    "Welfare": ["Welfare Check", "Missing Person"],
    "Other": ["Suspicious Person", "Alarm"],
}
DISTRICTS = ["NORTH", "SOUTH", "EAST", "WEST"]

MAPPING = """
[source]
timezone = "America/Chicago"
id_prefix = "SA-"

[fields]
source_id = "IncidentNumber"
received_at.columns = ["Date", "Time"]
received_at.formats = ["%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M:%S"]
received_at.resolve_by = { column = "ResponseDate", epoch = "ms" }
category = "Category"
source_type = "ProblemType"
source_district = "PatrolDistrict"
source_beat = "Substation"
address = "{Address} {Zipcode}"
description = "{ProblemType}"
x = "LON"
y = "LAT"

[location]
datum = "wgs84"

[statuses]
default = "closed"

[categories]
"Property Crime" = "criminal/theft"
"Violent Crime" = "criminal/assault"
"Traffic" = "traffic/accident_property"
"Disturbance" = "public_order/disturbance"
"Welfare" = "assistance/other_assistance"
default = "public_order/other_public_order"
"""


@dataclass(frozen=True)
class Shape:
    """Where and when the calls are: a lon/lat box, the first day, days, and the zone."""

    lon0: float
    lat0: float
    lon1: float
    lat1: float
    start: dt.date
    days: int
    timezone: str = "America/Chicago"


def clock(local: dt.datetime, with_ampm: bool) -> str:
    """A 12-hour clock as the export writes it: a space-padded hour, AM/PM only sometimes."""
    hour = local.hour % 12 or 12
    text = f"{hour:2d}:{local.minute:02d}:{local.second:02d}"
    return f"{text} {'AM' if local.hour < 12 else 'PM'}" if with_ampm else text


def rows(n: int, shape: Shape, *, seed: int = 16, first: int = 0) -> list[list[str]]:
    """``n`` messy rows (unordered; 72 % without AM/PM; a few empty ids and placeholders);
    ``first`` numbers their ids after an earlier part's."""
    rng = np.random.default_rng(seed)
    tz = ZoneInfo(shape.timezone)
    start = dt.datetime.combine(shape.start, dt.time(), tzinfo=tz).timestamp()
    stamps = np.sort(start + rng.uniform(0, shape.days * 86400, n))
    order = rng.permutation(n)  # unordered, as exports come
    lons = rng.uniform(shape.lon0, shape.lon1, n)
    lats = rng.uniform(shape.lat0, shape.lat1, n)
    cats = list(CATEGORIES)
    cat_of = rng.integers(0, len(cats), n)
    sub_of = rng.integers(0, 3, n)
    ampm = rng.random(n) >= 0.72
    delay = rng.integers(60, 3600, n)
    out: list[list[str]] = []
    for k in order:
        at = dt.datetime.fromtimestamp(float(stamps[k]), tz).replace(microsecond=0)
        cat = cats[cat_of[k]]
        problems = CATEGORIES[cat]
        problem = problems[sub_of[k] % len(problems)]
        district = DISTRICTS[int(k) % 4]
        ident = f"SAPD{26000000 + first + int(k)}"
        lon, lat = f"{lons[k]:.6f}", f"{lats[k]:.6f}"
        if k % 50_000 == 7:
            ident = ""  # an empty id
        if k % 100_000 == 11:
            lon, lat = "-0.00001", "0.00001"  # a placeholder point
        out.append(
            [
                f"{at.month}/{at.day}/{at.year}",
                clock(at, bool(ampm[k])),
                f"{100 + int(k) % 9000} MAIN ST",
                f"{78200 + int(k) % 60}",
                cat,
                problem,
                district,
                f"{district[0]}{int(k) % 7 + 1}",
                ident,
                lat,
                lon,
                str(int((at.timestamp() + int(delay[k])) * 1000)),
            ]
        )
    return out


def write(
    path: Path,
    table: list[list[str]],
    *,
    bad_byte_rows: tuple[int, ...] = (),
    append: bool = False,
) -> None:
    """Write rows as a UTF-8 CSV (gzipped if ``path`` ends .gz; ``append`` adds rows to it
    without a header); the rows at the positions ``bad_byte_rows`` get a byte that is not UTF-8
    in their address."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "ab" if append else "wb") as fh:
        if not append:
            fh.write((",".join(HEADER) + "\r\n").encode())
        bad = set(bad_byte_rows)
        lines = []
        for i, cells in enumerate(table):
            line = ",".join(_quote(c) for c in cells).encode() + b"\r\n"
            if i in bad:
                line = line.replace(b" MAIN ST", b" MAIN\xff ST", 1)
            lines.append(line)
            if len(lines) >= 10_000:
                fh.write(b"".join(lines))
                lines = []
        fh.write(b"".join(lines))


def _quote(cell: str) -> str:
    if any(c in cell for c in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell
