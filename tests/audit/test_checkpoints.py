"""Signed checkpoints: truncating the chain (by 1, 50 or 5,000 records, the head rewound) or
rewriting it (a record changed, every later hash and the head recomputed) passes the hash chain's
own check but not the check against checkpoints; forged or disordered checkpoints are refused;
the signer refuses to sign a chain that no longer extends its last checkpoint."""

from __future__ import annotations

import datetime as dt
import json
import logging
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, select, text

from qingzhi.audit import checkpoints, signing
from qingzhi.audit import service as audit
from qingzhi.audit.models import AuditCheckpoint, AuditHead
from qingzhi.config import Settings
from qingzhi.store.db import Database
from tests.audit.tampering import grow, rewrite, truncate


def make(db: Database, settings: Settings) -> checkpoints.Outcome:
    """A checkpoint now if the head moved at all."""
    key = signing.load_private(settings.audit_signing_key)  # type: ignore[arg-type]
    return checkpoints.make(db=db, key=key, settings=settings)


def public(settings: Settings) -> Ed25519PublicKey:
    return checkpoints.public_key_of(settings)


def check(db: Database, settings: Settings) -> checkpoints.TrailCheck:
    signed = checkpoints.load(settings.audit_checkpoint_file, public(settings))
    with db.session() as session:
        return checkpoints.check(session=session, checkpoints=signed)


def db_verify(db: Database) -> audit.VerifyResult:
    with db.session() as session:
        return audit.verify(session=session)


@pytest.fixture
def signed_chain(db: Database, cp_settings: Settings) -> list[int]:
    """A chain of 6,000+ records with checkpoints at 3,000, 6,000 and its end; their seqs."""
    seqs = []
    for n in (3_000, 3_000, 120):
        grow(db, n)
        outcome = make(db, cp_settings)
        assert outcome.status == "made" and outcome.checkpoint is not None
        seqs.append(outcome.checkpoint.seq)
    return seqs


def test_an_untouched_chain_matches_its_checkpoints(
    db: Database, cp_settings: Settings, signed_chain: list[int]
) -> None:
    grow(db, 7)  # records after the last checkpoint are not yet attested
    result = check(db, cp_settings)
    assert result.ok, result
    assert (result.records, result.checkpoints) == (signed_chain[-1] + 7, 3)
    assert result.unattested == 7
    assert result.latest is not None and result.latest.seq == signed_chain[-1]


@pytest.mark.parametrize("dropped", [1, 50, 5_000])
def test_truncation_is_found(
    db: Database,
    unprotected: Connection,
    cp_settings: Settings,
    signed_chain: list[int],
    dropped: int,
) -> None:
    end = signed_chain[-1]
    truncate(unprotected, end - dropped)
    assert db_verify(db).ok  # what the chain alone cannot see
    result = check(db, cp_settings)
    assert not result.ok
    assert result.first_bad_seq == end - dropped + 1
    assert result.records == end - dropped
    # the first checkpoint beyond the shortened chain is named (line 1 is at 3,000, 3 at the end)
    line = 1 + next(i for i, seq in enumerate(signed_chain) if seq > end - dropped)
    assert line == (1 if dropped == 5_000 else 3)
    assert result.line == line
    assert f"检查点文件第 {line} 行" in (result.reason or "")
    assert f"末尾至少 {dropped} 条记录被删除" in (result.reason or "")


@pytest.mark.parametrize("target, line", [(10, 1), (4_000, 2), (6_050, 3)])
def test_a_full_rewrite_is_found(
    db: Database,
    unprotected: Connection,
    cp_settings: Settings,
    signed_chain: list[int],
    target: int,
    line: int,
) -> None:
    rewrite(unprotected, target)
    assert db_verify(db).ok  # every hash and the head recomputed: the chain alone is fooled
    result = check(db, cp_settings)
    assert not result.ok
    assert result.line == line
    vouched = [0, *signed_chain][line - 1]  # the last checkpoint the chain still contains
    assert result.first_bad_seq == vouched + 1 <= target
    assert f"记录 {vouched + 1}–{signed_chain[line - 1]} 之间被改写" in (result.reason or "")
    assert result.checkpoints == line - 1


def test_truncating_and_growing_past_the_checkpoint_is_found(
    db: Database, unprotected: Connection, cp_settings: Settings, signed_chain: list[int]
) -> None:
    end = signed_chain[-1]
    truncate(unprotected, end - 50)
    grow(db, 80)  # new records through the service: the chain is longer again, and well formed
    assert db_verify(db).ok
    result = check(db, cp_settings)
    assert (result.ok, result.line, result.first_bad_seq) == (False, 3, signed_chain[1] + 1)


