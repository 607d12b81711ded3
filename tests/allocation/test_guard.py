"""The like-for-like guard: asked for, the answer never leaves the children first come, first served also places
worse off (mean fit, miles from home, placements out of area), is still valid, and is never worth less than first
come, first served's own answer."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from matching.allocation.baselines import first_come_first_served, greedy_best_pair
from matching.allocation.bound import objective_bound
from matching.allocation.compare import figures
from matching.allocation.deadline import Deadline
from matching.allocation.guard import _choose, _greedy, holds, no_worse_than_first_come, rule_rows, steered
from matching.allocation.instance import SCALE, AllocationInstance, Arc, HouseholdRoom, arc_array, arc_values
from matching.allocation.merge import merge
from matching.allocation.result import AllocationCheckError
from matching.allocation.solver import SolverSettings, _cpsat, _improve, _resolve, _search, solve
from matching.allocation.validate import objective, violations
from tests.allocation.factories import drawn_arcs, drawn_rooms, instance, room, seeded_instance, unit

ONE = SolverSettings(time_limit_seconds=5, random_seed=1, workers=1, no_worse_than_first_come=False)  # children first
GUARDED = SolverSettings(time_limit_seconds=5, random_seed=1, workers=1, no_worse_than_first_come=True)


def check_no_worse(inst: AllocationInstance, ours: dict[int, int], first: dict[int, int]) -> None:
    """Over the children both place, ours has at least the fit and at most the miles and out-of-area placements."""
    both = sorted(ours.keys() & first.keys())
    mine, theirs = figures(inst, ours, both), figures(inst, first, both)
    fit = sum(inst.arcs[ours[u]].score * inst.units[u].size for u in both)
    their_fit = sum(inst.arcs[first[u]].score * inst.units[u].size for u in both)
    assert fit >= their_fit - 1e-6
    miles = sum((inst.arcs[ours[u]].distance_miles or 0.0) * inst.units[u].size for u in both)
    their_miles = sum((inst.arcs[first[u]].distance_miles or 0.0) * inst.units[u].size for u in both)
    assert miles <= their_miles + 1e-6
    assert mine["out_of_area"] <= theirs["out_of_area"]


def test_the_child_first_come_first_served_places_keeps_the_home_it_would_have() -> None:
    """A was referred first and fits H1 best (99); placing B too means moving A to H2 (10).  Children first, both
    are placed; with the guard, A keeps H1 and B waits: the trade-off, shown on two children."""
    inst = instance([unit("A"), unit("B", referred=date(2026, 3, 2))], [room("H1"), room("H2")],
                    [(0, 0, 99), (0, 1, 10), (1, 0, 10)])  # fmt: skip
    assert first_come_first_served(inst) == {0: 0}
    assert solve(inst, ONE).assignment == {0: 1, 1: 2}
    guarded = solve(inst, GUARDED)
    assert guarded.assignment == {0: 0}
    assert guarded.status == "optimal"  # proven by the exact model with the rule's rows: B cannot be placed too
    assert guarded.as_dict(inst)["no_worse_than_first_come"] == {
        "asked": True, "children_given_back": 0, "bound_keeps_rule": True,
    }  # fmt: skip
    unguarded = solve(inst, ONE).as_dict(inst)["no_worse_than_first_come"]
    assert unguarded == {"asked": False, "children_given_back": 0, "bound_keeps_rule": False}
    # Where the exact model is not used (a larger instance), the search weighs the rule's prices: moving A costs
    # about as much as placing B gains, so it keeps A's home itself, with nothing to mend, and its bound (under the
    # rule) proves that no allocation keeping the rule places both.
    priced = solve(inst, replace(GUARDED, full_model_max_arcs=0))
    assert priced.assignment == {0: 0}
    assert not any("kept first come, first served's choices" in n for n in priced.notes)
    assert priced.gaps is not None
    assert priced.gaps["children"] == 0
    assert priced.as_dict(inst)["no_worse_than_first_come"] == {
        "asked": True, "children_given_back": 0, "bound_keeps_rule": True,
    }  # fmt: skip


def test_an_answer_already_no_worse_is_left_as_it_is() -> None:
    inst = instance([unit("A"), unit("B")], [room("H1"), room("H2")], [(0, 0, 99), (1, 1, 50), (1, 0, 60)])
    ours = solve(inst, ONE).assignment
    mended = no_worse_than_first_come(inst, ours, first_come_first_served(inst))
    assert mended.assignment == ours
    assert mended.reverted == 0


@st.composite
def contested(draw: st.DrawFn) -> AllocationInstance:
    """Up to 8 single children and 5 households in two areas, each pair its own fit and miles."""
    n_units, n_households = draw(st.integers(1, 8)), draw(st.integers(1, 5))
    units = [
        unit(f"U{i}", referred=date(2026, 3, 1 + draw(st.integers(0, 5))), la=draw(st.sampled_from(["L1", "L2"])))
        for i in range(n_units)
    ]
    rooms = drawn_rooms(draw, n_households, 2)
    return AllocationInstance(units, rooms, drawn_arcs(draw, n_units, n_households))


@st.composite
def contested_groups(draw: st.DrawFn) -> AllocationInstance:
    """As :func:`contested`, with sibling groups of up to 3, every urgency, and some distances unknown."""
    n_units, n_households = draw(st.integers(1, 7)), draw(st.integers(1, 5))
    units = [
        unit(
            f"U{i}",
            size=draw(st.integers(1, 3)),
            urgency=draw(st.sampled_from(["today", "within_5_days", "over_5_days"])),
            referred=date(2026, 3, 1 + draw(st.integers(0, 5))),
            la=draw(st.sampled_from(["L1", "L2"])),
        )
        for i in range(n_units)
    ]
    rooms = drawn_rooms(draw, n_households, 4)
    return AllocationInstance(units, rooms, drawn_arcs(draw, n_units, n_households, unknown_miles=True))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contested())
def test_guarded_answers_are_valid_and_no_worse_for_the_children_both_place(inst: AllocationInstance) -> None:
    first = first_come_first_served(inst)
    ours = merge(inst, solve(inst, ONE).assignment, first)  # the solver's answer, as merged with the baseline
    mended = no_worse_than_first_come(inst, ours, first)
    assert violations(inst, mended.assignment) == []
    check_no_worse(inst, mended.assignment, first)
    assert objective(inst, mended.assignment) >= objective(inst, first) - 1e-6
    assert objective(inst, mended.assignment) == objective(inst, ours) - mended.value_lost / 100
    guarded = solve(inst, GUARDED)
    guarded.check(inst)
    check_no_worse(inst, guarded.assignment, first)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(-9, 9), st.integers(-9, 9), st.integers(-2, 2)), max_size=12),
    st.randoms(use_true_random=False),
)
def test_the_greedy_choice_always_mends_it(parts: list[tuple[int, int, int, int]], rnd: Any) -> None:
    value, fit, miles, away = (np.array(column, dtype=np.float64) for column in zip(*parts, strict=True)) if parts else (
        np.zeros(0),) * 4  # fmt: skip
    keep = _greedy(value, fit, miles, away)
    start = np.array([rnd.random() < 0.5 for _ in parts], dtype=bool)
    from_start = _greedy(value, fit, miles, away, start)  # from HiGHS's choice when it breaks a constraint
    assert not (from_start & ~start).any()  # it only gives back
    assert fit[from_start].sum() >= 0
    assert miles[from_start].sum() <= 0
    assert away[from_start].sum() <= 0
    assert fit[keep].sum() >= 0
    assert miles[keep].sum() <= 0
    assert away[keep].sum() <= 0
    if fit.sum() >= 0 and miles.sum() <= 0 and away.sum() <= 0:
        assert keep.all()


def test_the_guard_is_applied_however_late() -> None:
    inst = instance([unit("A"), unit("B", referred=date(2026, 3, 2))], [room("H1"), room("H2")],
                    [(0, 0, 99), (0, 1, 10), (1, 0, 10)])  # fmt: skip
    # Both placed means A, whom first come, first served places in H1 (99), goes to H2 (10): the rule keeps A there,
    # with either objective (the fairness objective placed both until 2026-12-01), and the note says what it cost.
    fair = solve(inst, replace(GUARDED, objective="fairness"))
    assert fair.assignment == {0: 0}
    assert any("fewer children placed" in n for n in fair.notes)
    assert solve(inst, replace(GUARDED, objective="fairness", no_worse_than_first_come=False)).assignment == {
        0: 1,
        1: 2,
    }
    # Best pair first places B in A's first-come household and A in one fitting it worse: it breaks the rule.
    greedy_breaks = instance([unit("A"), unit("B", referred=date(2026, 3, 2))], [room("H1"), room("H2")],
                             [(0, 0, 50), (0, 1, 40), (1, 0, 90)])  # fmt: skip
    assert not holds(greedy_breaks, greedy_best_pair(greedy_breaks), first_come_first_served(greedy_breaks))
    # With no time, a small instance's first answer is mended before it is returned, and the note says what that
    # cost (it said nothing until the review of 2026-11-30: the mending there was never reported).
    small = solve(greedy_breaks, GUARDED, Deadline.start(0.0))
    assert holds(greedy_breaks, small.assignment, first_come_first_served(greedy_breaks))
    assert not any("guard was not applied" in n for n in small.notes)
    assert any(n.startswith("kept first come, first served's choices in 1 part(s)") for n in small.notes)
    # A larger one (no exact model) goes straight to the priced search; with no time left even for the guard, the
    # greedy choice of parts still mends the answer (it was returned breaking the rule, with a note, until
    # 2026-11-30).
    late = solve(greedy_breaks, replace(GUARDED, full_model_max_arcs=0), Deadline.start(0.0))
    late.check(greedy_breaks)
    assert holds(greedy_breaks, late.assignment, first_come_first_served(greedy_breaks))
    assert not any("guard was not applied" in n for n in late.notes)
    assert late.rule["asked"]


def test_the_check_rejects_an_answer_breaking_the_asked_rule() -> None:
    # Best pair first places B in A's first-come household and A in one fitting it worse.
    inst = instance([unit("A"), unit("B", referred=date(2026, 3, 2))], [room("H1"), room("H2")],
                    [(0, 0, 50), (0, 1, 40), (1, 0, 90)])  # fmt: skip
    result = solve(inst, replace(GUARDED, no_worse_than_first_come=False))
    assert not holds(inst, result.assignment, first_come_first_served(inst))
    result.check(inst)  # not asked: a valid answer
    result.rule["asked"] = True
    with pytest.raises(AllocationCheckError, match="like-for-like"):
        result.check(inst)
    with pytest.raises(AllocationCheckError, match="like-for-like"):
        result.check(inst, first_come=first_come_first_served(inst))
    assert solve(inst, GUARDED).assignment != result.assignment  # asked, the solver's own answer keeps it


def _moved_for_nothing() -> AllocationInstance:
    """A (referred first) fits H1 best (90, 2 miles); B takes H2 (70) under first come, first served, and C, who can
    only go to H2, waits.  Placing all three moves B to H1, so A must move: to H3 (88, 60 miles) or to H4 (85,
    2 miles).  Children first and fit alone choose H3, which leaves A 58 miles further from home; mending that part
    alone gives C's place back.  H4 places all three with A and B no worse off together."""
    a, b, c = (unit(name, referred=date(2026, 3, 1 + i)) for i, name in enumerate("ABC"))
    rooms = [room(h) for h in ("H1", "H2", "H3", "H4")]
    arcs = [
        Arc(0, 0, 90.0, 2.0), Arc(0, 2, 88.0, 60.0), Arc(0, 3, 85.0, 2.0),
        Arc(1, 0, 85.0, 5.0), Arc(1, 1, 70.0, 5.0),
        Arc(2, 1, 75.0, 5.0),
    ]  # fmt: skip
    return AllocationInstance([a, b, c], rooms, arcs)


