"""Solving an allocation with OR-Tools, checked, with reasons for the unplaced and the baselines beside it.

The objective is lexicographic: first the urgency-weighted number of children placed (a child
needed today counts as four needed later), then the sum of fit scores.  ``objective`` and
``bound`` are reported as (children-equivalents placed, fit) through one number,
``child_weight x children + fit``; ``gap`` is relative to that bound.

The exact model is CP-SAT over the eligible arcs only (:mod:`matching.allocation.model`: one
boolean each, linear constraints whose relaxation is tight).  Solving, within one time limit:

1. a min-cost-flow relaxation (siblings splittable, no rules between units) gives an upper bound,
   and is rounded into a valid allocation (:mod:`matching.allocation.rounding`: where the flow breaks
   a rule, units are pinned and the flow solved again on the rest, so that long chains of moves stay
   possible), for at most 70% of the time;
2. what rounding leaves open (and units it could not place that still have a household with room)
   is solved exactly by CP-SAT on the room the rest leave (on a large remainder, for children placed
   first);
3. large-neighbourhood search: around each unplaced unit, the units competing for its households are
   freed and re-solved exactly, keeping only improvements;
4. on an instance small enough, and with time to build it, the exact model on the whole instance,
   hinted with that answer, closes or proves the gap, and its proven bound replaces the flow's when
   tighter.

Meanwhile, on a thread of its own, the household bound (:mod:`matching.allocation.bound`: the linear
relaxation's prices, then each household's best set under every rule) replaces the flow's bound
when it is tighter and ready in time.

The greedy answer is a floor: never worse.  Solver settings (time limit, seed, workers) are
explicit, and so is the status.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from ortools.sat.python import cp_model

from matching import codes
from matching.allocation.baselines import first_come_first_served, greedy_best_pair
from matching.allocation.bound import BackgroundBound, objective_bound
from matching.allocation.instance import (
    SCALE,
    AllocationInstance,
    Arc,
    HouseholdRoom,
    arc_values,
    canonical,
    units_conflict,
)
from matching.allocation.model import build_model, usable
from matching.allocation.rounding import round_flow
from matching.allocation.validate import objective, violations
from matching.eligibility.rules import sibling_clashes

ROUNDING_SHARE = 0.7  # of the time limit, at most, for rounding the flow relaxation
BOUND_SHARE = 0.8  # of the time limit, at most, for the household bound on a thread of its own
REMAINDER_SHARE = 0.6  # of the time left, for the exact model on what the relaxation leaves open
BUILD_SECONDS_PER_ARC = 30e-6  # building the exact model from Python (measured: about 1 s for 39,000 pairs)
CHILDREN_FIRST_ARCS = 5_000  # remainders larger than this are solved for children placed first
NEIGHBOURHOOD_MIN_SECONDS = 0.1  # no neighbourhood is built with less time than this left to solve it


class AllocationError(RuntimeError):
    """A solution failed validation: a bug, never returned to a user as an answer."""


@dataclass(frozen=True)
class SolverSettings:
    """How hard and how reproducibly to solve."""

    time_limit_seconds: float = 10.0
    random_seed: int = 2024
    workers: int = 2
    #: Up to this many eligible pairs, an answer with a gap is re-solved with the exact model on the
    #: whole instance (hinted with it) to close or prove it.
    full_model_max_arcs: int = 60_000
    #: "total": children placed (urgency-weighted), then total fit.  "fairness": as many children
    #: placed, then the worst-off placed child's fit as high as it can be, then total fit.
    objective: str = "total"
    #: Large-neighbourhood search after the first answer: units freed around each unplaced unit, and
    #: the longest one neighbourhood may take.
    neighbourhood_units: int = 150
    neighbourhood_seconds: float = 1.0


@dataclass
class AllocationResult:
    """A proposed allocation: what the solver proved, who goes where, who does not and why."""

    status: str
    objective: float
    bound: float
    gap: float
    solve_seconds: float
    assignment: dict[int, int]
    fit: float = 0.0
    #: What proves ``bound``: "flow" (the relaxation), "households" (the Lagrangian bound, every rule
    #: kept) or "exact model" (CP-SAT on the whole instance).
    bound_source: str = "flow"
    unplaced: list[dict[str, str]] = field(default_factory=list)
    levers: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self, instance: AllocationInstance) -> dict[str, Any]:
        """The JSON shape of ``matching allocate --json``."""
        assignments = []
        ctx = instance.context
        for u, k in sorted(self.assignment.items(), key=lambda kv: instance.units[kv[0]].unit_id):
            arc = instance.arcs[k]
            # Restrictions between siblings placed together: the care plan's to confirm, shown with each child.
            warnings = [] if ctx is None else [c.sentence() for c in sibling_clashes(ctx.requests[u])]
            for child in instance.units[u].child_ids:
                assignments.append(
                    {
                        "child_id": child,
                        "household_id": instance.households[arc.household].household_id,
                        "score": round(arc.score, 2),
                        "unit_id": instance.units[u].unit_id,
                        "warnings": warnings,
                    }
                )
        return {
            "status": self.status,
            "objective": round(self.objective, 3),
            "bound": round(self.bound, 3),
            "bound_source": self.bound_source,
            "gap": round(self.gap, 8),
            "fit": round(self.fit, 3),
            "solve_seconds": round(self.solve_seconds, 3),
            "assignments": assignments,
            "unplaced": self.unplaced,
            "levers": self.levers,
            "summary": self.summary,
            "baselines": self.baselines,
            "note": "A proposal for a named officer to consider: nothing here changes a child's placement.",
        }


def solve(instance: AllocationInstance, settings: SolverSettings | None = None) -> AllocationResult:
    """The best allocation found within the time limit, validated, with reasons, summary and baselines.

    The instance is solved in canonical order, so the same instance gives the same answer whatever
    the order it was given in (with a fixed seed and worker count).
    """
    ordered, original_arc = canonical(instance)
    result = _solve(ordered, settings or SolverSettings())
    result.assignment = {instance.arcs[original_arc[k]].unit: original_arc[k] for k in result.assignment.values()}
    return result


def _solve(instance: AllocationInstance, settings: SolverSettings) -> AllocationResult:
    started = time.perf_counter()
    deadline = started + settings.time_limit_seconds
    households_bound = BackgroundBound(instance, started + BOUND_SHARE * settings.time_limit_seconds)
    greedy = greedy_best_pair(instance)
    rounding = round_flow(instance, started + ROUNDING_SHARE * settings.time_limit_seconds)
    bound, fixed = rounding.bound, rounding.decided
    bound_source = "flow"
    arcs_of_unit = instance.arcs_of_unit()
    sub, arc_back = _remainder(instance, fixed, _still_free(instance, fixed, rounding.open_units), arcs_of_unit)
    first = replace(settings, time_limit_seconds=max(0.1, REMAINDER_SHARE * (deadline - time.perf_counter())))
    sub_assignment, code = _cpsat(sub, first, greedy_best_pair(sub), children_only=len(sub.arcs) > CHILDREN_FIRST_ARCS)
    if code != cp_model.OPTIMAL:  # the rounded flow, completed by CP-SAT's best or the greedy on what it left
        code = cp_model.FEASIBLE
    assignment = dict(fixed) | {instance.arcs[arc_back[k]].unit: arc_back[k] for k in sub_assignment.values()}
    if objective(instance, greedy) > objective(instance, assignment):  # never worse than the greedy baseline
        assignment, code = greedy, -1
    proven = not fixed and code == cp_model.OPTIMAL
    # The exact model on the whole instance, when it is small enough and there is time to build and solve it.
    build_seconds = BUILD_SECONDS_PER_ARC * len(instance.arcs)
    whole_model = len(instance.arcs) <= settings.full_model_max_arcs and (
        deadline - time.perf_counter() >= 4 * build_seconds
    )
    if not proven and objective(instance, assignment) < bound:
        # Improve by neighbourhoods; on an instance small enough, leave half the time to the whole model.
        until = deadline if not whole_model else time.perf_counter() + 0.5 * (deadline - time.perf_counter())
        improved = _improve(instance, assignment, settings, until, arcs_of_unit)
        if improved is not assignment:
            assignment, code = improved, cp_model.FEASIBLE
    if not proven and objective(instance, assignment) < bound and whole_model:
        left = max(0.1, deadline - time.perf_counter() - build_seconds)
        cp_bound: list[float] = []
        whole, whole_code = _cpsat(instance, replace(settings, time_limit_seconds=left), assignment, cp_bound)
        if whole_code in (cp_model.OPTIMAL, cp_model.FEASIBLE) and objective(instance, whole) >= objective(
            instance, assignment
        ):
            assignment, code, fixed = whole, whole_code, {}
        proven = whole_code == cp_model.OPTIMAL and objective(instance, whole) >= objective(instance, assignment)
        if cp_bound and cp_bound[0] < bound:  # the exact model's own bound is valid for the whole instance
            bound, bound_source = cp_bound[0], "exact model"
    fair_code = None
    if settings.objective == "fairness":
        left = max(0.1, deadline - time.perf_counter())
        fair, fair_code = _fairest(instance, replace(settings, time_limit_seconds=left), assignment)
        if fair_code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            assignment, code = fair, fair_code
    problems = violations(instance, assignment)
    if problems:
        raise AllocationError("; ".join(problems[:5]))
    value = objective(instance, assignment)
    placed = sum(instance.units[u].weight for u in assignment)
    children = None if proven else households_bound.children(wait_until=deadline, enough=placed)
    households_bound.close()
    tighter = math.inf if children is None else objective_bound(instance, children)
    if tighter < bound:
        bound, bound_source = tighter, "households"
    elapsed = time.perf_counter() - started
    if proven:
        bound, bound_source = value, "exact model"  # the whole instance, proven optimal by CP-SAT
    bound = max(value, bound)
    gap = 0.0 if bound <= 0 else (bound - value) / bound
    if fair_code is not None:
        # The fairness objective: optimal when CP-SAT proves the worst-off child's fit (then the total)
        # as high as it can be among allocations placing at least as many children.
        status = "optimal" if fair_code == cp_model.OPTIMAL else ("feasible" if code != -1 else "timeout_greedy")
    elif gap <= 1e-12:
        status = "optimal"
    elif code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        status = "feasible"
    else:
        status = "timeout_greedy"
    fit = sum(instance.arcs[k].score for k in assignment.values())
    result = AllocationResult(status, value, bound, gap, elapsed, assignment, fit, bound_source)
    result.unplaced = unplaced_reasons(instance, assignment)
    result.levers = suggested_levers(instance, assignment)
    result.summary = summarise(instance, assignment)
    result.baselines = {
        "first_come_first_served": summarise(instance, first_come_first_served(instance)),
        "greedy_best_pair": summarise(instance, greedy),
    }
    return result


def _still_free(instance: AllocationInstance, fixed: dict[int, int], open_units: set[int]) -> set[int]:
    """The units left to solve once ``fixed`` are in: the ``open`` ones, and every unplaced unit with
    an eligible household that still has room."""
    places = [room.places for room in _rooms_after(instance, fixed)]
    reachable = {arc.unit for arc in instance.arcs if arc.unit not in fixed and places[arc.household] >= 1}
    return set(open_units) | reachable


def _rooms_after(instance: AllocationInstance, fixed: dict[int, int]) -> list[HouseholdRoom]:
    """Every household's room once the ``fixed`` units (unit -> arc) are in."""
    taken = _units_by_household(instance, fixed)
    return [room.after([instance.units[u] for u in taken[h]]) for h, room in enumerate(instance.households)]


