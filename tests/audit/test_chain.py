"""The hash chain: an untouched chain verifies; any alteration, deletion, reordering or insertion
is found and the first bad sequence number named. The table refuses UPDATE and DELETE itself."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from qingzhi.audit import service as audit
from qingzhi.audit.models import AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.store.db import Database
from tests.factories import Org
from tests.helpers import audit_count, bearer

N_EXTRA = 6


@pytest.fixture
def chain(db: Database, org: Org) -> int:
    """The factory's records plus a few more; returns the number of records."""
    actor = system_actor("chain-test")
    with db.session(write=True) as session:
        for i in range(N_EXTRA):
            audit.record(
                session=session,
                actor=actor,
                action="test.change",
                entity_kind="unit",
                entity_id=org.id("A"),
                unit_id=org.id("A"),
                before={"n": i},
                after={"n": i + 1, "名称": "城一"},
            )
    n = audit_count(db)
    assert n >= 10
    return n


def verify(db: Database) -> audit.VerifyResult:
    with db.session() as session:
        return audit.verify(session=session)


def _row(conn: Connection, seq: int) -> dict[str, object]:
    row = conn.execute(select(AuditRecord.__table__).where(AuditRecord.seq == seq)).mappings()
    return dict(row.one())


def test_untouched_chain_verifies(db: Database, chain: int) -> None:
    result = verify(db)
    assert result.ok, result
    assert result.checked == chain
    assert result.first_bad_seq is None


def test_each_record_links_to_the_previous(db: Database, chain: int) -> None:
    with db.session() as session:
        rows = session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
    assert [r.seq for r in rows] == list(range(1, chain + 1))
    assert rows[0].prev_hash == audit.GENESIS_HASH
    for prev, row in itertools.pairwise(rows):
        assert row.prev_hash == prev.hash
    for row in rows:
        assert row.at.tzinfo is not None
        assert row.hash == audit.record_hash(
            prev_hash=row.prev_hash,
            seq=row.seq,
            at=row.at,
            actor_id=row.actor_id,
            actor=row.actor,
            action=row.action,
            entity_kind=row.entity_kind,
            entity_id=row.entity_id,
            unit_id=row.unit_id,
            diff=row.diff,
            request_id=row.request_id,
        )


def test_triggers_refuse_update_and_delete(connection: Connection, chain: int) -> None:
    statements = [
        "UPDATE audit_record SET actor = 'mallory' WHERE seq = 3",
        "DELETE FROM audit_record WHERE seq = 3",
        "DELETE FROM audit_record",
    ]
    if connection.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_record")
    for sql in statements:
        nested = connection.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            connection.exec_driver_sql(sql)
        nested.rollback()
    assert connection.execute(text("SELECT actor FROM audit_record WHERE seq = 3")).scalar_one()
    assert connection.execute(text("SELECT count(*) FROM audit_record")).scalar_one() == chain


def test_orm_cannot_change_a_record(db: Database, chain: int) -> None:
    with pytest.raises(DBAPIError), db.session(write=True) as session:
        row = session.get(AuditRecord, 2)
        assert row is not None
        row.action = "user.delete"
    assert verify(db).ok


@pytest.mark.parametrize(
    "column, value",
    [
        ("diff", '{"after":{"n":99},"before":{"n":0}}'),
        ("actor", "mallory"),
        ("action", "test.other"),
        ("unit_id", 999),
        ("entity_id", "12345"),
        ("hash", "f" * 64),
    ],
)
def test_altering_a_record_is_found(
    db: Database, unprotected: Connection, chain: int, column: str, value: object
) -> None:
    target = chain - 3
    unprotected.execute(
        text(f"UPDATE audit_record SET {column} = :v WHERE seq = :s"), {"v": value, "s": target}
    )
    result = verify(db)
    assert not result.ok
    assert result.first_bad_seq == target
    assert str(target) in (result.reason or "")
    assert result.checked == target - 1


def test_altering_the_time_is_found(db: Database, unprotected: Connection, chain: int) -> None:
    target = 4
    at = _row(unprotected, target)["at"]
    assert isinstance(at, dt.datetime)
    unprotected.execute(
        update(AuditRecord).where(AuditRecord.seq == target).values(at=at + dt.timedelta(seconds=1))
    )
    result = verify(db)
    assert (result.ok, result.first_bad_seq) == (False, target)


def test_altering_and_rehashing_a_record_breaks_the_next_link(
    db: Database, unprotected: Connection, chain: int
) -> None:
    """A forger who recomputes the altered record's hash still breaks the link to the next."""
    target = 5
    row = _row(unprotected, target)
    fields = {k: row[k] for k in row if k not in ("hash", "prev_hash")}
    fields["diff"] = '{"after":{"role":"admin"},"before":{}}'
    forged = audit.record_hash(prev_hash=str(row["prev_hash"]), **fields)  # type: ignore[arg-type]
    unprotected.execute(
        text("UPDATE audit_record SET diff = :d, hash = :h WHERE seq = :s"),
        {"d": fields["diff"], "h": forged, "s": target},
    )
    result = verify(db)
    assert not result.ok
    assert result.first_bad_seq == target + 1


