"""The evaluation's inputs from the store: the stations, their records for a period (for
scoring) and the station × month panel of an outcome (for a reform's impact).

A station is a unit with a jurisdiction (urban or rural station; a bundled member keeps its
own). Its incidents are those its jurisdiction holds (``Incident.station_id``): the territory
stays the same across a reform that changes who handles the calls, so before and after compare
like with like. Only valid incidents count (有效警情); a repeat call is flagged, not dropped, so
the repeat share can be measured, and the prevention count leaves repeats out (``counted``).

The other domains' records (cases, supervised tasks, disputes, visited households, special
operations) come from ``kpi.sources``, each where any station has some in the period; a source
no station has is not given to the scorer, which then gives its indicators no weight and says
why.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingzhi.analysis.panel import Panel
from qingzhi.analysis.scoring import StationRecords
from qingzhi.config import Settings
from qingzhi.errors import ValidationFailed
from qingzhi.geo.geometry import load_geometry
from qingzhi.incidents.enums import Category
from qingzhi.incidents.models import Incident
from qingzhi.kpi import sources
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Unit
from qingzhi.planning.geometry import adjacency

log = logging.getLogger(__name__)

STATION_KINDS = (UnitKind.urban_station, UnitKind.rural_station)
PREVENTION = (Category.criminal, Category.public_order)
DISPATCH_TARGET_S = 180  # 3 minutes from reception to dispatch
ARRIVAL_TARGET_S = 300  # 5 minutes from reception to arrival, in towns
MAX_PERIOD_DAYS = 3 * 366  # a scoring period (a quarter, a month, a year) is never longer

OUTCOMES: dict[str, tuple[str, str]] = {
    # outcome: (Chinese name, panel kind)
    "criminal": ("刑事警情", "count"),
    "public_order": ("治安警情", "count"),
    "prevention": ("刑事治安警情", "count"),
    "traffic": ("交通警情", "count"),
    "repeat": ("重复报警", "count"),
    "response": ("平均到场时间（分钟）", "mean"),
}


@dataclass(frozen=True)
class Station:
    """A station as the evaluation sees it."""

    id: int
    code: str
    name: str
    group: str  # "urban", "rural", "bundled" (a rural member of a central station)
    population: float
    jurisdiction: object  # shapely geometry or None

    @property
    def label(self) -> str:
        """Name and code, as shown."""
        return f"{self.name}（{self.code}）"


def stations(session: Session) -> list[Station]:
    """Every station with a jurisdiction, by code."""
    rows = session.execute(
        select(
            Unit.id,
            Unit.code,
            Unit.name,
            Unit.kind,
            Unit.central_id,
            Unit.population,
            Unit.jurisdiction,
        )
        .where(Unit.kind.in_(STATION_KINDS), Unit.jurisdiction.is_not(None))
        .order_by(Unit.code)
    ).all()
    out = []
    for r in rows:
        group = "urban" if r.kind == UnitKind.urban_station else "rural"
        if r.central_id is not None:
            group = "bundled"
        out.append(
            Station(
                r.id, r.code, r.name, group, float(r.population or 0), load_geometry(r.jurisdiction)
            )
        )
    return out


def neighbours(found: Sequence[Station]) -> dict[str, tuple[str, ...]]:
    """For each station, the codes of those whose jurisdiction touches its own."""
    return {k: tuple(sorted(v)) for k, v in adjacency(found).items()}


# ---------------------------------------------------------------- incident rows


@dataclass(frozen=True)
class IncidentRows:
    """The valid incidents of a time range, one array a column."""

    station: NDArray[np.int64]
    received: NDArray[np.float64]  # UTC seconds
    category: NDArray[np.str_]
    repeat: NDArray[np.bool_]
    dispatch_s: NDArray[np.float64]  # seconds reception → dispatch (nan: never)
    arrive_s: NDArray[np.float64]

    def between(self, start: dt.datetime, end: dt.datetime) -> IncidentRows:
        """The rows received in [start, end)."""
        pick = (self.received >= start.timestamp()) & (self.received < end.timestamp())
        return IncidentRows(
            self.station[pick],
            self.received[pick],
            self.category[pick],
            self.repeat[pick],
            self.dispatch_s[pick],
            self.arrive_s[pick],
        )


def _seconds(later: dt.datetime | None, earlier: dt.datetime | None) -> float:
    if later is None or earlier is None:
        return float("nan")
    return (later - earlier).total_seconds()


def incident_rows(
    session: Session, station_ids: Iterable[int], start: dt.datetime, end: dt.datetime
) -> IncidentRows:
    """The valid incidents received in [start, end) in the stations' jurisdictions."""
    ids = list(station_ids)
    result = session.execute(
        select(
            Incident.station_id,
            Incident.received_at,
            Incident.category,
            Incident.repeat_of_id,
            Incident.dispatched_at,
            Incident.arrived_at,
        ).where(
            Incident.valid.is_(True),
            Incident.station_id.in_(ids),
            Incident.received_at >= start,
            Incident.received_at < end,
        )
    )
    st, rec, cat, rep, dsp, arr = [], [], [], [], [], []
    for r in result:
        st.append(r.station_id)
        rec.append(r.received_at.timestamp())
        cat.append(str(r.category))
        rep.append(r.repeat_of_id is not None)
        dsp.append(_seconds(r.dispatched_at, r.received_at))
        arr.append(_seconds(r.arrived_at, r.received_at))
    return IncidentRows(
        np.array(st, dtype=np.int64),
        np.array(rec, dtype=np.float64),
        np.array(cat, dtype=np.str_),
        np.array(rep, dtype=np.bool_),
        np.array(dsp, dtype=np.float64),
        np.array(arr, dtype=np.float64),
    )


