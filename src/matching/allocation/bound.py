"""A proof of how many children any allocation can place: the Lagrangian bound over households.

The flow relaxation (:mod:`matching.allocation.rounding`) ignores the rules between units (solo,
who a child can live alongside, risks to others), so on instances where those rules bind its bound
is loose.  This bound keeps every rule:

1. **prices**: the dual prices of "one household per unit" in a linear relaxation: first the one where siblings
   may be split, from minimum cuts (:func:`cut_prices`, about a second on England), then the one with the exact
   room constraints (a unit that must live alone weighs the whole room), solved by GLOP (3-9 s on England), and
   tightened by column generation while there is time;
2. **households apart**: with those prices, each household's best set of units that may all live
   there together (room, usual limit, solo, who can live with whom), found exactly by a small
   branch and bound;
3. the prices plus every household's best is an upper bound on the urgency-weighted children of any
   valid allocation, whatever the prices (weak duality: "one household per unit" is the only
   constraint linking households, and it is priced).

The bound is on the first part of the lexicographic objective; :func:`objective_bound` turns it into
the solver's objective units.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pandas as pd
from ortools.graph.python import max_flow
from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]
from ortools.linear_solver.python import model_builder as mb
from scipy.sparse import csr_matrix

from matching.allocation.constraints.capacity import RoomArrays
from matching.allocation.constraints.usable import usable
from matching.allocation.instance import SCALE, AllocationInstance, arc_array
from matching.allocation.validate import fits


def _ignore(_: Callable[[], object]) -> None:
    """No interruption wanted."""


def room_relaxation(instance: AllocationInstance) -> tuple[mb.Model, np.ndarray]:
    """Max urgency-weighted children, one household per unit, the exact room constraints (a unit that
    must live alone weighs the whole room), without the rules between units, as a linear programme
    over the usable arcs (returned with it): one row per unit first, then one per household."""
    n = len(instance.units)
    ok = np.flatnonzero(usable(instance))
    unit = arc_array(instance, "unit")[ok]
    home = arc_array(instance, "household")[ok]
    rooms = RoomArrays.of(instance)
    weights = np.array([u.weight for u in instance.units], dtype=np.float64)
    columns = np.arange(len(ok))
    matrix = csr_matrix(
        (
            np.concatenate([np.ones(len(ok)), rooms.weights(instance, ok)]).astype(np.float64),
            (np.concatenate([unit, n + home]), np.concatenate([columns, columns])),
        ),
        shape=(n + len(instance.households), len(ok)),
    )
    limits = np.concatenate([np.ones(n), rooms.room()]).astype(np.float64)
    model = mb.Model()
    model.helper.fill_model_from_sparse_data(  # OR-Tools' stub spells float64 arrays wrongly
        np.zeros(len(ok)),  # type: ignore[arg-type]
        np.ones(len(ok)),  # type: ignore[arg-type]
        weights[unit],
        np.full(len(limits), -np.inf),  # type: ignore[arg-type]
        limits,  # type: ignore[arg-type]
        matrix,
    )
    model.helper.set_maximize(True)
    return model, ok


def lp_prices(
    instance: AllocationInstance, time_limit: float = 60.0, on_solve: Callable[[Callable[[], object]], None] = _ignore
) -> np.ndarray | None:
    """Each unit's dual price in the linear relaxation (:func:`room_relaxation`), or None if GLOP does
    not solve it within ``time_limit`` seconds (or is interrupted: ``on_solve`` is given the function
    that interrupts it, before it starts)."""
    n = len(instance.units)
    model, ok = room_relaxation(instance)
    if n == 0 or len(ok) == 0:
        return np.zeros(n)
    solver = mb.Solver("glop")
    # Its presolve gains nothing on this programme and costs a fifth of the solve (England's: 8.3 s with it, 6.5 s
    # without; a region's 0.1 s either way).
    solver.set_solver_specific_parameters("use_preprocessing: false")
    solver.set_time_limit_in_seconds(time_limit)
    on_solve(solver.stop_search)
    if solver.solve(model) != mb.SolveStatus.OPTIMAL:
        return None
    duals = solver.dual_values(pd.Index(model.get_linear_constraints()[:n]))
    return np.maximum(0.0, duals.to_numpy(dtype=np.float64))


def cut_prices(instance: AllocationInstance) -> np.ndarray:
    """Each unit's price in the linear programme where siblings may be split and a unit weighs only its children in
    a room (a transportation problem), from minimum cuts: the bound's first prices in a second, where
    :func:`lp_prices` takes GLOP 3-9 s on England.  (It relaxes the households' own problem except where a sibling
    group larger than a room goes in alone; the prices stay valid there, as any are.)

    Every child of a unit is worth the same (its urgency), so that programme is the sum, over each distinct worth
    ``t`` (1, 2, 4), of the most children worth at least ``t`` that can be placed, times the step to ``t`` from the
    worth below it: one maximum flow each, and one flow is optimal for all of them at once (the units placeable
    together form a matroid, and the greedy by worth serves every step).  Each step's minimum cut prices a room it
    leaves on the source side at the step (a child more there would place one more); a household's price per child is
    the sum over steps, and a unit's price what placing it anywhere it may go still gains at the cheapest of those
    rooms.  Any prices give a valid bound (:func:`household_bound`); these are that programme's optimal ones
    (England: 12,270 children, against 12,261 at GLOP's prices of the exact-room relaxation)."""
    n, m = len(instance.units), len(instance.households)
    ok = np.flatnonzero(usable(instance))
    if n == 0 or len(ok) == 0:
        return np.zeros(n)
    unit, home = arc_array(instance, "unit")[ok], arc_array(instance, "household")[ok]
    rooms = RoomArrays.of(instance)
    size = rooms.sizes.astype(np.int64)
    weight = np.array([u.weight for u in instance.units], dtype=np.float64)
    worth = np.array([u.worth for u in instance.units], dtype=np.float64)  # of each child of the unit
    per_child = np.zeros(m)
    for step, flow in worth_flows(n, m, unit, home, size, worth, np.asarray(rooms.room(), dtype=np.int64)):
        cut = np.zeros(n + m + 2, dtype=bool)
        cut[np.asarray(flow.get_source_side_min_cut(), dtype=np.int64)] = True
        per_child += step * cut[n : n + m]
    cheapest = np.full(n, np.inf)
    np.minimum.at(cheapest, unit, per_child[home])
    reachable = np.isfinite(cheapest)
    return np.where(reachable, np.maximum(0.0, weight - size * np.where(reachable, cheapest, 0.0)), 0.0)


def worth_flows(
    n: int,
    m: int,
    unit: np.ndarray,
    home: np.ndarray,
    size: np.ndarray,
    worth: np.ndarray,
    room: np.ndarray,
) -> Iterator[tuple[float, max_flow.SimpleMaxFlow]]:
    """The transportation problem in which siblings may be split (``n`` units of ``size`` children, each child worth
    ``worth``, its unit's urgency weight; ``m`` households of ``room`` places; the pairs ``unit`` to ``home``), as
    one maximum flow per distinct worth ``t``, ascending, each solved: the most children worth at least ``t`` that can
    be placed, with the step to ``t`` from the worth below.  The steps times the flows sum to the most worth that
    problem places (one flow is optimal for every step at once: the units placeable together form a matroid, and the
    greedy by worth serves every step)."""
    source, sink = n + m, n + m + 1
    tails = np.concatenate([np.full(n, source), unit, n + np.arange(m)])
    heads = np.concatenate([np.arange(n), n + home, np.full(m, sink)])
    unbounded = np.full(len(unit), int(size.sum()) + 1)  # never cut: a unit's children are bounded on the way in
    below = 0.0
    for step in np.unique(worth).tolist():
        flow = max_flow.SimpleMaxFlow()
        flow.add_arcs_with_capacity(tails, heads, np.concatenate([np.where(worth >= step, size, 0), unbounded, room]))
        if flow.solve(source, sink) != flow.OPTIMAL:
            raise RuntimeError("maximum flow failed on a finite network")  # not expected: every capacity is finite
        yield step - below, flow
        below = step


def household_bound(instance: AllocationInstance, prices: np.ndarray, deadline: float = math.inf) -> float | None:
    """An upper bound on the urgency-weighted children of any valid allocation: the ``prices``, plus in
    every household the best priced set of units that may live there together (None if not done by
    ``deadline``, a ``time.perf_counter()`` value)."""
    priced = HouseholdPricing(instance).price(prices, deadline)
    return None if priced is None else priced[0]


class HouseholdPricing:
    """Every household's best set of units under given prices (the Lagrangian subproblems)."""

    def __init__(self, instance: AllocationInstance) -> None:
        self.instance = instance
        self.weights = np.array([u.weight for u in instance.units], dtype=np.float64)
        candidates: dict[int, list[int]] = defaultdict(list)
        for k in np.flatnonzero(usable(instance)).tolist():
            candidates[instance.arcs[k].household].append(instance.arcs[k].unit)
        self.candidates = dict(candidates)

    def price(
        self, prices: np.ndarray, deadline: float = math.inf, stop: threading.Event | None = None
    ) -> tuple[float, list[tuple[int, list[int]]]] | None:
        """The bound at ``prices`` and each household's best set (household, units), or None if not done
        by ``deadline`` (or once ``stop`` is set)."""
        total = float(prices.sum())
        sets = []
        gain = self.weights - prices
        for h, units in self.candidates.items():
            if time.perf_counter() > deadline or (stop is not None and stop.is_set()):
                return None
            gains = sorted(((float(gain[u]), u) for u in units if gain[u] > 0), key=lambda g: (-g[0], g[1]))
            value, chosen = best_set(self.instance, h, gains)
            total += value
            if chosen:
                sets.append((h, chosen))
        return total, sets


def column_generation(
    instance: AllocationInstance,
    prices: np.ndarray,
    deadline: float,
    on_bound: Callable[[float], None] = lambda _: None,
    smoothing: float = 0.8,
    columns: Iterable[tuple[int, list[int]]] = (),
    stop: threading.Event | None = None,
    on_solve: Callable[[Callable[[], object]], None] = _ignore,
    pricing: HouseholdPricing | None = None,
) -> float | None:
    """The household bound, tightened until ``deadline`` by column generation: a linear programme over
    sets of units that may live together (one set per household, one household per unit) gives new
    prices; each household's best set at them is a new column, and the bound at every price tried is
    valid.  Prices are smoothed towards the best so far (``smoothing``), which keeps the early rounds
    from wandering.  Reports each better bound to ``on_bound``, and stops once ``stop`` is set;
    returns the best (None if even the first was not done in time).  ``on_solve`` is given the function
    that interrupts the linear programme's solve under way.  At convergence the bound is the
    best any prices give.  ``columns`` (household, units) start the programme off, for example the
    households of a good allocation: the sooner its prices are good.  ``pricing``: the instance's
    :class:`HouseholdPricing` when the caller has one already (England's takes a few tenths of a second to make)."""
    pricing = pricing or HouseholdPricing(instance)
    first = pricing.price(prices, deadline, stop)
    if first is None:
        return None
    best, sets = first
    sets = [*sets, *columns]
    on_bound(best)
    center = prices
    master = pywraplp.Solver.CreateSolver("GLOP")
    on_solve(master.InterruptSolve)
    one_household = [master.Constraint(-master.infinity(), 1) for _ in instance.units]
    one_set = {h: master.Constraint(-master.infinity(), 1) for h in pricing.candidates}
    objective = master.Objective()
    objective.SetMaximization()
    seen: set[tuple[int, tuple[int, ...]]] = set()

    def add(household: int, units: list[int]) -> bool:
        key = (household, tuple(sorted(units)))
        if key in seen:
            return False
        seen.add(key)
        column = master.NumVar(0, 1, "")
        one_set[household].SetCoefficient(column, 1)
        for u in units:
            one_household[u].SetCoefficient(column, 1)
        objective.SetCoefficient(column, float(pricing.weights[units].sum()))
        return True

    weight = smoothing
    while stop is None or not stop.is_set():
        added = sum(add(household, units) for household, units in sets)
        if not added:
            if weight == 0.0:  # the master's own prices find nothing new: it is the best bound
                return best
            weight = 0.0  # smoothed prices found nothing new: try the master's own
        else:
            weight = smoothing
        master.SetTimeLimit(max(1, int(1000 * (deadline - time.perf_counter()))))
        if time.perf_counter() >= deadline or master.Solve() != pywraplp.Solver.OPTIMAL:
            return best
        duals = np.array([max(0.0, c.dual_value()) for c in one_household])
        if best - objective.Value() < 1e-6:  # the bound meets the master: no prices prove more
            return best
        trial = weight * center + (1 - weight) * duals
        priced = pricing.price(trial, deadline, stop)
        if priced is None:
            return best
        value, sets = priced
        if value < best:
            best, center = value, trial
            on_bound(best)
    return best


def best_set(instance: AllocationInstance, household: int, gains: list[tuple[float, int]]) -> tuple[float, list[int]]:
    """The largest total gain of units (``gains``: (gain, unit), best first, all positive) that may all
    live in ``household`` together, and those units."""
    room = instance.households[household]
    best: tuple[float, list[int]] = (0.0, [])
    shared = []
    for gain, u in gains:
        if room.must_live_alone(instance.units[u]):
            if gain > best[0] and fits(instance, [], u, household):  # lives there alone
                best = (gain, [u])
        else:
            shared.append((gain, u))
    return _best_shared(instance, household, shared, room.places, 0, [], 0, 0.0, best)


def _best_shared(
    instance: AllocationInstance,
    household: int,
    shared: list[tuple[float, int]],
    places: int,
    start: int,
    chosen: list[int],
    used: int,
    value: float,
    best: tuple[float, list[int]],
) -> tuple[float, list[int]]:
    """:func:`best_set`'s branch and bound over the units that may share (``shared``, best gain first): the better of
    ``best`` and the best set extending ``chosen`` (``used`` places, worth ``value``) with units from ``start`` on.
    (A function of its own, not a closure calling itself: that closure is a reference cycle, and England's household
    bound made 39,000 of them, holding 1.8 million tuples, for the collector to find after the allocation.)"""
    if value > best[0]:
        best = (value, chosen)
    for i in range(start, len(shared)):
        gain, u = shared[i]
        if value + gain * (places - used) <= best[0]:
            return best  # every later unit gains at most this much and takes at least one place
        size = instance.units[u].size
        if used + size <= places and fits(instance, chosen, u, household):
            best = _best_shared(
                instance, household, shared, places, i + 1, [*chosen, u], used + size, value + gain, best
            )
    return best


def objective_bound(instance: AllocationInstance, children: float) -> float:
    """An upper bound in objective units (``child_weight x children + fit``) for allocations placing at
    most ``children`` urgency-weighted children: whole children (weights are whole numbers), plus every
    unit's best fit; fewer children can never score more, because all the fit in the instance is worth
    less than one child."""
    if not instance.arcs:
        return instance.child_weight * math.floor(children + 1e-6)
    best_fit = np.zeros(len(instance.units))
    np.maximum.at(best_fit, arc_array(instance, "unit"), np.round(arc_array(instance, "score") * SCALE) / SCALE)
    return instance.child_weight * math.floor(children + 1e-6) + float(best_fit.sum())


class BackgroundBound:
    """The household bound, computed on a thread of its own while the solver searches (the maximum flows, GLOP and
    the min-cost flow release the interpreter lock, so on two cores both make progress; pricing each household's
    best set does not: about a second on England, once at the cut prices and once at GLOP's), first at the cut prices
    (:func:`cut_prices`), then at GLOP's, tightened by column generation until its deadline or until it proves what
    the solver found.  The cuts themselves cannot be interrupted (0.3 s on England), so it may end that much past its
    deadline.  It only informs the reported bound: the allocation found does not depend on whether it finished in
    time."""

    def __init__(self, instance: AllocationInstance, deadline: float) -> None:
        self._instance = instance
        self._deadline = deadline
        self._children: float | None = None
        self._enough = -math.inf
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._interrupt: Callable[[], object] | None = None  # stops the linear programme being solved
        self._thread = threading.Thread(target=self._run, name="household-bound", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            # First the prices the minimum cuts give (a second on England), then GLOP's, a little tighter (3-9 s).
            pricing = None
            if time.perf_counter() < self._deadline and not self._stop.is_set():
                pricing = HouseholdPricing(self._instance)  # made once: column generation prices with it too
                quick = pricing.price(cut_prices(self._instance), self._deadline, self._stop)
                if quick is not None:
                    self._better(quick[0])
            left = self._deadline - time.perf_counter()
            if left > 0 and not self._stop.is_set():
                prices = lp_prices(self._instance, time_limit=left, on_solve=self._solving)
                if prices is not None and not self._stop.is_set():
                    column_generation(
                        self._instance,
                        prices,
                        self._deadline,
                        self._better,
                        stop=self._stop,
                        on_solve=self._solving,
                        pricing=pricing,
                    )
        finally:
            with self._changed:
                self._changed.notify_all()

    def _solving(self, interrupt: Callable[[], object]) -> None:
        with self._changed:
            self._interrupt = interrupt
            stopped = self._stop.is_set()
        if stopped:
            interrupt()

    def _better(self, children: float) -> None:
        with self._changed:
            if self._children is not None and self._children <= children:
                return  # column generation starts again from GLOP's prices: only a tighter bound is news
            self._children = children
            self._changed.notify_all()
            if self._proves_enough():
                self._stop.set()

    def _proves_enough(self) -> bool:
        return self._children is not None and math.floor(self._children + 1e-6) <= self._enough

    def children(self, wait_until: float, enough: float = -math.inf) -> float | None:
        """The best bound on urgency-weighted children placed found by ``wait_until``, waiting no longer
        once it proves that no allocation places more than ``enough`` (None if there is none yet)."""
        with self._changed:
            self._enough = enough
            while self._thread.is_alive() and not self._proves_enough():
                left = wait_until - time.perf_counter()
                if left <= 0:
                    break
                self._changed.wait(left)
            return self._children

    def close(self, wait: float = 0.0) -> None:
        """Stop tightening (the thread ends after the step under way, and by its deadline), waiting up to
        ``wait`` seconds for the thread to end."""
        with self._changed:
            self._stop.set()
            interrupt = self._interrupt
        if interrupt is not None:
            interrupt()
        if wait > 0:
            self._thread.join(wait)
