"""SQLite's one writer and the group commit: ``WriterLock`` queues the writers of this process
and of every process sharing the file; ``GroupCommit`` (a part of ``Database``) commits the single
writes that arrive together in one transaction, in one writer thread, and lets them go before
background work of many rows (``make_way``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio.to_thread
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

T = TypeVar("T")
P = TypeVar("P")


class WriterLock:
    """SQLite's one writer at a time, queued: threads of this process on a lock, and processes
    sharing the file (several server workers, the CLI, the live simulator) on an ``flock`` of
    ``<database>-writer.lock``, tried every millisecond for up to ``timeout_ms``. SQLite's own
    busy handler sleeps up to 100 ms between tries, which let a waiter starve for seconds.
    Re-entrant within a thread."""

    def __init__(self, path: Path | None, timeout_ms: int) -> None:
        self._timeout = timeout_ms / 1000
        self._local = threading.RLock()
        self._path = None if path is None else path.with_name(path.name + "-writer.lock")
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> WriterLock:
        self._local.acquire()
        try:
            if self._depth == 0 and self._path is not None:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                self._lock_file(self._fd)
        except BaseException:
            self._local.release()
            raise
        self._depth += 1
        return self

    def _lock_file(self, fd: int) -> None:
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        "database is locked: another process has been writing for over "
                        f"{self._timeout * 1000:.0f} ms"
                    ) from None
                time.sleep(0.001)

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._local.release()


class _Job(Generic[T]):
    """A payload waiting for a group commit, then its result or error. Its caller waits on an
    event (a thread) or a future of its event loop (a coroutine)."""

    __slots__ = ("error", "event", "future", "key", "payload", "result", "run")

    def __init__(
        self, key: Hashable | None, run: Callable[[Session, list[Any]], Sequence[Any]], payload: Any
    ) -> None:
        self.key = key
        self.run = run
        self.payload = payload
        self.result: T | None = None
        # Until the work has run and committed, its caller would get this.
        self.error: BaseException | None = RuntimeError("the write batch was abandoned")
        self.event: threading.Event | None = None
        self.future: asyncio.Future[None] | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


def _wake(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # its request may have been cancelled (the client went away)
            future.set_result(None)


def _raise_or(result: T | Exception) -> T:
    if isinstance(result, Exception):
        raise result
    return result


def _run_in_savepoint(session: Session, jobs: list[_Job[Any]]) -> bool:
    """Run ``jobs`` with one call of the first one's ``run`` in a savepoint; False if it failed
    (the savepoint is rolled back; a single job keeps the exception as its error)."""
    try:
        with session.begin_nested():
            _run(session, jobs)
    except Exception as exc:  # the caller's error, not the batch's
        if len(jobs) == 1:
            jobs[0].error = exc
        return False
    return True


def _run(session: Session, jobs: list[_Job[Any]]) -> None:
    """One call of the first job's ``run`` for all of them; each gets its result or error."""
    results = jobs[0].run(session, [job.payload for job in jobs])
    for job, result in zip(jobs, results, strict=True):
        if isinstance(result, Exception):
            job.error = result
        else:
            job.result, job.error = result, None


