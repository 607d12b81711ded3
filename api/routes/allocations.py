"""Batch allocation as a job: POST a request, GET its status, progress and result (proposals only), DELETE to
cancel it, POST .../restart after an interruption."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from api import jobs
from api.auth import Caller
from api.deps import Allocator
from api.jobs import ENDED_ALREADY, NOT_INTERRUPTED, QUEUE_FULL, JobOut
from api.limits import allocation_seconds, on_or_as_at
from api.schemas import BAD_BODY, NOT_FOUND, ErrorOut, IsoDate
from matching.allocation.deadline import MIN_SECONDS
from matching.allocation.service import area_scope
from matching.domain import Scope
from matching.jobs.kinds import allocation_children, allocation_parameters
from matching.store import schema

router = APIRouter(prefix="/v1/allocations", tags=["allocation"], route_class=jobs.JobRoute)
KIND, NOUN = "allocation", "allocation job"


class AllocationRequest(BaseModel):
    """Which waiting children to allocate, and how hard to try."""

    model_config = ConfigDict(extra="forbid", strict=True)

    la_code: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")] = None
    region: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    placement_date: IsoDate | None = None
    time_limit_seconds: Annotated[float, AfterValidator(allocation_seconds)] = Field(
        default=10.0,
        ge=MIN_SECONDS,
        le=300,
        description=f"At least {MIN_SECONDS:g}, at most MATCHING_ALLOCATION_MAX_SECONDS (default 60).",
    )
    seed: int = Field(default=2024, ge=0, le=2**31 - 1)
    min_fit: float = Field(default=0.0, ge=0, le=100)
    max_distance_miles: float | None = Field(default=None, gt=0, le=1000)
    objective: Literal["total", "fairness"] = Field(
        default="total",
        description="total: children placed, then total fit. fairness: as many placed, then the worst-off "
        "child's fit as high as possible, then total fit.",
    )
    keep_current_points: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="A child living with carers already moves only to a household this many points better.",
    )
    no_worse_than_first_come: bool = Field(
        default=True,
        description="Either objective: never let the children first come first served also places fare worse (mean "
        "fit, miles from home, placements out of area), even at the cost of a few children placed (the default); "
        "false places the most children whatever it does to them.",
    )

    def parameters(self, scope: Scope, placement_date: date) -> dict[str, Any]:
        """What the allocation job stores for this request over ``scope`` on ``placement_date``."""
        return allocation_parameters(
            scope,
            placement_date,
            time_limit_seconds=self.time_limit_seconds,
            seed=self.seed,
            objective=self.objective,
            min_fit=self.min_fit,
            max_distance_miles=self.max_distance_miles,
            keep_current=self.keep_current_points,
            no_worse_than_first_come=self.no_worse_than_first_come,
        )


@router.post(
    "",
    status_code=202,
    responses={
        200: {"description": "Small instance: the result directly"},
        202: {"model": JobOut, "description": "A job (Location: where to follow it)"},
        413: {"model": ErrorOut},
        403: {"model": ErrorOut, "description": "The area is not in the caller's remit"},
        500: {"model": ErrorOut, "description": "A small instance's allocation failed (why, in plain words)"},
        503: {"model": ErrorOut, "description": "The service stopped while a small instance was being allocated"},
        **QUEUE_FULL,
        **NOT_FOUND,
        **BAD_BODY,
    },
)
async def start_allocation(request: Request, body: AllocationRequest, caller: Allocator) -> JSONResponse:
    """Start an allocation of the waiting children of an authority or region in the caller's remit (all of their
    remit when neither is given), with the households of the agencies in their remit; a small one answers
    directly (200; it stops if the client goes away), a larger one returns a job (202) that only its starter can
    read, cancel or restart.  Either way it runs in the job queue (429 when too many jobs wait)."""
    if body.la_code is not None and body.region is not None:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "region"),
                    "msg": "give at most one of la_code and region",
                }
            ]
        )
    placement_date = await run_in_threadpool(_placement_date, request, body)
    settings = request.app.state.settings
    scope, waiting = await run_in_threadpool(_scope_and_waiting, request.app.state.engine, caller, body)
    if waiting > settings.allocation_max_children:
        raise HTTPException(
            status_code=413,
            detail=f"{waiting} waiting children in scope; the limit is "
            f"{settings.allocation_max_children} (MATCHING_ALLOCATION_MAX_CHILDREN)",
        )
    parameters = body.parameters(scope, placement_date)
    area = scope.la_codes or frozenset()
    caller.note.detail = f"area {', '.join(sorted(area))}"
    if waiting <= settings.allocation_direct_max_children:
        job = await run_in_threadpool(jobs.submit, request, caller, KIND, parameters, area, direct=True)
        outcome = await jobs.answer_of(request, job)
        if outcome is None:  # the client went away (or the job was removed): nobody reads this answer
            return JSONResponse({"detail": "the request was cancelled"}, status_code=499)
        if outcome.state == "done" and outcome.result is not None:
            caller.touch(allocation_children(outcome.result))
            return JSONResponse(outcome.result, status_code=200)
        if outcome.state == "interrupted":
            raise HTTPException(status_code=503, detail="the service stopped; try again", headers={"Retry-After": "5"})
        raise HTTPException(status_code=500, detail=outcome.error or f"the allocation ended {outcome.state}")
    await run_in_threadpool(jobs.ensure_room, request, caller)
    await run_in_threadpool(caller.audit_now, request.app.state.audit, 202)  # recorded before the batch starts
    job = await run_in_threadpool(jobs.submit, request, caller, KIND, parameters, area)
    return jobs.started(job, f"/v1/allocations/{job.job_id}")


@router.get("/{job_id}", response_model=JobOut, responses=NOT_FOUND)
def allocation_status(request: Request, job_id: str, caller: Allocator) -> dict[str, Any]:
    """An allocation job the caller started: status, progress (percent) and, when done, the result; 404 for
    another's job, or one whose area is no longer in the caller's remit."""
    job = jobs.job_for(request, job_id, KIND, caller, NOUN)
    if job.result is not None:
        caller.touch(allocation_children(job.result))
    return job.view()


@router.delete("/{job_id}", response_model=JobOut, responses={**NOT_FOUND, **ENDED_ALREADY})
def cancel_allocation(request: Request, job_id: str, caller: Allocator) -> dict[str, Any]:
    """Cancel an allocation job the caller started: a queued job never runs, a running solve is stopped; the job
    stays readable (status ``cancelled``) until it expires.  404 for another's job, 409 once it has ended."""
    return jobs.cancel(request, job_id, KIND, caller, NOUN)


