"""The household bound: never below what any valid allocation places, and tighter than the flow where
the rules between children bind."""

from __future__ import annotations

import gc
import time

import numpy as np
import pytest
from hypothesis import given, settings
from ortools.sat.python import cp_model
from scipy.optimize import linprog

from matching.allocation.bound import (
    BackgroundBound,
    column_generation,
    cut_prices,
    household_bound,
    lp_prices,
    objective_bound,
)
from matching.allocation.constraints.capacity import RoomArrays
from matching.allocation.constraints.usable import usable
from matching.allocation.instance import URGENCY_WEIGHT, AllocationInstance, Arc, HouseholdRoom, arc_array
from matching.allocation.model import build_model
from matching.allocation.rounding import round_flow
from matching.allocation.solver import SolverSettings, solve
from tests.allocation.test_rounding import instances, optimum, unit


def most_children(instance: AllocationInstance) -> int:
    """The most urgency-weighted children any valid allocation places (CP-SAT, proven)."""
    if not instance.arcs:
        return 0
    model, x = build_model(instance)
    model.maximize(sum(instance.units[a.unit].weight * x[k] for k, a in enumerate(instance.arcs)))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    assert solver.solve(model) == cp_model.OPTIMAL
    return round(solver.objective_value)


@settings(max_examples=150, deadline=None)
@given(instances())
def test_the_household_bound_is_never_below_the_optimum(instance: AllocationInstance) -> None:
    prices = lp_prices(instance)
    assert prices is not None
    assert prices.shape == (len(instance.units),)
    assert (prices >= 0).all()
    children = household_bound(instance, prices)
    assert children is not None
    assert children >= most_children(instance) - 1e-6
    assert objective_bound(instance, children) >= optimum(instance) - 1e-6
    # valid whatever the prices: none at all, or every unit priced at its whole weight
    weights = np.array([u.weight for u in instance.units], dtype=float)
    for other in (np.zeros(len(instance.units)), weights):
        assert (household_bound(instance, other) or 0.0) >= most_children(instance) - 1e-6


def solo_and_friend() -> AllocationInstance:
    """Two children and one household with two places; one of them must live alone."""
    units = [unit(0, (9,), "solo"), unit(1, (7,))]
    rooms = [HouseholdRoom("H0", "L001", 2, 2, True)]
    return AllocationInstance(units, rooms, [Arc(0, 0, 80.0, 1.0), Arc(1, 0, 70.0, 1.0)])


def older_only_pair() -> AllocationInstance:
    """Two children who may not live together (the younger may live only with older children), two
    households of two places each, both children eligible for one only."""
    units = [unit(0, (10,), "only_older"), unit(1, (8,)), unit(2, (12,))]
    rooms = [HouseholdRoom("H0", "L001", 2, 2, True), HouseholdRoom("H1", "L001", 1, 1, True)]
    arcs = [Arc(0, 0, 90.0, 1.0), Arc(1, 0, 90.0, 1.0), Arc(2, 1, 60.0, 1.0)]
    return AllocationInstance(units, rooms, arcs)


@pytest.mark.parametrize(("instance", "flow_children", "best"), [(solo_and_friend(), 2, 1), (older_only_pair(), 3, 2)])
def test_the_household_bound_keeps_the_rules_the_flow_ignores(
    instance: AllocationInstance, flow_children: int, best: int
) -> None:
    flow = round_flow(instance, 0.0).bound
    assert flow >= flow_children * instance.child_weight  # the flow places every child
    prices = lp_prices(instance)
    assert prices is not None
    children = household_bound(instance, prices)
    assert children == pytest.approx(best)  # proves the most any valid allocation places
    assert most_children(instance) == best
    assert objective_bound(instance, children) < flow


def test_the_bound_in_the_background_gives_up_at_its_deadline() -> None:
    instance = older_only_pair()
    assert BackgroundBound(instance, time.perf_counter() - 1).children(time.perf_counter() + 5) is None
    assert BackgroundBound(instance, time.perf_counter() + 60).children(time.perf_counter() + 60) == pytest.approx(2)


def test_solve_reports_which_bound_proves_the_gap() -> None:
    """Without the exact model on the whole instance, the household bound replaces the flow's."""
    instance = older_only_pair()
    result = solve(
        instance, SolverSettings(time_limit_seconds=5, full_model_max_arcs=0, no_worse_than_first_come=False)
    )
    assert result.bound_source == "households"
    assert result.bound < round_flow(instance, 0.0).bound
    assert result.bound >= result.objective
    whole = solve(instance, SolverSettings(time_limit_seconds=5, no_worse_than_first_come=False))
    assert whole.bound_source == "exact model"
    assert whole.status == "optimal"


@settings(max_examples=60, deadline=None)
@given(instances())
def test_column_generation_only_tightens_a_sound_bound(instance: AllocationInstance) -> None:
    prices = lp_prices(instance)
    assert prices is not None
    start = household_bound(instance, prices)
    seen: list[float] = []

    def report(bound: float) -> None:
        seen.append(bound)

    tightened = column_generation(instance, prices, time.perf_counter() + 30, report)
    assert tightened is not None
    assert start is not None
    assert most_children(instance) - 1e-6 <= tightened <= start + 1e-6
    assert seen == sorted(seen, reverse=True)  # each report is better than the last
    assert seen[-1] == pytest.approx(tightened)


