"""One household per unit: a feasible and an infeasible case, by the family's rows, the whole model and the
validator."""

from __future__ import annotations

from matching.allocation.constraints import one_household
from matching.allocation.validate import violations
from tests.allocation.factories import instance, room, unit
from tests.allocation.fixing import accepts


def _two_homes():  # type: ignore[no-untyped-def]
    # A may go to H1 (arc 0) or H2 (arc 1); B to H2 (arc 2).
    return instance([unit("A"), unit("B")], [room("H1"), room("H2")], [(0, 0, 50), (0, 1, 60), (1, 1, 40)])


def test_a_unit_in_one_of_its_households() -> None:
    inst = _two_homes()
    assert one_household.violations(inst, {0: 1}) == []
    assert violations(inst, {0: 1}) == []
    assert accepts(inst, {0: 1}, one_household)
    assert accepts(inst, {0: 0, 1: 2})


def test_a_unit_in_two_households_is_refused() -> None:
    inst = _two_homes()
    both = {0: 0, 1: 1}  # A's two pairs, the second handed to B
    assert one_household.violations(inst, both) == ["A: placed in 2 households"]
    assert any("belongs to another unit" in v for v in violations(inst, both))
    assert not accepts(inst, both, one_household)
    assert not accepts(inst, both)
