"""The queue's runner: claims queued jobs from the store and runs each in its own process.

One :class:`JobRunner` per service process.  A dispatcher thread (never the event loop) wakes when a job is
submitted or cancelled, when a job's process exits, and every :data:`POLL_SECONDS`, and then

1. reaps the processes that exited (a process that died without writing an outcome fails its job);
2. kills the process of any job the store no longer has running (cancelled by its owner, through any
   process of the service);
3. records that its running jobs are alive (every :data:`HEARTBEAT_SECONDS`);
4. every :data:`SWEEP_SECONDS`: marks interrupted the running jobs whose runner died (its heartbeat is older
   than :data:`STALE_SECONDS`, or its process is gone from this host) and deletes the jobs past their expiry;
5. starts queued jobs, oldest first, while fewer than ``limits.workers`` run here, skipping owners who already
   run ``limits.per_user`` jobs (counted in the store, so across processes).

:meth:`submit` refuses (:class:`QueueFullError`) when ``limits.queue_max`` jobs are queued, or
``limits.queue_per_user`` of the caller's.  :meth:`stop` kills this runner's jobs and marks them interrupted
(their owners may restart them); queued jobs stay queued for the next start.

Why not a job library: the queue must live in the service's own store (SQLite with no server by default,
or PostgreSQL), know each job's owner and area, hold at most so many jobs per user, and stop a running solve.
huey's SQLite storage is a file of its own (its SQL storage goes through peewee), and its revoke does not stop
a running task; rq, arq, saq, dramatiq and celery need Redis or RabbitMQ; procrastinate and pgqueuer
PostgreSQL; Dask keeps its futures in the scheduler's memory and cannot interrupt a running task.  Dask still
runs a sufficiency job's futures when ``options["sufficiency_scheduler"]`` names a scheduler.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy import Engine

from matching.jobs import store, worker
from matching.jobs.kinds import KINDS, Kind
from matching.jobs.store import Job

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 5.0
#: A running job whose runner has not been heard of for this long is taken as interrupted.
STALE_SECONDS = 30.0
SWEEP_SECONDS = 30.0
#: Modules the job processes' server loads once, so that each job starts without importing them.
PRELOAD = ["matching.jobs.kinds", "matching.allocation.service", "matching.sufficiency.service"]


def default_workers() -> int:
    """Jobs at once in one process by default: half the cores this process may use, at least one (a solve
    uses two threads)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 2
    return max(1, cores // 2)


@dataclass(frozen=True)
class JobLimits:
    """How much the queue takes on (see the module)."""

    workers: int = field(default_factory=default_workers)
    per_user: int = 2
    queue_max: int = 20
    queue_per_user: int = 5
    keep: timedelta = timedelta(days=7)
    #: A job process's address space in MiB (0: no cap).
    memory_mb: int = 0
    retry_after_seconds: int = 30

    def __post_init__(self) -> None:
        if self.workers < 1 or self.per_user < 1:
            raise ValueError("a job queue needs at least one worker, and one job per user")


class QueueFullError(Exception):
    """Too many jobs are waiting: try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JobsUnavailableError(RuntimeError):
    """This store cannot run jobs in processes of their own (an in-memory SQLite database)."""


def _context() -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _alive_here(runner: str | None) -> bool:
    """False when ``runner`` (host:pid:token) was a process of this host that is gone; True otherwise."""
    host, _, rest = (runner or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: alive
        return True
    return True


class JobRunner:
    """Runs the store's queued jobs in processes of their own (see the module)."""

    def __init__(
        self,
        engine: Engine,
        limits: JobLimits | None = None,
        *,
        kinds: Mapping[str, Kind] = KINDS,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.engine = engine
        self.limits = limits or JobLimits()
        self.kinds = dict(kinds)
        self.options = dict(options or {})
        self.runner_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        url = engine.url
        self._url = url.render_as_string(hide_password=False)
        self._in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        self._procs: dict[str, BaseProcess] = {}
        self._watchers: dict[str, threading.Event] = {}
        self._lock = threading.RLock()
        self._submit_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wake_r = self._wake_w = -1
        self._last_beat = self._last_sweep = 0.0

    # --- lifecycle ---

    @property
    def running_here(self) -> list[str]:
        """The ids of the jobs whose processes this runner holds."""
        with self._lock:
            return sorted(self._procs)

    def start(self) -> None:
        """Start the dispatcher (idempotent): interrupted jobs of dead runners are marked, queued ones start."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._in_memory:
                log.warning("jobs cannot run on an in-memory SQLite store: they stay queued")
                return
            self._stopping.clear()
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            self._last_sweep = 0.0
            self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the dispatcher, kill this runner's job processes and mark their jobs interrupted."""
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is None:
            return
        self._stopping.set()
        self._wake()
        thread.join(timeout)
        with self._lock:
            procs = dict(self._procs)
            self._procs.clear()
        for proc in procs.values():
            with contextlib.suppress(Exception):
                proc.kill()
        for proc in procs.values():
            proc.join(5)
        for job_id in list(self._watchers):
            self._exited(job_id)
        with self.engine.begin() as conn:
            store.interrupt(conn, [*procs, *store.running_of(conn, self.runner_id)], keep=self.limits.keep)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    # --- what the service asks ---

    def submit(
        self,
        kind: str,
        parameters: Mapping[str, Any],
        *,
        owner_id: int,
        owner: str,
        area: frozenset[str],
        direct: bool = False,
    ) -> Job:
        """Queue a job of ``kind`` for ``owner`` over ``area``: :class:`QueueFullError` when the backlog is full."""
        if kind not in self.kinds:
            raise ValueError(f"unknown job kind {kind!r}")
        if self._in_memory:
            raise JobsUnavailableError("jobs need a store other processes can open (a file or a server)")
        with self._submit_lock, self.engine.begin() as conn:
            self._room(conn, owner_id)
            job = store.create(
                conn, kind=kind, owner_id=owner_id, owner=owner, area=area, parameters=parameters, direct=direct
            )
        self.start()
        self._wake()
        return job

    def check_room(self, owner_id: int) -> None:
        """:class:`QueueFullError` if a job of ``owner_id`` would not be queued now."""
        with self.engine.connect() as conn:
            self._room(conn, owner_id)

    def get(self, job_id: str) -> Job | None:
        """The job of that id (whoever asks: the routes check :func:`~matching.jobs.store.readable_by`)."""
        with self.engine.connect() as conn:
            return store.get(conn, job_id)

    def cancel(self, job_id: str) -> Job | None:
        """Cancel the job and stop its process; the job as it now is (None if it no longer exists).  A job that
        had already ended is left as it was."""
        with self.engine.begin() as conn:
            store.cancel(conn, job_id, keep=self.limits.keep)
        self._kill(job_id)
        self._wake()
        return self.get(job_id)

    def restart(self, job_id: str, parameters: Mapping[str, Any] | None = None) -> Job | None:
        """Queue an interrupted job again (:class:`QueueFullError` when the backlog is full); None if it was not
        interrupted."""
        with self._submit_lock, self.engine.begin() as conn:
            job = store.get(conn, job_id)
            if job is None or job.state != store.INTERRUPTED:
                return None
            self._room(conn, job.owner_id)
            if not store.restart(conn, job_id, parameters=parameters):
                return None
        self.start()
        self._wake()
        return self.get(job_id)

    def watch(self, job_id: str) -> threading.Event:
        """An event set when the job's process here exits or is stopped (its outcome is then in the store); a job
        run by another process of the service sets nothing: read the store as well."""
        with self._lock:
            return self._watchers.setdefault(job_id, threading.Event())

    def forget(self, job_id: str) -> None:
        """Cancel the job if it has not ended, and delete it (a direct answer, given or no longer wanted)."""
        with self.engine.begin() as conn:
            store.cancel(conn, job_id, keep=self.limits.keep)
        self._kill(job_id)
        with self.engine.begin() as conn:
            store.remove(conn, job_id)
        self._wake()

    def sweep(self) -> None:
        """Mark interrupted the running jobs of runners that died, and delete the jobs past their expiry."""
        now = store.utcnow()
        stale = now - timedelta(seconds=STALE_SECONDS)
        with self.engine.begin() as conn:
            abandoned = [
                job_id
                for job_id, runner, beat in store.running_elsewhere(conn, self.runner_id)
                if beat is None or beat < stale or not _alive_here(runner)
            ]
            with self._lock:
                mine = set(self._procs)
            abandoned += [j for j in store.running_of(conn, self.runner_id) if j not in mine]
            if abandoned:
                log.warning("%d running job(s) had lost their runner: marked interrupted", len(abandoned))
                store.interrupt(conn, abandoned, keep=self.limits.keep, now=now)
            store.delete_expired(conn, now)

    # --- the dispatcher ---

    def _room(self, conn: Any, owner_id: int) -> None:
        queued, mine = store.queued_counts(conn, owner_id)
        lim = self.limits
        if mine >= lim.queue_per_user:
            raise QueueFullError(
                f"you have {mine} jobs waiting to run (at most {lim.queue_per_user})", lim.retry_after_seconds
            )
        if queued >= lim.queue_max:
            raise QueueFullError(f"{queued} jobs are waiting to run (at most {lim.queue_max})", lim.retry_after_seconds)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            if self._wake_w >= 0:
                os.write(self._wake_w, b"x")

    def _kill(self, job_id: str) -> None:
        with self._lock:
            proc = self._procs.pop(job_id, None)
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.kill()
            proc.join(5)
        self._exited(job_id)

    def _exited(self, job_id: str) -> None:
        with self._lock:
            watcher = self._watchers.pop(job_id, None)
        if watcher is not None:
            watcher.set()

    def _loop(self) -> None:
        if _context().get_start_method() == "forkserver":  # start the jobs' server now, not with the first job
            with contextlib.suppress(Exception):
                from multiprocessing import forkserver

                forkserver.ensure_running()
        while not self._stopping.is_set():
            try:
                self._tick()
            except Exception as exc:  # the store was briefly unavailable: try again at the next poll
                log.warning("job runner: %s", exc.__class__.__name__)
            with self._lock:
                sentinels = [p.sentinel for p in self._procs.values()]
            with contextlib.suppress(OSError, ValueError):
                wait([self._wake_r, *sentinels], timeout=POLL_SECONDS)
            with contextlib.suppress(OSError):
                while os.read(self._wake_r, 512):
                    pass

    def _tick(self) -> None:
        self._reap()
        with self._lock:
            ids = list(self._procs)
        if ids:
            with self.engine.connect() as conn:
                now_running = store.states(conn, ids)
            for job_id in ids:
                if now_running.get(job_id) != store.RUNNING:  # cancelled, interrupted by a sweep, or deleted
                    self._kill(job_id)
        moment = time.monotonic()
        if ids and moment - self._last_beat >= HEARTBEAT_SECONDS:
            with self.engine.begin() as conn:
                store.heartbeat(conn, ids)
            self._last_beat = moment
        if moment - self._last_sweep >= SWEEP_SECONDS:
            self.sweep()
            self._last_sweep = moment
        self._claim()

    def _reap(self) -> None:
        with self._lock:
            exited = {j: p for j, p in self._procs.items() if not p.is_alive()}
            for job_id in exited:
                del self._procs[job_id]
        for job_id, proc in exited.items():
            proc.join()
            code = proc.exitcode
            with self.engine.begin() as conn:
                if store.fail(
                    conn,
                    job_id,
                    f"the job's process stopped unexpectedly (exit code {code}); it may have run out of memory",
                    keep=self.limits.keep,
                ):
                    log.error("job %s: its process stopped unexpectedly (exit code %s)", job_id, code)
            with contextlib.suppress(Exception):
                proc.close()
            self._exited(job_id)

    def _claim(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                if len(self._procs) >= self.limits.workers:
                    return
            with self.engine.begin() as conn:
                job = store.claim_next(conn, self.runner_id, per_user=self.limits.per_user)
            if job is None:
                return
            self._launch(job)

    def _launch(self, job: Job) -> None:
        kind = self.kinds.get(job.kind)
        try:
            if kind is None:
                raise LookupError(job.kind)
            proc = _context().Process(
                target=worker.main,
                args=(
                    self._url,
                    job.job_id,
                    kind.run,
                    self.limits.keep.total_seconds(),
                    self.limits.memory_mb,
                    self.options,
                ),
                name=f"job-{job.kind}",
                daemon=True,
            )
            with self._lock:
                proc.start()
                self._procs[job.job_id] = proc
        except Exception as exc:
            log.error("job %s could not start: %s", job.job_id, exc.__class__.__name__)
            with self.engine.begin() as conn:
                store.fail(conn, job.job_id, "the job could not be started", keep=self.limits.keep)
