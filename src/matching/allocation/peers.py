"""The peers an allocation is measured against in the same run: the same exact model, solved by others.

* **HiGHS** (through SciPy's ``milp``): every constraint family's rows
  (:mod:`matching.allocation.constraints`) as one integer programme, with the objective in
  hundredths (:func:`~matching.allocation.instance.arc_values`).  Not through OR-Tools' model
  builder: it reports a HiGHS run stopped by its time limit as an unknown status with neither the
  answer nor the bound HiGHS had (OR-Tools 9.15), so HiGHS would never be seen with a gap;
* **plain CP-SAT**: the CP-SAT model (:func:`~matching.allocation.model.build_model`) with the same
  objective, solved on the whole instance with no hint, no relaxation first and no neighbourhood
  search of ours.

Each is held to one time limit, counted from the start of building its model (as ours counts from
the start of solving), and reports its own answer's value, the bound it proved and its status; an
answer is checked by the validator (:func:`~matching.allocation.validate.violations`) before it is
reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import vstack

from matching.allocation.constraints import every_row
from matching.allocation.instance import SCALE, AllocationInstance, arc_values
from matching.allocation.model import build_model
from matching.allocation.result import OPTIMAL_GAP, relative_gap
from matching.allocation.validate import objective, violations

#: The shortest solve a peer is given when building its model took (nearly) all of its time.
MIN_SOLVE_SECONDS = 0.01


class PeerAnswerError(RuntimeError):
    """A peer's answer broke the rules (its model is not the specification's): a bug, never a figure."""


@dataclass(frozen=True)
class PeerResult:
    """What a peer reached in its time: its answer's objective and the bound it proved (both in points, as
    :class:`~matching.allocation.solver.AllocationResult` reports them; None when it has none), its
    status ("optimal", "feasible" or "no answer"), the seconds it took (building its model included)
    and those of building alone, its answer (unit -> arc index) and the solver's own word on how it stopped."""

    value: float | None
    bound: float | None
    status: str
    seconds: float
    build_seconds: float
    assignment: dict[int, int] = field(default_factory=dict, repr=False)
    solver_status: str = ""

    @property
    def gap(self) -> float | None:
        """(bound - value) / bound against its own bound (None without an answer or a bound)."""
        return gap(self.value, self.bound)


def gap(value: float | None, bound: float | None) -> float | None:
    """The relative gap of ``value`` below ``bound`` (0 when the bound is 0 or less; None without either)."""
    if value is None or bound is None or not np.isfinite(bound):
        return None
    return relative_gap(value, bound)


def highs(instance: AllocationInstance, time_limit: float, tolerance: float = OPTIMAL_GAP) -> PeerResult:
    """HiGHS on every family's rows with the allocation's objective, for ``time_limit`` seconds in all, stopping
    as optimal within the relative gap ``tolerance`` (by default our "optimal"'s, which is also HiGHS's own)."""
    began = time.perf_counter()
    n = len(instance.arcs)
    rows = [r for r in every_row(instance) if len(r)]
    if not rows:  # no arcs: nothing to place, proven
        return PeerResult(0.0, 0.0, "optimal", time.perf_counter() - began, time.perf_counter() - began)
    matrix = vstack([r.matrix(n) for r in rows], format="csr")
    upper = np.concatenate([r.upper for r in rows]).astype(np.float64)
    built = time.perf_counter() - began
    found = milp(
        -arc_values(instance).astype(np.float64),  # milp minimises
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        constraints=LinearConstraint(matrix, -np.inf, upper),
        options={"time_limit": max(MIN_SOLVE_SECONDS, time_limit - built), "disp": False, "mip_rel_gap": tolerance},
    )
    seconds = time.perf_counter() - began
    dual = getattr(found, "mip_dual_bound", None)
    bound = None if dual is None else _points(-dual)
    if found.x is None or found.status not in (0, 1):  # 0: optimal; 1: a limit reached
        return PeerResult(None, bound, "no answer", seconds, built, solver_status=found.message)
    status = "optimal" if found.status == 0 else "feasible"
    return _checked(instance, found.x, bound, status, seconds, built, found.message)


def plain_cpsat(instance: AllocationInstance, time_limit: float, seed: int = 2024, workers: int = 2) -> PeerResult:
    """CP-SAT on the whole model with the allocation's objective, for ``time_limit`` seconds in all, with
    ``workers`` workers and the random ``seed``: no hint, nothing of ours before or after."""
    began = time.perf_counter()
    model, x = build_model(instance)
    model.maximize(cp_model.LinearExpr.weighted_sum(x, arc_values(instance).tolist()))
    built = time.perf_counter() - began
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(MIN_SOLVE_SECONDS, time_limit - built)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    code = solver.solve(model)
    seconds = time.perf_counter() - began
    bound = _points(solver.best_objective_bound) if code != cp_model.UNKNOWN else None
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return PeerResult(None, bound, "no answer", seconds, built, solver_status=solver.status_name(code))
    values = np.array([solver.boolean_value(v) for v in x], dtype=np.float64)
    status = "optimal" if code == cp_model.OPTIMAL else "feasible"
    return _checked(instance, values, bound, status, seconds, built, solver.status_name(code))


def _points(hundredths: object) -> float | None:
    """A solver's objective figure in points, or None when it has none (missing, not a number, infinite)."""
    try:
        value = float(hundredths)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value / SCALE if np.isfinite(value) else None


def _checked(
    instance: AllocationInstance,
    x: np.ndarray,
    bound: float | None,
    status: str,
    seconds: float,
    built: float,
    solver_status: str,
) -> PeerResult:
    """The answer of the 0/1 values ``x`` (one per arc), validated, with its objective recomputed."""
    assignment: dict[int, int] = {}
    problems = []
    for k in np.flatnonzero(x > 0.5).tolist():
        unit = instance.arcs[k].unit
        if unit in assignment:
            problems.append(f"unit {instance.units[unit].unit_id} is given two households")
        assignment[unit] = k
    problems += violations(instance, assignment)
    if problems:
        raise PeerAnswerError("; ".join(problems[:5]))
    return PeerResult(objective(instance, assignment), bound, status, seconds, built, assignment, solver_status)
