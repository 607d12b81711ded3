"""The kinds of job: what each runs (in a job's own process), from the parameters stored with it.

A kind's ``run`` is a module-level function (it is handed to the job's process by reference):
``run(engine, parameters, progress, options) -> result``, where ``progress(percent, stage)`` records how far
it has got and raises :class:`JobStoppedError` once the job is no longer wanted, and ``options`` are the
runner's (the Dask scheduler for sufficiency runs).  ``touched(result)`` names the children a result holds,
for the audit of whoever reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Engine

from matching.domain import Scope

Progress = Callable[[int, str], None]
Run = Callable[[Engine, Mapping[str, Any], Progress, Mapping[str, Any]], dict[str, Any]]


class JobStoppedError(Exception):
    """The job was cancelled or interrupted while it ran: stop, and write nothing."""


def _nobody(_result: Mapping[str, Any]) -> frozenset[str]:
    return frozenset()


@dataclass(frozen=True)
class Kind:
    """One kind of job."""

    name: str
    run: Run
    touched: Callable[[Mapping[str, Any]], frozenset[str]] = _nobody


# --- allocation ---


def allocation_parameters(
    scope: Scope,
    on: date,
    *,
    time_limit_seconds: float,
    seed: int,
    objective: str,
    min_fit: float,
    max_distance_miles: float | None,
    keep_current: float | None,
    solver_workers: int = 2,
    no_worse_than_first_come: bool = True,
) -> dict[str, Any]:
    """What an allocation job stores: the caller's scope narrowed to the area (never unlimited), and how to solve."""
    if scope.la_codes is None or scope.agency_codes is None:
        raise ValueError("an allocation job needs a limited scope (authorities and agencies)")
    return {
        "la_codes": sorted(scope.la_codes),
        "agency_codes": sorted(scope.agency_codes),
        "on": on.isoformat(),
        "time_limit_seconds": time_limit_seconds,
        "seed": seed,
        "objective": objective,
        "min_fit": min_fit,
        "max_distance_miles": max_distance_miles,
        "keep_current": keep_current,
        "solver_workers": solver_workers,
        "no_worse_than_first_come": no_worse_than_first_come,
    }


def run_allocation(
    engine: Engine, parameters: Mapping[str, Any], progress: Progress, _options: Mapping[str, Any]
) -> dict[str, Any]:
    """An allocation of the area's waiting children to the households of the stored agencies (a proposal)."""
    from matching.allocation.service import allocate
    from matching.allocation.solver import SolverSettings
    from matching.fit_config import load_fit_config
    from matching.taxonomy import load_taxonomy

    p = parameters
    scope = Scope(la_codes=frozenset(p["la_codes"]), agency_codes=frozenset(p["agency_codes"]))
    progress(5, "reading the waiting children and households")
    with engine.connect() as conn:
        instance, result = allocate(
            conn,
            scope=scope,
            on=date.fromisoformat(p["on"]),
            cfg=load_fit_config(),
            taxonomy=load_taxonomy(),
            settings=SolverSettings(
                p["time_limit_seconds"],
                p["seed"],
                p.get("solver_workers", 2),
                objective=p["objective"],
                # Jobs stored before the guard was the default asked for children first.
                no_worse_than_first_come=bool(p.get("no_worse_than_first_come", False)),
            ),
            min_fit=p["min_fit"],
            max_distance_miles=p["max_distance_miles"],
            keep_current=p["keep_current"],
        )
    progress(95, "checking and summarising")
    return result.as_dict(instance)


def allocation_children(result: Mapping[str, Any]) -> frozenset[str]:
    """The children an allocation's result names (placed and not placed)."""
    return frozenset(
        str(row["child_id"])
        for key in ("assignments", "unplaced")
        for row in result.get(key) or []
        if isinstance(row, Mapping) and "child_id" in row
    )


# --- sufficiency ---


def sufficiency_parameters(scenario: Any) -> dict[str, Any]:
    """What a sufficiency job stores: the scenario (a :class:`~matching.sufficiency.scenario.Scenario`)."""
    return {"scenario": scenario.model_dump(mode="json")}


def run_sufficiency(
    engine: Engine, parameters: Mapping[str, Any], progress: Progress, options: Mapping[str, Any]
) -> dict[str, Any]:
    """A scenario's futures: in the job's process, or on the Dask scheduler named in ``options``."""
    from matching.sufficiency.scenario import Scenario, ScenarioError
    from matching.sufficiency.service import run_scenario

    scenario = Scenario.model_validate_json(orjson.dumps(parameters["scenario"]))
    scheduler = options.get("sufficiency_scheduler") or None
    progress(2, "estimating rates and building the scenario")
    with engine.connect() as conn:
        try:
            result = run_scenario(
                conn,
                scenario,
                scheduler=scheduler,
                workers=None if scheduler else 0,
                progress=lambda done, total: progress(5 + int(90 * done / max(1, total)), "simulating futures"),
            )
        except ScenarioError as exc:  # the caller's own scenario, answered to them as before
            return {"error": str(exc)}
    progress(98, "summarising")
    return result.as_dict()


ALLOCATION = Kind("allocation", run_allocation, allocation_children)
SUFFICIENCY = Kind("sufficiency", run_sufficiency)
KINDS: Mapping[str, Kind] = {k.name: k for k in (ALLOCATION, SUFFICIENCY)}
