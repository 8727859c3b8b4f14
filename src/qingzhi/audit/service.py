"""Appending to, reading and verifying the hash-chained audit trail.

Each record's ``hash`` is ``sha256(prev_hash + canonical)`` where ``canonical`` is the record's
fields (sequence number, time, actor, action, entity, unit, diff, request id) as compact JSON with
sorted keys. The chain's head lives in one row that every append locks (``FOR UPDATE`` on
PostgreSQL; SQLite writers already hold the database's write lock), so appends are serialised and
written in the caller's transaction: the record commits or rolls back with the change it records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import DateTime, bindparam, func, select, type_coerce, update
from sqlalchemy.orm import Session

from qingzhi.audit.models import AuditHead, AuditRecord
from qingzhi.auth.context import Actor
from qingzhi.auth.scope import Scope
from qingzhi.errors import NotFound
from qingzhi.store.base import table_of, utcnow
from qingzhi.store.bulk import insert_rows
from qingzhi.store.rows import read_of

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64

# Chinese names of audit actions, for timelines and reports (unknown actions show their code).
ACTION_LABELS = {
    "incident.create": "登记警情",
    "incident.import": "导入警情",
    "incident.read_personal": "查看报警人完整电话",
    "incident.dispatched": "派警",
    "incident.arrived": "到场",
    "incident.resolved": "处置完毕",
    "incident.closed": "结警",
    "incident.transferred": "移交",
    "incident.cancelled": "撤销",
    "incident.repeat_linked": "关联重复报警",
    "incident.repeat_relinked": "重新关联重复报警（更早的报警导入后）",
    # the operator's loop (several units per incident)
    "incident.reinforced": "增援派警",
    "incident_assignment.arrived": "警力到场",
    "incident_assignment.cleared": "警力撤离",
    "unit.create": "新建单位",
    "unit.update": "修改单位",
    "unit.bundle": "调整捆绑",
    "unit.import": "导入单位",
    "zone.create": "新建片区",
    "zone.update": "修改片区",
    "zone.import": "导入片区",
    "officer.create": "新增警员",
    "officer.update": "修改警员",
    "officer.import": "导入警员",
    "officer.status": "警员状态变更",
    "officer.camera": "设置执法记录仪",
    # duty rosters (w15-demo)
    "officer.duty": "按排班上下岗",
    "duty.shift": "新建班次",
    "duty.shift_update": "修改班次",
    "duty.roster": "排班",
    "user.create": "新建账号",
    "user.disable": "停用账号",
    "user.enable": "启用账号",
    "user.password_reset": "重置密码",
    "user.password_change": "修改密码",
    "auth.login": "登录",
    "auth.logout": "退出",
    "auth.logout_all": "退出全部登录",
    "auth.login_failed": "登录失败",
    "auth.locked": "登录锁定",
    "auth.unlock": "解除登录限制",
    "token.create": "签发令牌",
    "token.revoke": "吊销令牌",
}


def action_label(action: str) -> str:
    """Chinese name of an audit action."""
    return ACTION_LABELS.get(action, action)


# The string encoder of the canonical form (the same escaping orjson applies to strings).
_json_str = json.encoder.encode_basestring


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys, non-ASCII as is (orjson; anything else as ``str``): the
    one serialisation that is hashed."""
    return orjson.dumps(
        value, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    ).decode()


def _timestamp(at: dt.datetime | str) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (a naive time is taken as UTC, as stored; a string
    is taken as already in this form)."""
    if isinstance(at, str):
        return at
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds") + "Z"


def _body(
    seq: Any,
    at: dt.datetime | str,
    actor_id: Any,
    actor: Any,
    action: Any,
    entity_kind: Any,
    entity_id: Any,
    unit_id: Any,
    diff: Any,
    request_id: Any,
) -> str:
    """The canonical JSON of a record's fields (what ``canonical_json`` gives, built directly:
    verify computes it for every record)."""
    if not (
        type(seq) is int
        and (actor_id is None or type(actor_id) is int)
        and (unit_id is None or type(unit_id) is int)
        and type(actor) is str
        and type(action) is str
        and type(entity_kind) is str
        and type(entity_id) is str
        and type(diff) is str
        and (request_id is None or type(request_id) is str)
    ):
        return canonical_json(
            {
                "seq": seq,
                "at": _timestamp(at),
                "actor_id": actor_id,
                "actor": actor,
                "action": action,
                "entity_kind": entity_kind,
                "entity_id": entity_id,
                "unit_id": unit_id,
                "diff": diff,
                "request_id": request_id,
            }
        )
    return "".join(
        (
            '{"action":',
            _json_str(action),
            ',"actor":',
            _json_str(actor),
            ',"actor_id":',
            "null" if actor_id is None else str(actor_id),
            ',"at":"',
            _timestamp(at),
            '","diff":',
            _json_str(diff),
            ',"entity_id":',
            _json_str(entity_id),
            ',"entity_kind":',
            _json_str(entity_kind),
            ',"request_id":',
            "null" if request_id is None else _json_str(request_id),
            ',"seq":',
            str(seq),
            ',"unit_id":',
            "null" if unit_id is None else str(unit_id),
            "}",
        )
    )


def _hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def record_hash(
    *,
    prev_hash: str,
    seq: int,
    at: dt.datetime | str,
    actor_id: int | None,
    actor: str,
    action: str,
    entity_kind: str,
    entity_id: str,
    unit_id: int | None,
    diff: str,
    request_id: str | None,
) -> str:
    """The hash of one record given the previous record's hash."""
    body = _body(
        seq, at, actor_id, actor, action, entity_kind, entity_id, unit_id, diff, request_id
    )
    return _hash(prev_hash, body)