def _split_relaxation(instance: AllocationInstance) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """The relaxation the minimum cuts price, solved as a linear programme (HiGHS): siblings may be split, a unit
    weighs only its children in a room; with its usable pairs' units and households, and each room."""
    ok = np.flatnonzero(usable(instance))
    unit, home = arc_array(instance, "unit")[ok], arc_array(instance, "household")[ok]
    rooms = RoomArrays.of(instance)
    weight = np.array([u.weight for u in instance.units], dtype=float)
    room = np.asarray(rooms.room(), dtype=float)
    if not len(ok):
        return 0.0, unit, home, room
    n, m, cols = len(instance.units), len(instance.households), np.arange(len(ok))
    rows = np.zeros((n + m, len(ok)))
    rows[unit, cols] = 1.0
    rows[n + home, cols] = rooms.sizes[unit]
    found = linprog(-weight[unit], A_ub=rows, b_ub=np.concatenate([np.ones(n), room]), bounds=(0, 1), method="highs")
    assert found.status == 0
    return -found.fun, unit, home, room


@settings(max_examples=150, deadline=None)
@given(instances())
def test_the_cut_prices_are_the_split_relaxations_best(instance: AllocationInstance) -> None:
    prices = cut_prices(instance)
    assert prices.shape == (len(instance.units),)
    assert (prices >= 0).all()
    best, unit, home, room = _split_relaxation(instance)
    dual = _split_dual(instance, prices)
    size = RoomArrays.of(instance).sizes
    assert dual == pytest.approx(best, abs=1e-6)
    assert not prices[np.setdiff1d(np.arange(len(instance.units)), unit)].any()  # a unit no room may take: free
    children = household_bound(instance, prices)
    assert children is not None
    assert children >= most_children(instance) - 1e-6  # valid, as at any prices
    if (size[unit] <= room[home]).all():  # then the split problem relaxes the households' own: the rules only tighten
        assert children <= best + 1e-6


def _split_dual(instance: AllocationInstance, prices: np.ndarray) -> float:
    """The split problem's dual at ``prices``: the prices of units some room may take, plus in each room the most it
    can gain from them with units split (best gain per child first).  Never below the problem's optimum (weak
    duality); equal to it at its best prices."""
    ok = np.flatnonzero(usable(instance))
    unit, home = arc_array(instance, "unit")[ok], arc_array(instance, "household")[ok]
    weight = np.array([u.weight for u in instance.units], dtype=float)
    rooms = RoomArrays.of(instance)
    size, room = rooms.sizes, rooms.room()
    dual = float(prices[np.unique(unit)].sum())
    for h in range(len(instance.households)):
        gains = sorted(((weight[u] - prices[u]) / size[u], int(size[u])) for u in set(unit[home == h].tolist()))
        left = float(room[h])
        for per_child, children in reversed(gains):
            if per_child <= 0 or left <= 0:
                break
            dual += per_child * min(children, left)
            left -= min(children, left)
    return dual


@pytest.mark.parametrize("seed", range(12))
def test_the_cut_prices_are_the_split_problems_best_on_larger_instances(seed: int) -> None:
    # Rooms priced at several worths at once (a household contested at every urgency) need more than the small
    # instances above usually draw.
    rnd = np.random.default_rng(seed)
    units = [
        unit(i, tuple(int(a) for a in rnd.integers(0, 18, size)), urgency=str(rnd.choice(sorted(URGENCY_WEIGHT))))
        for i, size in enumerate(rnd.choice([1, 1, 1, 2], 40))
    ]
    rooms = [HouseholdRoom(f"H{h}", "L001", int(rnd.integers(1, 4)), None, True) for h in range(10)]
    arcs = [Arc(u, h, 50.0, 1.0) for u in range(40) for h in range(10) if rnd.random() < 0.2]
    instance = AllocationInstance(units, rooms, arcs)
    assert _split_dual(instance, cut_prices(instance)) == pytest.approx(_split_relaxation(instance)[0], abs=1e-6)


def test_the_background_bound_starts_from_the_cut_prices() -> None:
    # GLOP never gets the time: the cut prices alone prove it (the younger may live only with older children).
    instance = older_only_pair()
    bound = BackgroundBound(instance, time.perf_counter() + 60)
    assert bound.children(time.perf_counter() + 60, enough=2) == pytest.approx(2)
    bound.close()


def test_pricing_the_households_leaves_nothing_for_the_collector() -> None:
    # Each household's branch and bound was a closure calling itself: a reference cycle per household priced, holding
    # its gains (England: 39,000 of them and 1.8 million tuples, 1.7 s for the collector after the allocation).
    units = [unit(i, (8 + i,)) for i in range(4)]
    rooms = [HouseholdRoom("H0", "L001", 3, 3, True), HouseholdRoom("H1", "L001", 2, 3, True)]
    instance = AllocationInstance(units, rooms, [Arc(u, h, 50.0 + u, 1.0) for u in range(4) for h in range(2)])
    gc.collect()
    gc.disable()
    try:
        children = household_bound(instance, np.zeros(len(units)))
        left = gc.collect()
    finally:
        gc.enable()
    # At no prices each household takes its best set as if alone: three units in one, two in the other.
    assert children == pytest.approx(5 * units[0].weight)
    assert left == 0
