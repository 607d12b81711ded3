"""The families together break exactly when the validator (the specification) refuses, and each family's words
agree with its rows in CP-SAT.

Known differences, by design, outside what this checks: the validator also refuses an assignment that hands a unit
an arc that does not exist or belongs to another unit (an assignment's shape, not a row: the families read only
which arcs are used), and, on instances built from the store (with their records), judges every eligibility rule
again for every placed child with the others placed there; the families express that through the room and the
limits between units (each arc already passed the rules for its unit alone).  Limits between siblings of one unit
bar neither: the care plan weighs them.
"""

from __future__ import annotations

from hypothesis import given, settings

from matching.allocation import constraints
from matching.allocation.instance import AllocationInstance
from matching.allocation.validate import violations
from tests.allocation.factories import instances_with_choice
from tests.allocation.fixing import accepts


@settings(max_examples=300, deadline=None)
@given(instances_with_choice())
def test_the_families_refuse_exactly_what_the_validator_refuses(
    case: tuple[AllocationInstance, dict[int, int]],
) -> None:
    instance, assignment = case
    assert (constraints.violations(instance, assignment) == []) == (violations(instance, assignment) == [])


@settings(max_examples=100, deadline=None)
@given(instances_with_choice())
def test_each_family_names_a_problem_exactly_when_its_rows_refuse(
    case: tuple[AllocationInstance, dict[int, int]],
) -> None:
    instance, assignment = case
    for family in constraints.FAMILIES:
        assert (family.violations(instance, assignment) == []) == accepts(instance, assignment, family)
