"""Batch allocation as a job: POST a request, GET its status, progress and result (proposals only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from api.auth import Caller
from api.deps import Allocator, ConnectionDep
from api.jobs import JobStore, Progress
from api.limits import allocation_seconds, check_date
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
    time_limit_seconds: Annotated[float, AfterValidator(allocation_seconds)] = Field(
        default=10.0, gt=0, le=300, description="At most MATCHING_ALLOCATION_MAX_SECONDS (default 60)."
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


def _jobs(request: Request) -> JobStore:
    store: JobStore = request.app.state.jobs
    return store


@router.post(
    "",
    status_code=202,
    responses={
        200: {"description": "Small instance: the result directly"},
        413: {"model": ErrorOut},
        403: {"model": ErrorOut, "description": "The area is not in the caller's remit"},
        **NOT_FOUND,
        **BAD_BODY,
    },
)
def start_allocation(request: Request, body: AllocationRequest, conn: ConnectionDep, caller: Allocator) -> JSONResponse:
    """Start an allocation of the waiting children of an authority or region in the caller's remit (all of their
    remit when neither is given), with the households of the agencies in their remit; a small one answers
    directly (200), a larger one returns a job (202) that only its starter can read."""
    check_date(request, conn, body.placement_date, ("body", "placement_date"))
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
    scope = caller.scope.narrowed(la_codes=_area(conn, caller, body))
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
        # ``scope``: the area's children and the households of the caller's agencies, nothing else.
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

    area = scope.la_codes or frozenset()
    caller.note.detail = f"area {', '.join(sorted(area))}"
    if waiting <= settings.allocation_direct_max_children:
        result = work(lambda _p, _s: None)
        caller.touch(_children(result))
        return JSONResponse(result, status_code=200)
    caller.audit_now(request.app.state.audit, 202)  # a batch over children starts only once it is recorded
    job = _jobs(request).submit("allocation", work, owner=caller.principal, area=area, touched=_children)
    return JSONResponse(job.view(), status_code=202, headers={"Location": f"/v1/allocations/{job.job_id}"})


@router.get("/{job_id}", responses=NOT_FOUND)
def allocation_status(request: Request, job_id: str, caller: Allocator) -> dict[str, Any]:
    """An allocation job the caller started: status, progress (percent) and, when done, the result; 404 for
    another's job, or one whose area is no longer in the caller's remit."""
    job = _jobs(request).get_for(job_id, "allocation", caller.principal)
    if job is None:
        raise HTTPException(status_code=404, detail=f"no allocation job {job_id!r}")
    caller.touch(job.child_ids)
    return job.view()


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


def _children(result: dict[str, Any]) -> frozenset[str]:
    """The children an allocation's result names (placed and not placed)."""
    return frozenset(
        str(row["child_id"])
        for key in ("assignments", "unplaced")
        for row in result.get(key) or []
        if "child_id" in row
    )


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
