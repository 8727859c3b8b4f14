"""The server's checkpointer: a thread that signs the audit chain's head now and then.

Every server process runs one (started by the audit router's lifespan, so ``qingzhi serve`` and
``make demo`` need no separate process). Every few seconds it reads the head in a read
transaction; when the head has moved ``QINGZHI_AUDIT_CHECKPOINT_RECORDS`` records, or
``QINGZHI_AUDIT_CHECKPOINT_MINUTES`` minutes have passed since the file's last checkpoint and the
head has moved at all, it makes a checkpoint (``checkpoints.make``: the file's lock makes several
workers write one). At start and on shutdown it makes one if the head moved at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from qingzhi.audit import checkpoints
from qingzhi.audit.signing import key_id
from qingzhi.config import Settings
from qingzhi.errors import QingzhiError
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

POLL_SECONDS = 10.0


class Checkpointer:
    """A daemon thread making checkpoints when they are due."""

    def __init__(self, db: Database, settings: Settings, key: Ed25519PrivateKey) -> None:
        self.db = db
        self.settings = settings
        self.key = key
        self.poll = min(POLL_SECONDS, settings.audit_checkpoint_minutes * 60)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refused: str | None = None  # what the last refusal was against (logged once)

    def tick(self, *, final: bool = False) -> checkpoints.Outcome | None:
        """One look at the head; a checkpoint if one is due (any movement when ``final``)."""
        try:
            outcome = checkpoints.make(
                db=self.db,
                key=self.key,
                settings=self.settings,
                every_records=1 if final else self.settings.audit_checkpoint_records,
                every_seconds=0.0 if final else self.settings.audit_checkpoint_minutes * 60,
            )
        except (QingzhiError, OSError) as exc:
            log.error("audit checkpoint failed: %s", exc)
            return None
        except Exception:  # a database error: try again next time
            log.exception("audit checkpoint failed")
            return None
        if outcome.status == "refused":
            # once per last checkpoint, not every few seconds while the chain stays refused
            against = outcome.checkpoint.line() if outcome.checkpoint else outcome.reason
            if against != self._refused:
                log.error(
                    "audit checkpoint refused (head %d): %s", outcome.head_seq, outcome.reason
                )
            self._refused = against
        else:
            self._refused = None
        return outcome

    def _run(self) -> None:
        self.tick(final=True)  # at start: whatever was written while no server ran
        while not self._stop.wait(self.poll):
            self.tick()

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._run, name="qingzhi-checkpointer", daemon=True)
        self._thread.start()
        log.info(
            "audit checkpoints to %s every %d records or %g minutes (key %s)",
            self.settings.audit_checkpoint_file,
            self.settings.audit_checkpoint_records,
            self.settings.audit_checkpoint_minutes,
            key_id(self.key.public_key()),
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread, then checkpoint what was appended since its last checkpoint."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # still recomputing a long chain: leave it to the next start
        self.tick(final=True)


def from_settings(db: Database, settings: Settings) -> Checkpointer | None:
    """The server's checkpointer, or None (logged) without a key or with the server's
    checkpoints switched off."""
    if settings.audit_checkpoint_minutes <= 0:
        log.info("the server makes no audit checkpoints (QINGZHI_AUDIT_CHECKPOINT_MINUTES=0)")
        return None
    try:
        key = checkpoints.signing_key(settings)
    except QingzhiError as exc:
        log.error("no audit checkpoints: %s", exc)
        return None
    return None if key is None else Checkpointer(db, settings, key)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run a checkpointer while the application serves."""
    checkpointer = from_settings(app.state.db, app.state.settings)
    if checkpointer is not None:
        checkpointer.start()
    try:
        yield
    finally:
        if checkpointer is not None:
            await anyio.to_thread.run_sync(checkpointer.stop)
