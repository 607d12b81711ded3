"""The CP-SAT model accepts exactly the allocations the validator accepts (the specification)."""

from __future__ import annotations

from hypothesis import given, settings

from matching.allocation.constraints.usable import usable
from matching.allocation.instance import AllocationInstance, Arc, HouseholdRoom
from matching.allocation.validate import violations
from tests.allocation.factories import instances_with_choice, make_unit
from tests.allocation.fixing import accepts


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
