"""Numbers that agree with themselves (issue 18, item 5).

Before: the page showed "household fit 12.8/12" and "identity 2.5/8" (weights 12.75 and 8.5 printed as
whole numbers); an estimate of 55% was printed beside "similar past placements: 58%-62% lasted" with no
reason; the CLI printed the stability sentence twice when it was a top reason; "1 past placements".
"""

from __future__ import annotations

import re
from dataclasses import replace
from io import StringIO

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from matching.fit_config import load_fit_config
from matching.ranking.explanation import StabilityEstimate
from matching.ranking.fit import assess
from matching.ranking.pool import HouseholdPool
from matching.ranking.render import print_result
from matching.ranking.service import rank_households
from matching.taxonomy import load_taxonomy
from tests.factories import make_child, make_household, make_request, with_track

CFG, TAX = load_fit_config(), load_taxonomy()

BANDS = [  # as train.probability_bands writes them (p = chance of an unplanned ending)
    {"p_low": 0.0, "p_high": 0.3, "n": 100, "observed": 0.2, "ci_low": 0.15, "ci_high": 0.25},
    {"p_low": 0.3, "p_high": 0.5, "n": 100, "observed": 0.38, "ci_low": 0.36, "ci_high": 0.41},
    {"p_low": 0.5, "p_high": 1.0, "n": 100, "observed": 0.7, "ci_low": 0.65, "ci_high": 0.75},
]


def _estimate(p_unplanned: float) -> StabilityEstimate:
    from matching.stability.scorer import StabilityScorer

    scorer = StabilityScorer.__new__(StabilityScorer)
    scorer.version = "test"
    scorer._bands = BANDS
    scorer._edges = __import__("numpy").array([b["p_low"] for b in BANDS][1:])
    return scorer.estimate(p_unplanned)


@settings(max_examples=60, deadline=None)
@given(p=st.floats(0.0, 1.0))
def test_the_estimate_lies_inside_the_range_of_estimates_it_is_compared_with(p: float) -> None:
    e = _estimate(p)
    assert e.estimates_low is not None
    assert e.estimates_high is not None
    assert e.estimates_low <= e.p_lasting <= e.estimates_high
    text = e.describe()
    shown = [int(x) for x in re.findall(r"(\d+)%", text)]
    assert shown[1] <= shown[0] <= shown[2], text  # estimate, then the range of estimates it belongs to


def test_the_stability_sentence_is_printed_once() -> None:
    h = make_household()
    req = make_request(make_child())
    stability = StabilityEstimate(0.9, 0.85, 0.92, "v", 0.8, 0.95)
    result = rank_households(pool=HouseholdPool([h], TAX, CFG), request=req)
    factors = assess(req, h, CFG, TAX, stability=stability).factors
    with_estimate = replace(result.candidates[0], stability=stability, factors=factors)
    for n in (1, 2, 6):
        reasons = with_estimate.top_reasons(n, always=("stability",))
        assert reasons.count(stability.describe()) == 1
    buffer = StringIO()
    print_result(Console(file=buffer, width=400), replace(result, candidates=(with_estimate,)))
    assert buffer.getvalue().count("chance of lasting a year") == 1


def test_counts_read_as_people_write_them() -> None:
    h = with_track(make_household(experience_years=1.0), ended=1, unplanned=0)
    factor = next(f for f in assess(make_request(), h, CFG, TAX).factors if f.name == "track_record")
    assert "1 past placement," in factor.detail
    assert "1 year's experience" in factor.detail
