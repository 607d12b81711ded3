"""Auditing requests cheaply: entries queued by the request and written in batches by one background thread.

On SQLite a commit waits for the disk (an fsync: a few milliseconds), so an entry committed on its own costs
a request that much.  :class:`AuditWriter` takes the entry in microseconds and commits many at once (group
commit), keeping their order.  The trade: entries queued when the process dies uncleanly are lost (up to
``max_delay`` of them); a request that must not answer before its entry is on disk calls
:meth:`AuditWriter.submit` with ``wait=True``, or :func:`matching.audit.record`.  Failures to write are retried,
never dropped; when the queue is full, :meth:`~AuditWriter.submit` raises :class:`AuditUnavailableError` so the
caller can refuse the request instead of serving it unaudited.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
import weakref
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import Engine

from matching.audit.trail import AuditEntry, append_all


class AuditUnavailableError(RuntimeError):
    """The audit trail cannot take the entry now (queue full, or the writer stopped)."""


class AuditWriter:
    """A queue of entries and the thread that appends them in batches, one transaction per batch."""

    #: Every writer not yet closed in this process, for :func:`flush_every_writer` (weakly held, but a running
    #: writer's thread holds it: one never closed stays until the process ends), and the lock over it.
    _open: ClassVar[weakref.WeakSet[AuditWriter]] = weakref.WeakSet()
    _open_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = 500,
        max_delay: float = 0.05,
        max_pending: int = 50_000,
        retry_after: float = 1.0,
    ) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.retry_after = retry_after
        self._queue: queue.Queue[tuple[AuditEntry | None, threading.Event | None]] = queue.Queue(max_pending)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self.written = 0
        self.failures = 0
        #: The class of the last write error (never its message, which may quote the entry).
        self.last_error: str | None = None
        self._thread.start()
        with AuditWriter._open_lock:
            AuditWriter._open.add(self)

    def submit(self, entry: AuditEntry, *, wait: bool = False, timeout: float = 5.0) -> None:
        """Queue ``entry`` (stamped with the time now); with ``wait``, return once it is committed."""
        if self._stop.is_set():
            raise AuditUnavailableError("the audit writer is stopped")
        stamped = entry if entry.at is not None else dataclasses.replace(entry, at=datetime.now(UTC))
        done = threading.Event() if wait else None
        try:
            self._queue.put((stamped, done), timeout=timeout)
        except queue.Full:
            raise AuditUnavailableError("the audit trail is not keeping up") from None
        if done is not None and not done.wait(timeout):
            raise AuditUnavailableError("the audit entry was not written in time")

    def flush(self, timeout: float = 10.0) -> None:
        """Return once every entry queued before the call is committed."""
        done = threading.Event()
        self._queue.put((None, done), timeout=timeout)  # a marker: set once everything before it is written
        waited_until = time.monotonic() + timeout
        while not done.wait(min(0.1, max(0.0, waited_until - time.monotonic()))):
            if not self._thread.is_alive():  # stopped meanwhile: nobody will write the marker
                raise AuditUnavailableError("the audit writer stopped before it flushed")
            if time.monotonic() >= waited_until:
                raise AuditUnavailableError("the audit trail did not flush in time")

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the thread (stopped even when writing what is queued fails)."""
        if not self._stop.is_set():
            try:
                self.flush(timeout)
            finally:
                self._stop.set()
                self._thread.join(timeout)
                with AuditWriter._open_lock:
                    AuditWriter._open.discard(self)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            deadline = time.monotonic() + self.max_delay
            # An entry someone waits on (or a flush's marker) ends the batch: nothing queued after it is theirs.
            while len(batch) < self.max_batch and batch[-1][1] is None:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[tuple[AuditEntry | None, threading.Event | None]]) -> None:
        entries = [e for e, _ in batch if e is not None]
        while True:
            try:
                if entries:
                    with self.engine.begin() as conn:
                        append_all(conn, entries)
                break
            except Exception as exc:  # retried, never dropped
                self.failures += 1
                self.last_error = exc.__class__.__name__
                time.sleep(self.retry_after)
        self.written += len(entries)
        for _, done in batch:
            if done is not None:
                done.set()


def flush_every_writer(engine: Engine | None = None, timeout: float = 10.0) -> None:
    """Return once every open writer in this process (on ``engine``, when given) has committed what was queued
    before the call; a writer closing meanwhile is passed over.

    For a reader that must see the whole trail so far, whichever app (or test client) queued the entries."""
    with AuditWriter._open_lock:
        writers = [w for w in AuditWriter._open if engine is None or w.engine is engine]
    for writer in writers:
        try:
            writer.flush(timeout)
        except AuditUnavailableError:
            if not writer._stop.is_set():
                raise
