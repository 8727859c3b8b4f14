"""Audit trail benchmark (issue 2): verify a chain of 1,000,000 records; the append rate; the
cost of signed checkpoints.

Builds the chain in a temporary SQLite database (migrated like production): the rows are computed
with ``qingzhi.audit.service.record_hash`` and bulk-inserted, so building does not go through one
ORM flush per record. Then it times ``qingzhi.audit.service.verify`` over the whole chain (target:
under 10 s) and the append rate through ``qingzhi.audit.service.record``, both many appends in one
transaction and one committed transaction per append (what each web request pays, with
``synchronous=FULL``).

Checkpoints: a file of ``--checkpoints`` signed checkpoints spread over the chain (the default,
105,120, is a year of one every five minutes) is read and every signature checked
(``checkpoints.load``), then the chain is recomputed against them (``checkpoints.check``), each
as a ratio of CPU time to plain ``verify`` (wall time on a shared machine swings by 2x between
identical runs); and the signer's cost: the first checkpoint (it recomputes the whole chain) and
one after 1,000 more records (it recomputes those).

    .venv/bin/python bench/audit_verify.py [--records 1000000] [--appends 5000] [--commits 500]
        [--checkpoints 105120]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, update

from qingzhi.audit import checkpoints, signing
from qingzhi.audit import service as audit
from qingzhi.audit.models import AuditHead, AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.store.db import Database, migrate

ACTIONS = ("incident.create", "incident.update", "officer.update", "auth.login", "unit.update")
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def build_chain(
    db: Database, n: int, batch: int = 50_000, keep: set[int] | None = None
) -> dict[int, str]:
    """Bulk-insert ``n`` well-formed records (the head moved to the last); the hashes at the
    seqs in ``keep`` and at the last."""
    prev = audit.GENESIS_HASH
    seq = 0
    kept: dict[int, str] = {}
    while seq < n:
        rows: list[dict[str, Any]] = []
        for _ in range(min(batch, n - seq)):
            seq += 1
            diff = audit.canonical_json(
                {"before": {"status": "received"}, "after": {"status": "dispatched", "n": seq}}
            )
            fields: dict[str, Any] = {
                "seq": seq,
                "at": START + dt.timedelta(seconds=seq * 7, microseconds=seq % 1000),
                "actor_id": seq % 40 + 1,
                "actor": f"user{seq % 40 + 1}",
                "action": ACTIONS[seq % len(ACTIONS)],
                "entity_kind": "incident",
                "entity_id": str(seq // 3 + 1),
                "unit_id": seq % 12 + 1,
                "diff": diff,
                "request_id": f"req{seq:08x}",
            }
            digest = audit.record_hash(prev_hash=prev, **fields)
            rows.append({**fields, "prev_hash": prev, "hash": digest})
            prev = digest
            if keep is not None and seq in keep:
                kept[seq] = digest
        with db.session(write=True) as session:
            session.execute(insert(AuditRecord), rows)
    with db.session(write=True) as session:
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
    kept[seq] = prev
    return kept


def write_checkpoints(path: Path, key: Ed25519PrivateKey, hashes: dict[int, str]) -> float:
    """A checkpoint file of one signed checkpoint per kept hash; seconds spent signing."""
    t0 = time.perf_counter()
    with path.open("w") as fh:
        for i, (seq, digest) in enumerate(sorted(hashes.items())):
            at = START + dt.timedelta(minutes=5 * i)
            cp = signing.sign(key, origin="qingzhi/bench", seq=seq, head_hash=digest, at=at)
            fh.write(cp.line() + "\n")
    return time.perf_counter() - t0


def time_verify(db: Database) -> tuple[float, float, audit.VerifyResult]:
    """Wall-clock and CPU seconds to verify the whole chain, and the result."""
    t0, c0 = time.perf_counter(), time.process_time()
    with db.session() as session:
        result = audit.verify(session=session)
    return time.perf_counter() - t0, time.process_time() - c0, result


def append_rate(db: Database, n: int, *, per_commit: bool) -> float:
    """Records per second appended through ``audit.record``."""
    actor = system_actor("bench")

    def one(session: Any, i: int) -> None:
        audit.record(
            session=session,
            actor=actor,
            action="officer.update",
            entity_kind="officer",
            entity_id=i,
            unit_id=1,
            before={"duty_status": "off_duty"},
            after={"duty_status": "on_duty"},
        )

    t0 = time.perf_counter()  # wall clock: commits wait for fsync
    if per_commit:
        for i in range(n):
            with db.session(write=True) as session:
                one(session, i)
    else:
        with db.session(write=True) as session:
            for i in range(n):
                one(session, i)
    return n / (time.perf_counter() - t0)


def _timed(work: Any) -> tuple[Any, float, float]:
    """``work()``'s result, wall-clock and CPU seconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - t0, time.process_time() - c0


def time_checkpoints(db: Database, path: Path, key: Ed25519PrivateKey) -> dict[str, float]:
    """Wall and CPU seconds to load ``path`` checking every signature, then to check the chain
    against it."""
    signed, load_s, load_cpu = _timed(lambda: checkpoints.load(path, key.public_key()))

    def check() -> checkpoints.TrailCheck:
        with db.session() as session:
            return checkpoints.check(session=session, checkpoints=signed)

    trail, check_s, check_cpu = _timed(check)
    assert trail.ok and trail.checkpoints == len(signed), trail
    return {
        "n": len(signed),
        "load_s": load_s,
        "load_cpu": load_cpu,
        "check_s": check_s,
        "check_cpu": check_cpu,
    }


