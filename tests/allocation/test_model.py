"""The CP-SAT model accepts exactly the allocations the validator accepts (the specification)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from matching.allocation.instance import AllocationInstance, Arc, HouseholdRoom
from matching.allocation.model import build_model, usable
from matching.allocation.validate import violations
from tests.allocation.factories import make_unit

LIVE = ["any", "any", "solo", "only_older", "only_younger"]
RISKS = [(), (), ("sexual_harm",), ("physical_harm",), ("sexual_harm", "physical_harm")]


@st.composite
def instances_with_choice(draw: st.DrawFn) -> tuple[AllocationInstance, dict[int, int]]:
    """A few units (mixed ages, rules and sizes), two households, every pair eligible, and a choice of
    household (or none) for each unit."""
    n_units = draw(st.integers(1, 5))
    units = []
    for i in range(n_units):
        size = draw(st.sampled_from([1, 1, 1, 2, 3, 4]))
        ages = tuple(draw(st.lists(st.integers(0, 17), min_size=size, max_size=size)))
        each = [(draw(st.sampled_from(LIVE)), draw(st.sampled_from(RISKS))) for _ in ages]
        units.append(make_unit(f"U{i}", tuple(f"U{i}-{j}" for j in range(size)), ages, "over_5_days", per_child=each))
    rooms = []
    for h in range(2):
        vacancies = draw(st.integers(1, 5))
        exempt = draw(st.booleans())
        rooms.append(
            HouseholdRoom(f"H{h}", "L001", vacancies, None if exempt else draw(st.integers(0, 3)), draw(st.booleans()))
        )
    arcs = [Arc(u, h, 50.0, 1.0) for u in range(n_units) for h in range(2)]
    instance = AllocationInstance(units, rooms, arcs)
    choice = {}
    for u in range(n_units):
        h = draw(st.sampled_from([None, 0, 1]))
        if h is not None:
            choice[u] = 2 * u + h
    return instance, choice


def accepts(instance: AllocationInstance, assignment: dict[int, int]) -> bool:
    """Whether the model has a solution with exactly these pairs chosen."""
    model, x = build_model(instance)
    chosen = set(assignment.values())
    for k, var in enumerate(x):
        model.add(var == (1 if k in chosen else 0))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    return solver.solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)


@settings(max_examples=300, deadline=None)
@given(instances_with_choice())
def test_model_and_validator_agree(case: tuple[AllocationInstance, dict[int, int]]) -> None:
    instance, assignment = case
    assert accepts(instance, assignment) == (not violations(instance, assignment))


@settings(max_examples=100, deadline=None)
@given(instances_with_choice())
def test_unusable_pairs_are_in_no_valid_allocation(case: tuple[AllocationInstance, dict[int, int]]) -> None:
    instance, _ = case
    ok = usable(instance)
    for k, arc in enumerate(instance.arcs):
        alone_valid = not violations(instance, {arc.unit: k})
        assert bool(ok[k]) == alone_valid


def test_two_groups_over_the_usual_limit_cannot_share_an_empty_household_with_no_usual_room() -> None:
    """Found by the rounding test: with no usual room left the whole room was 0, so any number of
    groups "alone" fitted in it."""
    groups = [make_unit(f"G{i}", (f"G{i}-0", f"G{i}-1"), (5, 7), "today") for i in range(2)]
    instance = AllocationInstance(
        groups, [HouseholdRoom("H0", "L001", 4, 0, True)], [Arc(0, 0, 50.0, 1.0), Arc(1, 0, 50.0, 1.0)]
    )
    assert violations(instance, {0: 0, 1: 1}) != []
    assert not accepts(instance, {0: 0, 1: 1})
    assert accepts(instance, {0: 0})
    assert accepts(instance, {1: 1})
