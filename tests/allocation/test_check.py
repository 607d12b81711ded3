"""Every result checks itself against its instance before it is returned, and a hand-broken result is refused
for each way it can be wrong: a pair that is not eligible, a child's pair given to another, a household over its
room, a rule between the children placed together, the objective, the fit, the summary, the bound and the
status."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.allocation.instance import AllocationInstance
from matching.allocation.result import AllocationCheckError, AllocationResult, AllocationStatus
from matching.allocation.solver import solve
from matching.allocation.validate import objective
from tests.allocation.factories import instance, room, unit
from tests.allocation.test_rounding import instances


def _solved() -> tuple[object, AllocationResult]:
    # Two children, two rooms of one place: both placed, each in their better household.
    inst = instance(
        [unit("A"), unit("B", age=4, live="no_younger_children")],
        [room("X"), room("Y")],
        [(0, 0, 80.0), (0, 1, 60.0), (1, 0, 50.0), (1, 1, 70.0)],
    )
    result = solve(inst)
    result.check(inst)
    assert result.assignment == {0: 0, 1: 3}
    assert result.status == AllocationStatus.OPTIMAL
    assert result.as_dict(inst)["tolerance"] == 1e-4
    return inst, result


def _broken(result: AllocationResult, **changes: object) -> AllocationResult:
    out = copy.deepcopy(result)
    for k, v in changes.items():
        setattr(out, k, v)
    return out


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"assignment": {0: 0, 1: 7}}, "does not exist"),
        ({"assignment": {0: 0, 1: 1}}, "belongs to another unit"),
        ({"assignment": {0: 0, 1: 2}}, "X"),  # both children in X, which has one place
        ({"objective": 1.0}, "objective"),
        ({"fit": 1.0}, "fit"),
        ({"summary": {"placed": 99}}, "summary"),
        ({"bound": 0.5}, "bound"),
        ({"gap": 0.3}, "gap"),
        ({"status": "splendid"}, "unknown status"),
    ],
)
def test_a_hand_broken_result_is_refused(changes: dict[str, object], says: str) -> None:
    inst, result = _solved()
    with pytest.raises(AllocationCheckError) as refused:
        _broken(result, **changes).check(inst)
    assert any(says in p for p in refused.value.problems), refused.value.problems


def test_out_of_time_with_children_placed_is_refused() -> None:
    inst, result = _solved()
    with pytest.raises(AllocationCheckError):
        _broken(result, status="out_of_time").check(inst)


@settings(max_examples=100, deadline=None)
@given(instances(), st.randoms(use_true_random=False))
def test_the_objective_is_every_chosen_pair_s_value_in_hundredths(inst: AllocationInstance, rnd: Any) -> None:
    """The objective from the cached arc values (vectorised: England's answer in 0.7 ms, not 14) is the sum, pair
    by pair, of each value rounded to hundredths."""
    answer: dict[int, int] = {}
    for k, arc in enumerate(inst.arcs):
        if arc.unit not in answer and rnd.random() < 0.5:
            answer[arc.unit] = k
    by_pair = sum(round(inst.value(inst.arcs[k]) * 100) for k in answer.values()) / 100
    assert objective(inst, answer) == by_pair
    assert objective(inst, {}) == 0.0
