"""Re-seating the children who can live with anyone, so that an answer keeps the like-for-like rule while giving
back fewer children than mending alone (:mod:`matching.allocation.guard`).

Most waiting children are single children who limit nobody (no solo placement, no ages ruled out: "free" units
here).  With every other unit left where an answer put it, where the free units go is a transportation problem: each
free unit to at most one of its households, each household up to the places the others leave it, and a free unit
never where a unit left there rules out its age.  One minimum-cost flow solves it exactly (England: about 5,000 of the
7,500 placed units, 220,000 pairs, under a second).  Its objective is the steered one (:func:`guard.rule_prices`):
urgency-weighted children, plus the rule's rows at ``scale`` times the steering prices, plus fit.  A higher scale
moves the children first come, first served places back towards its choices for them, at the cost of the fewest
children the flow can find; :func:`reseat_under_rule` searches the scale, mending each answer (which then gives
back little or nothing), and keeps the best.

National benchmark (the steered answer of a 14 s solve, 12,205 urgency-weighted children, the rule broken by 675
points of fit, 138 miles and 20 placements out of area): mended alone, 12,182 kept (25 parts given back); re-seated
at 1.5 times the prices, 12,191 keeping the rule with nothing to mend; at 1.41 and mended, 12,195 (six flows, 3.6 s).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from matching.allocation.guard import Mended, holds, no_worse_than_first_come, rule_prices
from matching.allocation.instance import SCALE, AllocationInstance, arc_array, weighted_children
from matching.allocation.validate import objective

#: The scales of the steering prices tried: first the middle, then halving the interval towards the scale at which
#: the re-seated answer just keeps the rule (below it the rule breaks and mending gives children back; above it the
#: flow gives up more children than needed).
LOWEST_SCALE, HIGHEST_SCALE = 1.0, 2.0
#: A flow on England's free units and their pairs, with the mending after it, takes about this much a pair, with room
#: to spare (measured: 0.45-0.65 s for 385,000 pairs); no flow is started with less time than that left.
SECONDS_PER_ARC = 2e-6


@dataclass(frozen=True)
class Reseated:
    """The best answer keeping the rule that re-seating found, the scale it was found at (None: mending alone was
    best) and the scales tried."""

    mended: Mended
    scale: float | None
    tried: tuple[float, ...]


def free_units(instance: AllocationInstance) -> np.ndarray:
    """For each unit, whether it is one child who limits nobody (not solo, no ages ruled out)."""
    return np.array([u.size == 1 and u.masks[0] == 0 for u in instance.units], dtype=bool)


def reseated(
    instance: AllocationInstance, assignment: dict[int, int], first_come: dict[int, int], scale: float
) -> dict[int, int]:
    """``assignment`` with its free units (:func:`free_units`) placed anew, and unplaced free units placed where
    room is, by one minimum-cost flow: the most urgency-weighted children, then the like-for-like rule's rows at
    ``scale`` times the steering prices plus fit; every other unit stays where ``assignment`` put it.  Never places
    fewer children than ``assignment`` at ``scale`` 0; at a higher scale it may, where a child placed costs the
    children first come, first served places more than it is worth at those prices."""
    free = free_units(instance)
    kept = {u: k for u, k in assignment.items() if not free[u]}
    n_households = len(instance.households)
    places = np.zeros(n_households, dtype=np.int64)
    ruled_out = np.zeros(n_households, dtype=object)  # ages ruled out by the units staying (bits)
    staying: dict[int, list[int]] = defaultdict(list)
    for u, k in kept.items():
        staying[instance.arcs[k].household].append(u)
    for h, room in enumerate(instance.households):
        living = [instance.units[u] for u in staying.get(h, ())]
        places[h] = room.after(living).places
        ruled_out[h] = 0
        for other in living:
            ruled_out[h] |= other.masks[0]
    unit, home = arc_array(instance, "unit"), arc_array(instance, "household")
    candidates = np.flatnonzero(free[unit] & (places[home] >= 1))
    ages = np.array([u.masks[1] for u in instance.units], dtype=object)
    clear = np.array([not (ages[unit[k]] & ruled_out[home[k]]) for k in candidates.tolist()], dtype=bool)
    arcs = candidates[clear] if len(candidates) else candidates
    if not len(arcs):
        return dict(assignment)
    # Each pair's value in hundredths of a point (the objective's units): the child's worth first, the rule's rows at
    # the scaled prices, then fit; kept positive, as in the steered instance.
    weight = np.array([u.weight for u in instance.units], dtype=np.float64)[unit[arcs]]
    child = instance.child_weight * SCALE
    value = weight * child + np.round(arc_array(instance, "score")[arcs] * SCALE)
    value += np.ceil(scale * rule_prices(instance, first_come)[arcs] * child)
    value = np.maximum(value, 1.0).astype(np.int64)
    units = np.unique(unit[arcs])
    position = np.full(len(instance.units), -1, dtype=np.int64)
    position[units] = np.arange(len(units))
    n = len(units)
    source, sink = n + n_households, n + n_households + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([np.full(n, source), position[unit[arcs]], n + np.arange(n_households), [source]]),
        np.concatenate([np.arange(n), n + home[arcs], np.full(n_households, sink), [sink]]),
        np.concatenate([np.ones(n + len(arcs), dtype=np.int64), places, [n]]),
        np.concatenate([np.zeros(n, dtype=np.int64), -value, np.zeros(n_households + 1, dtype=np.int64)]),
    )
    flow.set_node_supply(source, n)
    flow.set_node_supply(sink, -n)
    if flow.solve() != flow.OPTIMAL:  # not expected (leaving every free unit out is feasible): nothing re-seated
        return dict(assignment)
    used = np.array([flow.flow(i) for i in range(n, n + len(arcs))], dtype=np.int64) > 0
    return kept | {int(unit[k]): int(k) for k in arcs[used].tolist()}


def reseat_under_rule(
    instance: AllocationInstance,
    assignment: dict[int, int],
    first_come: dict[int, int],
    until: float,
    *,
    seconds: float,
) -> Reseated:
    """The most valuable answer keeping the like-for-like rule among ``assignment`` mended and ``assignment``
    re-seated (:func:`reseated`) at each scale tried, then mended (``seconds``: the mending's choice of parts), by
    ``until`` (a :func:`time.perf_counter` value): the scales halve the interval between :data:`LOWEST_SCALE` and
    :data:`HIGHEST_SCALE` towards where the re-seated answer just keeps the rule.  The result's ``children_lost`` is
    against ``assignment``: negative when the flow placed more children than it had (free units it left out)."""
    best, best_scale = no_worse_than_first_come(instance, assignment, first_come, seconds=seconds), None
    if not best.reverted:
        return Reseated(best, None, ())
    found = weighted_children(instance, assignment)
    low, high = LOWEST_SCALE, HIGHEST_SCALE
    tried: list[float] = []
    seen: list[dict[int, int]] = []
    need = SECONDS_PER_ARC * len(instance.arcs)
    while time.perf_counter() + need <= until and len(tried) < 6:
        scale = (low + high) / 2
        tried.append(scale)
        candidate = reseated(instance, assignment, first_come, scale)
        keeps = holds(instance, candidate, first_come)
        low, high = (low, scale) if keeps else (scale, high)
        if candidate in seen:  # the same seats at another scale: mended already
            continue
        seen.append(candidate)
        mended = no_worse_than_first_come(instance, candidate, first_come, seconds=seconds)
        if objective(instance, mended.assignment) > objective(instance, best.assignment):
            lost = found - weighted_children(instance, mended.assignment)
            best, best_scale = Mended(mended.assignment, mended.reverted, lost, mended.value_lost), scale
    return Reseated(best, best_scale, tuple(tried))
