"""Jobs behind the API: the queue of :mod:`matching.jobs` for signed-in callers.

A job is kept in the store, runs in a process of its own, and belongs to the user who started it and to its
area: :func:`job_for` gives it only to that user, through the routes of its kind, while the area is in their
remit; anyone else is told it does not exist (404).  Its owner may cancel it (DELETE) and restart it when it
was interrupted (POST ``.../restart``).  A full queue answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

import anyio
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from api.auth import Caller
from api.schemas import ErrorOut
from api.settings import Settings
from matching.jobs import Job, JobLimits, JobRunner, JobsUnavailableError, QueueFullError, readable_by
from matching.jobs import store as job_store


class JobOut(BaseModel):
    """A job: its state and progress, and its result once done."""

    id: str
    kind: Literal["allocation", "sufficiency"]
    started_by: str
    area: list[str]
    status: Literal["queued", "running", "done", "failed", "cancelled", "interrupted"] = Field(
        description="queued (waiting for a worker), running, done (result below), failed (error below), "
        "cancelled (by its owner), interrupted (the service stopped while it ran: POST .../restart)"
    )
    progress: int = Field(ge=0, le=100, description="percent")
    stage: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    expires_at: str | None = Field(description="when the job and its result are deleted (once it has ended)")
    result: dict[str, Any] | None
    error: str | None = Field(description="why it failed, in plain words")


QUEUE_FULL: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorOut,
        "description": "Too many jobs are waiting (the caller's, or in all): try again after `Retry-After` seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
    }
}
ENDED_ALREADY: dict[int | str, dict[str, Any]] = {409: {"model": ErrorOut, "description": "The job has ended already"}}
NOT_INTERRUPTED: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Only an interrupted job can be restarted"}
}


class JobRoute(APIRoute):
    """A route whose 405 names every method of its path: reading and cancelling a job are two routes of one path,
    and Starlette's own 405 names only the first one's methods."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the endpoint; 405 with ``Allow`` listing every route of this path when the method is not its own."""
        if self.methods and scope["method"] not in self.methods and "app" in scope:
            allowed = sorted(
                {
                    method
                    for route in scope["app"].router.routes
                    if getattr(route, "path_format", None) == self.path_format
                    for method in getattr(route, "methods", None) or ()
                }
            )
            raise HTTPException(status_code=405, headers={"Allow": ", ".join(allowed)})
        await super().handle(scope, receive, send)


def limits_of(settings: Settings) -> JobLimits:
    """The queue's limits from the settings (``MATCHING_JOB_...``)."""
    return JobLimits(
        workers=settings.job_workers,
        per_user=settings.job_workers_per_user,
        queue_max=settings.job_queue_max,
        queue_per_user=settings.job_queue_max_per_user,
        keep=timedelta(days=settings.job_keep_days),
        memory_mb=settings.job_memory_mb,
        retry_after_seconds=settings.job_retry_after_seconds,
    )


def make_runner(engine: Any, settings: Settings) -> JobRunner:
    """The app's runner over ``engine``."""
    return JobRunner(engine, limits_of(settings), options={"sufficiency_scheduler": settings.sufficiency_scheduler})


def runner_of(request: Request) -> JobRunner:
    """The app's runner."""
    runner: JobRunner = request.app.state.jobs
    return runner


def _queue_full(exc: QueueFullError) -> HTTPException:
    return HTTPException(
        status_code=429, detail=f"{exc}; try again later", headers={"Retry-After": str(exc.retry_after)}
    )


def submit(
    request: Request,
    caller: Caller,
    kind: str,
    parameters: Mapping[str, Any],
    area: frozenset[str],
    *,
    direct: bool = False,
) -> Job:
    """Queue a job for the caller: 429 when the queue is full."""
    try:
        return runner_of(request).submit(
            kind,
            parameters,
            owner_id=caller.principal.user_id,
            owner=caller.principal.username,
            area=area,
            direct=direct,
        )
    except QueueFullError as exc:
        _recorded_refusal(request, caller)
        raise _queue_full(exc) from None
    except JobsUnavailableError:
        raise HTTPException(status_code=503, detail="this service cannot run jobs on its store") from None