@pytest.mark.parametrize("exact_first", [True, False], ids=["exact-first", "steered-only"])
def test_the_steered_search_places_every_child_without_leaving_anyone_worse_off(exact_first: bool) -> None:
    inst = _moved_for_nothing()
    first = first_come_first_served(inst)
    assert first == {0: 0, 1: 4}
    children_first = solve(inst, ONE).assignment
    assert children_first == {0: 1, 1: 3, 2: 5}  # A 58 miles further away
    assert len(no_worse_than_first_come(inst, children_first, first).assignment) == 2  # mending alone: C waits
    settings = GUARDED if exact_first else replace(GUARDED, full_model_max_arcs=0)
    guarded = solve(inst, settings)
    assert guarded.assignment == {0: 2, 1: 3, 2: 5}
    assert holds(inst, guarded.assignment, first)
    assert not any("kept first come, first served's choices" in n for n in guarded.notes)


def test_the_first_answer_mended_says_what_mending_it_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found on rereading: on an instance of 5,000-60,000 pairs whose first answer breaks the rule, that answer mended
    is kept when it is worth more than the steered search's, and what the mending cost was in no note."""
    from matching.allocation import solver as solver_module

    inst = _moved_for_nothing()
    monkeypatch.setattr(solver_module, "CHILDREN_FIRST_ARCS", 0)  # the mid-size path on three children
    real_search = solver_module._search

    def steered_finds_nothing(on: AllocationInstance, *args: Any, **kwargs: Any) -> Any:
        found = real_search(on, *args, **kwargs)
        steered_search = on.arcs != inst.arcs  # the rule priced into its scores
        return (
            solver_module._Search({}, cp_model.FEASIBLE, found.bound, found.bound_source) if steered_search else found
        )

    monkeypatch.setattr(solver_module, "_search", steered_finds_nothing)
    guarded = solve(inst, GUARDED)
    first = first_come_first_served(inst)
    assert holds(inst, guarded.assignment, first)
    note = next(n for n in guarded.notes if "kept first come, first served's choices in 1 part(s)" in n)
    assert "1 fewer children placed" in note  # C, who waits once A and B are given their first homes back
    regained = len(guarded.assignment) - 2
    assert guarded.rule["children_given_back"] == 1 - regained


