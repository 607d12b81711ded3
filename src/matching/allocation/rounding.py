"""The flow relaxation, and iterative rounding of it into a valid allocation (the first answer).

The relaxation is a min-cost flow: each unit sends its children to households along its eligible
pairs, each household takes at most its room.  It lets a sibling group split and ignores the rules
between units, so its value is an upper bound on any allocation.

Rounding: where the flow breaks a rule, decide that part and solve the flow again on the rest.  In
each round, in every household the flow fills against the rules, units it placed there that can
live together are **pinned** to it (those with nowhere else to go first, then those who can live
with anyone, then larger groups); a sibling group the
flow splits is pinned to the household that got most of its children, if it fits there.  Pinned
units leave the flow, their households keep only the room they leave and lose the pairs of units
that could not live with them.  Everything else stays in the flow, so the next round can still
move any unit anywhere: the long chains of moves a local search cannot find.  On the national
benchmark without the rules between children it comes within 0.1% of the optimum HiGHS proves
(benchmarks/README.md).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from ortools.graph.python import min_cost_flow

from matching.allocation.bound import worth_flows
from matching.allocation.constraints.capacity import RoomArrays, room_allows
from matching.allocation.instance import (
    SCALE,
    AllocationInstance,
    arc_array,
    arc_values,
    units_conflict,
)
from matching.allocation.validate import fits, household_problems


@dataclass
class Rounding:
    """Where rounding got to: the relaxation's bound, the units decided (unit -> arc; a valid
    allocation), the units still open (split or in a household against the rules in the last round)
    and the rounds run."""

    bound: float
    decided: dict[int, int]
    open_units: set[int] = field(default_factory=set)
    rounds: int = 0
    #: The units the first round's flow placed, whole or in part, each with the household it sent most of its
    #: children to (lowest index first on a tie): the neighbourhoods' seeds, and where they lead.
    flowed: dict[int, int] = field(default_factory=dict)


class _Arrays:
    """The instance as arrays, computed once per solve."""

    def __init__(self, instance: AllocationInstance) -> None:
        rooms = RoomArrays.of(instance)
        self.sizes, self.vacancies, self.usual = rooms.sizes, rooms.vacancies, rooms.usual
        self.exempt, self.empty = rooms.exempt, rooms.empty
        self.unit = arc_array(instance, "unit")
        self.household = arc_array(instance, "household")
        self.values = arc_values(instance)
        self.degree = np.bincount(self.unit, minlength=len(self.sizes))  # eligible households per unit
        self.flow_scale = SCALE * math.lcm(*{int(s) for s in self.sizes}) if len(self.sizes) else SCALE


#: Rounding to the end takes about this many rounds (national benchmark: 7); with less time left than this many
#: rounds as long as the last, :func:`round_flow` narrows (re-solves only around what is still open).
FULL_ROUNDS = 6
#: A round with everything placed validly settled takes at most this share of a round of the whole (national
#: benchmark: 0.02 s against 1.5 s for the flow itself, about 0.2 s with the Python around it).
SETTLED_ROUND_SHARE = 0.15


class _Rooms(NamedTuple):
    """Free places, usual room (free places with an exemption), emptiness and the flow's capacity of
    each household."""

    vacancies: np.ndarray
    usual: np.ndarray
    empty: np.ndarray
    cap: np.ndarray


def _rooms(arrays: _Arrays, instance: AllocationInstance, pinned: dict[int, list[int]]) -> _Rooms:
    """The rooms once the ``pinned`` units (by household) are in."""
    vacancies, usual, empty = arrays.vacancies.copy(), arrays.usual.copy(), arrays.empty.copy()
    for h, units in pinned.items():
        left = instance.households[h].after([instance.units[u] for u in units])
        vacancies[h] = left.vacancies
        usual[h] = left.vacancies if left.usual_room is None else left.usual_room
        empty[h] = left.empty
    # The flow's room: the usual room, or all free places for a large sibling group alone in an empty household.
    s = arrays.sizes[arrays.unit]
    over = empty[arrays.household] & (s > usual[arrays.household]) & (s > 1) & (s <= vacancies[arrays.household])
    big = np.zeros(len(vacancies), dtype=np.int64)
    np.maximum.at(big, arrays.household[over], s[over])
    return _Rooms(vacancies, usual, empty, np.minimum(vacancies, np.maximum(usual, big)))


def _flow(arrays: _Arrays, active: np.ndarray, cap: np.ndarray) -> tuple[float, np.ndarray]:
    """Min-cost flow over the ``active`` arcs with household capacities ``cap``: its value and the
    children along every arc (zero on inactive ones)."""
    flows = np.zeros(len(arrays.unit), dtype=np.int64)
    idx = np.flatnonzero(active)
    if not len(idx):
        return 0.0, flows
    n_u, n_h = len(arrays.sizes), len(cap)
    source, sink = n_u + n_h, n_u + n_h + 1
    a_unit, a_household = arrays.unit[idx], arrays.household[idx]
    sizes = arrays.sizes
    # Per-child costs are exact integers: the scale is divisible by every unit size.
    a_cost = -(arrays.values[idx] * (arrays.flow_scale // SCALE)) // sizes[a_unit]
    supply = np.zeros(n_u, dtype=np.int64)
    present = np.unique(a_unit)
    supply[present] = sizes[present]
    total = int(supply.sum())
    tails = np.concatenate([np.full(n_u, source), a_unit, n_u + np.arange(n_h), [source]])
    heads = np.concatenate([np.arange(n_u), n_u + a_household, np.full(n_h, sink), [sink]])
    caps = np.concatenate([supply, sizes[a_unit], cap, [total]])
    costs = np.concatenate([np.zeros(n_u, dtype=np.int64), a_cost, np.zeros(n_h + 1, dtype=np.int64)])
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    smcf.set_node_supply(source, total)
    smcf.set_node_supply(sink, -total)
    if smcf.solve() != smcf.OPTIMAL:
        raise RuntimeError("the flow relaxation has no optimal solution")  # cannot happen: source-sink arc
    flows[idx] = smcf.flows(np.arange(n_u, n_u + len(idx)))
    return -smcf.optimal_cost() / arrays.flow_scale, flows


def flow_bound(instance: AllocationInstance) -> float:
    """The flow relaxation's value (siblings splittable, no rules between units): an upper bound on the objective
    of every allocation of ``instance`` (the first round of :func:`round_flow` alone)."""
    if not instance.arcs:
        return 0.0
    return _round(instance, _Arrays(instance), {}, {})[0]


class FitFloor:
    """The flow relaxation over only the pairs whose fit reaches a floor (in hundredths, the solver's units): at most
    how many urgency-weighted children an allocation can place when no placed child fits worse than the floor.
    Fewer pairs never place more children, so the floors that still place enough are all below some highest one,
    which bounds the worst-off placed child's fit (the fairness objective's second part)."""

    def __init__(self, instance: AllocationInstance) -> None:
        self.arrays = _Arrays(instance)
        rooms = _rooms(self.arrays, instance, {})
        self.cap = rooms.cap
        self.active = _active(instance, self.arrays, {}, {}, rooms)
        self.fits = np.rint(arc_array(instance, "score") * SCALE).astype(np.int64)
        self.levels = np.unique(self.fits)
        self.worth = np.array([u.worth for u in instance.units], dtype=np.int64)  # each child's
        #: How long the last flow took (seconds): what the next one is expected to take.
        self.last_seconds = 0.0

    def children(self, floor: int) -> int:
        """The most urgency-weighted children the flow places on the pairs fitting at least ``floor``: the children
        part of the min-cost flow's optimum, from a maximum flow per urgency weight (:func:`bound.worth_flows`), 6-8
        times faster (a region's 38,000 pairs: 0.004 s, against 0.023-0.034 s for the min-cost flow)."""
        began = time.perf_counter()
        keep = self.active & (self.fits >= floor)
        n, m = len(self.arrays.sizes), len(self.cap)
        unit, home = self.arrays.unit[keep], self.arrays.household[keep]
        flows = worth_flows(n, m, unit, home, self.arrays.sizes.astype(np.int64), self.worth, self.cap)
        children = sum(round(step) * flow.optimal_flow() for step, flow in flows)
        self.last_seconds = time.perf_counter() - began
        return children

    def highest(self, needed: int, reached: int, deadline: float = math.inf) -> tuple[int, bool]:
        """The highest floor at which the flow still places ``needed`` children, searched among the instance's fits
        above ``reached`` (a floor an allocation placing them already keeps), the next one first; and whether the
        search finished by ``deadline`` (a :func:`time.perf_counter` value).  Unfinished, the floor returned is the
        highest not yet ruled out: still an upper bound on the worst-off fit, only not the tightest."""
        above = self.levels[self.levels > reached].tolist()
        lo, hi = -1, len(above) - 1  # above[lo] places enough (-1: ``reached``); every floor above above[hi] does not
        first = True
        while lo < hi:
            if time.perf_counter() + self.last_seconds > deadline:
                return above[hi], False
            mid = lo + 1 if first else (lo + hi + 1) // 2  # the next floor first: most often it settles it at once
            first = False
            if self.children(above[mid]) >= needed:
                lo = mid
            else:
                hi = mid - 1
        return (above[lo] if lo >= 0 else reached), True


def _round(
    instance: AllocationInstance, arrays: _Arrays, pinned: dict[int, int], by_household: dict[int, list[int]]
) -> tuple[float, np.ndarray]:
    """One round: the flow over the room and pairs the ``pinned`` units leave open, its value and flows."""
    rooms = _rooms(arrays, instance, by_household)
    return _flow(arrays, _active(instance, arrays, pinned, by_household, rooms), rooms.cap)


def round_flow(
    instance: AllocationInstance, deadline: float, *, narrow: bool | None = None, latest: float | None = None
) -> Rounding:
    """Round the flow relaxation until it breaks no rule or ``deadline`` (``time.perf_counter()``)
    would pass during the next round (judged by the last one); the first round's value is the bound.

    ``narrow``: from the second round on, re-solve only around what is still open (:func:`_settled`); None
    narrows once the time left holds fewer than :data:`FULL_ROUNDS` rounds as long as the last, and when not even
    one fits, settles everything placed validly and rounds the rest while such a round fits by ``latest`` (when
    the caller must have the answer; ``deadline`` when not given)."""
    latest = deadline if latest is None else max(latest, deadline)
    if not instance.arcs:
        return Rounding(0.0, {})
    arrays = _Arrays(instance)
    pinned: dict[int, int] = {}  # unit -> arc
    by_household: dict[int, list[int]] = defaultdict(list)
    bound = math.inf
    rounds = 0
    narrowing = bool(narrow)
    settle_all = False
    while True:
        began = time.perf_counter()
        value, flows = _round(instance, arrays, pinned, by_household)
        rounds += 1
        if rounds == 1:
            bound = value
            flowed = _flowed(arrays, flows)
        whole, split, bad = _read(instance, arrays, flows, by_household)
        decided = dict(pinned)
        open_units = set(split)
        for h, units in whole.items():
            if h in bad:
                open_units.update(units)
            else:
                decided.update(units)
        now = time.perf_counter()
        last = now - began
        if not open_units or (settle_all and now + last >= latest):
            return Rounding(bound, decided, open_units, rounds, flowed)
        if now + last >= deadline and not settle_all:
            # No time for another round like this one.  Unless told not to narrow, settle everything placed validly
            # and round what is open among what is left, while such a round (far smaller) fits.
            if narrow is False or now + SETTLED_ROUND_SHARE * last >= latest:
                return Rounding(bound, decided, open_units, rounds, flowed)
            settle_all = True
        new = _pins(instance, arrays, flows, whole, split, bad, by_household)
        if not new:
            return Rounding(bound, decided, open_units, rounds, flowed)
        narrowing = narrowing or (narrow is None and now + FULL_ROUNDS * last >= deadline)
        if narrowing or settle_all:
            new |= _settled(arrays, whole, bad, open_units, new, everything=settle_all)
        for u, k in new.items():
            pinned[u] = k
            by_household[int(arrays.household[k])].append(u)


def _flowed(arrays: _Arrays, flows: np.ndarray) -> dict[int, int]:
    """Each unit the flow places (whole or in part) and the household it sends most of its children to (the lowest
    index on a tie)."""
    used = np.flatnonzero(flows)
    order = np.lexsort((arrays.household[used], -flows[used], arrays.unit[used]))  # by unit, most flow first
    best: dict[int, int] = {}
    for k in used[order].tolist():
        best.setdefault(int(arrays.unit[k]), int(arrays.household[k]))
    return best


def _settled(
    arrays: _Arrays,
    whole: dict[int, dict[int, int]],
    bad: set[int],
    open_units: set[int],
    new: dict[int, int],
    *,
    everything: bool = False,
) -> dict[int, int]:
    """Units to decide now (unit -> arc) though the flow could still move them: those it placed whole in a household
    that breaks no rule, that no open unit is eligible for and where nobody is pinned this round.  The next rounds
    re-solve only the rest: chains of moves through the open units' households stay open (one step of them),
    longer ones are given up.  (National benchmark, rounding to the end: 13.8 s and 7 rounds re-solving
    everything, 5.3 s narrowed; 12,206 and 12,186 urgency-weighted children, the objective 0.16% lower.)
    ``everything``: every such unit, whoever could go there (no chain of moves stays open: 2.0 s, 3 rounds, 11,850
    children; for when there is no time for a round of the rest otherwise)."""
    near = np.zeros(len(arrays.vacancies), dtype=bool)
    if not everything:
        is_open = np.zeros(len(arrays.sizes), dtype=bool)
        is_open[list(open_units)] = True
        near[arrays.household[is_open[arrays.unit]]] = True
    near[[int(arrays.household[k]) for k in new.values()]] = True
    return {u: k for h, units in whole.items() if h not in bad and not near[h] for u, k in units.items()}


def _active(
    instance: AllocationInstance,
    arrays: _Arrays,
    pinned: dict[int, int],
    by_household: dict[int, list[int]],
    rooms: _Rooms,
) -> np.ndarray:
    """The arcs still open to the flow: of units not pinned, into households with room for them and
    nobody pinned there they cannot live with."""
    h = arrays.household
    active = room_allows(
        arrays.sizes[arrays.unit], rooms.vacancies[h], rooms.usual[h], arrays.exempt[h], rooms.empty[h]
    )
    if pinned:
        is_pinned = np.zeros(len(arrays.sizes), dtype=bool)
        is_pinned[list(pinned)] = True
        active &= ~is_pinned[arrays.unit]
        has_pins = np.zeros(len(rooms.vacancies), dtype=bool)
        has_pins[list(by_household)] = True
        units = instance.units
        for k in np.flatnonzero(active & has_pins[h]).tolist():
            me = units[int(arrays.unit[k])]
            if any(units_conflict(me, units[v]) for v in by_household[int(h[k])]):
                active[k] = False
    return active


def _read(
    instance: AllocationInstance, arrays: _Arrays, flows: np.ndarray, by_household: dict[int, list[int]]
) -> tuple[dict[int, dict[int, int]], list[int], set[int]]:
    """What the flow did: units it placed whole (household -> unit -> arc), units it split, and the
    households where the whole units and the pinned ones break a rule."""
    used = np.flatnonzero(flows)
    per_unit = np.bincount(arrays.unit[used], minlength=len(arrays.sizes))
    whole_arcs = used[(per_unit[arrays.unit[used]] == 1) & (flows[used] == arrays.sizes[arrays.unit[used]])]
    whole: dict[int, dict[int, int]] = defaultdict(dict)
    for k in whole_arcs.tolist():
        whole[int(arrays.household[k])][int(arrays.unit[k])] = k
    placed_whole = set(arrays.unit[whole_arcs].tolist())
    split = sorted(set(arrays.unit[used].tolist()) - placed_whole)
    bad = {h for h, units in whole.items() if household_problems(instance, [*by_household.get(h, []), *units], h)}
    return whole, split, bad


def _pins(
    instance: AllocationInstance,
    arrays: _Arrays,
    flows: np.ndarray,
    whole: dict[int, dict[int, int]],
    split: list[int],
    bad: set[int],
    by_household: dict[int, list[int]],
) -> dict[int, int]:
    """The units to pin this round (unit -> arc): in each household against the rules, the units
    placed there that can live together: those with no other eligible household first, then those
    who can live with anyone, then larger, more urgent and better fitting; each split sibling group in the household that got most of its
    children, if it fits there."""
    units = instance.units
    placed = {h: list(us) for h, us in by_household.items()}
    new: dict[int, int] = {}

    def pin(u: int, k: int) -> None:
        h = int(arrays.household[k])
        here = placed.setdefault(h, [])
        if fits(instance, here, u, h):
            here.append(u)
            new[u] = k

    def first(uk: tuple[int, int]) -> tuple[bool, bool, int, int, int, int]:
        # A unit with no other eligible household stays first.  Then units that can live with anyone,
        # larger sibling groups before smaller: a unit that restricts who it lives with can often go
        # alone into one of the many households with one place.  (National benchmark, rounding alone:
        # 12,283 urgency-weighted children, against 12,262 most urgent first.)
        u, k = uk
        unit = units[u]
        return (
            bool(arrays.degree[u] > 1),
            unit.restricts,
            -unit.size,
            -unit.weight,
            -int(arrays.values[k]),
            u,
        )

    for h in sorted(bad):
        for u, k in sorted(whole[h].items(), key=first):
            pin(u, k)
    if split:
        used = np.flatnonzero(flows)
        arcs_by_unit: dict[int, list[int]] = defaultdict(list)
        for k in used.tolist():
            arcs_by_unit[int(arrays.unit[k])].append(k)
        for u in sorted(split, key=lambda u: (-units[u].weight, u)):
            for k in sorted(arcs_by_unit[u], key=lambda k: (-int(flows[k]), -int(arrays.values[k]), k)):
                pin(u, k)
                if u in new:
                    break
    return new
