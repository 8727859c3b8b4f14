"""The record hash: pinned values (a change to the canonical form would orphan every stored
chain) and the fast path equal to the generic canonical JSON."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import Any

from qingzhi.audit import service as audit

BASE: dict[str, Any] = {
    "prev_hash": "0" * 64,
    "seq": 1,
    "at": dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    "actor_id": None,
    "actor": "factory",
    "action": "user.create",
    "entity_kind": "user",
    "entity_id": "1",
    "unit_id": None,
    "diff": '{"after":{"username":"管理员"},"before":null}',
    "request_id": None,
}


def reference_hash(prev_hash: str, **fields: Any) -> str:
    """The documented definition: sha256(prev_hash + compact sorted JSON of the fields)."""
    at = fields["at"]
    assert isinstance(at, dt.datetime)
    fields["at"] = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = audit.canonical_json(fields)
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def test_pinned_hashes() -> None:
    assert audit.record_hash(**BASE) == (
        "8cc0766610bc9d2100d09f15a363f24a0dd4c48a38c45804ef7214435f7aa761"
    )
    second = {
        **BASE,
        "seq": 2,
        "at": dt.datetime(2026, 3, 1, 0, 0, 0, 123456, tzinfo=dt.UTC),
        "actor_id": 7,
        "unit_id": 3,
        "request_id": "r-1",
    }
    assert audit.record_hash(**second) == (
        "2c01de56f9fb412869afbcdc4d130bce583f7d561ad4f0cb3f2ef6e656b6b539"
    )


def test_same_instant_in_any_zone_hashes_the_same() -> None:
    utc = {**BASE, "at": BASE["at"].astimezone(dt.UTC)}
    naive_utc = {**BASE, "at": utc["at"].replace(tzinfo=None)}
    assert audit.record_hash(**BASE) == audit.record_hash(**utc)
    assert audit.record_hash(**BASE) == audit.record_hash(**naive_utc)


def test_fast_path_equals_the_definition() -> None:
    rnd = random.Random(20260301)
    alphabet = 'aZ0 "\\/\n\t\x00\x1f\x7f城一é\u2028😀{}[],:'

    def text() -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))

    def number() -> int | None:
        return rnd.choice([None, 0, -5, 1, 2**40, rnd.randint(-(10**6), 10**6)])

    for _ in range(3000):
        at = dt.datetime(
            rnd.randint(1000, 9999),
            rnd.randint(1, 12),
            rnd.randint(1, 28),
            rnd.randint(0, 23),
            rnd.randint(0, 59),
            rnd.randint(0, 59),
            rnd.choice([0, rnd.randint(0, 999_999)]),
            tzinfo=rnd.choice([dt.UTC, dt.timezone(dt.timedelta(hours=8))]),
        )
        fields: dict[str, Any] = {
            "seq": rnd.randint(-3, 10**9),
            "at": at,
            "actor_id": number(),
            "actor": text(),
            "action": text(),
            "entity_kind": text(),
            "entity_id": text(),
            "unit_id": number(),
            "diff": text(),
            "request_id": rnd.choice([None, text()]),
        }
        prev = text()
        assert audit.record_hash(prev_hash=prev, **fields) == reference_hash(prev, **fields)


def test_unusual_types_take_the_generic_path() -> None:
    """A bool or a subclass of str is not serialised by the fast path's rules."""
    odd = {**BASE, "actor_id": True}
    fields = {k: v for k, v in odd.items() if k != "prev_hash"}
    assert audit.record_hash(**odd) == reference_hash("0" * 64, **fields)