def _flags(rows: IncidentRows, pick: NDArray[np.bool_], town: bool) -> dict[str, NDArray[np.bool_]]:
    """The ``incidents`` columns of ``analysis.indicators`` for the picked rows."""
    category = rows.category[pick]
    repeat = rows.repeat[pick]
    dispatch = rows.dispatch_s[pick]
    arrive = rows.arrive_s[pick]
    with np.errstate(invalid="ignore"):
        arrived = ~np.isnan(arrive)
        return {
            "prevention": np.isin(category, [c.value for c in PREVENTION]) & ~repeat,
            "repeat": repeat,
            "dispatched": ~np.isnan(dispatch),
            "dispatched_3min": dispatch <= DISPATCH_TARGET_S,
            "town_arrived": arrived & town,
            "town_arrived_5min": (arrive <= ARRIVAL_TARGET_S) & town,
        }


def year_earlier(moment: dt.datetime) -> dt.datetime:
    try:
        return moment.replace(year=moment.year - 1)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - 1, day=28)


def station_records(
    session: Session,
    found: Sequence[Station],
    start: dt.datetime,
    end: dt.datetime,
    *,
    settings: Settings,
    incidents: IncidentRows | None = None,
    needed: Collection[str] | None = None,
) -> list[StationRecords]:
    """Each station's records in [start, end) and the same months a year earlier, with the
    other domains' records (``kpi.sources``) where any station has some in the period.

    "In towns" (城镇, for the 5-minute arrival) is taken as the urban stations' territory: the
    store does not mark which rural places are market towns. ``incidents``: the stations'
    rows of a span covering [start, end) and a year earlier, read once for many periods.
    ``needed``: the other domains' sources to read (default all; special operations are
    counted one by one, so a scheme that does not weigh them skips them)."""
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValidationFailed.field("period", "考核期不得超过 3 年")
    ids = [s.id for s in found]
    earlier = year_earlier(start), year_earlier(end)
    if incidents is None:
        now = incident_rows(session, ids, start, end)
        before = incident_rows(session, ids, *earlier)
    else:
        now, before = incidents.between(start, end), incidents.between(*earlier)
    readers: dict[str, Callable[[], sources.Flags]] = {
        "cases": lambda: sources.cases(session, start, end, settings.fast_clear_hours),
        "tasks": lambda: sources.tasks(session, start, end),
        "disputes": lambda: sources.disputes(session, start, end),
        "households": lambda: sources.visited_households(
            session, ids, start, end, settings.community_household_size
        ),
        "operations": lambda: sources.operations(session, settings, start, end),
    }
    domains = {name: read() for name, read in readers.items() if needed is None or name in needed}
    given = {name: flags for name, flags in domains.items() if sources.present(flags)}
    out = []
    for s in found:
        town = s.group == "urban"
        out.append(
            StationRecords(
                station=s.code,
                group=s.group,
                population=s.population,
                records={
                    "incidents": _flags(now, now.station == s.id, town),
                    "incidents_last_year": _flags(before, before.station == s.id, town),
                    **{name: sources.arrays(flags, s.id, name) for name, flags in given.items()},
                },
            )
        )
    return out