def _first_complete_answer_kept(monkeypatch: pytest.MonkeyPatch, broken: dict[int, int]) -> Any:
    """:func:`_moved_for_nothing` solved on the mid-size path, its first search's first complete answer first come,
    first served's (which keeps the rule) and its last ``broken`` (which does not), mended to less than the first; the
    steered search finds nothing: the first complete answer is kept."""
    from matching.allocation import solver as solver_module

    inst = _moved_for_nothing()
    first = first_come_first_served(inst)  # A in H1 (90), B in H2 (70): it keeps the rule
    assert not holds(inst, broken, first)
    monkeypatch.setattr(solver_module, "CHILDREN_FIRST_ARCS", 0)  # the mid-size path on three children
    real_search, real_mend = solver_module._search, solver_module.no_worse_than_first_come

    def searched(on: AllocationInstance, *args: Any, **kwargs: Any) -> Any:
        found = real_search(on, *args, **kwargs)
        if on.arcs != inst.arcs:  # the steered search finds nothing
            return solver_module._Search({}, cp_model.FEASIBLE, found.bound, found.bound_source)
        assert kwargs["keep_on"](dict(first))  # the first complete answer, kept aside ...
        return solver_module._Search(broken, cp_model.FEASIBLE, found.bound, found.bound_source)  # ... then the last

    def mended(instance: AllocationInstance, ours: dict[int, int], *args: Any, **kwargs: Any) -> Any:
        if ours == broken:  # mended worse than the first complete answer
            return solver_module.Mended({0: 0}, 1, 1, 0)
        return real_mend(instance, ours, *args, **kwargs)

    monkeypatch.setattr(solver_module, "_search", searched)
    monkeypatch.setattr(solver_module, "no_worse_than_first_come", mended)
    guarded = solve(inst, GUARDED)
    assert holds(inst, guarded.assignment, first)
    return guarded