@router.post(
    "/{job_id}/restart",
    status_code=202,
    response_model=JobOut,
    responses={**NOT_FOUND, **NOT_INTERRUPTED, **QUEUE_FULL},
)
def restart_allocation(request: Request, job_id: str, caller: Allocator) -> JSONResponse:
    """Queue again an allocation job of the caller's that was interrupted (the service stopped while it ran),
    with the same request, over the households of the agencies now in their remit; 409 for any other job."""
    job = jobs.job_for(request, job_id, KIND, caller, NOUN)
    agencies = sorted(caller.scope.agency_codes or ())
    again = jobs.restart(request, job_id, KIND, caller, NOUN, {**job.parameters, "agency_codes": agencies})
    return jobs.started(again, f"/v1/allocations/{again.job_id}")


def _scope_and_waiting(engine: Any, caller: Caller, body: AllocationRequest) -> tuple[Scope, int]:
    with engine.connect() as conn:
        scope = caller.scope.narrowed(la_codes=_area(conn, caller, body))
        return scope, _waiting(conn, scope)


def _area(conn: Any, caller: Caller, body: AllocationRequest) -> frozenset[str]:
    """The authorities to allocate for: 403 outside the caller's remit, 404 unknown."""
    remit = caller.principal.remit.la_codes
    if body.la_code is not None and body.la_code not in remit:
        raise HTTPException(status_code=403, detail=f"authority {body.la_code!r} is not in your remit")
    if body.la_code is None and body.region is None:
        if not remit:
            raise HTTPException(status_code=403, detail="no authority is in your remit")
        return remit
    try:
        las = area_scope(conn, la_code=body.la_code, region=body.region).la_codes or frozenset()
    except LookupError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    if not las <= remit:
        raise HTTPException(status_code=403, detail=f"region {body.region!r} has authorities outside your remit")
    return las


def _waiting(conn: Any, scope: Scope) -> int:
    stmt = (
        select(func.count())
        .select_from(schema.referral)
        .join(schema.child, schema.child.c.child_id == schema.referral.c.child_id)
        .where(schema.referral.c.status == "open")
    )
    if scope.la_codes is not None:
        stmt = stmt.where(schema.child.c.la_code.in_(sorted(scope.la_codes)))
    return int(conn.execute(stmt).scalar_one())


def _placement_date(request: Request, body: AllocationRequest) -> date:
    """The placement date asked for (422 outside the dates the store's records allow, MATCHING_DATE_WINDOW_DAYS),
    or the store's as-at date."""
    with request.app.state.engine.connect() as conn:
        return on_or_as_at(request, conn, body.placement_date, ("body", "placement_date"))