def test_a_broken_chain_is_still_reported_with_checkpoints(
    db: Database, unprotected: Connection, cp_settings: Settings, signed_chain: list[int]
) -> None:
    unprotected.execute(text("UPDATE audit_record SET actor = 'x' WHERE seq = 5000"))
    result = check(db, cp_settings)
    assert (result.ok, result.first_bad_seq, result.checkpoints) == (False, 5000, 1)
    assert "被篡改" in (result.reason or "")


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_a_forged_checkpoint_is_refused(
    db: Database, cp_settings: Settings, signed_chain: list[int], tmp_path: Path
) -> None:
    path = cp_settings.audit_checkpoint_file
    lines = _lines(path)
    # a real signature on changed contents: the attacker "attests" a shorter chain
    forged = json.loads(lines[2])
    forged["seq"] = signed_chain[-1] - 1
    path.write_text("\n".join([*lines[:2], json.dumps(forged)]) + "\n")
    with pytest.raises(signing.CheckpointError, match="第 3 行：签名无效"):
        checkpoints.load(path, public(cp_settings))
    # a checkpoint signed by a key of the attacker's own
    other = tmp_path / "other.key"
    signing.generate(other, tmp_path / "other.pub")
    line = signing.sign(
        signing.load_private(other),
        origin=json.loads(lines[0])["origin"],
        seq=signed_chain[-1],
        head_hash=json.loads(lines[2])["hash"],
        at=dt.datetime.now(dt.UTC),
    ).line()
    path.write_text("\n".join([*lines, line]) + "\n")
    with pytest.raises(signing.CheckpointError, match="第 4 行：由另一把密钥"):
        checkpoints.load(path, public(cp_settings))
    path.write_text("\n".join([*lines, '{"seq": 1}']) + "\n")
    with pytest.raises(signing.CheckpointError, match="第 4 行：字段应为"):
        checkpoints.load(path, public(cp_settings))


@pytest.mark.parametrize(
    "seq, seconds, head, origin, message",
    [
        (9, 1, "cd" * 32, "qingzhi/TEST", "seq 倒退"),
        (10, -60, "cd" * 32, "qingzhi/TEST", "时间倒退"),
        (10, 1, "ab" * 32, "qingzhi/TEST", "两个不同的哈希"),
        (11, 1, "ab" * 32, "qingzhi/OTHER", "来源"),
    ],
)
def test_checkpoints_must_not_go_backwards(
    cp_settings: Settings,
    tmp_path: Path,
    seq: int,
    seconds: int,
    head: str,
    origin: str,
    message: str,
) -> None:
    key = signing.load_private(cp_settings.audit_signing_key)  # type: ignore[arg-type]
    at = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
    first = signing.sign(key, origin="qingzhi/TEST", seq=10, head_hash="cd" * 32, at=at)
    second = signing.sign(
        key, origin=origin, seq=seq, head_hash=head, at=at + dt.timedelta(seconds=seconds)
    )
    path = tmp_path / "cp.log"
    path.write_text(f"{first.line()}\n\n{second.line()}\n")  # a blank line is skipped
    with pytest.raises(signing.CheckpointError, match=f"第 3 行：.*{message}"):
        checkpoints.load(path, public(cp_settings))
    path.write_text(f"{first.line()}\n")
    assert [n.line for n in checkpoints.load(path, public(cp_settings))] == [1]


