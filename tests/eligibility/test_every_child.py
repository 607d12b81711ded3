"""Every child judged on their own referral, and the children already living there judged too (issue 13).

For each per-child rule: a lone child who fails, a sibling group where only the second child fails
(the first child's referral would pass), and, for who may live together, a resident child who makes
the household fail.  The group passes only if every member passes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest

from matching.domain import CarerHousehold, Child, Location
from matching.eligibility import rules
from matching.eligibility.request import MatchRequest
from matching.fit_config import load_fit_config
from matching.ranking.pool import HouseholdPool
from matching.ranking.service import rank_households
from matching.taxonomy import load_taxonomy
from tests.factories import HOME, ON, make_child, make_group, make_household, make_request, make_terms, member

CFG = load_fit_config()
TAX = load_taxonomy()
SEVEN = date(2019, 1, 1)  # aged 7 on ON
TEN = date(2016, 1, 1)  # aged 10 on ON
FAR = Location(HOME.easting + 45_000, HOME.northing)  # 28 miles from home

#: rule, the household, what makes a child fail (child fields, referral fields); the other child passes.
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("setting", {}, {}, {"suitable_for": ("residential",)}),
    ("terms_age", {"terms": make_terms(age_min=8, age_max=17)}, {"birth_month": SEVEN}, {}),
    (
        "terms_placement_type",
        {"terms": make_terms(placement_types=("long_term",))},
        {},
        {"placement_type": "short_term"},
    ),
    ("carer_exclusions", {"will_not_consider": ("self_harm",)}, {"needs": {"self_harm": 1}}, {}),
    ("carer_exclusions", {"will_not_consider": ("going_missing",)}, {}, {"risks_to_child": ("going_missing",)}),
    ("pets", {"pets": ("dog",)}, {}, {"allergies": ("dog",)}),
    ("pets", {"pets": ("cat",)}, {}, {"risks_to_others": ("harm_to_animals",)}),
    ("smoking", {"smoking": True}, {}, {"respiratory_needs": True}),
    ("smoking", {"smoking": True}, {"disability": True}, {}),
    ("accessibility", {"wheelchair_accessible": False}, {}, {"needs_adaptation": True}),
    ("distance", {"location": FAR}, {}, {"max_distance_miles": 25.0}),
    ("dolo", {"support_package": ()}, {}, {"dolo": True}),
]


def _check(req: MatchRequest, h: CarerHousehold, code: str) -> rules.RuleOutcome:
    (out,) = [o for o in rules.evaluate(req, h, CFG) if o.code == code]
    return out


def _fast(req: MatchRequest, h: CarerHousehold, code: str) -> bool:
    """Whether the vectorised columns fail ``h`` on rule ``code``."""
    pool = HouseholdPool([h], TAX, CFG)
    return bool(pool.failures(req).failed[rules.RULE_INDEX[code], 0])


@pytest.mark.parametrize(("code", "household", "child_kw", "referral_kw"), CASES)
def test_a_lone_child_passes_and_fails_on_their_own_referral(
    code: str, household: dict[str, Any], child_kw: dict[str, Any], referral_kw: dict[str, Any]
) -> None:
    h = make_household(**household)
    ok = make_request(make_child(birth_month=TEN))
    bad = make_request(make_child(**{"birth_month": TEN, **child_kw}), **referral_kw)
    assert _check(ok, h, code).passed
    assert not _check(bad, h, code).passed
    assert _fast(bad, h, code)
    assert not _fast(ok, h, code)


@pytest.mark.parametrize(("code", "household", "child_kw", "referral_kw"), CASES)
def test_a_sibling_group_fails_when_only_the_second_child_fails(
    code: str, household: dict[str, Any], child_kw: dict[str, Any], referral_kw: dict[str, Any]
) -> None:
    h = make_household(**household)
    first = make_child(child_id="C1", birth_month=TEN)
    second = make_child(**{"child_id": "C2", "birth_month": TEN, **child_kw})
    group = make_group((first, {}), (second, referral_kw))
    together_ok = make_group((first, {}), (make_child(child_id="C2", birth_month=TEN), {}))
    assert _check(together_ok, h, code).passed
    out = _check(group, h, code)
    assert not out.passed, out
    assert _fast(group, h, code)
    assert not rank_households(pool=HouseholdPool([h], TAX, CFG), request=group).candidates


def test_a_siblings_outside_terms_flag_does_not_carry_the_other_child() -> None:
    """The 7-year-old's own referral has no outside-terms flag: her sibling's emergency flag cannot take her
    into a household approved for ages 0-4 (the case found by the independent check)."""
    h = make_household(terms=make_terms(age_min=0, age_max=4, max_sibling_group=2))
    baby = make_child(child_id="C1", birth_month=date(2024, 1, 1))
    seven = make_child(child_id="C2", birth_month=SEVEN)
    emergency = {"placement_type": "emergency", "emergency_outside_terms": True, "expected_duration_days": 3}
    group = make_group((baby, emergency), (seven, {"placement_type": "emergency", "expected_duration_days": 3}))
    assert not _check(group, h, "terms_age").passed
    both = make_group((baby, emergency), (seven, emergency))
    out = _check(both, h, "terms_age")
    assert out.passed
    assert out.outside_terms


def test_number_terms_are_not_waived_over_the_children_living_there() -> None:
    """Approval for sibling groups protects the children already there: an emergency may not waive it then."""
    emergency = {"placement_type": "emergency", "emergency_outside_terms": True, "expected_duration_days": 2}
    group = make_group((make_child(child_id="C1"), emergency), (make_child(child_id="C2"), emergency))
    empty = make_household(terms=make_terms(places=3, max_sibling_group=1))
    assert _check(group, empty, "sibling_group").outside_terms
    lived_in = make_household(
        terms=make_terms(places=3, max_sibling_group=1), members=(member("birth_child", date(2012, 1, 1)),)
    )
    assert not _check(group, lived_in, "sibling_group").passed
    assert _fast(group, lived_in, "sibling_group")


@pytest.mark.parametrize(
    ("live", "risks", "newcomer_born", "fails"),
    [
        ("solo", (), TEN, True),
        ("only_older", (), TEN, True),  # the resident (13) can live only with older children
        ("only_older", (), date(2008, 6, 1), False),
        ("only_younger", (), date(2008, 6, 1), True),
        ("only_younger", (), TEN, False),
        ("any", ("sexual_harm",), TEN, True),  # a younger child may not join a resident with a sexual-harm risk
        ("any", ("sexual_harm",), date(2008, 6, 1), False),
        ("any", ("physical_harm",), date(2023, 1, 1), True),  # a 3-year-old may not join a physical-harm risk
        ("any", ("physical_harm",), TEN, False),
        ("any", ("fire_setting",), TEN, False),
    ],
)
def test_a_resident_childs_restrictions_rule_the_newcomer_out(
    live: str, risks: tuple[str, ...], newcomer_born: date, fails: bool
) -> None:
    resident = member("foster_child", date(2013, 1, 1), member_id="R1", live_alongside=live, risks_to_others=risks)
    h = make_household(terms=make_terms(places=3), foster_children=(resident,))
    req = make_request(make_child(birth_month=newcomer_born))
    assert _check(req, h, "resident_restrictions").passed is not fails
    assert _fast(req, h, "resident_restrictions") is fails
    # in a sibling group, only the second child being ruled out is enough
    group = make_group(
        (make_child(child_id="C1", birth_month=date(2008, 6, 1)), {}),
        (make_child(child_id="C2", birth_month=newcomer_born), {}),
    )
    if live == "only_younger" or "sexual_harm" in risks:
        return  # the first child (17) is ruled out or not by these on their own: covered above
    assert _check(group, h, "resident_restrictions").passed is not fails


def test_the_reported_resident_case_a_sixteen_year_old_only_with_older_children_and_a_physical_harm_risk() -> None:
    resident = member(
        "foster_child",
        date(2010, 1, 1),
        member_id="R16",
        live_alongside="only_older",
        risks_to_others=("physical_harm",),
    )
    h = make_household(terms=make_terms(places=3), foster_children=(resident,))
    toddler = make_request(make_child(birth_month=date(2024, 1, 1)))
    out = _check(toddler, h, "resident_restrictions")
    assert not out.passed
    assert "R16" in out.reason


@pytest.mark.parametrize("code", ["live_alongside", "risk_to_others"])
def test_the_second_childs_own_restriction_rules_out_the_children_living_there(code: str) -> None:
    """A child who must live alone and poses a sexual-harm risk cannot go, with her sibling, where an unrelated
    younger child lives — though her sibling's referral says nothing."""
    younger = member("foster_child", date(2020, 1, 1), member_id="F9")
    h = make_household(terms=make_terms(places=4, max_sibling_group=2), foster_children=(younger,))
    group = make_group(
        (make_child(child_id="C1", birth_month=TEN), {}),
        (make_child(child_id="C2", birth_month=TEN), {"live_alongside": "solo", "risks_to_others": ("sexual_harm",)}),
    )
    out = _check(group, h, code)
    assert not out.passed
    assert "C2" in out.reason
    assert "F9" in out.reason
    assert _fast(group, h, code)