def test_deleting_a_record_is_found(db: Database, unprotected: Connection, chain: int) -> None:
    target = 5
    unprotected.execute(text("DELETE FROM audit_record WHERE seq = :s"), {"s": target})
    result = verify(db)
    assert not result.ok
    assert result.first_bad_seq == target
    assert str(target) in (result.reason or "")


def test_deleting_the_last_record_is_found(
    db: Database, unprotected: Connection, chain: int
) -> None:
    unprotected.execute(text("DELETE FROM audit_record WHERE seq = :s"), {"s": chain})
    result = verify(db)
    assert not result.ok
    assert result.first_bad_seq == chain


def test_reordering_two_records_is_found(db: Database, unprotected: Connection, chain: int) -> None:
    a, b = 4, 5
    hash_b = _row(unprotected, b)["hash"]
    for old, new in ((a, -1), (b, a), (-1, b)):
        unprotected.execute(
            text("UPDATE audit_record SET seq = :new WHERE seq = :old"), {"new": new, "old": old}
        )
    assert _row(unprotected, a)["hash"] == hash_b  # the rows swapped places
    result = verify(db)
    assert not result.ok
    assert result.first_bad_seq == a


def _forge(conn: Connection, seq: int, prev_hash: str) -> None:
    """Insert a well-formed record (its own hash correct) at ``seq`` without moving the head."""
    fields = {
        "seq": seq,
        "at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "actor_id": None,
        "actor": "mallory",
        "action": "user.create",
        "entity_kind": "user",
        "entity_id": "999",
        "unit_id": None,
        "diff": "{}",
        "request_id": None,
    }
    digest = audit.record_hash(prev_hash=prev_hash, **fields)  # type: ignore[arg-type]
    conn.execute(insert(AuditRecord).values(prev_hash=prev_hash, hash=digest, **fields))


def test_inserting_before_the_first_record_is_found(
    db: Database, connection: Connection, chain: int
) -> None:
    """Inserts need no trigger dropped: the chain itself must catch them."""
    _forge(connection, 0, audit.GENESIS_HASH)
    result = verify(db)
    assert not result.ok
    assert result.first_bad_seq == 0


def test_inserting_after_a_gap_is_found(db: Database, connection: Connection, chain: int) -> None:
    last = _row(connection, chain)
    _forge(connection, chain + 2, str(last["hash"]))
    result = verify(db)
    assert not result.ok
    assert result.first_bad_seq == chain + 1  # the chain breaks where the missing record is


def test_appending_without_the_head_is_found(
    db: Database, connection: Connection, chain: int
) -> None:
    last = _row(connection, chain)
    _forge(connection, chain + 1, str(last["hash"]))
    result = verify(db)
    assert not result.ok
    assert result.first_bad_seq == chain + 1


def test_verify_endpoint(
    client: TestClient, db: Database, unprotected: Connection, chain: int
) -> None:
    headers = bearer(db, "admin")
    r = client.post("/api/audit/verify", headers=headers)
    assert r.status_code == 200
    assert r.json()["ok"] is True
    n = r.json()["checked"]
    assert n >= chain
    unprotected.execute(text("UPDATE audit_record SET actor = 'x' WHERE seq = 7"))
    r = client.post("/api/audit/verify", headers=headers)
    assert r.json()["ok"] is False
    assert r.json()["first_bad_seq"] == 7


def test_trail_is_scoped(client: TestClient, db: Database, chain: int, org: Org) -> None:
    r = client.get(f"/api/audit/unit/{org.id('A')}", headers=bearer(db, "chief_a"))
    assert r.status_code == 200
    entries = r.json()
    assert [e["action"] for e in entries] == ["test.change"] * N_EXTRA
    first = entries[0]["diff"]
    assert first == {"before": {"n": 0, "名称": None}, "after": {"n": 1, "名称": "城一"}}
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    r = client.get(f"/api/audit/unit/{org.id('A')}", headers=bearer(db, "chief_c"))
    assert r.status_code == 404


def test_verify_while_records_are_appended(committed: Database) -> None:
    """A verify that walks in small batches while another connection keeps appending finds the
    chain intact (PostgreSQL's READ COMMITTED lets each batch see newer commits: the walk stops
    at the head it read first, so new records are not taken for a tail the head lacks)."""
    import threading

    stop = threading.Event()

    def append() -> None:
        n = 0
        while not stop.is_set() and n < 2_000:
            with committed.session(write=True) as session:
                audit.record(
                    session=session,
                    actor=system_actor(),
                    action="test.append",
                    entity_kind="test",
                    entity_id=n,
                )
            n += 1

    writer = threading.Thread(target=append)
    writer.start()
    try:
        results = []
        for _ in range(20):
            with committed.session() as session:
                results.append(audit.verify(session=session, batch=3))
    finally:
        stop.set()
        writer.join()
    assert all(r.ok for r in results), [r for r in results if not r.ok][:1]
    assert results[-1].checked > results[0].checked  # records were appended meanwhile
