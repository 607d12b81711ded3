"""How far the batch allocation is from optimal, and where the gap lies: bounds and answers side by side.

On the national benchmark instance (``--regional`` for the regional one), in urgency-weighted
children placed (the first part of the lexicographic objective, which decides the gap):

* the bound ``solve`` reports (the flow relaxation's, or the household bound when it is ready in time);
* the linear relaxation of the exact room constraints (GLOP);
* the household bound (:mod:`matching.allocation.bound`) at that relaxation's dual prices: for each
  household, its best set of units that may live there together under every rule (room, usual limit,
  solo, who can live with whom); valid for any prices; and tightened by column generation for up to
  ``--columns`` seconds, alone on the machine, started from the households of the ``--long`` answer
  (the best bound any prices give, once it converges);
* our answer at the benchmark's limit and at ``--long`` seconds;
* the same instance without the rules between children (solo, who they can live alongside, risks to
  others): our answer, and with ``--highs`` the optimum proven by HiGHS (several minutes).

Run: ``.venv/bin/python benchmarks/allocation_gap.py [--long 60] [--columns 120] [--highs] [--regional]``.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from bench_allocation import ON, prepare, scopes
from ortools.linear_solver.python import model_builder as mb

from matching.allocation.bound import column_generation, household_bound, lp_prices, room_relaxation
from matching.allocation.instance import AllocationInstance, build_instance
from matching.allocation.solver import SolverSettings, solve
from matching.domain import Scope
from matching.eligibility.rules import reach
from matching.fit_config import load_fit_config
from matching.ranking.pool import HouseholdPool
from matching.ranking.service import waiting_requests
from matching.store import queries
from matching.taxonomy import load_taxonomy


def relaxation(instance: AllocationInstance, *, integer: bool, seconds: float = 600.0) -> tuple[float, float, str]:
    """:func:`matching.allocation.bound.room_relaxation` (no rules between units) as an LP (GLOP) or a
    MIP (HiGHS).  Returns value, bound and status."""
    model, ok = room_relaxation(instance)
    if integer:
        for i in range(len(ok)):
            model.helper.set_var_integrality(i, True)
    solver = mb.Solver("highs" if integer else "glop")
    solver.set_time_limit_in_seconds(seconds)
    code = solver.solve(model)
    status = {mb.SolveStatus.OPTIMAL: "optimal", mb.SolveStatus.FEASIBLE: "feasible"}.get(code, "no answer")
    return solver.objective_value, solver.best_objective_bound if integer else solver.objective_value, status


def weighted(instance: AllocationInstance, assignment: dict[int, int]) -> int:
    """Urgency-weighted children placed."""
    return sum(instance.units[u].weight for u in assignment)


def main() -> None:
    """Bounds and answers for one benchmark instance."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--long", type=float, default=60.0)
    ap.add_argument("--highs", action="store_true", help="prove the optimum without the rules (minutes)")
    ap.add_argument("--regional", action="store_true")
    ap.add_argument("--columns", type=float, default=120.0, help="seconds of column generation, at most")
    args = ap.parse_args()
    cfg, taxonomy = load_fit_config(), load_taxonomy()
    with prepare(args.workdir).connect() as conn:  # bench_allocation's store, its waiting list topped up
        label, scope, _ = scopes(conn)[0 if args.regional else 1]
        requests = waiting_requests(conn, scope=scope, on=ON)
        households = queries.households_with_room(
            conn, scope=Scope(agency_codes=scope.agency_codes), taxonomy=taxonomy, within=reach(requests, cfg)
        )
    instance = build_instance(HouseholdPool(households, taxonomy, cfg), requests)
    cw = instance.child_weight
    print(f"{label}: {len(instance.units):,} units, {len(instance.arcs):,} eligible pairs")
    print("Bounds on urgency-weighted children placed (lower is tighter):")
    result = solve(instance, SolverSettings(time_limit_seconds=args.time_limit))
    print(
        f"  what solve reports ({result.bound_source}){'':>{22 - len(result.bound_source)}s}{result.bound / cw:10.1f}"
    )
    answers = {args.time_limit: weighted(instance, result.assignment)}
    longer = solve(instance, SolverSettings(time_limit_seconds=args.long))
    answers[args.long] = weighted(instance, longer.assignment)
    t = time.perf_counter()
    lp, _, status = relaxation(instance, integer=False)
    print(f"  linear relaxation, exact room ({status})   {lp:10.1f}   {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    prices = lp_prices(instance)
    assert prices is not None, "GLOP did not solve the linear relaxation"
    print(f"  its prices (bound.lp_prices)                {'':10s}   {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    lagrange = household_bound(instance, prices) or math.inf
    print(f"  household bound at them, every rule         {lagrange:10.1f}   {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    households: dict[int, list[int]] = defaultdict(list)
    for u, k in longer.assignment.items():  # the best allocation found starts the programme off
        households[instance.arcs[k].household].append(u)
    converged = column_generation(instance, prices, t + args.columns, columns=households.items()) or math.inf
    print(f"  household bound, column generation          {converged:10.1f}   {time.perf_counter() - t:.1f} s")
    lagrange = min(lagrange, converged)
    print("Answers (urgency-weighted children placed; gap against the household bound):")
    for seconds, value in answers.items():
        print(f"  solve, {seconds:g} s{'':29s}{value:10d}   gap {(lagrange - value) / lagrange:.2%}")
    plain = AllocationInstance(
        [replace(u, limits=tuple(() for _ in u.child_ids)) for u in instance.units],
        instance.households,
        instance.arcs,
    )
    result = solve(plain, SolverSettings(time_limit_seconds=args.time_limit))
    print("Without the rules between children:")
    print(
        f"  what solve reports ({result.bound_source}){'':>{22 - len(result.bound_source)}s}{result.bound / cw:10.1f}"
    )
    print(f"  solve, {args.time_limit:g} s{'':29s}{weighted(plain, result.assignment):10d}")
    if args.highs:
        t = time.perf_counter()
        best, proven, status = relaxation(plain, integer=True)
        print(f"  HiGHS MIP ({status}): {best:.0f}, bound {proven:.1f}, {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
