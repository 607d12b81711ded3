"""A child with no assessment of needs on record: "not known", never "fully met" (issue 18, item 2).

Before the fix, a child with no recorded needs scored the full needs weight (40 of 100) and outranked a
child whose needs were assessed and met by the same carers.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.fit_config import load_fit_config
from matching.ranking.fit import assess, score
from matching.ranking.pool import HouseholdPool
from matching.ranking.service import rank_children, rank_households
from matching.taxonomy import load_taxonomy
from tests.factories import make_child, make_group, make_household, make_request, make_terms, trained

CFG, TAX = load_fit_config(), load_taxonomy()


def _household():  # type: ignore[no-untyped-def]
    return trained(make_household(terms=make_terms(age_min=5, age_max=17)), "self_harm_awareness")


def test_a_child_whose_needs_are_not_known_does_not_outrank_one_whose_needs_are_met() -> None:
    met = make_request(make_child(child_id="C-met", needs={"self_harm": 3}), referral_id="R-met")
    unknown = make_request(make_child(child_id="C-unknown", needs_assessed=False), referral_id="R-unknown")
    found, _ = rank_children(household=_household(), requests=[unknown, met], cfg=CFG, taxonomy=TAX)
    assert [c.child_id for c in found] == ["C-met", "C-unknown"]
    needs = {c.child_id: next(f for f in c.explanation.factors if f.name == "needs") for c in found}
    assert needs["C-met"].contribution == CFG.weights["needs"]
    assert needs["C-unknown"].value is None
    assert needs["C-unknown"].contribution == 0
    assert "not known" in needs["C-unknown"].detail
    assert "needs_not_assessed" in {w.code for w in found[1].explanation.warnings}


def test_assessed_with_no_needs_is_not_the_same_as_not_known() -> None:
    none = make_request(make_child(needs={}))
    unknown = make_request(make_child(needs={}, needs_assessed=False))
    h = _household()
    assert score(none, h, CFG, TAX) - score(unknown, h, CFG, TAX) == pytest.approx(CFG.weights["needs"])
    factor = next(f for f in assess(none, h, CFG, TAX).factors if f.name == "needs")
    assert factor.value == 1.0
    assert "no needs to meet" in factor.detail


def test_a_sibling_with_no_assessment_makes_the_groups_needs_not_known() -> None:
    group = make_group(
        (make_child(child_id="C-a", needs={"self_harm": 3}), {}),
        (make_child(child_id="C-b", birth_month=date(2014, 1, 1), needs_assessed=False), {}),
    )
    assert not group.needs_known
    assert group.unassessed == ("C-b",)
    h = make_household(terms=make_terms(age_min=5, age_max=17, places=3, max_sibling_group=3))
    (c,) = rank_households(pool=HouseholdPool([h], TAX, CFG), request=group).candidates
    needs = next(f for f in c.factors if f.name == "needs")
    assert needs.contribution == 0
    assert "C-b" in needs.detail


@settings(max_examples=40, deadline=None)
@given(
    needs=st.dictionaries(st.sampled_from(sorted(TAX.needs)), st.integers(1, 3), max_size=4),
    assessed=st.booleans(),
    trained_in=st.sampled_from(["self_harm_awareness", "de_escalation_pbs", "autism_awareness"]),
)
def test_the_fast_path_and_the_explanation_agree_on_needs(
    needs: dict[str, int], assessed: bool, trained_in: str
) -> None:
    h = trained(make_household(terms=make_terms(age_min=5, age_max=17)), trained_in)
    req = make_request(make_child(needs=needs, needs_assessed=assessed))
    pool = HouseholdPool([h], TAX, CFG)
    (c,) = rank_households(pool=pool, request=req).candidates
    assert abs(c.score - score(req, h, CFG, TAX)) < 1e-6
    if not assessed:
        assert next(f for f in c.factors if f.name == "needs").contribution == 0
