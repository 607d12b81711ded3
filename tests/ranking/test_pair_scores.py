"""Scoring many (request, household) pairs at once gives each pair the score of its request alone (hypothesis).

Allocation scores every waiting child's eligible households in one pass (:meth:`HouseholdPool.pair_scores`);
the ranking scores one request's households (:meth:`HouseholdPool.scores`).  Both must be the fit score the
per-household definition gives (:func:`matching.ranking.fit.score`), bit for bit between the two fast paths.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.domain import CarerHousehold
from matching.eligibility.request import MatchRequest
from matching.fit_config import load_fit_config
from matching.ranking import fit
from matching.ranking.pool import HouseholdPool
from tests.strategies import TAX, household_lists, requests

CFG = load_fit_config()
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[CarerHousehold], list[MatchRequest], np.ndarray, np.ndarray]:
    """Households, a few requests (some on other days, some sibling groups) and pairs in any order, repeats too."""
    households = draw(household_lists(max_size=8))
    reqs = []
    for _ in range(draw(st.integers(1, 4))):
        req = draw(requests())
        later = draw(st.sampled_from((0, 0, 40, 400)))
        reqs.append(replace(req, on=req.on + timedelta(days=later)) if later else req)
    n = draw(st.integers(0, 30))
    r = np.array(draw(st.lists(st.integers(0, len(reqs) - 1), min_size=n, max_size=n)), dtype=np.int64)
    idx = np.array(draw(st.lists(st.integers(0, len(households) - 1), min_size=n, max_size=n)), dtype=np.int64)
    return households, reqs, r, idx


def _together_is_alone(pool: HouseholdPool, reqs: list[MatchRequest], r: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The pairs scored together, asserted equal to each scored with its request alone (the same sums in the same
    order: equal, not merely close)."""
    together = pool.pair_scores(reqs, r, idx)
    alone = [float(pool.scores(reqs[k], np.array([i]))[0]) for k, i in zip(r.tolist(), idx.tolist(), strict=True)]
    assert together.tolist() == alone
    return together


@PROPS
@given(batches())
def test_a_pair_scored_with_others_scores_as_its_request_alone(
    batch: tuple[list[CarerHousehold], list[MatchRequest], np.ndarray, np.ndarray],
) -> None:
    households, reqs, r, idx = batch
    pool = HouseholdPool(households, TAX, CFG)
    together = _together_is_alone(pool, reqs, r, idx)
    for k, i, got in zip(r.tolist(), idx.tolist(), together.tolist(), strict=True):
        assert abs(got - fit.score(reqs[k], pool.households[i], CFG, TAX)) < 1e-9


def test_no_pairs_no_scores() -> None:
    pool = HouseholdPool([], TAX, CFG)
    assert pool.pair_scores([], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)).shape == (0,)


class _FakeStability:
    """A stability estimate that depends on the request and the household (for the batched path with a model)."""

    version = "fake-1"

    def p_unplanned(self, pool: HouseholdPool, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        return np.asarray((np.asarray(idx) * 7 + sum(map(ord, req.child.child_id)) + req.on.toordinal()) % 10 / 10.0)

    def estimate(self, p_unplanned: float) -> object:
        raise NotImplementedError


@PROPS
@given(batches())
def test_with_a_stability_model_each_pair_takes_its_own_requests_estimate(
    batch: tuple[list[CarerHousehold], list[MatchRequest], np.ndarray, np.ndarray],
) -> None:
    households, reqs, r, idx = batch
    _together_is_alone(HouseholdPool(households, TAX, CFG).with_stability(_FakeStability()), reqs, r, idx)