class GroupCommit:
    """The write lock and the group-commit queue of a ``Database`` (served by a writer thread,
    started when first needed)."""

    if TYPE_CHECKING:

        @property
        def dialect(self) -> str: ...

        def session(self, *, write: bool = False) -> AbstractContextManager[Session]: ...

    def _writes(self, writer: AbstractContextManager[Any], gather_ms: float) -> None:
        """The write lock and the group-commit queue (served by a writer thread, started when
        first needed)."""
        self._writer = writer
        self.gather = gather_ms / 1000
        self._queue: list[_Job[Any]] = []
        self._queue_ready = threading.Condition()
        self._last_batch = 0
        self._thread: threading.Thread | None = None
        self._closing = False
        # Single writes (``combine``) waiting or being run, for ``make_way``.
        self._single = 0
        self._quiet = threading.Condition()

    def combine(
        self,
        key: Hashable | None,
        run: Callable[[Session, list[P]], Sequence[T | Exception]],
        payload: P,
    ) -> T:
        """Write ``payload`` with ``run`` in a transaction committed together with the other
        writes that arrive meanwhile (group commit); its result once committed.

        On SQLite every commit waits for the disk (``synchronous=FULL``) and only one writer runs
        at a time, so requests that each commit alone queue behind one another's flushes. Here
        one writer thread takes everything queued and commits it once; when its last batch had
        several payloads (load), it first waits ``gather_ms`` for more to arrive, so commits are
        fewer and larger (a lone write never waits). Payloads queued under the same ``key`` go
        to one call of ``run`` (the first job's), which returns one result per payload (an
        exception instance is raised to that payload's caller). A batch of one key is one call
        in the transaction; if it fails, the batch is run again with each payload in a savepoint
        of its own, so one bad payload fails alone (several keys: a savepoint per key first).
        PostgreSQL runs each payload in its own transaction, in the caller's thread. Not to be
        called while holding the write lock (a write session): the writer thread would wait for it.
        """
        self._single_begins()
        try:
            if self.dialect != "sqlite":
                with self.session(write=True) as session:
                    return _raise_or(run(session, [payload])[0])
            job: _Job[T] = _Job(key, run, payload)
            job.event = threading.Event()
            self._submit(job)
            job.event.wait()
            return job.outcome()
        finally:
            self._single_ends()

    async def combine_async(
        self,
        key: Hashable | None,
        run: Callable[[Session, list[P]], Sequence[T | Exception]],
        payload: P,
    ) -> T:
        """``combine`` for a coroutine: the event loop goes on serving while the writer thread
        works, and no worker thread is taken per request (a hand-off to a thread pool costs
        about as much CPU as a small write)."""
        if self.dialect != "sqlite":
            return await anyio.to_thread.run_sync(self.combine, key, run, payload)
        job: _Job[T] = _Job(key, run, payload)
        job.future = asyncio.get_running_loop().create_future()
        self._single_begins()
        try:
            self._submit(job)
            await job.future
        finally:
            self._single_ends()
        return job.outcome()

    def _single_begins(self) -> None:
        with self._quiet:
            self._single += 1

    def _single_ends(self) -> None:
        with self._quiet:
            self._single -= 1
            if not self._single:
                self._quiet.notify_all()

    def make_way(self, limit: float = 0.2) -> None:
        """Let single writes go first: while calls of ``combine`` are waiting or being run,
        wait (at most ``limit`` seconds, so the caller still progresses under a steady load).

        Background work of many rows (an export's rendering, a bulk intake's batches) calls
        this between steps, holding no session. Only one thread of a process runs Python at a
        time, so a busy export or bulk would otherwise take its share of every millisecond a
        single call needs, and multiply its latency; this way the single call has the process
        (and the writer) to itself for the few milliseconds it takes."""
        if not self._single:  # read without the lock: a stale answer costs one step
            return
        deadline = time.monotonic() + limit
        with self._quiet:
            while self._single:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._quiet.wait(left)

    def _submit(self, job: _Job[Any]) -> None:
        with self._queue_ready:
            self._queue.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._write_loop, name="qingzhi-writer", daemon=True
                )
                self._thread.start()
            self._queue_ready.notify()

    def _write_loop(self) -> None:
        """The writer thread: each round, everything queued in one transaction."""
        while True:
            with self._queue_ready:
                while not self._queue and not self._closing:
                    self._queue_ready.wait()
                if not self._queue:
                    return
            if self.gather and self._last_batch > 1:
                time.sleep(self.gather)  # under load: let more writers join this commit
            with self._queue_ready:
                batch, self._queue = self._queue, []
            self._last_batch = len(batch)
            try:
                with self._writer:
                    self._run_batch(batch)
            except Exception as exc:  # the write lock could not be had: nothing ran
                for job in batch:
                    job.error = exc
            finally:
                waiting: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
                for job in batch:
                    if job.future is not None:
                        waiting.setdefault(job.future.get_loop(), []).append(job.future)
                    elif job.event is not None:
                        job.event.set()
                for loop, futures in waiting.items():
                    with contextlib.suppress(RuntimeError):  # its loop has closed
                        loop.call_soon_threadsafe(_wake, futures)

    def _run_batch(self, batch: list[_Job[Any]]) -> None:
        groups: dict[Any, list[_Job[Any]]] = {}
        for n, job in enumerate(batch):
            groups.setdefault(("alone", n) if job.key is None else job.key, []).append(job)
        try:
            if len(groups) == 1:
                # One call for the whole batch (the usual case), without a savepoint. If it
                # fails, a lone job has its error; several are run again one by one below.
                try:
                    with self.session(write=True) as session:
                        _run(session, batch)
                    return
                except Exception as exc:
                    if len(batch) == 1:
                        batch[0].error = exc
                        return
                    for job in batch:
                        job.result, job.error = None, None
            with self.session(write=True) as session:
                for jobs in groups.values():
                    if len(jobs) > 1 and len(groups) > 1 and _run_in_savepoint(session, jobs):
                        continue
                    for job in jobs:
                        _run_in_savepoint(session, [job])
        except Exception as exc:  # the commit failed: nothing of the batch was written
            for job in batch:
                if job.error is None:
                    job.error = exc

    def _stop_writer(self) -> None:
        """Stop the writer thread, after the writes queued."""
        thread = self._thread
        if thread is not None:
            with self._queue_ready:
                self._closing = True
                self._queue_ready.notify()
            thread.join()
            self._thread, self._closing = None, False