def test_the_first_complete_answer_kept_says_what_it_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: on an instance of 5,000-60,000 pairs, when the first search's first complete answer (which
    kept the rule) was worth more than its last answer mended, it was kept with nothing said of the children that cost
    against the answer found."""
    guarded = _first_complete_answer_kept(monkeypatch, {0: 1, 1: 3, 2: 5})  # all three, A 58 miles further away
    note = next(n for n in guarded.notes if "first complete answer" in n)
    assert "1 fewer children placed" in note  # C, placed by the last answer and not the first
    regained = len(guarded.assignment) - 2
    assert guarded.rule["children_given_back"] == 1 - regained


def test_the_first_complete_answer_kept_for_fit_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: when the first complete answer was kept over a last answer placing as many children (breaking
    the rule on miles), what that cost in fit was in no note."""
    # A in H3 (88, 58 miles further), B in H1 (85): 13 points more than first come, first served, the rule broken
    guarded = _first_complete_answer_kept(monkeypatch, {0: 1, 1: 3})
    note = next(n for n in guarded.notes if "first complete answer" in n)
    assert "as many children placed (urgency-weighted) as the answer found, 13.00 points of fit fewer" in note


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(contested(), contested_groups()))
def test_steering_prices_the_rule_into_the_scores_and_keeps_the_pairs(inst: AllocationInstance) -> None:
    first = first_come_first_served(inst)
    on = steered(inst, first)
    assert [(a.unit, a.household, a.distance_miles) for a in on.arcs] == [
        (a.unit, a.household, a.distance_miles) for a in inst.arcs
    ]
    assert on.units is inst.units
    assert on.households is inst.households
    assert all(on.value(a) > 0 for a in on.arcs)  # placing a child is never made worth nothing
    for name in ("unit", "household", "score"):  # the arrays kept on it are its arcs'
        assert arc_array(on, name).tolist() == [getattr(a, name) for a in on.arcs]
    assert arc_values(on).tolist() == [round(on.value(a) * SCALE) for a in on.arcs]
    for k, (arc, new) in enumerate(zip(inst.arcs, on.arcs, strict=True)):
        if arc.unit not in first:  # children first come, first served does not place: their scores are kept
            assert new.score == arc.score
            continue
        theirs = inst.arcs[first[arc.unit]]
        if k == first[arc.unit]:
            assert new.score == pytest.approx(arc.score)  # its own choice adds nothing to the rule
        no_worse = (
            arc.score >= theirs.score
            and (arc.distance_miles or 0) <= (theirs.distance_miles or 0)
            and inst.households[arc.household].la_code == inst.households[theirs.household].la_code
        )
        if no_worse:  # at least as good as first come, first served's choice on all three: scored at least as high
            assert new.score >= on.arcs[first[arc.unit]].score - 1e-9, k
        worse = (
            arc.score <= theirs.score
            and (arc.distance_miles or 0) >= (theirs.distance_miles or 0)
            and (inst.households[arc.household].la_code == inst.units[arc.unit].la_code)
            <= (inst.households[theirs.household].la_code == inst.units[arc.unit].la_code)
        )
        if worse:  # no better on any of the three: scored no higher than its fit
            assert new.score <= arc.score + 1e-9, k
    # Over any allocation keeping the rule the priced scores add at least nothing: the steered objective (hence any
    # bound on it) is at least the allocation's own, which is what makes the steered search's bound one under the rule.
    for answer in (first, solve(inst, ONE).assignment, greedy_best_pair(inst)):
        if holds(inst, answer, first):
            assert objective(on, answer) >= objective(inst, answer) - 1e-6


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(contested(), contested_groups()))
def test_steered_only_answers_are_valid_and_no_worse_either(inst: AllocationInstance) -> None:
    first = first_come_first_served(inst)
    guarded = solve(inst, replace(GUARDED, full_model_max_arcs=0))
    guarded.check(inst)
    check_no_worse(inst, guarded.assignment, first)
    assert holds(inst, guarded.assignment, first)
    assert guarded.objective >= objective(inst, first) - 1e-6
    # The bound holds every allocation keeping the rule: the best of them, proven by CP-SAT with the rule's rows.
    best, code = _cpsat(inst, ONE, time.perf_counter() + 30, {}, rule=rule_rows(inst, first))
    assert code == cp_model.OPTIMAL
    assert holds(inst, best, first)
    assert guarded.bound >= objective(inst, best) - 1e-6
    assert guarded.objective <= objective(inst, best) + 1e-6
    if guarded.status == "optimal":
        assert guarded.objective == pytest.approx(objective(inst, best), abs=1e-6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(contested(), contested_groups()))