def diff_of(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """The before/after of the fields that changed (all fields for a creation or deletion)."""
    if before is None or after is None:
        return {"before": before, "after": after}
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {"before": {k: before.get(k) for k in keys}, "after": {k: after.get(k) for k in keys}}


@dataclass(frozen=True)
class Change:
    """One change to record: what was done to which entity, and its before/after."""

    action: str
    entity_kind: str
    entity_id: str | int
    unit_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    diff: dict[str, Any] | None = None
    actor: Actor | None = None  # who made it, when not the batch's actor


# The chain's head, locked for the rest of the transaction (FOR UPDATE on PostgreSQL; SQLite
# writers hold the database's write lock already).
_HEAD = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
_MOVE_HEAD = (
    update(AuditHead).where(AuditHead.id == 1).values(seq=bindparam("seq"), hash=bindparam("hash"))
)


def record_many(*, session: Session, changes: Sequence[Change], actor: Actor | None = None) -> int:
    """Append records for many changes at once (one head lock, one bulk insert); the last seq.
    Each change is by its own ``actor`` or else by ``actor``."""
    connection = session.connection()
    head_seq, head_hash = connection.execute(_HEAD).one()
    if not changes:
        return int(head_seq)
    at = utcnow()
    stamp = _timestamp(at)
    prev, seq = str(head_hash), int(head_seq)
    rows = []
    for change in changes:
        seq += 1
        diff = change.diff if change.diff is not None else diff_of(change.before, change.after)
        by = change.actor or actor
        if by is None:
            raise ValueError(f"audit change {change.action} has no actor")
        fields: dict[str, Any] = {
            "seq": seq,
            "at": stamp,  # the batch's one time, formatted once for every record's hash
            "actor_id": by.user_id,
            "actor": by.name,
            "action": change.action,
            "entity_kind": change.entity_kind,
            "entity_id": str(change.entity_id),
            "unit_id": change.unit_id,
            "diff": canonical_json(diff),
            "request_id": by.request_id,
        }
        digest = record_hash(prev_hash=prev, **fields)
        rows.append({**fields, "at": at, "prev_hash": prev, "hash": digest})
        prev = digest
    insert_rows(connection, table_of(AuditRecord), rows)
    connection.execute(_MOVE_HEAD, {"seq": seq, "hash": prev})
    return seq


def record(
    *,
    session: Session,
    actor: Actor,
    action: str,
    entity_kind: str,
    entity_id: str | int,
    unit_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    diff: dict[str, Any] | None = None,
) -> int:
    """Append one record to the chain, in the caller's transaction; returns its seq."""
    change = Change(action, entity_kind, entity_id, unit_id, before, after, diff)
    return record_many(session=session, actor=actor, changes=[change])


@dataclass(frozen=True)
class AuditEntry:
    """An audit record as the API shows it."""

    seq: int
    at: dt.datetime
    actor: str
    action: str
    entity_kind: str
    entity_id: str
    unit_id: int | None
    diff: dict[str, Any]
    request_id: str | None
    hash: str


def _entry(row: AuditRecord) -> AuditEntry:
    return read_of(AuditEntry, row, diff=json.loads(row.diff))


def trail_of(
    *, session: Session, entity_kind: str, entity_id: str | int, limit: int = 500
) -> list[AuditEntry]:
    """Every audit record of one entity, oldest first (no scope check: callers check)."""
    rows = session.execute(
        select(AuditRecord)
        .where(AuditRecord.entity_kind == entity_kind, AuditRecord.entity_id == str(entity_id))
        .order_by(AuditRecord.seq)
        .limit(limit)
    ).scalars()
    return [_entry(r) for r in rows]


def trail(
    *, session: Session, scope: Scope, entity_kind: str, entity_id: str | int, limit: int = 500
) -> list[AuditEntry]:
    """The audit trail of one entity, oldest first; only records inside the caller's scope."""
    entries = [
        e
        for e in trail_of(
            session=session, entity_kind=entity_kind, entity_id=entity_id, limit=limit
        )
        if scope.admits(e.unit_id)
    ]
    if not entries:
        raise NotFound(details={"entity_kind": entity_kind, "entity_id": str(entity_id)})
    return entries


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of recomputing the chain."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


def _iter_rows(
    session: Session, batch: int, after: int | None, until: int | None
) -> Iterator[tuple[Any, ...]]:
    cols = (
        AuditRecord.seq,
        # the column's own type (not UTCDateTime's per-row conversion): naive here means UTC
        type_coerce(AuditRecord.at, DateTime(timezone=True)),
        AuditRecord.actor_id,
        AuditRecord.actor,
        AuditRecord.action,
        AuditRecord.entity_kind,
        AuditRecord.entity_id,
        AuditRecord.unit_id,
        AuditRecord.diff,
        AuditRecord.request_id,
        AuditRecord.prev_hash,
        AuditRecord.hash,
    )
    conn = session.connection()  # Core, not the ORM: verify reads every record
    query = select(*cols).order_by(AuditRecord.seq).limit(batch)
    if until is not None:
        query = query.where(AuditRecord.seq <= until)
    # from the lowest seq unless told: a forged seq <= 0 is seen too
    first = query if after is None else query.where(AuditRecord.seq > after)
    rows = conn.execute(first).all()
    while rows:
        yield from rows
        rows = conn.execute(query.where(AuditRecord.seq > rows[-1][0])).all()


@dataclass(frozen=True)
class Walk:
    """What recomputing (part of) the chain found: the result, where it ended, and the chain's
    hashes at the sequence numbers asked for."""

    result: VerifyResult
    seq: int  # the last good record's seq
    hash: str  # and its hash
    hashes: dict[int, str]


def walk(
    *,
    session: Session,
    after: int = 0,
    after_hash: str = GENESIS_HASH,
    until: int | None = None,
    keep: Iterable[int] = (),
    batch: int = 20_000,
) -> Walk:
    """Recompute the chain from the record after ``after`` (whose hash is ``after_hash``) to
    ``until`` (or its end); stop at the first record that was altered, removed or reordered.
    The chain's hashes at the seqs in ``keep`` that were reached are returned."""
    prev = after_hash
    expected_seq = after + 1
    checked = 0
    wanted = sorted(set(keep), reverse=True)
    want = wanted.pop() if wanted else -1
    hashes: dict[int, str] = {}

    def stop(bad: int, reason: str) -> Walk:
        return Walk(VerifyResult(False, checked, bad, reason), expected_seq - 1, prev, hashes)

    for (
        seq,
        at,
        actor_id,
        actor,
        action,
        kind,
        eid,
        unit_id,
        diff,
        req,
        prev_hash,
        digest,
    ) in _iter_rows(session, batch, None if after == 0 else after, until):
        if seq > expected_seq:
            return stop(expected_seq, f"记录 {expected_seq} 缺失（下一条为 {seq}）")
        if seq < expected_seq:
            return stop(seq, f"记录 {seq} 不在链中（插入或重排）")
        if prev_hash != prev:
            return stop(seq, f"记录 {seq} 的前序哈希与链不符")
        computed = _hash(
            prev, _body(seq, at, actor_id, actor, action, kind, eid, unit_id, diff, req)
        )
        if computed != digest:
            return stop(seq, f"记录 {seq} 的内容与其哈希不符（被篡改）")
        prev = digest
        if seq == want:
            hashes[seq] = digest
            want = wanted.pop() if wanted else -1
        expected_seq += 1
        checked += 1
    if until is not None and expected_seq <= until:
        return stop(expected_seq, f"记录 {expected_seq} 缺失（链在 {expected_seq - 1} 结束）")
    return Walk(VerifyResult(True, checked), expected_seq - 1, prev, hashes)


def head(*, session: Session) -> tuple[int, str]:
    """The chain's head as stored: its last seq and hash."""
    row = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    return int(row.seq), str(row.hash)


def check_head(walked: Walk, head_seq: int, head_hash: str) -> VerifyResult:
    """The walk's result, failed if the whole chain it walked does not end at the head."""
    result = walked.result
    if result.ok and (head_seq != walked.seq or head_hash != walked.hash):
        bad = walked.seq + 1 if head_seq > walked.seq else walked.seq
        return VerifyResult(False, result.checked, bad, "链尾记录缺失或链头不符")
    return result


def verify(*, session: Session, batch: int = 20_000) -> VerifyResult:
    """Recompute the whole chain; name the first record that was altered, removed or reordered.

    The head is read first and the walk stops at it: records appended while the walk runs (a
    busy server under PostgreSQL's READ COMMITTED, where each batch sees newer commits) are not
    mistaken for a tail the head does not account for; they are checked by the next run."""
    head_seq, head_hash = head(session=session)
    walked = walk(session=session, until=head_seq, batch=batch)
    result = check_head(walked, head_seq, head_hash)
    if not result.ok:
        return result
    beyond = session.execute(
        select(func.min(AuditRecord.seq)).where(AuditRecord.seq > head_seq)
    ).scalar()
    # A record past the head is an append the head does not account for, unless the head has
    # since moved past it (read again: an append commits its record and the head together).
    if beyond is not None and beyond > head(session=session)[0]:
        return VerifyResult(
            False, result.checked, head_seq + 1, f"链头之后有未记入链头的记录（seq {beyond}）"
        )
    return result