def _units_by_household(instance: AllocationInstance, assignment: dict[int, int]) -> dict[int, list[int]]:
    """The units of ``assignment`` (unit -> arc) in each household."""
    out: dict[int, list[int]] = defaultdict(list)
    for u, k in assignment.items():
        out[instance.arcs[k].household].append(u)
    return out


def _remainder(
    instance: AllocationInstance, fixed: dict[int, int], free: set[int], arcs_of_unit: dict[int, list[int]]
) -> tuple[AllocationInstance, list[int]]:
    """The free units on the room the fixed ones leave, as an instance of its own, and for each of its
    arcs the original arc: only pairs with room left (:func:`matching.allocation.model.usable`) and
    nobody fixed there the unit cannot live with."""
    taken = _units_by_household(instance, fixed)
    rooms = _rooms_after(instance, fixed)
    units = sorted(free)
    position = {u: i for i, u in enumerate(units)}
    arcs: list[Arc] = []
    back: list[int] = []
    for k in sorted(k for u in units for k in arcs_of_unit.get(u, ())):
        arc = instance.arcs[k]
        me = instance.units[arc.unit]
        if any(units_conflict(me, instance.units[v]) for v in taken[arc.household]):
            continue
        arcs.append(Arc(position[arc.unit], arc.household, arc.score, arc.distance_miles))
        back.append(k)
    chosen = [instance.units[u] for u in units]
    ok = usable(AllocationInstance(chosen, rooms, arcs)).tolist()
    arcs, back = (
        [a for a, keep in zip(arcs, ok, strict=True) if keep],
        [k for k, keep in zip(back, ok, strict=True) if keep],
    )
    return AllocationInstance(chosen, rooms, arcs), back


