"""Each eligibility rule: a passing and a failing case at its boundary."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from matching.domain import Location
from matching.eligibility import rules
from matching.eligibility.rules import RULE_CODES, RULES
from matching.fit_config import load_fit_config
from tests.factories import make_child, make_household, make_request, make_terms, member

CFG = load_fit_config()


def check(rule: rules.Rule, req: object, h: object) -> rules.RuleOutcome:
    out = rule(req, h, CFG)  # type: ignore[arg-type]
    assert out.reason
    assert out.reason.endswith(".")
    return out


def test_every_rule_has_its_code_in_order() -> None:
    req, h = make_request(), make_household()
    assert tuple(r(req, h, CFG).code for r in RULES) == RULE_CODES
    assert all(r(req, h, CFG).passed for r in RULES)


def test_household_active() -> None:
    assert check(rules.household_active, make_request(), make_household()).passed
    out = check(rules.household_active, make_request(), make_household(status="on_hold"))
    assert not out.passed
    assert out.reason == "The household is on hold."


def test_connected_person_only_named_children() -> None:
    kin = make_household(terms=make_terms(connected_child_ids=("C1",)))
    assert check(rules.connected_person, make_request(), kin).passed
    assert not check(rules.connected_person, make_request(make_child(child_id="C2")), kin).passed


def test_setting_must_include_foster_care() -> None:
    assert check(rules.setting, make_request(suitable_for=("foster", "residential")), make_household()).passed
    assert not check(rules.setting, make_request(suitable_for=("residential",)), make_household()).passed


@pytest.mark.parametrize(("age_max", "passes"), [(10, True), (9, False)])
def test_terms_age_boundary(age_max: int, passes: bool) -> None:
    h = make_household(terms=make_terms(age_min=5, age_max=age_max))  # the child is 10 on ON
    assert check(rules.terms_age, make_request(), h).passed is passes


def test_terms_age_applies_to_every_sibling() -> None:
    sib = make_child(child_id="C2", birth_month=date(2020, 1, 1))  # 6
    h = make_household(terms=make_terms(age_min=7, age_max=17))
    assert not check(rules.terms_age, make_request(siblings=(sib,)), h).passed


def test_emergency_under_six_days_may_go_outside_terms() -> None:
    h = make_household(terms=make_terms(age_min=11, age_max=17, placement_types=("long_term",)))
    normal = make_request(placement_type="emergency")
    assert not check(rules.terms_age, normal, h).passed
    emergency = make_request(placement_type="emergency", emergency_outside_terms=True, expected_duration_days=5)
    for rule in (rules.terms_age, rules.terms_placement_type):
        out = check(rule, emergency, h)
        assert out.passed
        assert out.outside_terms
        assert "under 6 days" in out.reason


@pytest.mark.parametrize(
    ("days", "weeks", "allowed"),
    [(5, None, True), (6, None, False), (1, None, True), (14, None, False), (None, 1, False), (None, None, False)],
)
def test_emergency_outside_terms_only_for_a_stay_under_six_days(
    days: int | None, weeks: int | None, allowed: bool
) -> None:
    """Fostering Services Regs 2011 reg 27: outside terms only in an emergency of under 6 days; a week is not."""
    h = make_household(terms=make_terms(age_min=11, age_max=17))
    req = make_request(
        placement_type="emergency",
        emergency_outside_terms=True,
        expected_duration_days=days,
        expected_duration_weeks=weeks,
    )
    assert check(rules.terms_age, req, h).passed is allowed


def test_terms_placement_type() -> None:
    h = make_household(terms=make_terms(placement_types=("short_term",)))
    assert check(rules.terms_placement_type, make_request(placement_type="short_term"), h).passed
    out = check(rules.terms_placement_type, make_request(placement_type="long_term"), h)
    assert not out.passed
    assert out.reason == "Not approved for long term placements."


@pytest.mark.parametrize(("places", "passes"), [(2, True), (1, False)])
def test_terms_places_boundary(places: int, passes: bool) -> None:
    sib = make_child(child_id="C2")
    h = make_household(terms=make_terms(places=places, max_sibling_group=2))
    assert check(rules.terms_places, make_request(siblings=(sib,)), h).passed is passes


@pytest.mark.parametrize(("fostered", "passes"), [(1, True), (2, False)])
def test_vacancy_boundary(fostered: int, passes: bool) -> None:
    kids = tuple(member("foster_child", date(2012, 1, 1), member_id=f"F{i}") for i in range(fostered))
    h = make_household(terms=make_terms(places=2), foster_children=kids)
    assert check(rules.vacancy, make_request(), h).passed is passes


def test_usual_fostering_limit() -> None:
    kids = tuple(member("foster_child", date(2008, 1, 1), member_id=f"F{i}") for i in range(3))
    h = make_household(terms=make_terms(places=4), foster_children=kids[:2])
    assert check(rules.usual_limit, make_request(), h).passed  # 3 after placement
    full = replace(h, foster_children=kids)
    assert not check(rules.usual_limit, make_request(), full).passed  # 4 after placement
    exempt = replace(full, terms=make_terms(places=4, usual_limit_exemption=True))
    assert check(rules.usual_limit, make_request(), exempt).passed


def test_a_sibling_group_is_exempt_from_the_usual_limit() -> None:
    sibs = tuple(make_child(child_id=f"C{i}") for i in range(2, 5))  # four siblings in all
    h = make_household(terms=make_terms(places=4, max_sibling_group=4))
    assert check(rules.usual_limit, make_request(siblings=sibs), h).passed


@pytest.mark.parametrize(("max_group", "passes"), [(3, True), (2, False)])
def test_sibling_group_fits(max_group: int, passes: bool) -> None:
    sibs = (make_child(child_id="C2"), make_child(child_id="C3"))
    h = make_household(terms=make_terms(places=3, max_sibling_group=max_group))
    assert check(rules.sibling_group, make_request(siblings=sibs), h).passed is passes


def test_live_alongside_solo() -> None:
    alone = make_household()
    assert check(rules.live_alongside, make_request(live_alongside="solo"), alone).passed
    with_child = replace(
        alone,
        members=(member("birth_child", date(2000, 1, 1)), member("birth_child", date(2020, 1, 1), member_id="M2")),
    )
    assert not check(rules.live_alongside, make_request(live_alongside="solo"), with_child).passed
    adult = replace(alone, members=(member("birth_child", date(2000, 1, 1)),))  # 26: not a child any more
    assert check(rules.live_alongside, make_request(live_alongside="solo"), adult).passed


@pytest.mark.parametrize(("other_born", "mode", "passes"), [
    (date(2015, 1, 1), "only_older", True),   # 11 vs child 10
    (date(2016, 1, 1), "only_older", False),  # same age
    (date(2017, 1, 1), "only_younger", True),  # 9
    (date(2016, 1, 1), "only_younger", False),
])  # fmt: skip
def test_live_alongside_by_age(other_born: date, mode: str, passes: bool) -> None:
    h = make_household(members=(member("birth_child", other_born),))
    assert check(rules.live_alongside, make_request(live_alongside=mode), h).passed is passes


def test_risks_to_others_vs_children_there() -> None:
    older = make_household(members=(member("birth_child", date(2014, 1, 1)),))
    younger = make_household(members=(member("birth_child", date(2018, 1, 1)),))
    assert check(rules.risks_to_others, make_request(risks_to_others=("sexual_harm",)), older).passed
    assert not check(rules.risks_to_others, make_request(risks_to_others=("sexual_harm",)), younger).passed
    four = make_household(members=(member("birth_child", date(2022, 1, 1)),))
    five = make_household(members=(member("birth_child", date(2021, 4, 1)),))
    assert not check(rules.risks_to_others, make_request(risks_to_others=("physical_harm",)), four).passed
    assert check(rules.risks_to_others, make_request(risks_to_others=("physical_harm",)), five).passed


def test_carer_exclusions_respected() -> None:
    h = make_household(will_not_consider=("self_harm", "fire_setting"))
    mild = make_request(make_child(needs={"self_harm": 1}))
    assert not check(rules.carer_exclusions, mild, h).passed  # the carers' word stands at any severity
    loose = CFG.model_copy(update={"rules": CFG.rules.model_copy(update={"carer_exclusions_from_severity": 2})})
    assert rules.carer_exclusions(mild, h, loose).passed  # configured: mild becomes a warning
    actionable = make_request(make_child(needs={"self_harm": 2}))
    assert not check(rules.carer_exclusions, actionable, h).passed
    assert not check(rules.carer_exclusions, make_request(risks_to_others=("fire_setting",)), h).passed


def test_pets_vs_allergies_and_harm_to_animals() -> None:
    h = make_household(pets=("cat",))
    assert check(rules.pets, make_request(allergies=("dog",)), h).passed
    assert not check(rules.pets, make_request(allergies=("cat",)), h).passed
    assert not check(rules.pets, make_request(risks_to_others=("harm_to_animals",)), h).passed
    assert check(rules.pets, make_request(risks_to_others=("harm_to_animals",)), make_household()).passed


@pytest.mark.parametrize(("born", "passes"), [(date(2021, 4, 1), True), (date(2021, 5, 1), False)])
def test_smoking_and_under_fives(born: date, passes: bool) -> None:
    h = make_household(smoking=True)
    assert check(rules.smoking, make_request(make_child(birth_month=born)), h).passed is passes


def test_smoking_and_respiratory_or_disability() -> None:
    h = make_household(smoking=True)
    assert not check(rules.smoking, make_request(respiratory_needs=True), h).passed
    assert not check(rules.smoking, make_request(make_child(disability=True)), h).passed
    assert check(rules.smoking, make_request(respiratory_needs=True), make_household()).passed


def test_accessibility() -> None:
    assert not check(rules.accessibility, make_request(needs_adaptation=True), make_household()).passed
    assert check(
        rules.accessibility, make_request(needs_adaptation=True), make_household(wheelchair_accessible=True)
    ).passed


@pytest.mark.parametrize(("miles", "passes"), [(24.9, True), (25.1, False)])
def test_maximum_distance_boundary(miles: float, passes: bool) -> None:
    east = 450_000 + round(miles * 1609.3)
    h = make_household(location=Location(east, 300_000))
    assert check(rules.distance, make_request(max_distance_miles=25.0), h).passed is passes


def test_distance_default_and_unknown_home() -> None:
    far = make_household(location=Location(450_000 + 70 * 1609, 300_000))
    assert not check(rules.distance, make_request(), far).passed  # default limit 60 miles
    out = check(rules.distance, make_request(make_child(home=None)), far)
    assert out.passed
    assert "not known" in out.reason


def test_deprivation_of_liberty_order() -> None:
    plain = make_household()
    supported = make_household(support_package=("therapeutic_support", "out_of_hours"))
    assert not check(rules.deprivation_of_liberty, make_request(dolo=True), plain).passed
    assert check(rules.deprivation_of_liberty, make_request(dolo=True), supported).passed
    assert check(rules.deprivation_of_liberty, make_request(), plain).passed