def test_the_search_as_it_is_stops_at_its_first_answer_only_when_that_breaks_the_rule(inst: AllocationInstance) -> None:
    """Guarding, the search as it is asks of its first complete answer whether it keeps the rule, once: when it does
    the search goes on as without the question (the same answer); when it does not, that answer comes back at once,
    so the rule's own search has the rest of the time."""
    baselines = (greedy_best_pair(inst), first_come_first_served(inst))
    asked: list[dict[int, int]] = []

    def keeps(answer: dict[int, int]) -> bool:
        asked.append(dict(answer))
        return True

    end = time.perf_counter() + 5
    plain = _search(inst, ONE, baselines, end, [])
    kept_on = _search(inst, ONE, baselines, time.perf_counter() + 5, [], keep_on=keeps)
    assert objective(inst, kept_on.assignment) == pytest.approx(objective(inst, plain.assignment))
    assert len(asked) == (1 if inst.arcs else 0)
    stopped = _search(inst, ONE, baselines, time.perf_counter() + 5, [], keep_on=lambda _: False)
    if inst.arcs:
        assert stopped.assignment == asked[0]  # the first complete answer, as it was asked about
        assert not violations(inst, stopped.assignment)


def test_the_priced_scores_keep_the_bound_through_rounding_to_hundredths() -> None:
    """Found by review: every fit 0, and the rule's miles differ by a little over a hundredth of a mile, so each pair's
    price is a fraction of a hundredth.  Rounded with the score, an allocation keeping the rule lost a hundredth on the
    steered objective, the bound in children fell a whole child, and a rule-keeping allocation of four children beat
    an answer reported "optimal" with three.  Rounded up on its own, the price keeps the bound."""
    d, m = 13577 / 1e6, 5.0
    units = [unit(f"U{i}", referred=date(2026, 3, 1 + i), la="L1") for i in range(3)]
    units.append(unit("V", referred=date(2026, 3, 9), la="L1"))
    rooms = [HouseholdRoom(f"H{h}", "L1", 1, 3, True) for h in range(6)]
    arcs = [Arc(0, 0, 0.0, m), Arc(0, 3, 0.0, m + 2 * d), Arc(1, 1, 0.0, m), Arc(1, 4, 0.0, m - d)]
    arcs += [Arc(2, 2, 0.0, m), Arc(2, 5, 0.0, m - d), Arc(3, 0, 0.0, m)]
    inst = AllocationInstance(units, rooms, arcs)
    first = first_come_first_served(inst)
    four = {0: 1, 1: 3, 2: 5, 3: 6}
    assert holds(inst, four, first)
    assert objective(steered(inst, first), four) >= objective(inst, four)
    result = solve(inst, replace(GUARDED, full_model_max_arcs=0))
    assert result.bound >= objective(inst, four)
    assert result.objective == pytest.approx(objective(inst, four))