def test_restrictions_between_siblings_pass_with_a_warning_naming_both() -> None:
    group = make_group(
        (make_child(child_id="C1", birth_month=TEN), {"live_alongside": "only_younger"}),
        (make_child(child_id="C2", birth_month=date(2009, 1, 1)), {}),
    )
    h = make_household(terms=make_terms(places=2, max_sibling_group=2))
    assert all(o.passed for o in rules.evaluate(group, h, CFG))
    (clash,) = rules.sibling_clashes(group)
    assert (clash.holder, clash.other) == ("C1", "C2")
    (c,) = rank_households(pool=HouseholdPool([h], TAX, CFG), request=group).candidates
    (w,) = [w for w in c.warnings if w.code == "sibling_restriction"]
    assert "C1" in w.message
    assert "C2" in w.message
    assert "only with younger children" in w.message


def test_the_household_where_the_child_lives_now_is_judged_without_them_and_not_offered() -> None:
    """A child moved on is not judged against themselves, but the household they are leaving is not a move."""
    lives = member("foster_child", TEN, member_id="C1", live_alongside="only_older")
    h = make_household(foster_children=(lives,))
    req = make_request(make_child(child_id="C1", birth_month=TEN), live_alongside="only_older")
    outcomes = {o.code: o for o in rules.evaluate(req, h, CFG)}
    assert outcomes["live_alongside"].passed
    assert outcomes["vacancy"].passed
    assert not outcomes["current_home"].passed
    pool = HouseholdPool([h], TAX, CFG)
    assert list(np.flatnonzero(pool.failures(req).failed[:, 0])) == [rules.RULE_INDEX["current_home"]]


