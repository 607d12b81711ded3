"""Re-seating the children who can live with anyone (:mod:`matching.allocation.reseat`): the answer stays valid, the
other units stay where they were, the flow places at least as many children when the rule's prices are off, and the
search over the prices never keeps less than mending alone, always keeping the rule."""

from __future__ import annotations

import time
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.allocation.baselines import first_come_first_served
from matching.allocation.guard import Mended, holds, no_worse_than_first_come
from matching.allocation.instance import AllocationInstance, Arc, HouseholdRoom, weighted_children
from matching.allocation.reseat import Reseated, free_units, reseat_under_rule, reseated
from matching.allocation.solver import SolverSettings, _kept_rule_note, solve
from matching.allocation.validate import objective, violations
from tests.allocation.factories import LIVE, RISKS, drawn_arcs, drawn_rooms, seeded_instance, unit

ONE = SolverSettings(time_limit_seconds=5, random_seed=1, workers=1, no_worse_than_first_come=False)


@st.composite
def mixed(draw: st.DrawFn) -> AllocationInstance:
    """Up to 9 units (some sibling groups, some who must live alone or rule out ages) and 5 households of 1-3
    places in two areas, each pair its own fit and miles."""
    n_units, n_households = draw(st.integers(1, 9)), draw(st.integers(1, 5))
    units = [
        unit(
            f"U{i}",
            size=draw(st.sampled_from([1, 1, 1, 2])),
            age=draw(st.integers(0, 17)),
            urgency=draw(st.sampled_from(["today", "within_5_days", "over_5_days"])),
            live=draw(st.sampled_from(LIVE)),
            risks=draw(st.sampled_from(RISKS)),
            referred=date(2026, 3, 1 + draw(st.integers(0, 5))),
            la=draw(st.sampled_from(["L1", "L2"])),
        )
        for i in range(n_units)
    ]
    rooms = drawn_rooms(draw, n_households, 3)
    return AllocationInstance(units, rooms, drawn_arcs(draw, n_units, n_households))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed(), st.sampled_from([0.0, 1.0, 1.5, 4.0]))
def test_reseated_answers_are_valid_and_leave_the_other_units_where_they_were(
    inst: AllocationInstance, scale: float
) -> None:
    first = first_come_first_served(inst)
    start = solve(inst, ONE).assignment
    found = reseated(inst, start, first, scale)
    assert not violations(inst, found)
    free = free_units(inst)
    assert {u: k for u, k in found.items() if not free[u]} == {u: k for u, k in start.items() if not free[u]}
    if scale == 0.0:  # children first: the flow over the free units places at least as many as were there
        assert weighted_children(inst, found) >= weighted_children(inst, start)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed())
def test_the_search_over_prices_keeps_the_rule_and_at_least_what_mending_keeps(inst: AllocationInstance) -> None:
    first = first_come_first_served(inst)
    start = solve(inst, ONE).assignment
    out = reseat_under_rule(inst, start, first, time.perf_counter() + 5, seconds=0.1)
    assert not violations(inst, out.mended.assignment)
    assert holds(inst, out.mended.assignment, first)
    plain = no_worse_than_first_come(inst, start, first, seconds=0.1)
    assert objective(inst, out.mended.assignment) >= objective(inst, plain.assignment) - 1e-6
    assert out.mended.children_lost == weighted_children(inst, start) - weighted_children(inst, out.mended.assignment)
    assert out.mended.value_lost == round((objective(inst, start) - objective(inst, out.mended.assignment)) * 100)


def test_a_free_child_never_goes_where_a_child_staying_rules_out_their_age() -> None:
    """S (staying: a sibling pair, so not free) rules out children under 12 living with them (only_older); A, aged 5,
    may go to H1 (where S lives, fit 90) or H2 (fit 10).  The flow must not use H1's spare place."""
    s = unit("S", size=2, age=14, live="only_older")
    a = unit("A", age=5)
    inst = AllocationInstance(
        [s, a], [HouseholdRoom("H1", "L1", 3, None, True), HouseholdRoom("H2", "L1", 1, 3, True)],
        [Arc(0, 0, 80.0, 1.0), Arc(1, 0, 90.0, 1.0), Arc(1, 1, 10.0, 1.0)],
    )  # fmt: skip
    assert not free_units(inst)[0]
    assert free_units(inst)[1]
    found = reseated(inst, {0: 0}, {}, 1.0)
    assert found == {0: 0, 1: 2}
    assert not violations(inst, found)


@pytest.mark.parametrize("seed", range(6))
def test_reseating_larger_seeded_instances_stays_valid(seed: int) -> None:
    """60 units (a tenth sibling pairs, some with limits on others) and 20 households: valid at every scale."""
    inst, _ = seeded_instance(seed, 60, 20, 0.3, [1] * 9 + [2], limits=True)
    first = first_come_first_served(inst)
    start = solve(inst, ONE).assignment
    for scale in (0.0, 1.0, 1.5, 3.0):
        found = reseated(inst, start, first, scale)
        assert not violations(inst, found), scale
    out = reseat_under_rule(inst, start, first, time.perf_counter() + 5, seconds=0.1)
    assert holds(inst, out.mended.assignment, first)
    assert not violations(inst, out.mended.assignment)


def test_the_note_says_more_children_when_keeping_the_rule_placed_more() -> None:
    # Re-seating also places free children the search's answer left out: against that answer, it can place more.  The
    # note said "-4 fewer children placed" (the review of 2026-11-30, on a search stopped at a weak first answer).
    more = _kept_rule_note(Reseated(Mended({}, 0, -4, 0), 1.5, (1.5,)), 0)
    assert more.startswith("re-seated the children who can live with anyone, weighing how the children first come")
    assert "4 more children placed (urgency-weighted) than the answer found" in more
    assert "-4" not in more
    note = _kept_rule_note(Reseated(Mended({}, 2, 3, 0), None, ()), 1)
    assert note.startswith(
        "kept first come, first served's choices in 2 part(s) of the answer, so that the children both place fare no "
        "worse"
    )
    assert (
        "3 fewer children placed (urgency-weighted) than the answer found; searching again under that rule placed 1 more"
        in note
    )


def test_the_same_seats_at_another_scale_are_not_mended_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no free unit to move, every scale gives the answer back as it was: it is mended once for the answer
    and once as the first candidate, not once a scale (six HiGHS runs for nothing, the review found)."""
    import matching.allocation.reseat as module

    a, b = unit("A", live="solo"), unit("B", referred=date(2026, 3, 2), live="solo")
    inst = AllocationInstance(
        [a, b], [HouseholdRoom("H1", "L1", 1, 3, True), HouseholdRoom("H2", "L1", 1, 3, True)],
        [Arc(0, 0, 99.0, 1.0), Arc(0, 1, 10.0, 1.0), Arc(1, 0, 10.0, 1.0)],
    )  # fmt: skip
    first = first_come_first_served(inst)
    assert first == {0: 0}
    calls = []
    real = module.no_worse_than_first_come

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "no_worse_than_first_come", counted)
    out = reseat_under_rule(inst, {0: 1, 1: 2}, first, time.perf_counter() + 5, seconds=0.1)
    assert len(out.tried) == 6
    assert len(calls) == 2
    assert holds(inst, out.mended.assignment, first)