def test_a_first_answer_keeping_the_rule_is_not_lost_when_the_search_later_breaks_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found by review: the search as it is found an answer keeping the rule, went on, and ended with one breaking it;
    the earlier answer was dropped and only the later one, mended, was kept (100 children fewer on a 4,000-pair
    instance).  The earlier one is now the fallback whenever it is worth more than the mended one."""
    from matching.allocation import solver as solver_module

    inst = instance([unit("A"), unit("B", referred=date(2026, 3, 2))], [room("H1"), room("H2")],
                    [(0, 0, 99), (0, 1, 10), (1, 0, 10)])  # fmt: skip
    first = first_come_first_served(inst)
    early, breaking = {0: 0}, {0: 1, 1: 2}
    assert holds(inst, early, first)
    assert not holds(inst, breaking, first)

    def search_as_it_is(*args: Any, keep_on: Any = None, **kwargs: Any) -> Any:
        assert keep_on is not None
        assert keep_on(early)  # the first complete answer keeps the rule ...
        return solver_module._Search(dict(breaking), cp_model.FEASIBLE, 1e9, "flow")  # ... the last breaks it

    def mends_badly(*args: Any, **kwargs: Any) -> Any:
        return solver_module.Mended({}, 1, 2, 0)  # worth less than the earlier answer

    monkeypatch.setattr(solver_module, "_search", search_as_it_is)
    monkeypatch.setattr(solver_module, "no_worse_than_first_come", mends_badly)
    found = solver_module._guarded_search(
        inst, GUARDED, (greedy_best_pair(inst), first), time.perf_counter() + 0.05, [], guarding=True
    )
    assert found.assignment == early
    assert not found.proven


def test_the_rule_rows_kept_on_the_instance_follow_first_come() -> None:
    inst = _moved_for_nothing()
    first = first_come_first_served(inst)
    rows = rule_rows(inst, first)
    assert not rows.flags.writeable
    assert rule_rows(inst, dict(first)) is rows  # the same answer, asked again: kept
    other = {u: k for u, k in first.items() if u != 0}  # A not placed by it: A's pairs no longer count
    changed = rule_rows(inst, other)
    assert changed is not rows
    assert not changed[:, [k for k, a in enumerate(inst.arcs) if a.unit == 0]].any()
    assert rows[:, [k for k, a in enumerate(inst.arcs) if a.unit == 0]].any()
    assert (rule_rows(inst, first) == rows).all()


def test_the_priced_bound_is_never_looser_than_every_child_placed() -> None:
    # First come, first served gives A (referred first) H1, so B, whose best is H1 by 100 points, takes H2 (fit 0):
    # B's pair with H1 is priced a whole child higher, and with no time for the flow the priced search's trivial bound
    # counted three children of two (before 2026-11-30), labelled "trivial" and said to keep the rule.
    inst = instance([unit("A"), unit("B", referred=date(2026, 3, 2))], [room("H1"), room("H2")],
                    [(0, 0, 90), (1, 0, 100), (1, 1, 0)])  # fmt: skip
    result = solve(inst, replace(GUARDED, full_model_max_arcs=0), Deadline.start(0.0))
    result.check(inst)
    assert result.bound <= objective_bound(inst, 2)
    assert result.bound_source == "trivial"
    assert not result.rule["bound_keeps_rule"]  # every child placed bounds all allocations, not only those keeping it


def test_the_check_agrees_whatever_the_order_of_the_instance() -> None:
    # A ties between H1 (10 miles) and H2 (1 mile); C can only go to H2.  Households listed H2 then H1: first come, first
    # served broke A's tie by position, so on this order it gave A H2, and a valid answer solved in canonical order
    # was refused when checked against the order it was given in (before 2026-11-30).
    inst = AllocationInstance(
        [unit("A"), unit("C", referred=date(2026, 3, 2))],
        [room("H2"), room("H1")],
        [Arc(0, 1, 50.0, 10.0), Arc(0, 0, 50.0, 1.0), Arc(1, 0, 50.0, 1.0)],
    )
    result = solve(inst, replace(GUARDED, time_limit_seconds=5))
    assert result.rule["asked"]
    result.check(inst)
    first = first_come_first_served(inst)
    placed = {inst.units[u].unit_id: inst.households[inst.arcs[k].household].household_id for u, k in first.items()}
    assert placed == {"A": "H1", "C": "H2"}  # A's tie broken by household id, whatever the order: C placed too


def test_the_guard_asks_highs_even_with_a_small_budget() -> None:
    # Greedy giving back keeps 49 here; HiGHS finds 58 in a few milliseconds.  Budgets under 0.02 s (every instance
    # under about 9,000 pairs) went to the greedy choice alone, however much time was left (before 2026-11-30).
    value = np.array([10, 12, 19, 14, 13, 11], dtype=float)
    fit = np.array([-2, 4, -6, 3, 0, -10], dtype=float)
    zero = np.zeros(6)
    assert value[_choose(value, fit, zero, zero, 0.012)].sum() == 58
    assert value[_choose(value, fit, zero, zero, 0.0)].sum() == value[_greedy(value, fit, zero, zero)].sum() == 49


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(contested(), contested_groups()), st.randoms(use_true_random=False))
def test_a_neighbourhood_searched_under_the_rule_keeps_it_with_the_rest_s_share(
    inst: AllocationInstance, rnd: Any
) -> None:
    """Each neighbourhood of the search under the rule (:func:`_resolve` with the rule's rows) is solved with what the
    units left in place already add to the rows: the whole answer keeps the rule, whatever part was freed."""
    first = first_come_first_served(inst)
    start = no_worse_than_first_come(inst, solve(inst, ONE).assignment, first).assignment
    assert holds(inst, start, first)
    rows = rule_rows(inst, first)
    # Freed: the units paying for the rest (better fit, fewer miles or area than first come, first served's choice
    # for them), the unplaced, and others at random; what stays may then be behind on the rows.
    paying = {u for u, k in start.items() if rows[0, k] > 0 or rows[1, k] < 0 or rows[2, k] < 0}
    hood = paying | {u for u in range(len(inst.units)) if u not in start or rnd.random() < 0.3}
    found = _resolve(inst, start, hood, ONE, time.perf_counter() + 5, inst.arcs_of_unit(), rule=rows)
    if found is None:
        return
    assert not violations(inst, found)
    assert holds(inst, found, first)
    assert objective(inst, found) >= objective(inst, start) - 1e-6  # hinted with where they were: never worse
    assert {u: k for u, k in found.items() if u not in hood} == {u: k for u, k in start.items() if u not in hood}


def test_the_rest_s_share_decides_what_the_neighbourhood_may_do() -> None:
    """A neighbourhood of B alone (a child first come, first served does not place, so its own rows are zero): with
    the rest level with first come, first served, B takes H2; with the rest a point of fit behind, nothing B does can
    make it up, so the neighbourhood has no answer; and where one of B's pairs adds two points to the rows (as a
    child first come, first served places would), B takes that one, not the better fit."""
    inst = instance([unit("A"), unit("B", referred=date(2026, 3, 2))], [room("H1"), room("H2")],
                    [(0, 0, 99), (0, 1, 10), (1, 1, 50)])  # fmt: skip
    first = first_come_first_served(inst)
    rows = rule_rows(inst, first)
    sub = AllocationInstance([inst.units[1]], inst.households, [Arc(0, 1, 50.0, inst.arcs[2].distance_miles)])
    sub_rows = rows[:, [2]]  # B is not placed by first come, first served: its row is zero
    assert not sub_rows.any()
    free, code = _cpsat(sub, ONE, time.perf_counter() + 5, {}, rule=sub_rows, rule_offset=np.zeros(3, np.int64))
    assert code == cp_model.OPTIMAL
    assert free == {0: 0}
    behind = np.array([-1_000_000, 0, 0], dtype=np.int64)  # the rest's fit a point below first come, first served's
    _, code = _cpsat(sub, ONE, time.perf_counter() + 5, {}, rule=sub_rows, rule_offset=behind)
    assert code == cp_model.INFEASIBLE
    arcs = [Arc(0, 1, 50.0, None), Arc(0, 0, 40.0, None)]
    priced = np.array([[0, 2_000_000], [0, 0], [0, 0]], dtype=np.int64)  # the second pair adds 2 points of fit
    sub = AllocationInstance([inst.units[1]], inst.households, arcs)
    found, code = _cpsat(sub, ONE, time.perf_counter() + 5, {}, rule=priced, rule_offset=behind)
    assert (found, code) == ({0: 1}, cp_model.OPTIMAL)  # the better fit (50) breaks it; 40 makes up for the rest


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(contested(), contested_groups()))
def test_the_search_under_the_rule_keeps_it_and_never_loses_value(inst: AllocationInstance) -> None:
    first = first_come_first_served(inst)
    start = no_worse_than_first_come(inst, solve(inst, ONE).assignment, first).assignment
    unplaced = [u for u in range(len(inst.units)) if u not in start]
    found = _improve(
        inst,
        start,
        ONE,
        time.perf_counter() + 5,
        inst.arcs_of_unit(),
        rule=rule_rows(inst, first),
        first=unplaced[::-1],
    )
    assert not violations(inst, found)
    assert holds(inst, found, first)
    assert objective(inst, found) >= objective(inst, start) - 1e-6


@pytest.mark.parametrize("seed", range(8))
def test_neighbourhoods_under_the_rule_keep_it_on_larger_seeded_instances(seed: int) -> None:
    """As above, on 40 children and 12 households (seeded): every neighbourhood re-solved under the rule, from an
    answer keeping it, keeps it over the whole answer (ignoring what the rest adds breaks it on most seeds)."""
    inst, rnd = seeded_instance(seed, 40, 12, 0.35, [1, 1, 1, 2])
    first = first_come_first_served(inst)
    rows = rule_rows(inst, first)
    start = no_worse_than_first_come(inst, solve(inst, ONE).assignment, first).assignment
    assert holds(inst, start, first)
    for _ in range(6):
        hood = {u for u in range(40) if u not in start or rnd.random() < 0.4}
        found = _resolve(inst, start, hood, ONE, time.perf_counter() + 5, inst.arcs_of_unit(), rule=rows)
        assert found is not None  # the hint keeps the rule: there is always an answer
        assert not violations(inst, found)
        assert holds(inst, found, first)
        assert objective(inst, found) >= objective(inst, start) - 1e-6
        start = found


def test_a_neighbourhood_of_the_steered_instance_weighs_a_child_as_the_whole_does() -> None:
    """Found by measuring: a part of the steered instance valued a child by its own count of units, while its scores
    carry prices in the whole's children, so re-solving it traded children for those prices (every neighbourhood of
    England's steered answer lost 10-100 children, and was rejected: the neighbourhoods there never placed a child)."""
    a, b = unit("A"), unit("B", referred=date(2026, 3, 2))
    fillers = [unit(f"F{i}", referred=date(2026, 3, 3)) for i in range(58)]  # no households: they only count
    inst = instance([a, b, *fillers], [room("H0"), room("H1")], [(0, 0, 90), (0, 1, 10), (1, 0, 50)])
    first = first_come_first_served(inst)
    assert first == {0: 0}  # A first, to its best home; B waits
    on = steered(inst, first)
    # A in H1 fits 80 points worse than first come, first served's choice: about 0.8 of a child at the prices.
    assert on.arcs[1].score < -0.5 * on.child_weight < 0 < on.value(on.arcs[1])
    ours = {0: 1, 1: 2}  # A to H1, B to H0: both placed
    found = _resolve(on, ours, {0}, GUARDED, time.perf_counter() + 5, on.arcs_of_unit())
    assert found == ours  # leaving A out would lose a child worth more than its price


