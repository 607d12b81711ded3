"""Each allocation constraint: a feasible and an infeasible case, checked by the validators and the solver."""

from __future__ import annotations

from datetime import date

from matching.allocation.baselines import first_come_first_served, greedy_best_pair
from matching.allocation.solver import SolverSettings, solve
from matching.allocation.validate import objective, violations
from tests.allocation.factories import instance, room, unit

ONE = SolverSettings(time_limit_seconds=5, random_seed=1, workers=1, no_worse_than_first_come=False)  # children first


def placed(inst, result) -> set[str]:  # type: ignore[no-untyped-def]
    return {inst.units[u].unit_id for u in result.assignment}


def test_one_household_at_most_its_vacancies() -> None:
    inst = instance([unit("A"), unit("B")], [room("H", vacancies=1)], [(0, 0, 50), (1, 0, 60)])
    assert violations(inst, {0: 0}) == []
    assert violations(inst, {0: 0, 1: 1})  # two children, one vacancy
    result = solve(inst, ONE)
    assert placed(inst, result) == {"B"}  # the better fit
    assert result.status == "optimal"
    assert result.unplaced == [{"child_id": "A", "reason": "households_taken", "detail": result.unplaced[0]["detail"]}]
    assert "B" in result.unplaced[0]["detail"]


def test_urgency_comes_before_fit() -> None:
    inst = instance([unit("Later"), unit("Today", urgency="today")], [room("H")], [(0, 0, 95), (1, 0, 20)])
    assert placed(inst, solve(inst, ONE)) == {"Today"}


def test_placing_more_children_comes_before_fit() -> None:
    # A fits H1 best, but then B has nowhere to go; placing both is worth more than A's better fit.
    inst = instance([unit("A"), unit("B")], [room("H1"), room("H2")], [(0, 0, 99), (0, 1, 10), (1, 0, 10)])
    result = solve(inst, ONE)
    assert placed(inst, result) == {"A", "B"}
    assert greedy_best_pair(inst) == {0: 0}  # the greedy baseline strands B


def test_usual_fostering_limit() -> None:
    three = room("H", vacancies=4, usual_room=3)
    inst = instance([unit("A", size=2), unit("B", size=2)], [three], [(0, 0, 50), (1, 0, 50)])
    assert violations(inst, {0: 0}) == []
    assert any("usual fostering limit" in v for v in violations(inst, {0: 0, 1: 1}))
    exempt = instance(
        [unit("A", size=2), unit("B", size=2)], [room("H", vacancies=4, usual_room=None)], [(0, 0, 50), (1, 0, 50)]
    )
    assert violations(exempt, {0: 0, 1: 1}) == []
    assert len(solve(exempt, ONE).assignment) == 2
    assert len(solve(inst, ONE).assignment) == 1


def test_large_sibling_group_only_alone_in_an_empty_household() -> None:
    inst = instance(
        [unit("Four", size=4), unit("One")], [room("H", vacancies=5, usual_room=3)], [(0, 0, 50), (1, 0, 50)]
    )
    assert violations(inst, {0: 0}) == []
    assert violations(inst, {0: 0, 1: 1})
    result = solve(inst, ONE)
    assert placed(inst, result) == {"Four"}  # four children beat one
    assert result.summary["siblings_together"] == 1


def test_solo_child_lives_alone() -> None:
    inst = instance([unit("Solo", live="solo"), unit("Other")], [room("H", vacancies=2)], [(0, 0, 50), (1, 0, 50)])
    assert violations(inst, {0: 0}) == []
    assert violations(inst, {0: 0, 1: 1})
    assert len(solve(inst, ONE).assignment) == 1


def test_children_who_cannot_live_together() -> None:
    older_only = unit("Teen", age=14, live="only_older")
    inst = instance(
        [older_only, unit("Young", age=9), unit("Older", age=16)],
        [room("H", vacancies=3)],
        [(0, 0, 50), (1, 0, 50), (2, 0, 50)],
    )
    assert violations(inst, {0: 0, 2: 2}) == []
    assert violations(inst, {0: 0, 1: 1})
    result = solve(inst, ONE)
    assert violations(inst, result.assignment) == []
    assert len(result.assignment) == 2


def test_a_pair_that_is_not_eligible_cannot_be_used() -> None:
    inst = instance([unit("A"), unit("B")], [room("H")], [(0, 0, 50)])
    assert violations(inst, {1: 0})  # arc 0 is A's
    assert violations(inst, {0: 7})
    result = solve(inst, ONE)
    assert result.unplaced[-1] == {
        "child_id": "B",
        "reason": "no_eligible_household",
        "detail": "no eligible household",
    }


def test_nobody_placeable_is_an_answer_not_an_error() -> None:
    inst = instance([unit("A"), unit("B")], [], [])
    result = solve(inst, ONE)
    assert result.assignment == {}
    assert result.status == "optimal"
    assert [u["reason"] for u in result.unplaced] == ["no_eligible_household"] * 2


def test_first_come_first_served_takes_referral_order() -> None:
    early = unit("Early", referred=date(2026, 1, 1))
    late = unit("Late", referred=date(2026, 2, 1))
    inst = instance([late, early], [room("H")], [(0, 0, 90), (1, 0, 10)])
    assert first_come_first_served(inst) == {1: 1}
    assert objective(inst, {1: 1}) < objective(inst, {0: 0})
