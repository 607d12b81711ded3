"""Invariants of eligibility over generated sibling groups and households with residents (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import codes
from matching.allocation.instance import build_instance
from matching.allocation.solver import SolverSettings, solve
from matching.allocation.validate import rule_problems
from matching.domain import CarerHousehold
from matching.eligibility import rules
from matching.eligibility.request import MatchRequest
from matching.fit_config import load_fit_config
from matching.ranking.pool import HouseholdPool
from tests.factories import ON
from tests.strategies import TAX, children, household_lists, referrals, requests

CFG = load_fit_config()
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Rules judging the group as a whole; every other rule judges each child on their own referral.
GROUP_RULES = ("terms_places", "vacancy", "usual_limit", "sibling_group")


@PROPS
@given(household_lists(max_size=12), requests())
def test_the_vectorised_rules_equal_the_rule_functions(households: list[CarerHousehold], req: MatchRequest) -> None:
    pool = HouseholdPool(households, TAX, CFG)
    found = pool.failures(req)
    for i, h in enumerate(pool.households):
        for k, outcome in enumerate(rules.evaluate(req, h, CFG)):
            assert bool(found.failed[k, i]) is not outcome.passed, (h.household_id, outcome)
            if outcome.passed:
                assert bool(found.outside_terms[k, i]) is outcome.outside_terms, (h.household_id, outcome)


@PROPS
@given(household_lists(max_size=12), requests())
def test_a_groups_households_are_the_intersection_of_its_childrens_minus_the_group_rules(
    households: list[CarerHousehold], req: MatchRequest
) -> None:
    """Each child alone, on their own referral, passes every per-child rule in exactly the households where the
    group passes them; the group then passes where the rules on the whole group (places, vacancy, the usual
    limit, the sibling-group approval) pass too."""
    alone = [MatchRequest(ref, child, req.on) for child, ref in req.members]
    for h in households:
        group = {o.code: o.passed for o in rules.evaluate(req, h, CFG)}
        each = [{o.code: o.passed for o in rules.evaluate(a, h, CFG)} for a in alone]
        per_child = all(all(v for c, v in e.items() if c not in GROUP_RULES) for e in each)
        assert all(v for c, v in group.items() if c not in GROUP_RULES) == per_child, (h.household_id, group, each)
        assert (not rules.failed(req, h, CFG)) == (per_child and all(group[c] for c in GROUP_RULES))


@st.composite
def waiting(draw: st.DrawFn) -> list[MatchRequest]:
    """Up to five units of one or two children, each child with their own referral (distinct ids)."""
    out = []
    for u in range(draw(st.integers(1, 5))):
        kids = [draw(children(f"U{u}-{j}")) for j in range(draw(st.sampled_from([1, 1, 2])))]
        ptype = draw(st.sampled_from(codes.PLACEMENT_TYPES))
        own = [draw(referrals(c, ptype)) for c in kids]
        out.append(MatchRequest(own[0], kids[0], ON, tuple(kids[1:]), tuple(own[1:])))
    return out


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(household_lists(max_size=8), waiting())
def test_no_allocation_breaks_a_rule_for_any_child_placed_or_living_there(
    households: list[CarerHousehold], reqs: list[MatchRequest]
) -> None:
    pool = HouseholdPool(households, TAX, CFG)
    instance = build_instance(pool, reqs)
    result = solve(instance, SolverSettings(time_limit_seconds=2, random_seed=3, workers=1))
    assert instance.context is not None
    by_household: dict[int, list[int]] = {}
    for u, k in result.assignment.items():
        by_household.setdefault(instance.arcs[k].household, []).append(u)
    for h, units in by_household.items():
        assert rule_problems(instance.context, sorted(units), h) == []
    placed = {c for u in result.assignment for c in instance.units[u].child_ids}
    assert len(placed) == sum(instance.units[u].size for u in result.assignment)
    assert np.all(
        [
            pool.failures(instance.context.requests[u]).eligible[
                pool.index[instance.households[instance.arcs[k].household].household_id]
            ]
            for u, k in result.assignment.items()
        ]
    )


@PROPS
@given(household_lists(max_size=10), st.lists(requests(), min_size=2, max_size=4), st.sampled_from((0, 31, 400)))
def test_one_pool_judges_request_after_request_as_the_rule_functions(
    households: list[CarerHousehold], reqs: list[MatchRequest], later: int
) -> None:
    """A pool keeps the columns many requests ask for (a group size, an age, a placement type, who lives there in a
    month): each request of a series, some on a later day, is still judged exactly as the rule functions judge it,
    and the kept columns cannot be changed by whoever reads them."""
    pool = HouseholdPool(households, TAX, CFG)
    for k, drawn in enumerate(reqs):
        req = replace(drawn, on=drawn.on + timedelta(days=later)) if k % 2 else drawn
        found = pool.failures(req)
        for i, h in enumerate(pool.households):
            for j, outcome in enumerate(rules.evaluate(req, h, CFG)):
                assert bool(found.failed[j, i]) is not outcome.passed, (k, h.household_id, outcome)
    for column in pool._columns_cache.values():
        assert not column.flags.writeable
