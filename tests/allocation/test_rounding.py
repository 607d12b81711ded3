"""Rounding the flow relaxation: what it decides is always valid, and its bound is never below the optimum."""

from __future__ import annotations

import math
import time
from datetime import date
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from matching.allocation import rounding as rounding_module
from matching.allocation.instance import (
    SCALE,
    AllocationInstance,
    Arc,
    HouseholdRoom,
    Unit,
    arc_values,
    weighted_children,
)
from matching.allocation.model import build_model
from matching.allocation.rounding import FitFloor, _flow, round_flow
from matching.allocation.validate import objective, violations
from tests.allocation.factories import make_unit
from tests.allocation.test_exact import every_allocation, tiny, worst_of

LIVE = ["any", "any", "any", "solo", "only_older", "only_younger"]
RISKS = [(), (), (), ("sexual_harm",), ("physical_harm",)]


def unit(
    i: int,
    ages: tuple[int, ...],
    live: str = "any",
    risks: tuple[str, ...] = (),
    urgency: str = "over_5_days",
    per_child: list[tuple[str, tuple[str, ...]]] | None = None,
) -> Unit:
    """A unit of ``len(ages)`` children (the first with ``live`` and ``risks``, or each their own)."""
    ids = tuple(f"U{i}-{j}" for j in range(len(ages)))
    return make_unit(f"U{i}", ids, ages, urgency, date(2026, 3, 1), "L001", live, risks, per_child)


@st.composite
def instances(draw: st.DrawFn) -> AllocationInstance:
    """Up to 7 units (mixed sizes, ages and rules) and 4 households, random eligible pairs and fits."""
    n_units, n_households = draw(st.integers(1, 7)), draw(st.integers(1, 4))
    units = []
    for i in range(n_units):
        size = draw(st.sampled_from([1, 1, 1, 2, 3]))
        ages = tuple(draw(st.lists(st.integers(0, 17), min_size=size, max_size=size)))
        urgency = draw(st.sampled_from(["today", "within_5_days", "over_5_days"]))
        each = [(draw(st.sampled_from(LIVE)), draw(st.sampled_from(RISKS))) for _ in ages]
        units.append(unit(i, ages, urgency=urgency, per_child=each))
    rooms = []
    for h in range(n_households):
        vacancies = draw(st.integers(1, 4))
        usual = None if draw(st.booleans()) else draw(st.integers(0, 3))
        rooms.append(HouseholdRoom(f"H{h}", "L001", vacancies, usual, draw(st.booleans())))
    arcs = [
        Arc(u, h, draw(st.floats(1, 100).map(lambda s: round(s, 2))), 1.0)
        for u in range(n_units)
        for h in range(n_households)
        if draw(st.booleans())
    ]
    return AllocationInstance(units, rooms, arcs)


def optimum(instance: AllocationInstance) -> float:
    """The best objective of any valid allocation (the exact model, proven by CP-SAT)."""
    if not instance.arcs:
        return 0.0
    model, x = build_model(instance)
    model.maximize(cp_model.LinearExpr.weighted_sum(x, arc_values(instance).tolist()))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    assert solver.solve(model) == cp_model.OPTIMAL
    return solver.objective_value / 100


@settings(max_examples=200, deadline=None)
@given(instances(), st.sampled_from([None, False, True]))
def test_rounding_decides_only_valid_placements_under_a_sound_bound(
    instance: AllocationInstance, narrow: bool | None
) -> None:
    rounding = round_flow(instance, time.perf_counter() + 60, narrow=narrow)
    assert violations(instance, rounding.decided) == []
    assert not set(rounding.decided) & rounding.open_units
    best = optimum(instance)
    assert objective(instance, rounding.decided) <= best + 1e-6
    assert rounding.bound >= best - 1e-6
    assert round_flow(instance, 0.0).bound == rounding.bound  # the first round's value
    pairs = {(arc.unit, arc.household) for arc in instance.arcs}
    assert all(pair in pairs for pair in rounding.flowed.items())  # the first flow's units, each where it went
    # With no time for a second round like the first, everything placed validly is settled and the rest rounded
    # while there is time by ``latest``: still valid, never worse-bounded.
    short = round_flow(instance, time.perf_counter(), narrow=narrow, latest=time.perf_counter() + 60)
    assert violations(instance, short.decided) == []
    assert short.bound == rounding.bound
    assert not set(short.decided) & short.open_units
    if narrow is False:  # told not to narrow: it stops where it was told
        assert short.rounds <= 1


