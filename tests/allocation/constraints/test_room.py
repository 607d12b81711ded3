"""Room in each household: feasible and infeasible cases, by the family's rows, the whole model and the validator."""

from __future__ import annotations

from matching.allocation.constraints import room as room_family
from matching.allocation.constraints import together, usable
from matching.allocation.validate import violations
from tests.allocation.factories import instance, room, unit
from tests.allocation.fixing import accepts


def test_children_within_the_free_places_and_the_usual_limit() -> None:
    inst = instance(
        [unit("A"), unit("B", size=2), unit("Solo", live="solo")],
        [room("H", vacancies=3), room("Alone", vacancies=2)],
        [(0, 0, 50), (1, 0, 50), (2, 1, 50)],
    )
    fine = {0: 0, 1: 1, 2: 2}
    assert room_family.violations(inst, fine) == []
    assert violations(inst, fine) == []
    assert accepts(inst, fine, room_family)
    assert accepts(inst, fine)


def test_over_the_room_or_with_a_child_who_must_live_alone() -> None:
    inst = instance(
        [unit("A", size=2), unit("B", size=2), unit("Solo", live="solo"), unit("C")],
        [room("Three", vacancies=4, usual_room=3), room("Two", vacancies=2)],
        [(0, 0, 50), (1, 0, 50), (2, 1, 50), (3, 1, 50)],
    )
    over, crowded = {0: 0, 1: 1}, {2: 2, 3: 3}
    assert room_family.violations(inst, over) == ["Three: A, B take 4 of a room of 3"]
    assert room_family.violations(inst, crowded) == ["Two: Solo, C take 3 of a room of 2; Solo must live alone"]
    for wrong in (over, crowded):
        assert usable.violations(inst, wrong) == []  # the room's alone
        assert together.violations(inst, wrong) == []
        assert violations(inst, wrong)
        assert not accepts(inst, wrong, room_family)
        assert not accepts(inst, wrong)