def _improve(
    instance: AllocationInstance,
    assignment: dict[int, int],
    settings: SolverSettings,
    deadline: float,
    arcs_of_unit: dict[int, list[int]],
) -> dict[int, int]:
    """Large-neighbourhood search until ``deadline``: around each unplaced unit (most urgent first), free
    the units that compete for the same households, and those units' other households, and re-solve
    that neighbourhood exactly on the room the rest leave; keep an answer only if it is better."""
    arcs_of_household = instance.arcs_of_household()
    current = objective(instance, assignment)
    tried: set[int] = set()
    order = sorted(arcs_of_unit, key=lambda u: (-instance.units[u].weight, u))
    for seed in order:
        if time.perf_counter() >= deadline - NEIGHBOURHOOD_MIN_SECONDS:
            break
        if seed in assignment or seed in tried:
            continue
        hood = _neighbourhood(instance, seed, arcs_of_unit, arcs_of_household, settings.neighbourhood_units)
        tried |= {u for u in hood if u not in assignment}
        fixed = {u: k for u, k in assignment.items() if u not in hood}
        sub, back = _remainder(instance, fixed, hood, arcs_of_unit)
        position = {k: j for j, k in enumerate(back)}
        hint = {sub.arcs[position[k]].unit: position[k] for u, k in assignment.items() if u in hood and k in position}
        left = min(settings.neighbourhood_seconds, deadline - time.perf_counter())
        if left < NEIGHBOURHOOD_MIN_SECONDS:
            break
        found, code = _cpsat(sub, replace(settings, time_limit_seconds=left), hint)
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            continue
        candidate = fixed | {instance.arcs[back[j]].unit: back[j] for j in found.values()}
        value = objective(instance, candidate)
        if value > current:
            assignment, current = candidate, value
    return assignment


