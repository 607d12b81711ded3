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
at 1.5 times the prices, 12,191 keeping the rule with nothing to mend; at 1.41 and mended, 12,195 (six flows, 1.9 s
with the problem made once; 3.6 s when each flow made it again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from matching.allocation.guard import Mended, holds, no_worse_than_first_come, rule_prices
from matching.allocation.instance import (
    SCALE,
    AllocationInstance,
    arc_array,
    rooms_after,
    units_by_household,
)
from matching.allocation.validate import objective

#: The scales of the steering prices tried: first the middle, then halving the interval towards the scale at which
#: the re-seated answer just keeps the rule (below it the rule breaks and mending gives children back; above it the
#: flow gives up more children than needed).
LOWEST_SCALE, HIGHEST_SCALE = 1.0, 2.0
#: A flow on England's free units and their pairs, with the mending after it, takes about this much a pair, with room
#: to spare (measured: the first 0.45-0.65 s for 385,000 pairs, its setup 0.23 s of it; each later flow 0.19-0.34 s);
#: no flow is started with less time than that left.
SECONDS_PER_ARC = 2e-6


@dataclass(frozen=True)
class Reseated:
    """The best answer keeping the rule that re-seating found, the scale it was found at (None: mending alone was
    best) and the scales tried."""

    mended: Mended
    scale: float | None
    tried: tuple[float, ...]

    @property
    def changed(self) -> bool:
        """Whether the answer was re-seated, or keeping the rule changed it or cost anything."""
        return self.scale is not None or self.mended.changed


def free_units(instance: AllocationInstance) -> np.ndarray:
    """For each unit, whether it is one child who limits nobody (not solo, no ages ruled out)."""
    return np.array([u.size == 1 and u.masks[0] == 0 for u in instance.units], dtype=bool)


class Seating:
    """The free units' transportation problem around ``assignment`` (:func:`reseated`): the pairs open to them, the
    places the other units leave, and each pair's value apart from the rule's prices, made once; :meth:`at` solves it
    at a scale of those prices."""

    def __init__(self, instance: AllocationInstance, assignment: dict[int, int], first_come: dict[int, int]) -> None:
        free = free_units(instance)
        self.kept = {u: k for u, k in assignment.items() if not free[u]}
        self.assignment = assignment
        staying = units_by_household(instance, self.kept)
        self.places = np.array([room.places for room in rooms_after(instance, self.kept)], dtype=np.int64)
        ruled_out = np.zeros(len(instance.households), dtype=np.int64)  # ages the units staying rule out (bits < 18)
        for h, units in staying.items():
            for u in units:
                ruled_out[h] |= instance.units[u].masks[0]
        ages = np.array([u.masks[1] for u in instance.units], dtype=np.int64)
        unit, home = arc_array(instance, "unit"), arc_array(instance, "household")
        candidates = free[unit] & (self.places[home] >= 1)
        self.arcs = np.flatnonzero(candidates & ((ages[unit] & ruled_out[home]) == 0))
        self.unit, self.home = unit[self.arcs], home[self.arcs]
        # Each pair's value in hundredths of a point (the objective's units): the child's worth first, then fit; the
        # rule's rows, at the steering prices in the same units, are added at each scale.
        self.child = instance.child_weight * SCALE
        weight = np.array([u.weight for u in instance.units], dtype=np.float64)[self.unit]
        self.value = weight * self.child + np.round(arc_array(instance, "score")[self.arcs] * SCALE)
        self.priced = rule_prices(instance, first_come)[self.arcs] * self.child
        self.units = np.unique(self.unit)
        position = np.full(len(instance.units), -1, dtype=np.int64)
        position[self.units] = np.arange(len(self.units))
        n, m = len(self.units), len(instance.households)
        self.source, self.sink = n + m, n + m + 1
        self.tails = np.concatenate([np.full(n, self.source), position[self.unit], n + np.arange(m), [self.source]])
        self.heads = np.concatenate([np.arange(n), n + self.home, np.full(m, self.sink), [self.sink]])
        self.capacities = np.concatenate([np.ones(n + len(self.arcs), dtype=np.int64), self.places, [n]])
        self.pairs = np.arange(n, n + len(self.arcs))  # the flow's arcs for the pairs

    def at(self, scale: float) -> dict[int, int]:
        """The answer with the free units placed by the flow at ``scale`` times the steering prices."""
        if not len(self.arcs):
            return dict(self.assignment)
        # Kept positive, as in the steered instance.
        value = np.maximum(self.value + np.ceil(scale * self.priced), 1.0).astype(np.int64)
        n = len(self.units)
        flow = min_cost_flow.SimpleMinCostFlow()
        zeros = np.zeros(len(self.tails) - n - len(self.arcs), dtype=np.int64)
        costs = np.concatenate([np.zeros(n, dtype=np.int64), -value, zeros])
        flow.add_arcs_with_capacity_and_unit_cost(self.tails, self.heads, self.capacities, costs)
        flow.set_node_supply(self.source, n)
        flow.set_node_supply(self.sink, -n)
        if flow.solve() != flow.OPTIMAL:  # not expected (leaving every free unit out is feasible): nothing re-seated
            return dict(self.assignment)
        used = flow.flows(self.pairs) > 0
        return self.kept | dict(zip(self.unit[used].tolist(), self.arcs[used].tolist(), strict=True))


def reseated(
    instance: AllocationInstance, assignment: dict[int, int], first_come: dict[int, int], scale: float
) -> dict[int, int]:
    """``assignment`` with its free units (:func:`free_units`) placed anew, and unplaced free units placed where
    room is, by one minimum-cost flow: the most urgency-weighted children, then the like-for-like rule's rows at
    ``scale`` times the steering prices plus fit; every other unit stays where ``assignment`` put it.  Never places
    fewer children than ``assignment`` at ``scale`` 0; at a higher scale it may, where a child placed costs the
    children first come, first served places more than it is worth at those prices."""
    return Seating(instance, assignment, first_come).at(scale)


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
    :data:`HIGHEST_SCALE` towards where the re-seated answer just keeps the rule.  The result's ``children_lost`` and
    ``value_lost`` are against ``assignment`` (``children_lost`` negative when the flow placed more children than it
    had: free units it left out)."""
    best, best_scale = no_worse_than_first_come(instance, assignment, first_come, seconds=seconds), None
    if not best.reverted:
        return Reseated(best, None, ())
    low, high = LOWEST_SCALE, HIGHEST_SCALE
    tried: list[float] = []
    seen: list[dict[int, int]] = []
    need = SECONDS_PER_ARC * len(instance.arcs)
    seating: Seating | None = None
    while time.perf_counter() + need <= until and len(tried) < 6:
        scale = (low + high) / 2
        tried.append(scale)
        seating = seating or Seating(instance, assignment, first_come)
        candidate = seating.at(scale)
        keeps = holds(instance, candidate, first_come)
        low, high = (low, scale) if keeps else (scale, high)
        if candidate in seen:  # the same seats at another scale: mended already
            continue
        seen.append(candidate)
        mended = no_worse_than_first_come(instance, candidate, first_come, seconds=seconds)
        if objective(instance, mended.assignment) > objective(instance, best.assignment):
            # What keeping the rule cost, against ``assignment`` (the mending's own figures are against the candidate).
            best = Mended.against(instance, assignment, mended.assignment, mended.reverted)
            best_scale = scale
    return Reseated(best, best_scale, tuple(tried))
