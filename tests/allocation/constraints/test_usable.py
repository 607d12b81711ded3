"""Pairs no valid allocation can use: a feasible and an infeasible case, by the family's rows, the whole model and the
validator."""

from __future__ import annotations

from matching.allocation.constraints import usable
from matching.allocation.validate import violations
from tests.allocation.factories import instance, room, unit
from tests.allocation.fixing import accepts


def test_a_sibling_group_alone_in_an_empty_household_over_the_usual_limit_is_usable() -> None:
    inst = instance([unit("Four", size=4)], [room("H", vacancies=4, usual_room=3, empty=True)], [(0, 0, 50)])
    assert usable.usable(inst).tolist() == [True]
    assert usable.violations(inst, {0: 0}) == []
    assert violations(inst, {0: 0}) == []
    assert accepts(inst, {0: 0}, usable)
    assert accepts(inst, {0: 0})


def test_a_unit_without_room_on_its_own_cannot_be_placed_there() -> None:
    inst = instance(
        [unit("Three", size=3), unit("Four", size=4)],
        [room("Small", vacancies=2), room("Lived-in", vacancies=4, usual_room=3, empty=False)],
        [(0, 0, 50), (1, 1, 50)],
    )
    assert usable.usable(inst).tolist() == [False, False]
    assert usable.violations(inst, {0: 0, 1: 1}) == [
        "Small: no room for Three (3 children for 2 free places)",
        "Lived-in: no room for Four (4 children over the usual fostering limit, not a sibling group alone in an "
        "empty household)",
    ]
    assert violations(inst, {0: 0})
    assert violations(inst, {1: 1})
    assert not accepts(inst, {0: 0}, usable)
    assert not accepts(inst, {1: 1}, usable)
    assert not accepts(inst, {0: 0})
    assert accepts(inst, {})