def test_an_empty_or_missing_file_fails(cp_settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(signing.CheckpointError, match="无法读取"):
        checkpoints.load(tmp_path / "missing.log", public(cp_settings))
    (tmp_path / "empty.log").write_text("")
    with pytest.raises(signing.CheckpointError, match="没有检查点"):
        checkpoints.load(tmp_path / "empty.log", public(cp_settings))


def test_the_signer_refuses_a_chain_that_does_not_extend_its_last_checkpoint(
    db: Database, unprotected: Connection, cp_settings: Settings, signed_chain: list[int]
) -> None:
    path = cp_settings.audit_checkpoint_file
    before = path.read_bytes()
    end = signed_chain[-1]
    truncate(unprotected, end - 1)
    outcome = make(db, cp_settings)
    assert outcome.status == "refused" and "截断" in (outcome.reason or "")
    grow(db, 30)  # the chain grows past the checkpoint again, on a different record at `end`
    outcome = make(db, cp_settings)
    assert outcome.status == "refused" and "前序哈希" in (outcome.reason or "")
    assert path.read_bytes() == before


def test_the_signer_refuses_a_rewrite_below_its_last_checkpoint(
    db: Database, unprotected: Connection, cp_settings: Settings, signed_chain: list[int]
) -> None:
    rewrite(unprotected, 6_010)
    outcome = make(db, cp_settings)
    assert outcome.status == "refused" and "改写" in (outcome.reason or "")
    grow(db, 5)
    assert make(db, cp_settings).status == "refused"


def test_a_checkpoint_is_made_when_due(
    db: Database, cp_settings: Settings, org: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = signing.load_private(cp_settings.audit_signing_key)  # type: ignore[arg-type]

    def due() -> str:
        return checkpoints.make(
            db=db, key=key, settings=cp_settings, every_records=100, every_seconds=300
        ).status

    assert due() == "made"  # the first checkpoint: no earlier one to wait for
    assert due() == "unchanged"
    grow(db, 99)
    assert due() == "not_due"
    grow(db, 1)
    assert due() == "made"
    grow(db, 3)
    assert due() == "not_due"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)
    monkeypatch.setattr(checkpoints, "utcnow", lambda: later)
    assert due() == "made"
    lines = _lines(cp_settings.audit_checkpoint_file)
    assert len(lines) == 3
    assert {json.loads(line)["origin"] for line in lines} == {"qingzhi/TEST"}  # the bureau's code


def test_checkpoint_time_never_goes_backwards(
    db: Database, cp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    grow(db, 3)
    first = make(db, cp_settings).checkpoint
    assert first is not None
    earlier = first.at - dt.timedelta(hours=1)  # the clock was set back
    monkeypatch.setattr(checkpoints, "utcnow", lambda: earlier)
    grow(db, 3)
    second = make(db, cp_settings).checkpoint
    assert second is not None and second.time == first.time
    assert check(db, cp_settings).ok


def test_checkpoints_go_to_the_file_the_log_and_the_table(
    db: Database, cp_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    grow(db, 5)
    with caplog.at_level(logging.INFO, logger="qingzhi.audit.checkpoints"):
        outcome = make(db, cp_settings)
    cp = outcome.checkpoint
    assert cp is not None
    path = cp_settings.audit_checkpoint_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _lines(path) == [cp.line()]
    assert f"audit checkpoint {cp.line()}" in caplog.text
    with db.session() as session:
        row = session.execute(select(AuditCheckpoint)).scalar_one()
        head = session.execute(select(AuditHead.seq, AuditHead.hash)).one()
    assert (row.seq, row.hash, row.signature, row.key_id) == (cp.seq, cp.hash, cp.sig, cp.key)
    assert (cp.seq, cp.hash) == tuple(head)
    assert row.at == cp.at
    # the signed body is the documented text
    assert cp.message().decode().splitlines() == [
        "qingzhi-audit-checkpoint/v1",
        cp.origin,
        str(cp.seq),
        cp.hash,
        cp.time,
    ]


def test_an_origin_setting_must_match_the_file(db: Database, cp_settings: Settings) -> None:
    grow(db, 2)
    assert make(db, cp_settings.model_copy(update={"audit_origin": "500231"})).status == "made"
    grow(db, 2)
    other = cp_settings.model_copy(update={"audit_origin": "elsewhere"})
    with pytest.raises(signing.CheckpointError, match="QINGZHI_AUDIT_ORIGIN"):
        make(db, other)
    assert make(db, cp_settings).checkpoint.origin == "500231"  # type: ignore[union-attr]


def test_the_signer_refuses_a_file_whose_last_line_is_not_its_own(
    db: Database, cp_settings: Settings
) -> None:
    grow(db, 2)
    make(db, cp_settings)
    path = cp_settings.audit_checkpoint_file
    path.write_text(path.read_text().replace('"seq":', '"seq":1'))
    grow(db, 2)
    outcome = make(db, cp_settings)
    assert outcome.status == "refused" and "签名无效" in (outcome.reason or "")


def test_an_empty_chain_gets_no_checkpoint(db: Database, cp_settings: Settings) -> None:
    with db.session() as session:
        assert audit.head(session=session) == (0, audit.GENESIS_HASH)
    assert make(db, cp_settings).status == "not_due"
    assert not cp_settings.audit_checkpoint_file.exists()


def test_the_last_checkpoint_is_read_from_the_end_of_a_long_file(
    cp_settings: Settings, tmp_path: Path
) -> None:
    key = signing.load_private(cp_settings.audit_signing_key)  # type: ignore[arg-type]
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    made = [
        signing.sign(key, origin="o", seq=i, head_hash=f"{i:064x}", at=at) for i in range(1, 201)
    ]
    path = tmp_path / "long.log"
    path.write_text("".join(cp.line() + "\n" for cp in made) + "\n\n")  # ~60 KB, blank tail
    assert checkpoints.last_checkpoint(path, public(cp_settings)) == made[-1]
    with path.open("a") as fh:
        fh.write("x" * 100_000)  # a line too long to be a checkpoint, without a newline
    with pytest.raises(signing.CheckpointError, match="不是合法的 JSON"):
        checkpoints.last_checkpoint(path, public(cp_settings))