@pytest.mark.parametrize("within", [True, False], ids=["mended-within-tolerance", "mended-short"])
def test_the_rule_s_own_search_runs_only_when_the_mended_answer_is_short(
    monkeypatch: pytest.MonkeyPatch, within: bool
) -> None:
    """Found measuring the regional target at 10 s: the first answer, mended to keep the rule, was within the
    tolerance of the first search's bound (which bounds every allocation keeping the rule too) by 2.5 s, yet the
    rule's own search ran on to 7.8 s for a gap of 3.5e-6 against 9.7e-6.  Within the tolerance it is returned."""
    from matching.allocation import solver as solver_module

    inst = _moved_for_nothing()
    first = first_come_first_served(inst)
    broken = {0: 1, 1: 3, 2: 5}  # all three, A 58 miles further from home
    mended = no_worse_than_first_come(inst, broken, first).assignment
    assert not holds(inst, broken, first)
    assert holds(inst, mended, first)
    bound = objective(inst, mended) if within else objective(inst, broken)
    monkeypatch.setattr(solver_module, "CHILDREN_FIRST_ARCS", 0)  # the mid-size path on three children
    searched: list[bool] = []

    def search(on: AllocationInstance, *args: Any, **kwargs: Any) -> Any:
        steered_search = on.arcs != inst.arcs
        searched.append(steered_search)
        answer = {} if steered_search else dict(broken)
        return solver_module._Search(answer, cp_model.FEASIBLE, bound, "flow")

    monkeypatch.setattr(solver_module, "_search", search)
    found = solver_module._guarded_search(
        inst, GUARDED, (greedy_best_pair(inst), first), time.perf_counter() + 10, [], guarding=True
    )
    assert holds(inst, found.assignment, first)
    if within:
        assert found.assignment == mended
    else:  # searched on under the rule: all three placed, A in H4
        assert objective(inst, found.assignment) > objective(inst, mended)
    assert searched == ([False] if within else [False, True])


