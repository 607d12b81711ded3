"""Long work behind the API: a job id now, status and progress while it runs, the result when done.

Jobs run one at a time on a worker thread of this process and live in memory: a restart forgets
them (persisted jobs come with the sufficiency runs).  A job keeps running if the client goes away.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Progress = Callable[[int, str], None]


@dataclass
class Job:
    """One piece of long work."""

    job_id: str
    kind: str
    status: str = "queued"
    progress: int = 0
    stage: str = "queued"
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None

    def view(self) -> dict[str, Any]:
        """The job as the API shows it."""
        return {
            "id": self.job_id,
            "kind": self.kind,
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

    def submit(self, kind: str, work: Callable[[Progress], dict[str, Any]]) -> Job:
        """Queue ``work`` (called with a progress callback) and return its job."""
        job = Job(uuid.uuid4().hex, kind)
        with self._lock:
            self._jobs[job.job_id] = job

        def report(percent: int, stage: str) -> None:
            job.progress, job.stage = max(job.progress, min(100, percent)), stage

        def run() -> None:
            job.status = "running"
            try:
                job.result = work(report)
                job.status, job.progress, job.stage = "done", 100, "done"
            except Exception as exc:  # the job records its failure; the service carries on
                job.status, job.error = "failed", f"{exc.__class__.__name__}: {exc}"
            job.finished_at = datetime.now(UTC).isoformat()

        self._pool.submit(run)
        return job

    def get(self, job_id: str) -> Job | None:
        """A job by id."""
        with self._lock:
            return self._jobs.get(job_id)
