"""Allocation judges every child it moves and every child it affects (issue 13)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from matching import codes
from matching.allocation.instance import Unit, build_instance, units_conflict
from matching.allocation.solver import SolverSettings, solve
from matching.allocation.validate import violations
from matching.domain import Location
from matching.eligibility.together import ages_clash, limits_of
from matching.fit_config import load_fit_config
from matching.ranking.pool import HouseholdPool
from matching.taxonomy import load_taxonomy
from tests.factories import make_child, make_group, make_household, make_request, make_terms, member

CFG = load_fit_config()
TAX = load_taxonomy()
ONE = SolverSettings(time_limit_seconds=5, random_seed=7, workers=1)


def test_the_validator_judges_the_second_siblings_own_referral() -> None:
    """Were a solver to place a group where only the second child's referral rules the household out, the
    validator says so: it judges every placed child by the rules, not only room and conflicts."""
    h = make_household(terms=make_terms(places=2, max_sibling_group=2), wheelchair_accessible=False)
    pool = HouseholdPool([h], TAX, CFG)
    fine = make_group((make_child(child_id="C1"), {}), (make_child(child_id="C2"), {}))
    instance = build_instance(pool, [fine])
    assert len(instance.arcs) == 1
    assert violations(instance, {0: 0}) == []
    needs_adapted_home = make_group(
        (make_child(child_id="C1"), {}), (make_child(child_id="C2"), {"needs_adaptation": True})
    )
    assert instance.context is not None
    broken = replace(instance, context=replace(instance.context, requests=[needs_adapted_home]))
    problems = violations(broken, {0: 0})
    assert any("accessibility" in p for p in problems), problems


def test_the_validator_judges_children_placed_together_by_each_childs_own_restriction() -> None:
    h = make_household(terms=make_terms(places=3, max_sibling_group=1))
    pool = HouseholdPool([h], TAX, CFG)
    older_only = make_request(make_child(child_id="A", birth_month=date(2016, 1, 1)), live_alongside="only_older")
    younger = make_request(make_child(child_id="B", birth_month=date(2020, 1, 1)))
    instance = build_instance(pool, [older_only, younger])
    assert len(instance.arcs) == 2
    problems = violations(instance, {0: 0, 1: 1})
    assert any("live_alongside" in p for p in problems), problems
    assert len(solve(instance, ONE).assignment) == 1


def test_keep_current_never_places_a_child_beside_a_resident_whose_restrictions_rule_them_out() -> None:
    """The reported case: a 16-year-old who can live only with older children and poses a physical-harm risk
    stays where she is (keep-current), and a 2-year-old is not placed beside her."""
    her = make_child(child_id="R16", birth_month=date(2010, 1, 1), household_id="H-NOW")
    resident = member(
        "foster_child",
        her.birth_month,
        member_id="R16",
        live_alongside="only_older",
        risks_to_others=("physical_harm",),
    )
    now = make_household(household_id="H-NOW", terms=make_terms(places=3), foster_children=(resident,))
    other = make_household(household_id="H-FAR", location=Location(470_000, 320_000))
    pool = HouseholdPool([now, other], TAX, CFG)
    stays = make_request(her, live_alongside="only_older", risks_to_others=("physical_harm",))
    toddler = make_request(make_child(child_id="T2", birth_month=date(2024, 1, 1)))
    instance = build_instance(pool, [stays, toddler], keep_current=1000)
    assert "R16" in instance.unit_without_arcs
    result = solve(instance, ONE)
    placed = {instance.units[u].unit_id: instance.households[instance.arcs[k].household].household_id
              for u, k in result.assignment.items()}  # fmt: skip
    assert placed.get("T2") != "H-NOW"
    offered = {
        instance.households[a.household].household_id for a in instance.arcs if instance.units[a.unit].unit_id == "T2"
    }
    assert offered == {"H-FAR"}


def test_a_child_referred_in_two_overlapping_groups_is_in_one_unit_only() -> None:
    """Found in review: A is to be placed with B, but B's record says "not with siblings"; both referred. The
    two requests made units A+B and B, and the solver could place B twice (an internal error)."""
    h1 = make_household(household_id="H1", terms=make_terms(places=3, max_sibling_group=2))
    h2 = make_household(household_id="H2", terms=make_terms(places=3, max_sibling_group=2))
    pool = HouseholdPool([h1, h2], TAX, CFG)
    a, b = make_child(child_id="A"), make_child(child_id="B")
    together = make_group((a, {}), (b, {}))
    alone = make_request(b, referral_id="R-B")
    instance = build_instance(pool, [together, alone])
    assert [u.unit_id for u in instance.units] == ["A+B"]
    assert instance.unit_without_arcs["B"].startswith("referred to be placed with siblings")
    result = solve(instance, ONE)
    assert violations(instance, result.assignment) == []


def test_an_allocation_shows_the_restrictions_between_siblings_placed_together() -> None:
    h = make_household(terms=make_terms(places=2, max_sibling_group=2))
    pool = HouseholdPool([h], TAX, CFG)
    group = make_group(
        (make_child(child_id="A", birth_month=date(2014, 1, 1)), {"live_alongside": "only_older"}),
        (make_child(child_id="B", birth_month=date(2019, 1, 1)), {}),
    )
    instance = build_instance(pool, [group])
    shown = solve(instance, ONE).as_dict(instance)["assignments"]
    assert [a["child_id"] for a in shown] == ["A", "B"]
    assert all(any("A can live only with older children" in w for w in a["warnings"]) for a in shown)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 19),
            st.sampled_from(codes.LIVE_ALONGSIDE),
            st.sampled_from([(), ("sexual_harm",), ("physical_harm",), ("sexual_harm", "physical_harm")]),
        ),
        min_size=1,
        max_size=3,
    ),
    st.lists(
        st.tuples(
            st.integers(0, 19),
            st.sampled_from(codes.LIVE_ALONGSIDE),
            st.sampled_from([(), ("sexual_harm",), ("physical_harm",)]),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_units_conflict_on_bits_is_the_limits_definition(
    a: list[tuple[int, str, tuple[str, ...]]], b: list[tuple[int, str, tuple[str, ...]]]
) -> None:
    def unit(uid: str, kids: list[tuple[int, str, tuple[str, ...]]]) -> Unit:
        ages = tuple(k[0] for k in kids)
        return Unit(uid, tuple(f"{uid}{i}" for i in range(len(kids))), ages, "today", date(2026, 1, 1), "L001",
                    tuple(limits_of(age, live, risks) for age, live, risks in kids))  # fmt: skip

    ua, ub = unit("A", a), unit("B", b)
    assert units_conflict(ua, ub) == ages_clash(ua.ages, ua.limits, ub.ages, ub.limits)