def test_carers_exclusions_stand_at_mild_severity_and_a_configured_floor_makes_them_a_warning() -> None:
    h = make_household(will_not_consider=("self_harm",))
    mild = make_request(make_child(needs={"self_harm": 1}))
    assert not _check(mild, h, "carer_exclusions").passed
    loose = CFG.model_copy(update={"rules": CFG.rules.model_copy(update={"carer_exclusions_from_severity": 2})})
    assert rules.carer_exclusions(mild, h, loose).passed
    pool = HouseholdPool([h], TAX, loose)
    (c,) = rank_households(pool=pool, request=mild).candidates
    assert any(w.code == "carer_exclusion_mild" for w in c.warnings)


def test_a_group_of_one_child_is_the_child() -> None:
    child: Child = make_child()
    req = make_request(child)
    assert req.members == ((child, req.referral),)
    assert req.occupants[0].child_id == child.child_id
    assert req.on == ON


def test_a_child_with_no_open_referral_is_still_judged_on_what_their_record_says() -> None:
    """Step-down and sufficiency judge a child in residential care on their latest referral of any status: a
    recorded sexual-harm risk keeps them from families with younger children."""
    from matching.ranking.service import default_referral

    child = make_child(child_id="K1", birth_month=date(2012, 1, 1), place="K2")
    recorded = make_request(child, status="matched", risks_to_others=("sexual_harm",), allergies=("cat",)).referral
    younger = make_household(household_id="H-Y", members=(member("birth_child", date(2018, 1, 1)),))
    cats = make_household(household_id="H-C", pets=("cat",))
    fine = make_household(household_id="H-OK")
    pool = HouseholdPool([younger, cats, fine], TAX, CFG)
    req = MatchRequest(default_referral(child, ON, recorded), child, ON)
    assert [c.household_id for c in rank_households(pool=pool, request=req).candidates] == ["H-OK"]
    blank = MatchRequest(default_referral(child, ON), child, ON)
    assert len(rank_households(pool=pool, request=blank).candidates) == 3


def test_a_stay_of_zero_weeks_says_nothing_about_the_days() -> None:
    """Found in review: "0 weeks" was read as 0 days, under 6, and let an emergency go outside terms."""
    h = make_household(terms=make_terms(age_min=0, age_max=4))
    req = make_request(placement_type="emergency", emergency_outside_terms=True, expected_duration_weeks=0)
    assert not _check(req, h, "terms_age").passed


def test_the_number_of_places_is_never_waived() -> None:
    emergency = {"placement_type": "emergency", "emergency_outside_terms": True, "expected_duration_days": 2}
    group = make_group((make_child(child_id="C1"), emergency), (make_child(child_id="C2"), emergency))
    one_place = make_household(terms=make_terms(places=1, max_sibling_group=1))
    assert not _check(group, one_place, "terms_places").passed
    assert _fast(group, one_place, "terms_places")


def test_a_foster_child_from_outside_the_store_is_judged_both_ways_by_both_paths() -> None:
    """Found in review: the fast path read restrictions from the store's foster children only."""
    outsider = member("foster_child", date(2013, 1, 1), member_id="X1", risks_to_others=("sexual_harm",))
    h = make_household(terms=make_terms(places=3), members=(outsider,))
    req = make_request(make_child(birth_month=date(2021, 1, 1)))
    assert not _check(req, h, "resident_restrictions").passed
    assert _fast(req, h, "resident_restrictions")


def test_a_limit_held_by_a_child_of_eighteen_still_protects_younger_children() -> None:
    """Found in review: the two paths disagreed on a group child of 18 (the rule: a limit rules out children under
    18, whoever holds it)."""
    h = make_household(members=(member("birth_child", date(2015, 1, 1)),))
    req = make_request(make_child(birth_month=date(2008, 1, 1)), risks_to_others=("sexual_harm",))
    assert not _check(req, h, "risk_to_others").passed
    assert _fast(req, h, "risk_to_others")