def time_signer(db: Database, tmp: Path, key: Ed25519PrivateKey) -> tuple[float, float, float]:
    """The signer's CPU seconds for a first checkpoint (the whole chain recomputed), and wall
    and CPU seconds for one after 1,000 more records."""
    settings = Settings(audit_checkpoint_file=tmp / "signer.log")

    def make() -> checkpoints.Outcome:
        return checkpoints.make(db=db, key=key, settings=settings)

    first, _, first_cpu = _timed(make)
    assert first.status == "made", first
    append_rate(db, 1_000, per_commit=False)
    second, next_s, next_cpu = _timed(make)
    assert second.status == "made", second
    return first_cpu, next_s, next_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=5_000, help="appends in one transaction")
    parser.add_argument("--commits", type=int, default=500, help="appends, one commit each")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary DB goes")
    parser.add_argument(
        "--checkpoints", type=int, default=105_120, help="signed checkpoints over the chain"
    )
    args = parser.parse_args()
    n_cp = max(1, min(args.checkpoints, args.records))
    keep = {round(i * args.records / n_cp) for i in range(1, n_cp + 1)}  # evenly spread

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="qingzhi-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'audit.db'}"
        migrate(url)
        db = Database(url)
        t0 = time.perf_counter()
        hashes = build_chain(db, args.records, keep=keep)
        build_s = time.perf_counter() - t0
        size_mb = (Path(tmp) / "audit.db").stat().st_size / 1e6
        print(f"built {args.records:,} records in {build_s:.1f} s ({size_mb:.0f} MB SQLite file)")

        load = os.getloadavg()[0]
        print(
            f"load average before verifying: {load:.1f} on {os.cpu_count()} CPUs "
            f"(wall time above CPU time is waiting for a CPU)"
        )
        verify_s, verify_cpu, result = time_verify(db)
        assert result.ok and result.checked == args.records, result
        print(
            f"verify: {result.checked:,} records in {verify_s:.2f} s wall, {verify_cpu:.2f} s CPU "
            f"({result.checked / verify_s:,.0f} records/s; target < 10 s: "
            f"{'met' if verify_s < 10 else 'NOT met'})"
        )

        key = Ed25519PrivateKey.generate()
        cp_path = Path(tmp) / "checkpoints.log"
        sign_s = write_checkpoints(cp_path, key, hashes)
        cp = time_checkpoints(db, cp_path, key)
        print(
            f"checkpoints: {cp['n']:,} signed in {sign_s:.2f} s; read with every signature "
            f"checked in {cp['load_s']:.2f} s wall, {cp['load_cpu']:.2f} s CPU "
            f"({cp['load_cpu'] / cp['n'] * 1e6:.0f} µs CPU each); the chain checked against "
            f"them in {cp['check_s']:.2f} s wall, {cp['check_cpu']:.2f} s CPU"
        )
        total_cpu = cp["load_cpu"] + cp["check_cpu"]
        print(
            f"verify --checkpoints: {total_cpu / verify_cpu:.2f}x the CPU of plain verify "
            f"(the chain walk with the comparisons: {cp['check_cpu'] / verify_cpu:.2f}x)"
        )
        first_cpu, next_s, next_cpu = time_signer(db, Path(tmp), key)
        print(
            f"signer: first checkpoint (the whole chain recomputed) {first_cpu:.2f} s CPU "
            f"({first_cpu / verify_cpu:.2f}x verify); the next after 1,000 records "
            f"{next_s * 1000:.1f} ms wall, {next_cpu * 1000:.1f} ms CPU"
        )

        in_tx = append_rate(db, args.appends, per_commit=False)
        print(f"append via audit.record, {args.appends:,} in one transaction: {in_tx:,.0f}/s")
        per_tx = append_rate(db, args.commits, per_commit=True)
        print(
            f"append via audit.record, {args.commits:,} transactions (one commit each): "
            f"{per_tx:,.0f}/s"
        )

        verify2_s, verify2_cpu, result2 = time_verify(db)
        assert result2.ok, result2
        print(
            f"verify after appends: {result2.checked:,} records in {verify2_s:.2f} s wall, "
            f"{verify2_cpu:.2f} s CPU"
        )
        db.dispose()
    print(
        json.dumps(
            {
                "records": args.records,
                "build_s": round(build_s, 2),
                "verify_s": round(verify_s, 2),
                "verify_cpu_s": round(verify_cpu, 2),
                "checkpoints": cp["n"],
                "checkpoints_load_cpu_s": round(cp["load_cpu"], 2),
                "checkpoints_check_cpu_s": round(cp["check_cpu"], 2),
                "signer_first_cpu_s": round(first_cpu, 2),
                "signer_next_cpu_ms": round(next_cpu * 1000, 1),
                "append_in_tx_per_s": round(in_tx),
                "append_per_commit_per_s": round(per_tx),
            }
        )
    )


if __name__ == "__main__":
    main()
