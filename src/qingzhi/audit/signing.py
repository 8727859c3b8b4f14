"""Signed checkpoints of the audit chain: Ed25519 keys kept outside the database, and the format.

A checkpoint says "at ``time`` the audit chain of ``origin`` had ``seq`` records and its head
hash was ``hash``", signed with a private key that is not in the database (a file named by
``QINGZHI_AUDIT_SIGNING_KEY``, made by ``qingzhi audit keygen``). As in Certificate Transparency's
signed tree heads and the C2SP ``tlog-checkpoint`` format, the signature covers a small text
body: the format's name, the origin, the size, the head hash and the time, one per line::

    qingzhi-audit-checkpoint/v1
    qingzhi/500231
    1234
    9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    2026-12-01T08:00:00.000000Z

A checkpoint is written as one line of JSON (``origin``, ``seq``, ``hash``, ``time``, the key's
id and the base64 signature), so a checkpoint file is a plain append-only text file that an
operator can copy off the host and that ``qingzhi audit verify --checkpoints FILE`` reads.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from qingzhi.errors import ConfigurationError, QingzhiError

log = logging.getLogger(__name__)

FORMAT = "qingzhi-audit-checkpoint/v1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_FIELDS = {"origin", "seq", "hash", "time", "key", "sig"}


class SigningKeyError(ConfigurationError):
    """A key file is missing, unreadable or not an Ed25519 key."""

    code = "audit_key_error"
    message = "审计签名密钥无法读取"


class CheckpointError(QingzhiError):
    """A checkpoint that cannot be trusted: malformed, signed by another key or badly signed."""

    code = "audit_checkpoint_invalid"
    status = 422
    message = "审计检查点无效"


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key's short name: the first 8 bytes of SHA-256 of its raw 32 bytes, in hex."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    """The public key as PEM (SubjectPublicKeyInfo)."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def generate(private_path: Path, public_path: Path) -> Ed25519PublicKey:
    """Make a new key pair: the private key (PKCS#8 PEM, mode 0600) and the public key (PEM).
    Refuses to overwrite either file."""
    for path in (private_path, public_path):
        if path.exists():
            raise SigningKeyError(f"文件已存在，不会覆盖：{path}")
    private_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        _write_new(private_path, pem, 0o600)
        _write_new(public_path, public_pem(key.public_key()), 0o644)
    except FileExistsError as exc:
        raise SigningKeyError(f"文件已存在，不会覆盖：{exc.filename}") from None
    log.info("audit signing key %s written to %s", key_id(key.public_key()), private_path)
    return key.public_key()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{what}无法读取：{path}（{exc.strerror}）") from None


def load_private(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path`` (PEM); warns when others may read the file."""
    data = _read(path, "审计签名私钥")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SigningKeyError(f"不是可用的 PEM 私钥（须为未加密的 Ed25519）：{path}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"不是 Ed25519 私钥：{path}")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("audit signing key %s can be read by others (chmod 600 it)", path)
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in ``path`` (PEM, or a PEM private key whose public half is
    taken)."""
    data = _read(path, "审计公钥")
    if b"PRIVATE KEY" in data:
        return load_private(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise SigningKeyError(f"不是可用的 PEM 公钥：{path}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"不是 Ed25519 公钥：{path}")
    return key


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement of the chain's length and head hash at a time."""

    origin: str
    seq: int
    hash: str
    time: str  # YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC)
    key: str  # the signing key's id
    sig: str  # base64 Ed25519 signature of ``message()``

    def message(self) -> bytes:
        """The signed body."""
        return signed_body(self.origin, self.seq, self.hash, self.time)

    def line(self) -> str:
        """The checkpoint as one line of JSON (no newline)."""
        return orjson.dumps(
            {
                "origin": self.origin,
                "seq": self.seq,
                "hash": self.hash,
                "time": self.time,
                "key": self.key,
                "sig": self.sig,
            }
        ).decode()

    @property
    def at(self) -> dt.datetime:
        """The checkpoint's time."""
        return dt.datetime.fromisoformat(self.time.removesuffix("Z")).replace(tzinfo=dt.UTC)


def signed_body(origin: str, seq: int, head_hash: str, time: str) -> bytes:
    """The exact bytes a checkpoint's signature covers."""
    return f"{FORMAT}\n{origin}\n{seq}\n{head_hash}\n{time}\n".encode()


def stamp(at: dt.datetime) -> str:
    """A checkpoint time: UTC with microseconds and a Z."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign(
    key: Ed25519PrivateKey, *, origin: str, seq: int, head_hash: str, at: dt.datetime
) -> Checkpoint:
    """A checkpoint of (origin, seq, head hash, time) signed with ``key``."""
    if not origin or "\n" in origin or len(origin) > 200:
        raise ValueError(f"bad checkpoint origin {origin!r}")
    if seq < 0 or not _HEX64.fullmatch(head_hash):
        raise ValueError(f"bad checkpoint head {seq} {head_hash!r}")
    time = stamp(at)
    signature = key.sign(signed_body(origin, seq, head_hash, time))
    return Checkpoint(
        origin=origin,
        seq=seq,
        hash=head_hash,
        time=time,
        key=key_id(key.public_key()),
        sig=base64.b64encode(signature).decode(),
    )


def parse(line: str) -> Checkpoint:
    """A checkpoint from its JSON line (the signature is not checked here)."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise CheckpointError("不是合法的 JSON") from None
    if not isinstance(value, dict) or set(value) != _FIELDS:
        raise CheckpointError(f"字段应为 {', '.join(sorted(_FIELDS))}")
    origin, seq, head, time = value["origin"], value["seq"], value["hash"], value["time"]
    if not isinstance(origin, str) or not origin or "\n" in origin:
        raise CheckpointError("origin 无效")
    if type(seq) is not int or seq < 0:
        raise CheckpointError("seq 须为非负整数")
    if not isinstance(head, str) or not _HEX64.fullmatch(head):
        raise CheckpointError("hash 须为 64 位十六进制")
    if not isinstance(time, str) or not _TIME.fullmatch(time):
        raise CheckpointError("time 须为 UTC 时间 YYYY-MM-DDTHH:MM:SS.ffffffZ")
    if not isinstance(value["key"], str) or not isinstance(value["sig"], str):
        raise CheckpointError("key 与 sig 须为字符串")
    checkpoint = Checkpoint(origin, seq, head, time, value["key"], value["sig"])
    try:
        _ = checkpoint.at  # a well-formed but impossible date is refused
    except ValueError:
        raise CheckpointError("time 不是有效的日期时间") from None
    return checkpoint


def check_signature(
    checkpoint: Checkpoint, public_key: Ed25519PublicKey, expected: str | None = None
) -> None:
    """Raise CheckpointError unless ``public_key`` (whose id is ``expected``) signed
    ``checkpoint``."""
    expected = expected or key_id(public_key)
    if checkpoint.key != expected:
        raise CheckpointError(f"由另一把密钥 {checkpoint.key} 签名（应为 {expected}）")
    try:
        signature = base64.b64decode(checkpoint.sig, validate=True)
        public_key.verify(signature, checkpoint.message())
    except (InvalidSignature, binascii.Error, ValueError):
        raise CheckpointError("签名无效（检查点被伪造或改动）") from None
