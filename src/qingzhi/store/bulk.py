"""Bulk inserts of plain rows with one ``executemany`` and no per-value SQLAlchemy processing.

A Core ``insert(table)`` with a list of dicts runs every value through SQLAlchemy's bind
processing, which costs more than SQLite's own work on wide rows (a year of calls carries a
million datetimes). ``insert_rows`` converts column by column instead, with a conversion chosen
once per table and dialect: UTC datetimes become the text SQLAlchemy's SQLite ``DateTime``
stores (vectorised with numpy), enums their values, other types go through their own bind
processor when they have one. The driver gets ready tuples.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import Connection, Enum, Table
from sqlalchemy.engine import Dialect

from qingzhi.store.base import UTCDateTime

ColumnConverter = Callable[[list[Any]], list[Any]]


def _check_aware(values: list[Any]) -> list[Any]:
    present = [v for v in values if v is not None]
    if any(v.tzinfo is None for v in present):
        raise ValueError("naive datetime given to a UTC column")
    return present


_FEW = 16  # below this many values numpy's set-up costs more than formatting one by one


def _utc_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_utc(values: list[Any]) -> list[Any]:
    """Aware datetimes as naive-UTC ``YYYY-MM-DD HH:MM:SS.ffffff`` text (None stays None)."""
    present = _check_aware(values)
    if not present:
        return values
    if len(values) > 1 and len(present) == len(values) and all(v is values[0] for v in values):
        return [_utc_text(values[0])] * len(values)  # one time for all (created_at)
    if len(present) <= _FEW:
        return [None if v is None else _utc_text(v) for v in values]
    micros = np.rint(np.fromiter((v.timestamp() for v in present), float, len(present)) * 1e6)
    stamps = np.datetime_as_string(micros.astype(np.int64).astype("datetime64[us]"), unit="us")
    text = [s.replace("T", " ") for s in stamps.tolist()]
    if len(text) == len(values):
        return text
    it = iter(text)
    return [None if v is None else next(it) for v in values]


def _aware(values: list[Any]) -> list[Any]:
    _check_aware(values)
    return values


def _enum_values(enum_class: type[enum.Enum]) -> ColumnConverter:
    def convert(values: list[Any]) -> list[Any]:
        return [None if v is None else enum_class(v).value for v in values]

    return convert


def _per_value(processor: Callable[[Any], Any]) -> ColumnConverter:
    def convert(values: list[Any]) -> list[Any]:
        return [processor(v) for v in values]

    return convert


def _converter(column_type: Any, dialect: Dialect) -> ColumnConverter | None:
    if isinstance(column_type, UTCDateTime):
        return _sqlite_utc if dialect.name == "sqlite" else _aware
    if isinstance(column_type, Enum) and column_type.enum_class is not None:
        return _enum_values(column_type.enum_class)
    processor = column_type.bind_processor(dialect)
    return None if processor is None else _per_value(processor)


@lru_cache(maxsize=256)
def _plan(
    table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[str, tuple[ColumnConverter | None, ...]]:
    converters = tuple(_converter(table.c[c].type, dialect) for c in columns)
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(columns))
    # The identifiers are the table's own columns: ``table.c[c]`` above refuses any other.
    return f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", converters  # noqa: S608


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, each a column of ``table``) in one executemany."""
    if not rows:
        return
    columns = tuple(rows[0])
    sql, converters = _plan(table, columns, connection.dialect)
    values = []
    for name, convert in zip(columns, converters, strict=True):
        column = [row[name] for row in rows]
        values.append(column if convert is None else convert(column))
    connection.exec_driver_sql(sql, list(zip(*values, strict=True)))


def allocate_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table``, so a batch can be inserted with its ids (and
    rows of the batch can point at each other) without reading them back.

    SQLite: the next ids after the largest, which only holds inside a writing transaction
    (``BEGIN IMMEDIATE`` holds the one write lock, and without AUTOINCREMENT SQLite itself gives
    max + 1). PostgreSQL: drawn from the column's sequence, safe beside concurrent writers.
    """
    if count <= 0:
        return []
    quote = connection.dialect.identifier_preparer.quote
    key = table.primary_key.columns.values()[0].name
    if connection.dialect.name == "sqlite":
        top = connection.exec_driver_sql(
            f"SELECT coalesce(max({quote(key)}), 0) FROM {quote(table.name)}"  # noqa: S608
        ).scalar_one()
        return list(range(int(top) + 1, int(top) + 1 + count))
    rows = connection.exec_driver_sql(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
        (table.name, key, count),
    )
    return [int(r[0]) for r in rows]
