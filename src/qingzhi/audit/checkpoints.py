"""Checkpoints of the audit chain outside the database, and checking the chain against them.

The hash chain alone shows an edit in the middle, but not a truncation (delete the last records,
rewind ``audit_head``) or a rewrite (change a record and recompute every later hash): whoever has
the database can do both consistently. So, as a Certificate Transparency log publishes signed tree
heads, qingzhi signs checkpoints (origin, seq, head hash, time; ``qingzhi.audit.signing``) with a
key that is not in the database and appends them to a file (``QINGZHI_AUDIT_CHECKPOINT_FILE``:
created 0600, opened ``O_APPEND``, fsync'd, under an ``flock`` so that several server workers and
a cron job write one checkpoint, not several) and to the log; a copy goes to the
``audit_checkpoint`` table for convenience, but nothing trusts it.

Before signing, the signer checks the new head against the file's last checkpoint: the records
after it are recomputed and must link to its hash. So it never signs a chain that was truncated
or rewritten below its last checkpoint (it logs an error and refuses), and the first checkpoint
recomputes the whole chain.

``load`` reads a checkpoint file and checks every signature, that all share one origin, and that
seq and time never go backwards (nor one seq have two hashes); ``check`` recomputes the chain and
fails when it is shorter than a checkpoint (truncation) or its hash at a checkpoint's seq differs
(rewrite), naming the checkpoint's line and the range of records it no longer vouches for.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.audit import service
from qingzhi.audit.models import AuditCheckpoint
from qingzhi.audit.signing import (
    Checkpoint,
    CheckpointError,
    SigningKeyError,
    check_signature,
    key_id,
    load_private,
    load_public,
    parse,
    sign,
)
from qingzhi.config import Settings
from qingzhi.org.models import Bureau
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

_TAIL_CHUNK = 4096
_TAIL_MAX = 64 * 1024  # a checkpoint line is about 300 bytes


# --- the checkpoint file ------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path, *, write: bool = True) -> Iterator[int]:
    """The checkpoint file ``flock``ed: to append (created 0600 if missing, ``O_APPEND``, an
    exclusive lock) or to read (a shared lock)."""
    if not write:
        fd = os.open(path, os.O_RDONLY)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if write and created:  # the new name reaches the disk too
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        fcntl.flock(fd, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _last_line(fd: int) -> str | None:
    """The file's last non-empty line, read from its end (at most ``_TAIL_MAX`` bytes of it:
    a longer one is returned cut, and so fails to parse)."""
    end = os.fstat(fd).st_size
    data = b""
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        data = os.pread(fd, end - start, start) + data
        end = start
        lines = [line for line in data.split(b"\n") if line.strip()]
        if len(lines) > 1 or (lines and (end == 0 or len(data) >= _TAIL_MAX)):
            return lines[-1].decode("utf-8", errors="replace")
    return None


def _append(fd: int, checkpoint: Checkpoint) -> None:
    data = (checkpoint.line() + "\n").encode()
    end = os.fstat(fd).st_size
    if end and os.pread(fd, 1, end - 1) != b"\n":
        data = b"\n" + data  # a torn last line stays a line of its own (and fails to verify)
    if os.write(fd, data) != len(data):
        raise OSError("short write to the audit checkpoint file")
    os.fsync(fd)


def last_checkpoint(path: Path, public_key: Ed25519PublicKey) -> Checkpoint | None:
    """The file's last checkpoint, its signature checked (None if the file has none)."""
    if not path.exists():
        return None
    try:
        with _locked(path, write=False) as fd:
            line = _last_line(fd)
    except OSError as exc:
        raise CheckpointError(f"检查点文件无法读取：{path}（{exc.strerror}）") from None
    if line is None:
        return None
    checkpoint = parse(line)
    check_signature(checkpoint, public_key)
    return checkpoint


@dataclass(frozen=True)
class Numbered:
    """A checkpoint and its line number in the file."""

    line: int | None  # None: read alone from the file's end
    checkpoint: Checkpoint

    def label(self) -> str:
        """How a message names it."""
        where = "最新检查点" if self.line is None else f"检查点文件第 {self.line} 行"
        return f"{where}（{self.checkpoint.time}，seq {self.checkpoint.seq}）"


