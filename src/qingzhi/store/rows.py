"""A stored row's fields, said once: as the API's read model, or as the audit trail's snapshot.

Every domain turns its ORM rows into a response model whose fields are mostly the row's own
columns, and records the audited columns of a row before and after a change. Both are "these
names, read off the row"; the names are the model's fields or a tuple beside the table.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M")


def _field_names(model: type[Any]) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return [f.name for f in dataclasses.fields(model)]


def read_of(model: type[M], row: object, **given: Any) -> M:
    """``model`` (a pydantic model or a dataclass) with each field read from ``row``'s
    attribute of the same name, except the fields in ``given`` (computed ones, e.g. a unit's
    name through a relationship)."""
    names = _field_names(model)
    fields = {name: getattr(row, name) for name in names if name not in given}
    return model(**fields, **given)


def snapshot(row: object, names: tuple[str, ...]) -> dict[str, Any]:
    """The audited fields ``names`` of ``row``, an enum as its text (as the trail stores it)."""
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(row, name)
        out[name] = str(value) if isinstance(value, enum.Enum) else value
    return out
