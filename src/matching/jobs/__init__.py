"""Durable jobs: long work (allocations, sufficiency runs) queued in the store and run in processes of their own.

:mod:`matching.jobs.store` holds the jobs and the moves between their states, :mod:`matching.jobs.kinds` what
each kind runs, :mod:`matching.jobs.runner` the queue's runner (one per service process) and
:mod:`matching.jobs.worker` a job's own process.  The API (``api.jobs``) only submits, reads, cancels and
restarts jobs for signed-in callers.
"""

from matching.jobs.kinds import ALLOCATION, KINDS, SUFFICIENCY, JobStoppedError, Kind, Progress
from matching.jobs.runner import JobLimits, JobRunner, JobsUnavailableError, QueueFullError, default_workers
from matching.jobs.store import (
    CANCELLED,
    DONE,
    ENDED,
    FAILED,
    FINAL,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    STATES,
    TRANSITIONS,
    Job,
    readable_by,
)

__all__ = [
    "ALLOCATION",
    "CANCELLED",
    "DONE",
    "ENDED",
    "FAILED",
    "FINAL",
    "INTERRUPTED",
    "KINDS",
    "QUEUED",
    "RUNNING",
    "STATES",
    "SUFFICIENCY",
    "TRANSITIONS",
    "Job",
    "JobLimits",
    "JobRunner",
    "JobStoppedError",
    "JobsUnavailableError",
    "Kind",
    "Progress",
    "QueueFullError",
    "default_workers",
    "readable_by",
]
