"""Batch allocation as a job: POST a request, GET its status, progress and result (proposals only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from api.deps import ConnectionDep
from api.jobs import JobStore, Progress
from api.schemas import BAD_BODY, NOT_FOUND, ErrorOut, IsoDate
from matching.allocation.service import allocate, area_scope
from matching.allocation.solver import SolverSettings
from matching.domain import Scope
from matching.store import schema

router = APIRouter(prefix="/v1/allocations", tags=["allocation"])


class AllocationRequest(BaseModel):
    """Which waiting children to allocate, and how hard to try."""

    model_config = ConfigDict(extra="forbid", strict=True)

    la_code: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")] = None
    region: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    placement_date: IsoDate | None = None
    time_limit_seconds: float = Field(default=10.0, gt=0, le=300)
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


def _jobs(request: Request) -> JobStore:
    store: JobStore = request.app.state.jobs
    return store


@router.post(
    "",
    status_code=202,
    responses={
        200: {"description": "Small instance: the result directly"},
        413: {"model": ErrorOut},
        **NOT_FOUND,
        **BAD_BODY,
    },
)
def start_allocation(request: Request, body: AllocationRequest, conn: ConnectionDep) -> JSONResponse:
    """Start an allocation; a small one answers directly (200), a larger one returns a job (202)."""
    if body.la_code is not None and body.region is not None:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "region"),
                    "input": body.region,
                    "msg": "give at most one of la_code and region",
                }
            ]
        )
    try:
        scope = area_scope(conn, la_code=body.la_code, region=body.region)
    except LookupError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    settings = request.app.state.settings
    waiting = _waiting(conn, scope)
    if waiting > settings.allocation_max_children:
        raise HTTPException(
            status_code=413,
            detail=f"{waiting} waiting children in scope; the limit is "
            f"{settings.allocation_max_children} (MATCHING_ALLOCATION_MAX_CHILDREN)",
        )
    engine, pools = request.app.state.engine, request.app.state.pools
    on = body.placement_date or date.today()

    def work(progress: Progress) -> dict[str, Any]:
        progress(5, "reading the waiting children and households")
        with engine.connect() as job_conn:
            instance, result = allocate(
                job_conn,
                scope=scope,
                on=on,
                cfg=pools.cfg,
                taxonomy=pools.taxonomy,
                settings=SolverSettings(body.time_limit_seconds, body.seed, 2, objective=body.objective),
                min_fit=body.min_fit,
                max_distance_miles=body.max_distance_miles,
                keep_current=body.keep_current_points,
            )
        progress(95, "checking and summarising")
        return result.as_dict(instance)

    if waiting <= settings.allocation_direct_max_children:
        return JSONResponse(work(lambda _p, _s: None), status_code=200)
    job = _jobs(request).submit("allocation", work)
    return JSONResponse(job.view(), status_code=202, headers={"Location": f"/v1/allocations/{job.job_id}"})


@router.get("/{job_id}", responses=NOT_FOUND)
def allocation_status(request: Request, job_id: str) -> dict[str, Any]:
    """An allocation job: status, progress (percent) and, when done, the result."""
    job = _jobs(request).get(job_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"no allocation job {job_id!r}")
    return job.view()


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