def _neighbourhood(
    instance: AllocationInstance,
    seed: int,
    arcs_of_unit: dict[int, list[int]],
    arcs_of_household: dict[int, list[int]],
    limit: int,
) -> set[int]:
    """Up to ``limit`` units reachable from ``seed`` through shared households (breadth first, in index
    order): the units a better answer for ``seed`` would have to move."""
    hood = {seed}
    frontier = [seed]
    seen_households: set[int] = set()
    while frontier and len(hood) < limit:
        nxt: list[int] = []
        for u in frontier:
            for h in sorted({instance.arcs[k].household for k in arcs_of_unit[u]} - seen_households):
                seen_households.add(h)
                for k in arcs_of_household[h]:
                    v = instance.arcs[k].unit
                    if v not in hood:
                        hood.add(v)
                        nxt.append(v)
                        if len(hood) >= limit:
                            return hood
        frontier = nxt
    return hood


def _fairest(
    instance: AllocationInstance, settings: SolverSettings, best: dict[int, int]
) -> tuple[dict[int, int], Any]:
    """Among allocations placing as many (urgency-weighted) children as ``best``, the one whose worst-off
    placed child fits best, then the most total fit (exact model, hinted with ``best``)."""
    if not instance.arcs:
        return {}, cp_model.OPTIMAL
    model, x = build_model(instance)
    placed = [round(instance.value(arc) * SCALE) - round(arc.score * SCALE) for arc in instance.arcs]
    model.add(sum(w * x[k] for k, w in enumerate(placed)) >= sum(placed[k] for k in best.values()))
    scores = [round(arc.score * SCALE) for arc in instance.arcs]
    worst = model.new_int_var(0, max(scores), "worst_fit")
    for k, s in enumerate(scores):
        model.add(worst <= s).only_enforce_if(x[k])
    big = sum(sorted(scores, reverse=True)[: len(instance.units)]) + 1
    model.maximize(worst * big + sum(s * x[k] for k, s in enumerate(scores)))
    return _run(model, x, instance, settings, best)


def _cpsat(
    instance: AllocationInstance,
    settings: SolverSettings,
    greedy: dict[int, int],
    bound_out: list[float] | None = None,
    *,
    children_only: bool = False,
) -> tuple[dict[int, int], Any]:
    """The exact model on ``instance``: its best assignment within the limit and the CP-SAT status
    (and, into ``bound_out``, CP-SAT's proven upper bound in objective units).  ``children_only``
    maximises the urgency-weighted children placed alone: small coefficients, which CP-SAT solves far
    faster on large remainders, leaving fit to the neighbourhood search."""
    if not instance.arcs:
        return {}, cp_model.OPTIMAL
    model, x = build_model(instance)
    if children_only:
        model.maximize(cp_model.LinearExpr.weighted_sum(x, [instance.units[a.unit].weight for a in instance.arcs]))
    else:
        model.maximize(cp_model.LinearExpr.weighted_sum(x, arc_values(instance).tolist()))
    found = _run(model, x, instance, settings, greedy, bound_out)
    if bound_out:
        bound_out[-1] = bound_out[-1] / SCALE
    return found


