"""The neighbourhood search: once every unplaced unit's neighbourhood has been tried, wider ones placed for children
first (``_widened``), never worse, always valid, keeping the like-for-like rule when asked."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.allocation.baselines import first_come_first_served, greedy_best_pair
from matching.allocation.guard import holds, rule_rows
from matching.allocation.instance import AllocationInstance, Arc, weighted_children
from matching.allocation.solver import SolverSettings, _improve
from matching.allocation.validate import objective, violations
from tests.allocation.factories import drawn_arcs, drawn_rooms, room, unit


def chain(length: int) -> tuple[AllocationInstance, dict[int, int]]:
    """One place in each of ``length + 1`` households; unit i (of ``length``) lives in household i and may also live
    in i + 1 (the last one is empty); the seed, unplaced, may live only in household 0.  Placing it moves every unit
    one household along: a neighbourhood must hold the whole chain."""
    units = [unit(f"U{i}") for i in range(length)] + [unit("SEED")]
    rooms = [room(f"H{h}") for h in range(length + 1)]
    arcs = [Arc(i, h, 50.0, 5.0) for i in range(length) for h in (i, i + 1)] + [Arc(length, 0, 50.0, 5.0)]
    instance = AllocationInstance(units, rooms, arcs)
    return instance, {i: 2 * i for i in range(length)}  # unit i in household i


def test_a_chain_longer_than_a_neighbourhood_is_found_by_widening() -> None:
    instance, start = chain(3)
    seed = len(instance.units) - 1
    found = _improve(
        instance, start, SolverSettings(neighbourhood_units=2), time.perf_counter() + 10, instance.arcs_of_unit()
    )
    assert seed in found  # two units around the seed cannot move the chain; four can
    assert weighted_children(instance, found) == weighted_children(instance, start) + instance.units[seed].weight
    assert violations(instance, found) == []


def test_no_widening_without_the_time() -> None:
    instance, start = chain(3)
    found = _improve(
        instance, start, SolverSettings(neighbourhood_units=2), time.perf_counter(), instance.arcs_of_unit()
    )
    assert found == start


@st.composite
def contested(draw: st.DrawFn) -> AllocationInstance:
    n_units, n_households = draw(st.integers(2, 9)), draw(st.integers(1, 4))
    units = [
        unit(f"U{i}", age=draw(st.integers(0, 17)), la=draw(st.sampled_from(["L1", "L2"]))) for i in range(n_units)
    ]
    return AllocationInstance(units, drawn_rooms(draw, n_households, 2), drawn_arcs(draw, n_units, n_households))


@settings(max_examples=60, deadline=None)
@given(contested(), st.booleans())
def test_the_search_never_returns_worse_and_keeps_the_rule(instance: AllocationInstance, guarded: bool) -> None:
    first_come = first_come_first_served(instance)
    start = first_come if guarded else greedy_best_pair(instance)
    rule = rule_rows(instance, first_come) if guarded else None
    found = _improve(
        instance,
        start,
        SolverSettings(neighbourhood_units=1, workers=1),
        time.perf_counter() + 5,
        instance.arcs_of_unit(),
        rule=rule,
    )
    assert violations(instance, found) == []
    assert objective(instance, found) >= objective(instance, start)
    if guarded:
        assert holds(instance, found, first_come)