FAIR = replace(GUARDED, objective="fairness")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(contested(), contested_groups()), st.booleans())
def test_the_fairness_objective_keeps_the_rule_too(inst: AllocationInstance, steered_path: bool) -> None:
    """Found measuring issue 21: the fairness objective did not keep the like-for-like rule (its own order, it was
    said), and nationally the 5,762 children both it and first come, first served placed were 1.85 points of fit
    worse on average, 4.3 miles further from home and 346 more out of area.  Asked for (the default), it keeps it:
    on a small instance its answer is mended, or re-seated, when it breaks it; on a large one (here every instance
    is, with ``full_model_max_arcs`` 0) it is the total objective's guarded answer, made fairer only where that keeps
    it."""
    fair = replace(FAIR, full_model_max_arcs=0) if steered_path else FAIR
    result = solve(inst, fair)
    first = first_come_first_served(inst)
    assert holds(inst, result.assignment, first)
    assert result.rule["asked"]
    result.check(inst, first_come=first)  # the check holds it to the rule
    assert objective(inst, result.assignment) >= objective(inst, first) - 1e-6 or not first
    assert result.fairness is not None
    unguarded = solve(inst, replace(fair, no_worse_than_first_come=False))
    assert not unguarded.rule["asked"]


def test_the_fairer_steps_keep_what_they_are_told_to() -> None:
    """``_fairer`` takes a step only when its answer passes ``keep``: told to keep nothing new, it keeps the answer."""
    from matching.allocation import solver as solver_module

    inst = _moved_for_nothing()
    start = first_come_first_served(inst)
    arcs_of_unit = inst.arcs_of_unit()
    free, _, _ = solver_module._fairer(inst, start, GUARDED, time.perf_counter() + 5, arcs_of_unit)
    kept, steps, out_of_time = solver_module._fairer(
        inst, start, GUARDED, time.perf_counter() + 5, arcs_of_unit, keep=lambda answer: answer == start
    )
    assert (kept, steps, out_of_time) == (start, 0, False)
    assert free != start  # without it, a step is taken


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(contested(), contested_groups()))
def test_fairer_steps_with_the_rule_s_rows_keep_it(inst: AllocationInstance) -> None:
    """Found in review: the steps around the worst-off children were solved without the rule's rows and only then
    checked, so nearly every one was thrown away.  With the rows in each neighbourhood's model, every step keeps the
    rule by construction."""
    from matching.allocation import solver as solver_module

    first = first_come_first_served(inst)
    rows = rule_rows(inst, first)
    fair, _, _ = solver_module._fairer(
        inst, dict(first), GUARDED, time.perf_counter() + 5, inst.arcs_of_unit(), rule=rows
    )
    assert holds(inst, fair, first)
    assert violations(inst, fair) == []
    assert len(fair) >= len(first) or sum(inst.units[u].weight for u in fair) >= sum(
        inst.units[u].weight for u in first
    )
