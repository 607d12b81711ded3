"""Invariants of ranking, over generated children and households (hypothesis)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.domain import CarerHousehold
from matching.eligibility.request import MatchRequest
from matching.eligibility.rules import RULES, evaluate
from matching.fit_config import load_fit_config
from matching.ranking import fit
from matching.ranking.explanation import TIER_CONNECTED, MatchResult
from matching.ranking.pool import HouseholdPool
from matching.ranking.service import rank_households, rank_households_loop, tier_of
from tests.strategies import TAX, household_lists, requests

CFG = load_fit_config()
PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ranked(households: list[CarerHousehold], req: MatchRequest, top: int = 50) -> MatchResult:
    return rank_households(pool=HouseholdPool(households, TAX, CFG), request=req, top=top, near_misses=True)


def check_no_ranked_household_breaks_a_hard_rule(
    households: list[CarerHousehold], req: MatchRequest, result: MatchResult
) -> None:
    by_id = {h.household_id: h for h in households}
    for c in result.candidates:
        outcomes = [rule(req, by_id[c.household_id], CFG) for rule in RULES]
        assert all(o.passed for o in outcomes), [o for o in outcomes if not o.passed]
    eligible = {h.household_id for h in households if all(o.passed for o in evaluate(req, h, CFG))}
    assert result.eligible == len(eligible)
    assert {c.household_id for c in result.candidates} <= eligible


def check_fast_path_agrees_with_the_per_household_definition(
    households: list[CarerHousehold], req: MatchRequest, fast: MatchResult
) -> None:
    slow = rank_households_loop(households=households, request=req, cfg=CFG, taxonomy=TAX, top=50, near_misses=True)
    assert [(c.household_id, round(c.score, 6)) for c in fast.candidates] == [
        (c.household_id, round(c.score, 6)) for c in slow.candidates
    ]
    assert fast.excluded_counts == slow.excluded_counts
    assert [(m.household_id, m.rule) for m in fast.nearest_misses] == [
        (m.household_id, m.rule) for m in slow.nearest_misses
    ]


def check_score_is_the_explanations_score(households: list[CarerHousehold], req: MatchRequest) -> None:
    for h in households:
        assert fit.score(req, h, CFG, TAX) == fit.assess(req, h, CFG, TAX).score


def check_contributions_add_up_to_the_score(result: MatchResult) -> None:
    for c in result.candidates:
        assert abs(sum(f.contribution for f in c.factors) - c.score) < 1e-9
        assert 0.0 <= c.score <= 100.0 + 1e-9
        shown = c.as_dict()
        assert abs(sum(f["contribution"] for f in shown["factors"]) - shown["score"]) < 1e-9


def check_connected_person_carers_always_come_first(
    households: list[CarerHousehold], req: MatchRequest, result: MatchResult
) -> None:
    tiers = [c.tier for c in result.candidates]
    assert tiers == sorted(tiers)
    by_id = {h.household_id: h for h in households}
    for c in result.candidates:
        assert (c.tier == TIER_CONNECTED) == (tier_of(req, by_id[c.household_id]) == TIER_CONNECTED)
    keys = [(c.tier, -round(c.score, 6), c.household_id) for c in result.candidates]
    assert keys == sorted(keys)


@pytest.mark.slow
@PROPS
@given(household_lists(), requests())
def test_ranking_invariants(households: list[CarerHousehold], req: MatchRequest) -> None:
    """No hard rule broken; fast path = definition; contributions add up; connected persons first."""
    result = ranked(households, req)
    check_no_ranked_household_breaks_a_hard_rule(households, req, result)
    check_fast_path_agrees_with_the_per_household_definition(households, req, result)
    check_contributions_add_up_to_the_score(result)
    check_score_is_the_explanations_score(households, req)
    check_connected_person_carers_always_come_first(households, req, result)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(household_lists(), requests(), st.randoms(use_true_random=False))
def test_same_input_same_ranking_whatever_the_order(
    households: list[CarerHousehold], req: MatchRequest, rnd: random.Random
) -> None:
    first = [(c.household_id, c.score) for c in ranked(households, req).candidates]
    shuffled = list(households)
    rnd.shuffle(shuffled)
    assert [(c.household_id, c.score) for c in ranked(shuffled, req).candidates] == first