def ensure_room(request: Request, caller: Caller) -> None:
    """429 now if the queue has no room for the caller's job (checked again when it is queued)."""
    try:
        runner_of(request).check_room(caller.principal.user_id)
    except QueueFullError as exc:
        raise _queue_full(exc) from None


def _recorded_refusal(request: Request, caller: Caller) -> None:
    """The queue filled up between recording a batch's start and queueing it: record the refusal too."""
    if caller.note.done:
        with contextlib.suppress(Exception):
            request.app.state.audit.submit(caller.note.entry(429))


def started(job: Job, location: str) -> JSONResponse:
    """202 with the job and its ``Location``."""
    return JSONResponse(job.view(), status_code=202, headers={"Location": location})


def job_for(request: Request, job_id: str, kind: str, caller: Caller, noun: str) -> Job:
    """The caller's job of ``kind`` whose area is in their remit; 404 otherwise (a direct answer's job too)."""
    job = runner_of(request).get(job_id)
    if job is None or job.direct or not readable_by(job, kind, caller.principal):
        raise HTTPException(status_code=404, detail=f"no {noun} {job_id!r}")
    caller.note.detail = f"area {', '.join(sorted(job.area))}"
    return job


def cancel(request: Request, job_id: str, kind: str, caller: Caller, noun: str) -> dict[str, Any]:
    """Cancel the caller's job (its process is stopped): the job, now cancelled; 409 if it had ended."""
    job = job_for(request, job_id, kind, caller, noun)
    if job.state in job_store.FINAL:
        raise HTTPException(status_code=409, detail=f"the {noun} has ended already ({job.state})")
    now = runner_of(request).cancel(job.job_id)
    if now is None or now.state != job_store.CANCELLED:
        state = "gone" if now is None else now.state
        raise HTTPException(status_code=409, detail=f"the {noun} has ended already ({state})")
    return now.view()


def restart(
    request: Request, job_id: str, kind: str, caller: Caller, noun: str, parameters: Mapping[str, Any] | None = None
) -> Job:
    """Queue the caller's interrupted job again: 409 if it was not interrupted, 429 if the queue is full."""
    job = job_for(request, job_id, kind, caller, noun)
    if job.state != job_store.INTERRUPTED:
        raise HTTPException(status_code=409, detail=f"only an interrupted {noun} can be restarted ({job.state})")
    ensure_room(request, caller)
    caller.audit_now(request.app.state.audit, 202)  # a batch over children starts only once it is recorded
    try:
        again = runner_of(request).restart(job.job_id, parameters)
    except QueueFullError as exc:
        _recorded_refusal(request, caller)
        raise _queue_full(exc) from None
    if again is None:
        raise HTTPException(status_code=409, detail=f"only an interrupted {noun} can be restarted")
    return again


async def answer_of(request: Request, job: Job) -> Job | None:
    """Wait for a direct job's outcome, off the event loop; if the client goes away first, the job is cancelled
    (its process stopped).  The job is deleted either way: a direct answer is not kept.  None if it was cancelled
    or vanished."""
    runner = runner_of(request)
    exited = runner.watch(job.job_id)
    try:
        while True:
            now = await run_in_threadpool(runner.get, job.job_id)
            if now is None or now.ended:
                return now
            if await request.is_disconnected():
                return None
            if exited.is_set():  # its outcome is being written by now
                await anyio.sleep(0.02)
            else:
                await run_in_threadpool(exited.wait, 0.25)
    finally:
        with anyio.CancelScope(shield=True):  # even when the request itself is cancelled
            await run_in_threadpool(runner.forget, job.job_id)
