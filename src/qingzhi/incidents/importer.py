"""Importing 110/CAD exports (CSV, gzipped CSV, Excel .xlsx) as they come, through intake.

An import reads its file twice over, never writing before it has read it whole:

1. **The check** (``check_file``; ``qingzhi import incidents --check`` stops here): the mapping
   against the header (``Mapping.check_header``: a missing column is an error before any row is
   read), then every row read (``import_read``: encoding, short rows), its times (``import_times``),
   its point (placeholders near 0/0 and points outside the place's boundary refused) and its
   record (the schema, its history replayed through the lifecycle): each bad row reported whole
   with file, row, field and a reason code, and counts of what each category mapping and the
   default caught, the time range, the days (``analysis.completeness``).
2. **The load**: if the bad rows are no more than ``max_errors``, the good rows — kept from the
   check in time-sorted runs on disk, not read again — are merged into time order and go to
   ``intake.intake_batches`` in batches of 5,000 (one transaction each; routing, repeats linked in
   time order whatever the file's order, audit). A second import adds nothing (idempotent on the
   source id); with ``update`` a row whose source id exists and whose fields changed corrects the
   incident (``corrections``: a new version, audited before/after).

The mapping's keys are in ``import_mapping`` and ``docs/county.md``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import pickle
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from qingzhi.analysis.completeness import DayGap, gaps
from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.errors import RowError
from qingzhi.incidents import corrections, intake
from qingzhi.incidents.import_mapping import MAPPINGS_DIR, Mapping
from qingzhi.incidents.import_read import BadRow, Source
from qingzhi.incidents.import_rows import Place, _FieldError, to_item
from qingzhi.incidents.schemas import IncidentCreate, IncidentImport, Location
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

__all__ = [
    "MAPPINGS_DIR",
    "ImportSummary",
    "Mapping",
    "Place",
    "check_file",
    "import_file",
    "load_place",
    "to_item",
]

BATCH = 5000
RUN = 20_000  # rows per sorted run on disk
_CHUNK = 500  # rows per pickle in a run

Progress = Callable[[str, int, int | None], None]  # (phase, done, total)


@dataclass
class Rejected:
    """A rejected row: its errors and its cells, whole (for the error file)."""

    errors: list[RowError]
    cells: list[str]


@dataclass
class ImportSummary:
    """What a check or an import found and did."""

    file: str = ""
    header: list[str] = field(default_factory=list)
    unused_columns: list[str] = field(default_factory=list)
    encoding: str = ""
    rows: int = 0
    good: int = 0
    created: int = 0
    existing: int = 0
    updated: int = 0
    written: bool = False  # False: a check, or refused for too many bad rows
    errors: list[RowError] = field(default_factory=list)
    rejected: dict[int, Rejected] = field(default_factory=dict)
    by_mapping: Counter[str] = field(default_factory=Counter)  # category key (or "default")
    to_default: Counter[str] = field(default_factory=Counter)  # source values the default took
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    in_order: bool = True
    days: Counter[dt.date] = field(default_factory=Counter)  # local dates of the good rows
    flags: Counter[str] = field(default_factory=Counter)  # dst_ambiguous, clock12, no_location…

    @property
    def bad_rows(self) -> int:
        """How many rows were rejected."""
        return len(self.rejected)

    def gaps(self) -> list[DayGap]:
        """Days without calls or far below the usual count (``analysis.completeness``)."""
        return gaps(dict(self.days))


_PACKED = tuple(n for n in IncidentImport.model_fields if n != "location")


def _pack(item: IncidentImport) -> tuple[Any, ...]:
    """A validated item as a plain tuple (what a run on disk keeps: a tenth of the cost of
    pickling the model)."""
    loc = item.location
    return (
        *(getattr(item, n) for n in _PACKED),
        None if loc is None else (loc.lon, loc.lat, loc.datum),
    )


_set = object.__setattr__
_ALL_FIELDS = frozenset(IncidentImport.model_fields)
_LOCATION_FIELDS = frozenset(Location.model_fields)


def _built(cls: type[BaseModel], fields: dict[str, Any], names: frozenset[str]) -> Any:
    """A model from values it held before (every field given, already validated): what
    ``model_construct`` makes, without its per-field default and alias search (a fifth of the
    load's cost per row)."""
    obj = cls.__new__(cls)
    _set(obj, "__dict__", fields)
    _set(obj, "__pydantic_fields_set__", set(names))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


def _unpack(values: tuple[Any, ...]) -> IncidentImport:
    """The item again, without validating it a second time (it was, before it was packed)."""
    fields = dict(zip(_PACKED, values, strict=False))
    loc = values[-1]
    fields["location"] = (
        None
        if loc is None
        else _built(Location, {"lon": loc[0], "lat": loc[1], "datum": loc[2]}, _LOCATION_FIELDS)
    )
    item: IncidentImport = _built(IncidentImport, fields, _ALL_FIELDS)
    return item


class _Runs:
    """The good rows of a check, in runs sorted by time on disk, merged back in time order."""

    def __init__(self) -> None:
        self.files: list[IO[bytes]] = []
        self.buffer: list[tuple[dt.datetime, int, tuple[Any, ...]]] = []

    def add(self, line: int, at: dt.datetime, packed: tuple[Any, ...]) -> None:
        self.buffer.append((at, line, packed))
        if len(self.buffer) >= RUN:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        self.buffer.sort(key=lambda t: (t[0], t[1]))
        fh = tempfile.TemporaryFile(prefix="qingzhi-import-")  # noqa: SIM115 - closed in close()
        for start in range(0, len(self.buffer), _CHUNK):
            pickle.dump(self.buffer[start : start + _CHUNK], fh, pickle.HIGHEST_PROTOCOL)
        fh.seek(0)
        self.files.append(fh)
        self.buffer = []

    def merged(self) -> Iterator[IncidentImport]:
        self.flush()

        def read(fh: IO[bytes]) -> Iterator[tuple[dt.datetime, int, tuple[Any, ...]]]:
            while True:
                try:
                    chunk = pickle.load(fh)  # noqa: S301 - our own temporary file
                except EOFError:
                    return
                yield from chunk

        for _, _, packed in heapq.merge(*(read(f) for f in self.files), key=lambda t: t[:2]):
            yield _unpack(packed)

    def close(self) -> None:
        for fh in self.files:
            fh.close()
        self.files = []


_Result = tuple[Any, ...]  # ("ok", line, at, raw category, packed) | ("bad", line, errors, cells)


def _check_row(
    line: int,
    row: dict[str, Any],
    occurrence: int,
    mapping: Mapping,
    place: Place | None,
    flags: Counter[str],
    file: str,
) -> _Result:
    """One row checked: its packed item, or its errors and cells."""
    try:
        item = to_item(row, mapping, occurrence, place=place, flags=flags)
    except _FieldError as exc:
        return ("bad", line, [RowError(file, line, exc.field, str(exc), exc.code)], row)
    except ValidationError as exc:
        return ("bad", line, RowError.of(exc, file=file, row=line), row)
    raw_cat = (mapping.get["category"](row) or "").strip()
    return ("ok", line, item.received_at, raw_cat, _pack(item))


_WORKER: dict[str, Any] = {}


def _start_worker(path: str, tz: str, boundary: str | None, buffer_m: float, file: str) -> None:
    """A check worker's state: the mapping loaded again (its readers are closures) and the
    place."""
    _WORKER["mapping"] = Mapping.load(Path(path), default_timezone=tz)
    _WORKER["place"] = Place.of(boundary, buffer_m)
    _WORKER["file"] = file


def _check_chunk(
    chunk: list[tuple[int, dict[str, Any], int]],
) -> tuple[list[_Result], Counter[str]]:
    """A worker's share: the rows of a chunk checked, with the flags they raised."""
    flags: Counter[str] = Counter()
    mapping, place, file = _WORKER["mapping"], _WORKER["place"], _WORKER["file"]
    out = [_check_row(n, row, occ, mapping, place, flags, file) for n, row, occ in chunk]
    return out, flags


class _Account:
    """What the check learns from each row's result, in the file's order."""

    def __init__(self, summary: ImportSummary, mapping: Mapping, runs: _Runs | None) -> None:
        self.summary, self.runs = summary, runs
        self.tz = mapping.timezone
        self.categories = mapping.categories
        self.last: dt.datetime | None = None

    def add(self, result: _Result) -> None:
        s = self.summary
        if result[0] == "bad":
            _reject(s, result[1], result[2], result[3])
            return
        _, line, at, raw_cat, packed = result
        s.good += 1
        if raw_cat in self.categories:
            s.by_mapping[raw_cat] += 1
        else:
            s.by_mapping["default"] += 1
            s.to_default[raw_cat] += 1
        if self.last is not None and at < self.last:
            s.in_order = False
        self.last = at
        if s.first is None or at < s.first:
            s.first = at
        if s.last is None or at > s.last:
            s.last = at
        s.days[at.astimezone(self.tz).date()] += 1
        if self.runs is not None:
            self.runs.add(line, at, packed)


PARALLEL_CHUNK = 2000


def check_file(
    *,
    path: Path,
    mapping: Mapping,
    place: Place | None = None,
    progress: Progress | None = None,
    limit: int | None = None,
    workers: int = 1,
    _runs: _Runs | None = None,
) -> ImportSummary:
    """Read a whole file and report what an import of it would find; writes nothing. A header
    that lacks a column the mapping reads raises ValidationFailed before any row is read.
    ``workers`` > 1 checks the rows in that many processes (the file is still read, and its
    results taken, in order here: the same summary as one process gives)."""
    source = Source(
        path, encoding=mapping.encoding, delimiter=mapping.delimiter, sheet=mapping.sheet
    )
    summary = ImportSummary(file=path.name, header=source.header, encoding=source.encoding)
    summary.unused_columns = mapping.check_header(source.header, path.name)
    account = _Account(summary, mapping, _runs)
    seen: Counter[str] = Counter()
    source_id = mapping.get["source_id"]

    def rows() -> Iterator[tuple[int, dict[str, Any], int]]:
        for line, row in source.rows():
            if limit is not None and summary.rows >= limit:
                return
            summary.rows += 1
            if progress and summary.rows % 2000 == 0:
                progress("check", source.done, source.size)
            if isinstance(row, BadRow):
                err = RowError(path.name, line, row.field, row.reason, row.code)
                account.add(("bad", line, [err], row.cells))
                continue
            occurrence = 1
            if mapping.hashed_id:
                key = source_id(row) or ""
                seen[key] += 1
                occurrence = seen[key]
            yield line, row, occurrence

    if workers <= 1:
        for line, row, occurrence in rows():
            account.add(_check_row(line, row, occurrence, mapping, place, summary.flags, path.name))
    else:
        _check_parallel(rows(), account, mapping, place, workers, path.name)
    if progress:
        progress("check", source.size, source.size)
    return summary


def _check_parallel(
    rows: Iterator[tuple[int, dict[str, Any], int]],
    account: _Account,
    mapping: Mapping,
    place: Place | None,
    workers: int,
    file: str,
) -> None:
    """The rows checked in ``workers`` processes, chunk by chunk, their results taken in order
    (at most two chunks a worker in flight: memory stays bounded)."""
    from concurrent.futures import Future, ProcessPoolExecutor
    from multiprocessing import get_context

    boundary, buffer_m = place.source if place is not None else (None, 0.0)
    pending: deque[Future[tuple[list[_Result], Counter[str]]]] = deque()

    def take(future: Future[tuple[list[_Result], Counter[str]]]) -> None:
        results, flags = future.result()
        for result in results:
            account.add(result)
        account.summary.flags.update(flags)

    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(str(mapping.path), mapping.timezone.key, boundary, buffer_m, file),
    ) as pool:
        chunk: list[tuple[int, dict[str, Any], int]] = []
        for item in rows:
            chunk.append(item)
            if len(chunk) >= PARALLEL_CHUNK:
                pending.append(pool.submit(_check_chunk, chunk))
                chunk = []
                while len(pending) >= 2 * workers:
                    take(pending.popleft())
        if chunk:
            pending.append(pool.submit(_check_chunk, chunk))
        while pending:
            take(pending.popleft())