# ---------------------------------------------------------------- panels


def months_of(session: Session, tz: str) -> tuple[np.datetime64, np.datetime64] | None:
    """The first and last whole local months of valid incidents (None: none whole).

    The data's first month counts as whole when its first call came on the 1st or 2nd, the last
    month when its last call came on the 27th or later; otherwise they are left out (a month
    half covered would read as a fall)."""
    first = session.execute(
        select(func.min(Incident.received_at)).where(Incident.valid.is_(True))
    ).scalar()
    last = session.execute(
        select(func.max(Incident.received_at)).where(Incident.valid.is_(True))
    ).scalar()
    if first is None or last is None:
        return None
    zone = ZoneInfo(tz)
    a, b = first.astimezone(zone), last.astimezone(zone)
    start = np.datetime64(f"{a.year:04d}-{a.month:02d}", "M")
    if a.day > 2:
        start += 1
    stop = np.datetime64(f"{b.year:04d}-{b.month:02d}", "M")
    if b.day < 27:
        stop -= 1
    return (start, stop) if start <= stop else None


def month_start(month: np.datetime64, tz: str) -> dt.datetime:
    """The start of a local month, aware."""
    year, mon = (int(x) for x in str(month).split("-"))
    return dt.datetime(year, mon, 1, tzinfo=ZoneInfo(tz))


def panel(
    session: Session,
    found: Sequence[Station],
    *,
    outcome: str,
    treated: set[int],
    reform_month: np.datetime64,
    first: np.datetime64,
    last: np.datetime64,
    tz: str,
) -> Panel:
    """The station × month panel of ``outcome`` over whole months ``first``…``last``."""
    name, kind = OUTCOMES[outcome]
    months = np.arange(first, last + 1, dtype="datetime64[M]")
    start, end = month_start(months[0], tz), month_start(months[-1] + 1, tz)
    rows = incident_rows(session, [s.id for s in found], start, end)
    zone = ZoneInfo(tz)
    local = (dt.datetime.fromtimestamp(t, zone) for t in rows.received)
    origin = months[0].astype(np.int64)  # months since 1970-01
    month_index = np.array(
        [(m.year - 1970) * 12 + m.month - 1 - origin for m in local], dtype=np.int64
    )
    row_of = {s.id: i for i, s in enumerate(found)}
    station_index = np.array([row_of[s] for s in rows.station], dtype=np.int64)
    values = np.zeros((len(found), len(months)), dtype=np.float64)
    if outcome == "response":
        sums: defaultdict[tuple[int, int], list[float]] = defaultdict(list)
        ok = ~np.isnan(rows.arrive_s) & ~rows.repeat
        for i, t, v in zip(station_index[ok], month_index[ok], rows.arrive_s[ok], strict=True):
            sums[(int(i), int(t))].append(float(v) / 60.0)
        for (i, t), vs in sums.items():
            values[i, t] = float(np.mean(vs))
    else:
        pick = _outcome_rows(rows, outcome)
        np.add.at(values, (station_index[pick], month_index[pick]), 1.0)
    return Panel(
        stations=tuple(s.code for s in found),
        months=months,
        values=values,
        treated=np.array([s.id in treated for s in found], dtype=np.bool_),
        reform_month=reform_month,
        exposure=np.array([max(s.population, 1.0) for s in found], dtype=np.float64),
        neighbours=neighbours(found),
        outcome=name,
        kind=kind,
    )


def _outcome_rows(rows: IncidentRows, outcome: str) -> NDArray[np.bool_]:
    if outcome == "repeat":
        return rows.repeat
    counted = ~rows.repeat
    if outcome == "prevention":
        return counted & np.isin(rows.category, [c.value for c in PREVENTION])
    same: NDArray[np.bool_] = rows.category == outcome
    return counted & same
