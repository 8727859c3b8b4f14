"""Walking every GET route of the app as one user, for the scope test (``test_scope_routes``).

The routes come from the application's routers, not from a list: a new route is walked as soon
as it exists. Each path parameter is filled from ``PathValues`` by its name; a route with a
parameter nobody gave a value for fails the walk, so a new kind of route must say how it is
probed. Answers are normalised (volatile keys dropped, HTML tokens blanked, spreadsheets read
into rows) so that two walks over the same data give the same answers.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from openpyxl import load_workbook

# Keys whose values change between two identical requests (the clock, the event bus's head,
# request ids): not data about anyone.
VOLATILE_KEYS = frozenset({"now", "event_id", "request_id", "generated_at", "timeStamp"})
_HTML_TOKENS = re.compile(r'(csrf[_-]token"?\s*(?:content|value)?=?")[^"]*"', re.I)
_PATH_PARAM = re.compile(r"{([a-z_]+)(?::[a-z]+)?}")


def get_routes(app: FastAPI) -> list[APIRoute]:
    """Every GET route of ``app``, through its included routers."""
    out: list[APIRoute] = []

    def walk(routes: Sequence[Any]) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                walk(inner.routes)
            elif isinstance(route, APIRoute) and "GET" in (route.methods or ()):
                out.append(route)

    walk(app.router.routes)
    return out


@dataclass
class Probe:
    """How one route is called: its path with values, and the query variants tried."""

    template: str
    paths: list[str]
    queries: list[dict[str, Any]] = field(default_factory=lambda: [{}])


class MissingValue(LookupError):
    """A route has a path parameter the walk has no value for."""


def probes(
    routes: Sequence[APIRoute],
    values: Mapping[str, Sequence[Any]],
    queries: Mapping[str, Sequence[dict[str, Any]]],
    skip: Mapping[str, str],
) -> Iterator[Probe]:
    """A probe per route: every combination of the values of its path parameters (by name),
    with the route's own query variants, or ``{}`` and the common ones (``queries["*"]``)."""
    for route in routes:
        if route.path in skip:
            continue
        names = _PATH_PARAM.findall(route.path)
        paths = [route.path]
        for name in names:
            if name not in values:
                raise MissingValue(f"{route.path}: no value for the path parameter {name!r}")
            paths = [
                re.sub(r"{" + name + r"(?::[a-z]+)?}", str(v), p, count=1)
                for p in paths
                for v in values[name]
            ]
        variants = list(queries.get(route.path, [{}, *queries.get("*", [])]))
        yield Probe(route.path, paths, variants)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def normalised(response: Any) -> Any:
    """An answer as comparable data: status and JSON (volatile keys dropped), spreadsheet rows,
    or text with tokens blanked."""
    kind = response.headers.get("content-type", "")
    body: Any
    if "json" in kind:
        body = _strip(response.json())
    elif "zip" in kind:
        with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:  # members, not their times
            body = {name: bundle.read(name) for name in sorted(bundle.namelist())}
    elif "spreadsheetml" in kind:
        sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
        body = [list(row) for row in sheet.iter_rows(values_only=True)] if sheet else []
    else:
        body = _HTML_TOKENS.sub(r'\1"', response.text)
    return response.status_code, body


def walk(
    client: TestClient, headers: dict[str, str], plan: Sequence[Probe]
) -> dict[str, tuple[int, Any]]:
    """Every probe's answers, keyed by request (path and query)."""
    out: dict[str, tuple[int, Any]] = {}
    for probe in plan:
        for path in probe.paths:
            for query in probe.queries:
                key = path + ("?" + json.dumps(query, sort_keys=True) if query else "")
                response = client.get(
                    path, params=query, headers={**headers, "accept": "application/json"}
                )
                out[key] = normalised(response)
    return out


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The requests whose answers differ between two walks."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
