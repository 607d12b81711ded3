"""Sufficiency runs: submitted as a job (the run goes on if the client goes away), polled for progress, cancelled
with DELETE, restarted after an interruption."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api import jobs
from api.deps import SufficiencyPlanner
from api.jobs import ENDED_ALREADY, NOT_INTERRUPTED, QUEUE_FULL, JobOut
from api.limits import ScenarioIn
from api.schemas import BAD_BODY, NOT_FOUND, ErrorOut
from matching.jobs.kinds import sufficiency_parameters
from matching.sufficiency.scenario import ScenarioError
from matching.sufficiency.service import area_las

router = APIRouter(prefix="/v1/sufficiency/runs", tags=["sufficiency"], route_class=jobs.JobRoute)
KIND, NOUN = "sufficiency", "sufficiency run"


@router.post(
    "",
    status_code=202,
    responses={
        **BAD_BODY,
        202: {"model": JobOut, "description": "The run's job (Location: where to follow it)"},
        403: {"model": ErrorOut, "description": "The area is not in the caller's remit"},
        **QUEUE_FULL,
    },
)
def start_run(request: Request, scenario: ScenarioIn, caller: SufficiencyPlanner) -> JSONResponse:
    """Start a scenario run over an area in the caller's remit (the body is a scenario, as in data/scenarios/);
    202 with the job and its Location (only its starter can read it)."""
    engine = request.app.state.engine
    with engine.connect() as conn:
        try:
            area = frozenset(area_las(conn, scenario))
        except ScenarioError as exc:
            field = str(exc).split(":", 1)[0]
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body", *field.split(".")), "msg": str(exc), "input": None}]
            ) from None
    if outside := sorted(area - caller.principal.remit.la_codes):
        raise HTTPException(
            status_code=403, detail=f"the area has authorities outside your remit: {', '.join(outside)}"
        )

    caller.note.detail = f"area {', '.join(sorted(area))}"
    jobs.ensure_room(request, caller)
    caller.audit_now(request.app.state.audit, 202)  # a batch over children starts only once it is recorded
    job = jobs.submit(request, caller, KIND, sufficiency_parameters(scenario), area)
    return jobs.started(job, f"/v1/sufficiency/runs/{job.job_id}")


@router.get("/{job_id}", response_model=JobOut, responses=NOT_FOUND)
def run_status(request: Request, job_id: str, caller: SufficiencyPlanner) -> dict[str, Any]:
    """A sufficiency run the caller started: status, progress (percent) and, when done, the results; 404 for
    another's run, or one whose area is no longer in the caller's remit."""
    return jobs.job_for(request, job_id, KIND, caller, NOUN).view()


@router.delete("/{job_id}", response_model=JobOut, responses={**NOT_FOUND, **ENDED_ALREADY})
def cancel_run(request: Request, job_id: str, caller: SufficiencyPlanner) -> dict[str, Any]:
    """Cancel a sufficiency run the caller started: a queued run never starts, a running one is stopped; the job
    stays readable (status ``cancelled``) until it expires.  404 for another's run, 409 once it has ended."""
    return jobs.cancel(request, job_id, KIND, caller, NOUN)


@router.post(
    "/{job_id}/restart",
    status_code=202,
    response_model=JobOut,
    responses={**NOT_FOUND, **NOT_INTERRUPTED, **QUEUE_FULL},
)
def restart_run(request: Request, job_id: str, caller: SufficiencyPlanner) -> JSONResponse:
    """Queue again a sufficiency run of the caller's that was interrupted (the service stopped while it ran), with
    the same scenario; 409 for any other run."""
    again = jobs.restart(request, job_id, KIND, caller, NOUN)
    return jobs.started(again, f"/v1/sufficiency/runs/{again.job_id}")
