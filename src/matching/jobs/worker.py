"""A job's own process: runs one job and writes its progress, its result or its failure to the store.

Started by :class:`~matching.jobs.runner.JobRunner` (forked from a server process that has the heavy modules
loaded, so a job starts in a fraction of a second).  The process caps its own memory (``RLIMIT_AS``), exits
when the process that started it dies, and stops at its next progress report once the job is no longer
running (cancelled or interrupted); the runner kills it outright as well.  Nothing about the job's input is
logged or written as its error: only the kind of failure.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import orjson

from matching.jobs import store
from matching.jobs.kinds import JobStoppedError, Run
from matching.store.engine import make_engine

log = logging.getLogger(__name__)

#: Progress is written at most this often (a sufficiency run reports every future).
REPORT_EVERY_SECONDS = 0.5
OUT_OF_MEMORY = "the job ran out of the memory a job may use"


def plain(result: Mapping[str, Any]) -> dict[str, Any]:
    """``result`` as plain JSON values (numpy numbers, dates and non-string keys made JSON's own)."""
    out: dict[str, Any] = orjson.loads(
        orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    )
    return out


def failure(exc: BaseException) -> str:
    """A job's error in plain words: the kind of failure, never its message (which may quote the input)."""
    if isinstance(exc, MemoryError):
        return OUT_OF_MEMORY
    return f"the job stopped on an internal error ({exc.__class__.__name__}); the service's log has where"


def limit_memory(memory_mb: int) -> None:
    """Cap this process's address space at ``memory_mb`` MiB (0: no cap)."""
    if memory_mb <= 0:
        return
    import resource

    cap = memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _exit_with_parent() -> None:
    """Exit as soon as the process that started this one is gone (it died without stopping its jobs)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(3)

    threading.Thread(target=watch, name="job-parent-watch", daemon=True).start()


class _Reporter:
    """The progress callback: percent only ever rises, written at most every half second or on a new stage;
    raises :class:`JobStoppedError` once the store says the job is no longer running."""

    def __init__(self, engine: Any, job_id: str) -> None:
        self.engine = engine
        self.job_id = job_id
        self.percent = 0
        self.stage = ""
        self.written = 0.0

    def __call__(self, percent: int, stage: str) -> None:
        percent = max(self.percent, min(99, int(percent)))
        moment = time.monotonic()
        if stage == self.stage and moment - self.written < REPORT_EVERY_SECONDS:
            self.percent = percent
            return
        self.percent, self.stage, self.written = percent, stage, moment
        with self.engine.begin() as conn:
            if not store.report(conn, self.job_id, percent, stage):
                raise JobStoppedError(self.job_id)


def main(url: str, job_id: str, run: Run, keep_seconds: float, memory_mb: int, options: Mapping[str, Any]) -> None:
    """Run job ``job_id`` of the store at ``url`` with ``run``; its outcome is written to the store."""
    limit_memory(memory_mb)
    _exit_with_parent()
    keep = timedelta(seconds=keep_seconds)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            job = store.get(conn, job_id)
        if job is None or job.state != store.RUNNING:
            return
        try:
            result = plain(run(engine, job.parameters, _Reporter(engine, job_id), options))
        except JobStoppedError:
            return
        except BaseException as exc:  # the job records its failure; the service carries on
            frames = "".join(traceback.format_tb(exc.__traceback__))
            with contextlib.suppress(Exception):
                log.error("job %s (%s) failed: %s\n%s", job_id, job.kind, exc.__class__.__name__, frames)
            with engine.begin() as conn:
                store.fail(conn, job_id, failure(exc), keep=keep)
            return
        with engine.begin() as conn:
            store.finish(conn, job_id, result, keep=keep)
    finally:
        engine.dispose()
