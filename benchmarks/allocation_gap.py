"""How far the batch allocation is from optimal, and where the gap lies: bounds and answers side by side.

On the national benchmark instance (``--regional`` for the regional one), in urgency-weighted
children placed (the first part of the lexicographic objective, which decides the gap):

* the flow relaxation's bound, which ``solve`` reports;
* the linear relaxation of the exact room constraints (GLOP), and its dual prices;
* a Lagrangian bound at those prices: for each household, its best set of units that may live there
  together under every rule (room, usual limit, solo, who can live with whom); valid for any prices;
* our answer at the benchmark's limit and at ``--long`` seconds;
* the same instance without the rules between children (solo, who they can live alongside, risks to
  others): our answer, and with ``--highs`` the optimum proven by HiGHS (several minutes).

Run: ``.venv/bin/python benchmarks/allocation_gap.py [--long 60] [--highs] [--regional]``.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from bench_allocation import build, scopes
from ortools.linear_solver import pywraplp

from matching.allocation.instance import AllocationInstance
from matching.allocation.model import room_weights, usable
from matching.allocation.solver import SolverSettings, solve
from matching.allocation.validate import fits
from matching.store.engine import make_engine


def relaxation(
    instance: AllocationInstance, *, integer: bool, seconds: float = 600.0
) -> tuple[float, float, np.ndarray, str]:
    """Max urgency-weighted children under one household per unit and the exact room constraints (a
    unit that must live alone weighs the whole room), without the rules between units: as an LP
    (GLOP, with each unit's dual price) or a MIP (HiGHS).  Returns value, bound, prices and status."""
    solver = pywraplp.Solver.CreateSolver("HIGHS" if integer else "GLOP")
    solver.SetTimeLimit(int(seconds * 1000))
    ok = np.flatnonzero(usable(instance)).tolist()
    x = {k: solver.BoolVar("") if integer else solver.NumVar(0, 1, "") for k in ok}
    by_unit: dict[int, list[int]] = defaultdict(list)
    by_household: dict[int, list[int]] = defaultdict(list)
    for k in ok:
        by_unit[instance.arcs[k].unit].append(k)
        by_household[instance.arcs[k].household].append(k)
    one = []
    for u in range(len(instance.units)):
        one.append(solver.Constraint(-solver.infinity(), 1))
        for k in by_unit[u]:
            one[u].SetCoefficient(x[k], 1)
    for h, arcs in by_household.items():
        r, weights = room_weights(instance, h, arcs)
        c = solver.Constraint(-solver.infinity(), r)
        for k, weight in zip(arcs, weights, strict=True):
            c.SetCoefficient(x[k], weight)
    objective = solver.Objective()
    for k in ok:
        objective.SetCoefficient(x[k], instance.units[instance.arcs[k].unit].weight)
    objective.SetMaximization()
    status = {solver.OPTIMAL: "optimal", solver.FEASIBLE: "feasible"}.get(solver.Solve(), "no answer")
    if integer:
        return objective.Value(), objective.BestBound(), np.zeros(len(one)), status
    return objective.Value(), objective.Value(), np.array([max(0.0, c.dual_value()) for c in one]), status


def lagrangian(instance: AllocationInstance, prices: np.ndarray) -> float:
    """An upper bound on urgency-weighted children placed: the prices, plus in every household the
    best priced set of units that may live there together (:func:`matching.allocation.validate.fits`)."""
    by_household: dict[int, list[int]] = defaultdict(list)
    for k in np.flatnonzero(usable(instance)).tolist():
        by_household[instance.arcs[k].household].append(instance.arcs[k].unit)
    total = float(prices.sum())
    for h, units in by_household.items():
        gains = sorted((instance.units[u].weight - prices[u], u) for u in units if instance.units[u].weight > prices[u])
        total += _best_set(instance, h, gains[::-1])
    return total


def _best_set(instance: AllocationInstance, h: int, gains: list[tuple[float, int]]) -> float:
    """The largest total gain of units (``gains``: best first) that may all live in household ``h``."""
    room = instance.households[h]
    r = room.places
    best = 0.0
    shared = []
    for gain, u in gains:
        if room.must_live_alone(instance.units[u]):
            if fits(instance, [], u, h):  # lives there alone
                best = max(best, gain)
        else:
            shared.append((gain, u))

    def search(start: int, chosen: list[int], used: int, value: float) -> None:
        nonlocal best
        best = max(best, value)
        for i in range(start, len(shared)):
            gain, u = shared[i]
            if value + gain * (r - used) <= best:
                return  # every later unit gains at most this much and takes at least one place
            size = instance.units[u].size
            if used + size <= r and fits(instance, chosen, u, h):
                search(i + 1, [*chosen, u], used + size, value + gain)

    search(0, [], 0, 0.0)
    return best


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
    args = ap.parse_args()
    with make_engine(f"sqlite:///{args.workdir / 'las150-seed2024.db'}").connect() as conn:
        label, scope, _ = scopes(conn)[0 if args.regional else 1]
        instance = build(conn, scope, 1000 if args.regional else 10_000)
    cw = instance.child_weight
    print(f"{label}: {len(instance.units):,} units, {len(instance.arcs):,} eligible pairs")
    print("Bounds on urgency-weighted children placed (lower is tighter):")
    result = solve(instance, SolverSettings(time_limit_seconds=args.time_limit))
    print(f"  flow relaxation (what solve reports)       {result.bound / cw:10.1f}")
    answers = {args.time_limit: weighted(instance, result.assignment)}
    answers[args.long] = weighted(instance, solve(instance, SolverSettings(time_limit_seconds=args.long)).assignment)
    t = time.perf_counter()
    lp, _, prices, status = relaxation(instance, integer=False)
    print(f"  linear relaxation, exact room ({status})   {lp:10.1f}   {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    lagrange = lagrangian(instance, prices)
    print(f"  Lagrangian at its prices, every rule        {lagrange:10.1f}   {time.perf_counter() - t:.1f} s")
    print("Answers (urgency-weighted children placed; gap against the Lagrangian bound):")
    for seconds, value in answers.items():
        print(f"  solve, {seconds:g} s{'':29s}{value:10d}   gap {(lagrange - value) / lagrange:.2%}")
    plain = AllocationInstance(
        [replace(u, live_alongside="any", risks_to_others=()) for u in instance.units],
        instance.households,
        instance.arcs,
    )
    result = solve(plain, SolverSettings(time_limit_seconds=args.time_limit))
    print("Without the rules between children:")
    print(f"  flow relaxation                            {result.bound / cw:10.1f}")
    print(f"  solve, {args.time_limit:g} s{'':29s}{weighted(plain, result.assignment):10d}")
    if args.highs:
        t = time.perf_counter()
        best, proven, _, status = relaxation(plain, integer=True)
        print(f"  HiGHS MIP ({status}): {best:.0f}, bound {proven:.1f}, {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
