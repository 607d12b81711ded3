"""Allocation invariants over generated instances (hypothesis)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.allocation.baselines import first_come_first_served, greedy_best_pair
from matching.allocation.instance import AllocationInstance, Arc
from matching.allocation.solver import SolverSettings, solve
from matching.allocation.validate import violations
from tests.allocation.factories import drawn_room, drawn_unit, room

ONE = SolverSettings(
    time_limit_seconds=10, random_seed=7, workers=1, no_worse_than_first_come=False
)  # the search itself
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def planted(draw: st.DrawFn) -> AllocationInstance:
    """Units that each have a household of their own that fits them (the plant), plus rivals and noise."""
    n = draw(st.integers(1, 8))
    lives = ["any", "any", "any", "solo", "only_older", "only_younger"]
    units = [drawn_unit(draw, f"U{i}", [1, 1, 1, 2, 3, 4], lives) for i in range(n)]
    rooms = [
        room(f"P{i}", vacancies=u.size + draw(st.integers(0, 1)), usual_room=None if u.size > 3 else 3)
        for i, u in enumerate(units)
    ]
    extra = draw(st.integers(0, 4))
    rooms += [drawn_room(draw, f"X{j}") for j in range(extra)]
    arcs = [Arc(i, i, draw(st.floats(0, 100)), 3.0) for i in range(n)]
    for i in range(n):
        for h in draw(st.lists(st.integers(0, len(rooms) - 1), max_size=4, unique=True)):
            if h != i:
                arcs.append(Arc(i, h, draw(st.floats(0, 100)), 7.0))
    return AllocationInstance(units, rooms, arcs)


@pytest.mark.slow
@PROPS
@given(planted())
def test_every_planted_child_is_placed_and_every_solution_is_valid(inst: AllocationInstance) -> None:
    result = solve(inst, ONE)
    assert violations(inst, result.assignment) == []
    assert sum(inst.units[u].size for u in result.assignment) == sum(u.size for u in inst.units)
    assert result.status == "optimal"
    for baseline in (first_come_first_served(inst), greedy_best_pair(inst)):
        assert violations(inst, baseline) == []
        assert result.objective >= sum(inst.value(inst.arcs[k]) for k in baseline.values()) - 1e-6


@pytest.mark.slow
@PROPS
@given(planted(), st.integers(0, 100))
def test_adding_a_vacancy_never_lowers_the_optimum(inst: AllocationInstance, pick: int) -> None:
    before = solve(inst, ONE)
    h = pick % len(inst.households)
    rooms = list(inst.households)
    rooms[h] = replace(rooms[h], vacancies=rooms[h].vacancies + 1)
    after = solve(AllocationInstance(inst.units, rooms, inst.arcs), ONE)
    assert after.objective >= before.objective - 1e-6


@pytest.mark.slow
@PROPS
@given(planted(), st.randoms(use_true_random=False))
def test_same_instance_same_assignment_whatever_the_order(inst: AllocationInstance, rnd: random.Random) -> None:
    def by_ids(i: AllocationInstance, assignment: dict[int, int]) -> dict[str, str]:
        return {i.units[u].unit_id: i.households[i.arcs[k].household].household_id for u, k in assignment.items()}

    u_perm = list(range(len(inst.units)))
    h_perm = list(range(len(inst.households)))
    rnd.shuffle(u_perm)
    rnd.shuffle(h_perm)
    u_new = {old: new for new, old in enumerate(u_perm)}
    h_new = {old: new for new, old in enumerate(h_perm)}
    arcs = [Arc(u_new[a.unit], h_new[a.household], a.score, a.distance_miles) for a in inst.arcs]
    rnd.shuffle(arcs)
    shuffled = AllocationInstance([inst.units[i] for i in u_perm], [inst.households[i] for i in h_perm], arcs)
    assert by_ids(shuffled, solve(shuffled, ONE).assignment) == by_ids(inst, solve(inst, ONE).assignment)


@pytest.mark.slow
@PROPS
@given(planted(), st.data())
def test_the_quick_fit_check_agrees_with_the_specification(inst: AllocationInstance, data: st.DataObject) -> None:
    from matching.allocation.validate import fits, household_problems

    h = data.draw(st.integers(0, len(inst.households) - 1))
    units = data.draw(st.lists(st.integers(0, len(inst.units) - 1), unique=True, max_size=4))
    for k in range(len(units)):
        placed = units[:k]
        if household_problems(inst, placed, h):
            break  # fits() assumes the units already placed are valid together
        assert fits(inst, placed, units[k], h) == (not household_problems(inst, [*placed, units[k]], h))


def _in_turn(inst: AllocationInstance, plan: list[tuple[int, list[int]]]) -> dict[int, int]:
    """The baselines as specified, one unit or pair at a time over the arcs themselves (the reference)."""
    assignment: dict[int, int] = {}
    for unit, candidates in plan:
        if unit in assignment:
            continue
        for k in candidates:
            if not violations(inst, {**assignment, unit: k}):
                assignment[unit] = k
                break
    return assignment


@PROPS
@given(planted(), st.randoms(use_true_random=False))
def test_the_baselines_are_what_they_say(inst: AllocationInstance, rnd: random.Random) -> None:
    days = [rnd.randint(1, 3) for _ in inst.units]
    inst = replace(
        inst,
        units=[replace(u, referral_date=u.referral_date.replace(day=d)) for u, d in zip(inst.units, days, strict=True)],
    )
    # Listed in another order (units, households, pairs): the baselines are the same, by ids.
    u_order, h_order = (
        rnd.sample(range(len(inst.units)), len(inst.units)),
        rnd.sample(range(len(inst.households)), len(inst.households)),
    )
    u_at, h_at = {u: i for i, u in enumerate(u_order)}, {h: i for i, h in enumerate(h_order)}
    a_order = rnd.sample(range(len(inst.arcs)), len(inst.arcs))
    shuffled = AllocationInstance(
        [inst.units[u] for u in u_order],
        [inst.households[h] for h in h_order],
        [Arc(u_at[a.unit], h_at[a.household], a.score, a.distance_miles) for a in (inst.arcs[k] for k in a_order)],
    )
    for which in (first_come_first_served, greedy_best_pair):
        named = {
            inst.units[u].unit_id: inst.households[inst.arcs[k].household].household_id for u, k in which(inst).items()
        }
        again = which(shuffled)
        assert {
            shuffled.units[u].unit_id: shuffled.households[shuffled.arcs[k].household].household_id
            for u, k in again.items()
        } == named
    by_unit: dict[int, list[int]] = {}
    for k, a in enumerate(inst.arcs):
        by_unit.setdefault(a.unit, []).append(k)
    hid = [h.household_id for h in inst.households]
    # First come, first served: each unit in referral order (then id) takes its best household left (ties by id).
    turns = sorted(by_unit, key=lambda u: (inst.units[u].referral_date, inst.units[u].unit_id))
    fcfs = [(u, sorted(by_unit[u], key=lambda k: (-inst.arcs[k].score, hid[inst.arcs[k].household]))) for u in turns]
    assert first_come_first_served(inst) == _in_turn(inst, fcfs)
    # Greedy best pair: the most valuable pair left first (urgency-weighted child, then fit), ties by unit, household id.
    pairs = sorted(
        range(len(inst.arcs)),
        key=lambda k: (-inst.value(inst.arcs[k]), inst.units[inst.arcs[k].unit].unit_id, hid[inst.arcs[k].household]),
    )
    assert greedy_best_pair(inst) == _in_turn(inst, [(inst.arcs[k].unit, [k]) for k in pairs])
