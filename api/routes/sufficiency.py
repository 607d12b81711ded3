"""Sufficiency runs: submitted as a job (the run goes on if the client goes away), polled for progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.jobs import JobStore, Progress
from api.schemas import BAD_BODY, NOT_FOUND
from matching.sufficiency.scenario import Scenario, ScenarioError
from matching.sufficiency.service import area_las, run_scenario

router = APIRouter(prefix="/v1/sufficiency/runs", tags=["sufficiency"])
MAX_API_FUTURES = 20_000


def _jobs(request: Request) -> JobStore:
    store: JobStore = request.app.state.jobs
    return store


@router.post("", status_code=202, responses={**BAD_BODY, 413: {"description": "Too many futures for the API"}})
def start_run(request: Request, scenario: Scenario) -> JSONResponse:
    """Start a scenario run (the body is a scenario, as in data/scenarios/); 202 with the job and its Location."""
    if scenario.simulations > MAX_API_FUTURES:
        raise HTTPException(status_code=413, detail=f"at most {MAX_API_FUTURES} futures through the API; use the CLI")
    engine = request.app.state.engine
    with engine.connect() as conn:
        try:
            area_las(conn, scenario)
        except ScenarioError as exc:
            field = str(exc).split(":", 1)[0]
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body", *field.split(".")), "msg": str(exc), "input": None}]
            ) from None

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

    job = _jobs(request).submit("sufficiency", work)
    return JSONResponse(job.view(), status_code=202, headers={"Location": f"/v1/sufficiency/runs/{job.job_id}"})


@router.get("/{job_id}", responses=NOT_FOUND)
def run_status(request: Request, job_id: str) -> dict[str, Any]:
    """A sufficiency run: status, progress (percent) and, when done, the results."""
    job = _jobs(request).get(job_id)
    if job is None or job.kind != "sufficiency":
        raise HTTPException(status_code=404, detail=f"no sufficiency run {job_id!r}")
    return job.view()
