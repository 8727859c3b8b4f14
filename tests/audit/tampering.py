"""Building a chain fast, and tampering with it as someone holding the database would (the
append-only triggers dropped first: ``drop_triggers`` in this folder's conftest)."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select, text, update

from qingzhi.audit import service as audit
from qingzhi.audit.models import AuditHead, AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.store.base import table_of
from qingzhi.store.db import Database

ACTOR = system_actor("checkpoint-test")


def grow(db: Database, n: int) -> int:
    """Append ``n`` records in one transaction; the head's seq."""
    changes = [
        audit.Change("test.change", "unit", i % 7 + 1, i % 5 + 1, {"n": i}, {"n": i + 1})
        for i in range(n)
    ]
    with db.session(write=True) as session:
        return audit.record_many(session=session, actor=ACTOR, changes=changes)


def truncate(conn: Connection, keep: int) -> None:
    """Delete every record after ``keep`` and rewind the head to it."""
    last = conn.execute(select(AuditRecord.hash).where(AuditRecord.seq == keep)).scalar_one()
    conn.execute(text("DELETE FROM audit_record WHERE seq > :k"), {"k": keep})
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=keep, hash=last))


def rewrite(conn: Connection, target: int) -> None:
    """Change record ``target`` and recompute its hash, every later record's and the head's."""
    rows = conn.execute(
        select(AuditRecord.__table__).where(AuditRecord.seq >= target).order_by(AuditRecord.seq)
    ).mappings()
    params = []
    prev: str | None = None
    for row in rows:
        fields = {k: row[k] for k in row if k not in ("hash", "prev_hash")}
        if row["seq"] == target:
            fields["diff"] = '{"after":{"role":"admin"},"before":{}}'
        prev = str(row["prev_hash"]) if prev is None else prev
        digest = audit.record_hash(prev_hash=prev, **fields)
        params.append({"s": row["seq"], "d": fields["diff"], "p": prev, "h": digest})
        prev = digest
    table = table_of(AuditRecord)
    conn.execute(
        update(table)
        .where(table.c.seq == bindparam("s"))
        .values(diff=bindparam("d"), prev_hash=bindparam("p"), hash=bindparam("h")),
        params,
    )
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=params[-1]["s"], hash=prev))