def load(path: Path, public_key: Ed25519PublicKey) -> list[Numbered]:
    """Every checkpoint in the file, each signature checked, in order; CheckpointError names the
    first line that is malformed, badly signed, of another origin, or goes backwards."""
    out: list[Numbered] = []
    expected = key_id(public_key)
    try:
        fh = path.open("r", encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CheckpointError(f"检查点文件无法读取：{path}（{exc.strerror}）") from None
    with fh:
        for number, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                checkpoint = parse(text)
                check_signature(checkpoint, public_key, expected)
                if out:
                    _check_order(out[-1].checkpoint, checkpoint)
                if checkpoint.seq == 0 and checkpoint.hash != service.GENESIS_HASH:
                    raise CheckpointError("seq 为 0 的检查点哈希须为创世哈希")
            except CheckpointError as exc:
                raise CheckpointError(
                    f"检查点文件第 {number} 行：{exc.message}", details={"line": number}
                ) from None
            out.append(Numbered(number, checkpoint))
    if not out:
        raise CheckpointError(f"检查点文件中没有检查点：{path}")
    return out


def _check_order(prev: Checkpoint, cur: Checkpoint) -> None:
    if cur.origin != prev.origin:
        raise CheckpointError(f"来源 {cur.origin!r} 与前面的 {prev.origin!r} 不同")
    if cur.seq < prev.seq:
        raise CheckpointError(f"seq 倒退（{prev.seq} → {cur.seq}）")
    if cur.time < prev.time:
        raise CheckpointError(f"时间倒退（{prev.time} → {cur.time}）")
    if cur.seq == prev.seq and cur.hash != prev.hash:
        raise CheckpointError(f"同一 seq {cur.seq} 有两个不同的哈希（链分叉）")


# --- checking the chain against checkpoints ------------------------------------------------------


@dataclass(frozen=True)
class TrailCheck:
    """The chain recomputed and compared with signed checkpoints."""

    ok: bool
    records: int  # records recomputed
    checkpoints: int  # checkpoints the chain was found to contain
    first_bad_seq: int | None = None  # the first record no longer vouched for
    reason: str | None = None
    line: int | None = None  # the checkpoint file's line at fault
    latest: Checkpoint | None = None
    unattested: int = 0  # records after the latest checkpoint (a truncation there goes unseen)


def check(*, session: Session, checkpoints: list[Numbered], batch: int = 20_000) -> TrailCheck:
    """Recompute the chain and compare it with the checkpoints (in file order)."""
    wanted = {n.checkpoint.seq for n in checkpoints}
    walked = service.walk(session=session, keep=wanted, batch=batch)
    result = service.check_head(walked, *service.head(session=session))
    hashes = {0: service.GENESIS_HASH, **walked.hashes}
    latest = checkpoints[-1].checkpoint if checkpoints else None
    vouched, matched = 0, 0
    for numbered in checkpoints:
        cp = numbered.checkpoint
        found = hashes.get(cp.seq)
        if found is None:
            break  # beyond where the chain could be recomputed
        if found != cp.hash:
            first = vouched + 1
            return TrailCheck(
                False,
                result.checked,
                matched,
                first,
                f"{numbered.label()}签名的链头哈希为 {cp.hash[:16]}…，链中记录 {cp.seq} 的哈希为 "
                f"{found[:16]}…：记录 {first}–{cp.seq} 之间被改写",
                numbered.line,
                latest,
            )
        vouched, matched = cp.seq, matched + 1
    if not result.ok:
        return TrailCheck(
            False, result.checked, matched, result.first_bad_seq, result.reason, None, latest
        )
    beyond = next((n for n in checkpoints if n.checkpoint.seq > result.checked), None)
    if beyond is not None and latest is not None:
        return TrailCheck(
            False,
            result.checked,
            matched,
            result.checked + 1,
            f"链只有 {result.checked} 条记录，但{beyond.label()}签名证明当时已有 "
            f"{beyond.checkpoint.seq} 条：末尾至少 {latest.seq - result.checked} 条记录被删除",
            beyond.line,
            latest,
        )
    unattested = result.checked - latest.seq if latest is not None else result.checked
    return TrailCheck(True, result.checked, matched, latest=latest, unattested=unattested)


# --- making checkpoints --------------------------------------------------------------------------


def public_key_of(settings: Settings, path: Path | None = None) -> Ed25519PublicKey:
    """The key checkpoints are verified with: ``path``, else the configured public key, else the
    public half of the configured signing key."""
    path = path or settings.audit_public_key or settings.audit_signing_key
    if path is None:
        raise SigningKeyError(
            "未配置审计公钥：请用 --public-key 指定，或设置 QINGZHI_AUDIT_PUBLIC_KEY"
        )
    return load_public(path)


@dataclass(frozen=True)
class Outcome:
    """What one attempt to checkpoint did: ``made``, ``unchanged``, ``not_due`` or ``refused``."""

    status: str
    checkpoint: Checkpoint | None = None
    reason: str | None = None
    head_seq: int = 0


def _origin(session: Session, settings: Settings, last: Checkpoint | None) -> str:
    if last is not None:
        if settings.audit_origin and settings.audit_origin != last.origin:
            raise CheckpointError(
                f"QINGZHI_AUDIT_ORIGIN={settings.audit_origin!r} 与检查点文件的来源 "
                f"{last.origin!r} 不同（换来源须换新的检查点文件）"
            )
        return last.origin
    if settings.audit_origin:
        return settings.audit_origin
    code = session.execute(select(Bureau.code).order_by(Bureau.id).limit(1)).scalar()
    return f"qingzhi/{code}" if code else "qingzhi"


def _due(last: Checkpoint | None, seq: int, now: dt.datetime, records: int, seconds: float) -> bool:
    if seq == 0:
        return False
    if last is None:
        return True
    return seq - last.seq >= records or (now - last.at).total_seconds() >= seconds


def _consistent(session: Session, last: Checkpoint | None, seq: int, head_hash: str) -> str | None:
    """Why the head may not be signed after ``last`` (None if it may): the records after the
    last checkpoint must be intact and link to its hash (the same head is not asked)."""
    if last is not None and seq < last.seq:
        return f"链头 seq {seq} 小于最近检查点的 {last.seq}：链被截断"
    if last is not None and seq == last.seq:
        return f"链头哈希与 seq {seq} 的检查点不符：链被改写"
    start, start_hash = (0, service.GENESIS_HASH) if last is None else (last.seq, last.hash)
    walked = service.walk(session=session, after=start, after_hash=start_hash, until=seq)
    result = service.check_head(walked, seq, head_hash)
    if not result.ok:
        return f"最近检查点（seq {start}）之后的链校验失败：{result.reason}"
    return None


def make(
    *,
    db: Database,
    key: Ed25519PrivateKey,
    settings: Settings,
    every_records: int = 1,
    every_seconds: float = 0.0,
) -> Outcome:
    """Sign the chain's head and append it to the checkpoint file, the log and the table, if the
    head moved ``every_records`` records or ``every_seconds`` since the file's last checkpoint.
    Reads in a read transaction; never holds the database's writer lock while signing."""
    path = settings.audit_checkpoint_file
    public = key.public_key()
    for _attempt in range(3):
        try:
            last = last_checkpoint(path, public)
        except CheckpointError as exc:
            return Outcome("refused", None, f"检查点文件 {path} 的最后一行：{exc.message}")
        with db.session() as session:
            seq, head_hash = service.head(session=session)
            if last is not None and seq == last.seq and head_hash == last.hash:
                return Outcome("unchanged", last, head_seq=seq)
            if last is not None and seq <= last.seq:
                return Outcome("refused", last, _consistent(session, last, seq, head_hash), seq)
            if not _due(last, seq, utcnow(), every_records, every_seconds):
                return Outcome("not_due", last, head_seq=seq)
            refusal = _consistent(session, last, seq, head_hash)
            if refusal is not None:
                return Outcome("refused", last, refusal, seq)
            origin = _origin(session, settings, last)
        with _locked(path) as fd:
            line = _last_line(fd)
            if (None if line is None else parse(line)) != last:
                continue  # another process appended meanwhile: start again from its checkpoint
            at = utcnow() if last is None else max(utcnow(), last.at)  # never backwards
            checkpoint = sign(key, origin=origin, seq=seq, head_hash=head_hash, at=at)
            _append(fd, checkpoint)
        log.info("audit checkpoint %s", checkpoint.line())
        _store(db, checkpoint)
        return Outcome("made", checkpoint, head_seq=seq)
    return Outcome("not_due", None, "其他进程正在写检查点")


def _store(db: Database, checkpoint: Checkpoint) -> None:
    """A copy in the database, for convenience (verification reads the file, not this)."""
    try:
        with db.session(write=True) as session:
            session.add(
                AuditCheckpoint(
                    origin=checkpoint.origin,
                    seq=checkpoint.seq,
                    hash=checkpoint.hash,
                    at=checkpoint.at,
                    key_id=checkpoint.key,
                    signature=checkpoint.sig,
                )
            )
    except Exception:  # the file and the log have it; the table is a convenience
        log.exception("audit checkpoint at seq %d not copied to the database", checkpoint.seq)


def signing_key(settings: Settings) -> Ed25519PrivateKey | None:
    """The configured signing key, or None (with a warning) when none is configured."""
    if settings.audit_signing_key is None:
        log.warning(
            "no audit signing key configured (QINGZHI_AUDIT_SIGNING_KEY): no audit checkpoints "
            "are made, so truncating or rewriting the audit trail would go unnoticed"
        )
        return None
    return load_private(settings.audit_signing_key)


def latest_status(*, session: Session, settings: Settings) -> dict[str, Any]:
    """``service.verify``'s result for the API, plus the checkpoint file's latest checkpoint and
    whether the chain contains it (``checkpoint`` is None when no key is configured or no
    checkpoint was made yet; ``ok`` is both together)."""
    path = settings.audit_checkpoint_file
    status: dict[str, Any] | None = None
    latest: Checkpoint | None = None
    if settings.audit_public_key or settings.audit_signing_key:
        try:
            latest = last_checkpoint(path, public_key_of(settings))
        except CheckpointError as exc:
            status = {"file": str(path), "ok": False, "reason": f"最后一行：{exc.message}"}
        except SigningKeyError as exc:
            status = {"file": str(path), "ok": False, "reason": exc.message}
    trail = check(session=session, checkpoints=[] if latest is None else [Numbered(None, latest)])
    if latest is not None:
        status = {
            "file": str(path),
            "seq": latest.seq,
            "time": latest.time,
            "key": latest.key,
            "ok": trail.checkpoints == 1,
            "reason": None if trail.checkpoints == 1 else trail.reason,
            "unattested": trail.unattested if trail.ok else None,
        }
    return {
        "ok": trail.ok and (status is None or status["ok"]),
        "checked": trail.records,
        "first_bad_seq": trail.first_bad_seq,
        "reason": trail.reason,
        "checkpoint": status,
    }
