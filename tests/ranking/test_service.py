"""Ranking behaviour: explanations, gaps, warnings, empty results with nearest misses, the reverse query."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from matching.domain import Location, WishesAndFeelings
from matching.fit_config import load_fit_config
from matching.ranking.pool import HouseholdPool
from matching.ranking.service import rank_children, rank_households
from matching.taxonomy import load_taxonomy
from tests.factories import make_child, make_household, make_request, make_terms, member, trained, with_track

CFG, TAX = load_fit_config(), load_taxonomy()


def rank(households: list, req: object, **kw: object):  # type: ignore[no-untyped-def]
    return rank_households(pool=HouseholdPool(households, TAX, CFG), request=req, **kw)  # type: ignore[arg-type]


def test_training_that_meets_the_need_ranks_higher_and_gaps_name_the_course() -> None:
    child = make_child(needs={"self_harm": 3})
    skilled = trained(make_household(household_id="H-skilled"), "self_harm_awareness")
    untrained = make_household(household_id="H-untrained")
    result = rank([untrained, skilled], make_request(child))
    assert [c.household_id for c in result.candidates] == ["H-skilled", "H-untrained"]
    top, second = result.candidates
    assert top.needs_met[0].met
    assert top.needs_met[0].by == ("self_harm_awareness",)
    assert not second.needs_met[0].met
    actions = [g.action for g in second.gaps]
    assert any("Self-harm and suicide awareness" in a for a in actions)
    assert any(g.kind == "support" for g in second.gaps)  # severe need, no therapeutic support


def test_expired_training_is_a_gap_to_renew() -> None:
    child = make_child(needs={"physical_aggression": 2})
    lapsed = trained(make_household(), "de_escalation_pbs", completed=date(2020, 1, 1), expires=date(2022, 1, 1))
    (c,) = rank([lapsed], make_request(child)).candidates
    assert not c.needs_met[0].met
    assert any(g.action.startswith("Renew 'De-escalation") and "2022-01-01" in g.action for g in c.gaps)


def test_experience_counts_as_coverage() -> None:
    child = make_child(needs={"autism": 2})
    (c,) = rank([make_household(experience_needs=("autism",))], make_request(child)).candidates
    assert c.needs_met[0].met
    assert c.needs_met[0].by == ("experience:autism",)


def test_warnings_for_distance_school_identity_and_wishes() -> None:
    child = make_child(ethnicity="BAFR", school=Location(450_500, 300_000))
    far = make_household(location=Location(450_000 + 30 * 1609, 300_000), la_code="L002", ethnicity="WBRI")
    req = make_request(child, wishes=replace(make_request().referral.wishes, near_school=True, text="I want my school"))
    (c,) = rank([far], req).candidates
    codes = {w.code for w in c.warnings}
    assert {"long_distance", "school_move", "out_of_area", "trans_cultural", "wish_not_met"} <= codes
    assert "I want my school" in " ".join(rank([far], req).notes)


def test_emergency_outside_terms_is_marked() -> None:
    h = make_household(terms=make_terms(age_min=14, age_max=17, placement_types=("long_term",)))
    req = make_request(placement_type="emergency", emergency_outside_terms=True, expected_duration_days=3)
    (c,) = rank([h], req).candidates
    assert set(c.as_dict()["outside_terms"]) == {"terms_age", "terms_placement_type"}
    assert any(w.code == "emergency_outside_terms" for w in c.warnings)


def test_no_eligible_household_gives_counts_and_nearest_misses() -> None:
    full = make_household(
        household_id="H-full", terms=make_terms(places=1), foster_children=(member("foster_child", date(2012, 1, 1)),)
    )
    young = make_household(household_id="H-young", terms=make_terms(age_min=0, age_max=4))
    result = rank([full, young], make_request())
    assert result.candidates == ()
    assert result.eligible == 0
    assert result.excluded_counts == {"terms_age": 1, "vacancy": 1}
    assert sorted((m.household_id, m.rule) for m in result.nearest_misses) == [
        ("H-full", "vacancy"),
        ("H-young", "terms_age"),
    ]


def test_excluded_list_on_request() -> None:
    young = make_household(household_id="H-young", terms=make_terms(age_min=0, age_max=4), smoking=True)
    result = rank([young, make_household()], make_request(make_child(disability=True)), with_excluded=True)
    assert result.excluded is not None
    (e,) = result.excluded
    assert e.household_id == "H-young"
    assert {r.code for r in e.failed} == {"terms_age", "smoking"}


def test_kinship_carer_ranks_first_even_with_a_lower_score() -> None:
    kin = make_household(household_id="H-kin", terms=make_terms(connected_child_ids=("C1",)), experience_years=0.5)
    star = trained(with_track(make_household(household_id="H-star", experience_years=20), 10, 0), "pace_ddp")
    result = rank([star, kin], make_request(make_child(needs={"trauma_attachment": 3})))
    assert [c.household_id for c in result.candidates] == ["H-kin", "H-star"]
    assert result.candidates[0].score < result.candidates[1].score
    assert result.candidates[0].tier_name == "connected_person"


def test_track_record_and_experience_move_the_score() -> None:
    good = with_track(make_household(household_id="H-good"), ended=8, unplanned=0)
    poor = with_track(make_household(household_id="H-poor"), ended=8, unplanned=6)
    result = rank([poor, good], make_request())
    assert [c.household_id for c in result.candidates] == ["H-good", "H-poor"]
    track = {c.household_id: next(f for f in c.factors if f.name == "track_record").value for c in result.candidates}
    assert track["H-good"] > track["H-poor"]


def test_reverse_query_ranks_waiting_children_for_a_household() -> None:
    h = trained(make_household(terms=make_terms(age_min=8, age_max=17)), "self_harm_awareness")
    teen = make_request(
        make_child(child_id="C-teen", birth_month=date(2012, 1, 1), needs={"self_harm": 3}), referral_id="R-teen"
    )
    baby = make_request(make_child(child_id="C-baby", birth_month=date(2025, 1, 1)), referral_id="R-baby")
    other = make_request(
        make_child(child_id="C-other", birth_month=date(2013, 1, 1), needs={"autism": 3}), referral_id="R-other"
    )
    found, excluded = rank_children(household=h, requests=[baby, other, teen], cfg=CFG, taxonomy=TAX)
    assert [c.child_id for c in found] == ["C-teen", "C-other"]
    assert excluded == {"terms_age": 1}
    assert found[0].explanation.score > found[1].explanation.score


def test_the_childs_wish_to_stay_at_school_moves_weight_to_the_school() -> None:
    # A school 30 miles from home (the child moved away from it when they came into care).
    child = make_child(home=Location(450_000, 300_000), school=Location(450_000 + 30 * 1609, 300_000))
    near_home = make_household(household_id="H-home", location=Location(450_000, 300_000))
    near_school = make_household(household_id="H-school", location=Location(450_000 + 30 * 1609, 300_000))
    plain = rank([near_home, near_school], make_request(child))
    assert [c.household_id for c in plain.candidates] == ["H-home", "H-school"]
    wish = WishesAndFeelings(text="I want to stay at my school", near_school=True)
    heard = rank([near_home, near_school], make_request(child, wishes=wish))
    assert [c.household_id for c in heard.candidates] == ["H-school", "H-home"]
