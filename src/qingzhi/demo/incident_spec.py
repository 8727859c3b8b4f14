"""The call generator's records: calls as parallel columns while drawn, ``IncidentSpec`` at the end.

``IncidentSpec`` maps 1:1 onto the intake body (``to_intake``) plus the demo-only fields
(``extras``: station, repeat, case and mediation outcomes). Source ids are ``110-YYYYMMDD-NNNNN``:
the local day, then the call's number that day in reception order.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qingzhi.demo.draws import FloatArray, IntArray
from qingzhi.demo.reference import LOCAL_TZ

log = logging.getLogger(__name__)

LIFECYCLE_FIELDS = ("dispatched_at", "arrived_at", "resolved_at", "closed_at")


@dataclass(frozen=True, slots=True)
class IncidentSpec:
    """One synthetic 110 call, valid or not, with its lifecycle and outcomes."""

    source_id: str
    received_at: dt.datetime
    category: str
    subtype: str | None
    description: str
    address: str
    caller_phone: str
    lon: float
    lat: float
    priority: int
    valid: bool
    invalid_reason: str | None
    station_code: str
    dispatched_at: dt.datetime | None
    arrived_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    repeat_of: str | None = None
    cleared: bool | None = None
    cleared_at: dt.datetime | None = None
    fast_cleared: bool | None = None
    mediated: bool | None = None
    mediation_outcome: str | None = None
    mediation_minutes: float | None = None
    datum: str = "wgs84"
    synthetic: bool = True

    def to_intake(self) -> dict[str, Any]:
        """The intake JSON body (plus lifecycle times), as the incident intake takes it."""
        return {
            "source_id": self.source_id,
            "received_at": self.received_at.isoformat(),
            "category": self.category,
            "subtype": self.subtype,
            "description": self.description,
            "address": self.address,
            "caller_phone": self.caller_phone,
            "location": {"lon": self.lon, "lat": self.lat, "datum": self.datum},
            "priority": self.priority,
            "valid": self.valid,
            "invalid_reason": self.invalid_reason,
            **{name: _iso(getattr(self, name)) for name in LIFECYCLE_FIELDS},
            "synthetic": self.synthetic,
        }

    def extras(self) -> dict[str, Any]:
        """The demo-only fields beyond the intake body: station, repeat, case, mediation."""
        return {
            "station_code": self.station_code,
            "repeat_of": self.repeat_of,
            "cleared": self.cleared,
            "cleared_at": _iso(self.cleared_at),
            "fast_cleared": self.fast_cleared,
            "mediated": self.mediated,
            "mediation_outcome": self.mediation_outcome,
            "mediation_minutes": self.mediation_minutes,
        }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class Calls:
    """Parallel columns, one row a call (t, cat, sub, x, y, town, parent, …), while drawn."""

    def __init__(self, **columns: NDArray[Any]) -> None:
        self.columns = dict(columns)

    def __len__(self) -> int:
        return len(self.columns["t"])

    def __getitem__(self, name: str) -> NDArray[Any]:
        return self.columns[name]

    def __setitem__(self, name: str, values: NDArray[Any]) -> None:
        self.columns[name] = values

    def append(self, **rows: NDArray[Any]) -> None:
        """Add rows; ``rows`` gives every column."""
        if set(rows) != set(self.columns):
            raise ValueError(f"columns {sorted(rows)} are not {sorted(self.columns)}")
        for name, col in self.columns.items():
            self.columns[name] = np.concatenate([col, rows[name]])

    def extend(self, src: IntArray, **new: NDArray[Any]) -> None:
        """Add copies of rows ``src``, with the columns named in ``new`` given instead."""
        self.append(
            **{name: new[name] if name in new else col[src] for name, col in self.columns.items()}
        )


def local_midnight(day: dt.date) -> dt.datetime:
    """The start of local day ``day`` (the generator's time 0 for a window starting then)."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)


def source_ids(t: FloatArray, order: IntArray, start: dt.date) -> list[str]:
    """``110-YYYYMMDD-NNNNN`` for calls at ``t`` (seconds from ``start``), numbered in ``order``."""
    n = len(t)
    day = (t // 86400).astype(np.int64)
    seq = np.zeros(n, dtype=np.int64)
    sorted_day = day[order]
    first_of_day = np.searchsorted(sorted_day, sorted_day, side="left")
    seq[order] = np.arange(n) - first_of_day + 1
    day_text = [
        (start + dt.timedelta(days=d)).strftime("%Y%m%d") for d in range(int(day.max()) + 1)
    ]
    return [f"110-{day_text[d]}-{q:05d}" for d, q in zip(day.tolist(), seq.tolist(), strict=True)]