def _reject(
    summary: ImportSummary, line: int, errors: list[RowError], cells: dict[str, Any] | list[str]
) -> None:
    summary.errors.extend(errors)
    values = list(cells.values()) if isinstance(cells, dict) else cells
    summary.rejected[line] = Rejected(errors, ["" if v is None else str(v) for v in values])


def import_file(
    *,
    db: Database,
    actor: Actor,
    settings: Settings,
    path: Path,
    mapping: Mapping,
    place: Place | None = None,
    progress: Progress | None = None,
    limit: int | None = None,
    max_errors: int | None = None,
    update: bool = False,
    workers: int = 1,
) -> ImportSummary:
    """Check the whole file, then (unless more than ``max_errors`` rows are bad) load its good
    rows in time order through intake; ``update`` corrects existing incidents whose row changed.
    """
    if place is None:
        place = load_place(db, mapping)
    runs = _Runs()
    try:
        summary = check_file(
            path=path,
            mapping=mapping,
            place=place,
            progress=progress,
            limit=limit,
            workers=workers,
            _runs=runs,
        )
        if max_errors is not None and summary.bad_rows > max_errors:
            log.info(
                "%s: %d bad rows > %d, nothing written", path.name, summary.bad_rows, max_errors
            )
            return summary
        summary.written = True
        done = 0

        def batches() -> Iterator[list[IncidentImport]]:
            batch: list[IncidentImport] = []
            for item in runs.merged():
                batch.append(item)
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
            if batch:
                yield batch

        then = _corrector(actor, summary) if update else None
        for results in intake.intake_batches(
            db=db,
            actor=actor,
            settings=settings,
            batches=batches(),
            action="incident.import",
            link_repeats=mapping.link_repeats,
            then=then,
        ):
            created = sum(r.created for r in results)
            summary.created += created
            summary.existing += len(results) - created
            done += len(results)
            if progress:
                progress("load", done, summary.good)
        summary.existing -= summary.updated
        if summary.created or summary.updated:
            db.analyze()
        return summary
    finally:
        runs.close()


def _corrector(
    actor: Actor, summary: ImportSummary
) -> Callable[[Session, Sequence[IncidentCreate], list[intake.ItemResult]], None]:
    """What ``--update`` runs in each batch's transaction: the rows of existing incidents
    applied as corrections (only those whose fields changed)."""

    def then(
        session: Session, items: Sequence[IncidentCreate], results: list[intake.ItemResult]
    ) -> None:
        existing = [
            (r.incident_id, item)
            for item, r in zip(items, results, strict=True)
            if not r.created and isinstance(item, IncidentImport)
        ]
        summary.updated += corrections.apply_imports(session=session, actor=actor, rows=existing)

    return then


def load_place(db: Database, mapping: Mapping) -> Place:
    """The place the rows are checked against: the bureau's boundary, if it has one."""
    from qingzhi.org.models import Bureau

    with db.session() as session:
        boundary = session.query(Bureau.boundary).limit(1).scalar()
    return Place.of(boundary, mapping.boundary_buffer_m)