def _run(
    model: cp_model.CpModel,
    x: list[cp_model.IntVar],
    instance: AllocationInstance,
    settings: SolverSettings,
    hint: dict[int, int],
    bound_out: list[float] | None = None,
) -> tuple[dict[int, int], Any]:
    for k in hint.values():
        model.add_hint(x[k], True)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = settings.time_limit_seconds
    solver.parameters.random_seed = settings.random_seed
    solver.parameters.num_workers = settings.workers
    code = solver.solve(model)
    if bound_out is not None and code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        bound_out.append(solver.best_objective_bound)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {instance.arcs[k].unit: k for k in range(len(x)) if solver.boolean_value(x[k])}, code
    return hint, code


def unplaced_reasons(instance: AllocationInstance, assignment: dict[int, int]) -> list[dict[str, str]]:
    """Why each unit without a household was not placed."""
    placed_in: dict[int, list[str]] = defaultdict(list)
    for u, k in assignment.items():
        placed_in[instance.arcs[k].household].append(instance.units[u].unit_id)
    by_unit = instance.arcs_of_unit()
    out = []
    for u, unit in enumerate(instance.units):
        if u in assignment:
            continue
        if u not in by_unit:
            reason = instance.unit_without_arcs.get(unit.unit_id, "no eligible household")
            for child in unit.child_ids:
                out.append({"child_id": child, "reason": "no_eligible_household", "detail": reason})
            continue
        rivals = sorted({r for k in by_unit[u] for r in placed_in[instance.arcs[k].household]})
        detail = (
            f"{len(by_unit[u])} eligible household(s), all taken by children who fit them better or were "
            f"needed sooner: {', '.join(rivals[:5])}{' …' if len(rivals) > 5 else ''}"
        )
        for child in unit.child_ids:
            out.append({"child_id": child, "reason": "households_taken", "detail": detail})
    return out


def _band(age: int) -> tuple[int, int]:
    """The age band holding ``age``."""
    return codes.AGE_BANDS[codes.age_band_index(age)]


def suggested_levers(instance: AllocationInstance, assignment: dict[int, int]) -> list[dict[str, Any]]:
    """What would place the children left out: households approved for their group size, ages and area.

    One suggestion per (local authority, group size, age band), most children first; a sibling
    group's band spans its ages.
    """
    groups: dict[tuple[str, int, int, int], list[str]] = defaultdict(list)
    for u, unit in enumerate(instance.units):
        if u in assignment:
            continue
        band_lo = _band(min(unit.ages))[0]
        band_hi = _band(max(unit.ages))[1]
        groups[(unit.la_code, unit.size, band_lo, band_hi)].extend(unit.child_ids)
    out = []
    for (la, size, lo, hi), children in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        who = "a child" if size == 1 else f"{size} siblings together"
        units = len(children) // size
        out.append(
            {
                "suggestion": f"{units} more household{'s' if units > 1 else ''} approved for {who} aged "
                f"{lo}-{hi} in or near {la}",
                "children": len(children),
                "local_authority": la,
                "group_size": size,
                "ages": [lo, hi],
            }
        )
    return out


def summarise(instance: AllocationInstance, assignment: dict[int, int]) -> dict[str, Any]:
    """Children placed, mean fit, sibling groups kept together, mean distance, placed out of area."""
    placed = fits = miles = 0.0
    known = out_of_area = siblings = 0
    for u, k in assignment.items():
        unit, arc = instance.units[u], instance.arcs[k]
        placed += unit.size
        fits += arc.score * unit.size
        if arc.distance_miles is not None:
            miles += arc.distance_miles * unit.size
            known += unit.size
        if instance.households[arc.household].la_code != unit.la_code:
            out_of_area += unit.size
        siblings += unit.size > 1
    groups = sum(1 for u in instance.units if u.size > 1)
    return {
        "placed": int(placed),
        "waiting": sum(u.size for u in instance.units),
        "mean_fit": round(fits / placed, 2) if placed else 0.0,
        "siblings_together": siblings,
        "sibling_groups": groups,
        "mean_distance_miles": round(miles / known, 1) if known else None,
        "out_of_area": out_of_area,
        "worst_fit": round(min((instance.arcs[k].score for k in assignment.values()), default=0.0), 2),
    }
