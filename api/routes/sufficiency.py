"""Sufficiency runs: submitted as a job (the run goes on if the client goes away), polled for progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.deps import SufficiencyPlanner
from api.jobs import JobStore, Progress
from api.limits import ScenarioIn
from api.schemas import BAD_BODY, NOT_FOUND, ErrorOut
from matching.sufficiency.scenario import ScenarioError
from matching.sufficiency.service import area_las, run_scenario

router = APIRouter(prefix="/v1/sufficiency/runs", tags=["sufficiency"])


def _jobs(request: Request) -> JobStore:
    store: JobStore = request.app.state.jobs
    return store


@router.post(
    "",
    status_code=202,
    responses={
        **BAD_BODY,
        403: {"model": ErrorOut, "description": "The area is not in the caller's remit"},
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

    def work(progress: Progress) -> dict[str, Any]:
        progress(2, "estimating rates and building the scenario")
        with engine.connect() as conn:
            try:
                result = run_scenario(
                    conn, scenario, workers=0,
                    progress=lambda done, total: progress(5 + int(90 * done / max(1, total)), "simulating futures"),
                )  # fmt: skip
            except ScenarioError as exc:
                return {"error": str(exc)}
        progress(98, "summarising")
        return result.as_dict()

    caller.note.detail = f"area {', '.join(sorted(area))}"
    caller.audit_now(request.app.state.audit, 202)  # a batch over children starts only once it is recorded
    job = _jobs(request).submit("sufficiency", work, owner=caller.principal, area=area)
    return JSONResponse(job.view(), status_code=202, headers={"Location": f"/v1/sufficiency/runs/{job.job_id}"})


@router.get("/{job_id}", responses=NOT_FOUND)
def run_status(request: Request, job_id: str, caller: SufficiencyPlanner) -> dict[str, Any]:
    """A sufficiency run the caller started: status, progress (percent) and, when done, the results; 404 for
    another's run, or one whose area is no longer in the caller's remit."""
    job = _jobs(request).get_for(job_id, "sufficiency", caller.principal)
    if job is None:
        raise HTTPException(status_code=404, detail=f"no sufficiency run {job_id!r}")
    return job.view()
