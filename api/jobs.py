"""Long work behind the API: a job id now, status and progress while it runs, the result when done.

Jobs run one at a time on a worker thread of this process and live in memory: a restart forgets
them (persisted jobs come with the sufficiency runs).  A job keeps running if the client goes away.
A job belongs to the user who started it and to its area (authorities): :meth:`JobStore.get_for` returns it
only to that user, of that kind, while the area is in their remit; anyone else is told it does not exist.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from matching.access import Principal

Progress = Callable[[int, str], None]


@dataclass
class Job:
    """One piece of long work."""

    job_id: str
    kind: str
    owner_id: int | None = None
    owner: str = ""
    area: frozenset[str] = frozenset()
    status: str = "queued"
    progress: int = 0
    stage: str = "queued"
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    #: The children whose records the result holds (for the audit of whoever reads it).
    child_ids: frozenset[str] = frozenset()

    def view(self) -> dict[str, Any]:
        """The job as the API shows it."""
        return {
            "id": self.job_id,
            "kind": self.kind,
            "started_by": self.owner,
            "area": sorted(self.area),
            "status": self.status,
            "progress": self.progress,
            "stage": self.stage,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "result": self.result,
            "error": self.error,
        }


class JobStore:
    """Jobs of this process, run one at a time."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")

    def submit(
        self,
        kind: str,
        work: Callable[[Progress], dict[str, Any]],
        *,
        owner: Principal,
        area: frozenset[str],
        touched: Callable[[dict[str, Any]], frozenset[str]] | None = None,
    ) -> Job:
        """Queue ``work`` (called with a progress callback) for ``owner`` over ``area`` and return its job;
        ``touched`` names the children a finished result holds."""
        job = Job(uuid.uuid4().hex, kind, owner.user_id, owner.username, frozenset(area))
        with self._lock:
            self._jobs[job.job_id] = job

        def report(percent: int, stage: str) -> None:
            job.progress, job.stage = max(job.progress, min(100, percent)), stage

        def run() -> None:
            job.status = "running"
            try:
                job.result = work(report)
                if touched is not None:
                    job.child_ids = touched(job.result)
                job.status, job.progress, job.stage = "done", 100, "done"
            except Exception as exc:  # the job records its failure; the service carries on
                job.status, job.error = "failed", f"{exc.__class__.__name__}: {exc}"
            job.finished_at = datetime.now(UTC).isoformat()

        self._pool.submit(run)
        return job

    def get(self, job_id: str) -> Job | None:
        """A job by id (whoever asks: for the process itself, never for a route)."""
        with self._lock:
            return self._jobs.get(job_id)

    def get_for(self, job_id: str, kind: str, principal: Principal) -> Job | None:
        """The job of ``kind`` if ``principal`` started it and its area is still in their remit; else None."""
        job = self.get(job_id)
        if job is None or job.kind != kind or job.owner_id != principal.user_id:
            return None
        if not job.area <= principal.remit.la_codes:
            return None
        return job