def test_narrowing_settles_what_no_open_unit_could_move(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three units: the flow puts two in one household against the rules (only one may live with older
    children) and the third, which no other unit could go to, in a household of its own.  Narrowed, that
    one is settled after the first round and the second round re-solves only the two."""
    units = [unit(0, (10,), "only_older", urgency="today"), unit(1, (8,)), unit(2, (5,))]
    rooms = [
        HouseholdRoom("H0", "L001", 2, 2, True),
        HouseholdRoom("H1", "L001", 1, 1, True),
        HouseholdRoom("H2", "L001", 1, 1, True),
    ]
    arcs = [Arc(0, 0, 90.0, 1.0), Arc(1, 0, 90.0, 1.0), Arc(1, 1, 60.0, 1.0), Arc(2, 2, 70.0, 1.0)]
    instance = AllocationInstance(units, rooms, arcs)
    solved: dict[bool, list[int]] = {False: [], True: []}
    flow = rounding_module._flow
    for narrow in (False, True):

        def counted(arrays: Any, active: np.ndarray, cap: np.ndarray, narrow: bool = narrow) -> Any:
            solved[narrow].append(int(active.sum()))
            return flow(arrays, active, cap)

        monkeypatch.setattr(rounding_module, "_flow", counted)
        rounding = round_flow(instance, time.perf_counter() + 60, narrow=narrow)
        assert rounding.decided == {0: 0, 1: 2, 2: 3}
        assert rounding.rounds == 2
    assert solved == {False: [4, 2], True: [4, 1]}  # narrowed, unit 2's pair is settled, not solved again


def test_a_conflict_in_the_flow_is_resolved_by_moving_the_other_child() -> None:
    """The flow puts both children in the household they fit best, but the younger one may only live
    with older children: the urgent one is pinned there and the other goes to the second household."""
    units = [unit(0, (10,), "only_older", urgency="today"), unit(1, (8,))]
    rooms = [HouseholdRoom("H0", "L001", 2, 2, True), HouseholdRoom("H1", "L001", 1, 1, True)]
    arcs = [Arc(0, 0, 90.0, 1.0), Arc(1, 0, 90.0, 1.0), Arc(1, 1, 60.0, 1.0)]
    instance = AllocationInstance(units, rooms, arcs)
    first = round_flow(instance, 0.0)  # one round: the relaxation breaks the rule
    assert first.decided == {}
    assert first.open_units == {0, 1}
    rounding = round_flow(instance, time.perf_counter() + 60)
    assert rounding.decided == {0: 0, 1: 2}
    assert rounding.open_units == set()
    assert rounding.rounds == 2


def test_a_split_sibling_group_is_pinned_whole_where_most_of_it_went() -> None:
    """Two siblings to place together: the flow sends one to each of two households with room 2 (each
    fits one of them best, and a single child fits the other); rounding keeps them together."""
    units = [unit(0, (6, 8)), unit(1, (12,))]
    rooms = [HouseholdRoom("H0", "L001", 2, 2, True), HouseholdRoom("H1", "L001", 1, 1, True)]
    arcs = [Arc(0, 0, 80.0, 1.0), Arc(0, 1, 99.0, 1.0), Arc(1, 0, 70.0, 1.0)]
    instance = AllocationInstance(units, rooms, arcs)
    rounding = round_flow(instance, time.perf_counter() + 60)
    assert violations(instance, rounding.decided) == []
    assert rounding.decided == {0: 0}  # together in H0; the single child has nowhere else


@settings(max_examples=60, deadline=None)
@given(tiny())
def test_the_flow_above_a_fit_floor_bounds_every_allocation(inst: AllocationInstance) -> None:
    """:class:`FitFloor` read from what it claims, against every allocation of a tiny instance: the flow above an
    allocation's worst-off fit places at least its children, and the highest floor found for that many children is
    at least the worst-off fit of every allocation placing as many (the fairness objective's bound)."""
    everything = [a for a in every_allocation(inst) if a]
    if not everything:
        return
    floors = FitFloor(inst)
    for a in everything:
        placed, worst = weighted_children(inst, a), round(worst_of(inst, a) * SCALE)
        assert floors.children(worst) >= placed
        highest, finished = floors.highest(placed, worst)
        assert finished
        fairest = max(worst_of(inst, b) for b in everything if weighted_children(inst, b) >= placed)
        assert highest >= round(fairest * SCALE)
        assert floors.children(highest) >= placed  # the floor returned still places them
    # Out of time at once: the highest floor not ruled out, which is still a bound.
    a = everything[0]
    assert floors.highest(weighted_children(inst, a), round(worst_of(inst, a) * SCALE), deadline=0.0) == (
        int(max(floors.levels.max(), round(worst_of(inst, a) * SCALE))),
        len(floors.levels[floors.levels > round(worst_of(inst, a) * SCALE)]) == 0,
    )


@settings(max_examples=100, deadline=None)
@given(instances())
def test_the_floors_children_are_the_min_cost_flows(inst: AllocationInstance) -> None:
    """:meth:`FitFloor.children` counts by one maximum flow per urgency weight; at every floor it is the children part
    of the min-cost flow's optimum over the same pairs (children first, then fit), which it replaced."""
    floors = FitFloor(inst)
    for floor in [*floors.levels.tolist(), int(floors.levels.max(initial=0)) + 1]:
        value, _ = _flow(floors.arrays, floors.active & (floors.fits >= floor), floors.cap)
        assert floors.children(floor) == math.floor(value / inst.child_weight + 1e-9)


def test_the_units_the_first_flow_places_are_kept_for_the_neighbourhoods() -> None:
    """The neighbourhoods start from the units the relaxation placed and the answer did not, and follow where it
    sent them (nationally they placed 9 urgency-weighted children more in 2.5 s, then 12, where the most urgent first
    had placed 2 in 4.6 s): the first round's flow places the child referred today in the one place, not the
    other."""
    today, later = unit(0, (9,), urgency="today"), unit(1, (9,))
    instance = AllocationInstance([today, later], [HouseholdRoom("H0", "L001", 1, None, False)],
                                  [Arc(0, 0, 50.0, 1.0), Arc(1, 0, 90.0, 1.0)])  # fmt: skip
    rounding = round_flow(instance, time.perf_counter() + 10)
    assert rounding.flowed == {0: 0}
    assert rounding.decided == {0: 0}
