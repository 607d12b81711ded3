"""The plain sentence saying how good an allocation is (one wording for the command and the pages)."""

from __future__ import annotations

import pytest

from matching.allocation.report import quality_words


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"status": "optimal", "gap": 0.0, "gaps": {"children": 0.0, "fit": 0.0}}, "proven the best possible"),
        ({"status": "optimal", "gap": 3.5e-6, "gaps": {"children": 0.0, "fit": 0.0069}}, "within 0.69% of the best"),
        ({"status": "feasible", "gap": 0.0215, "gaps": {"children": 0.0215, "fit": None}}, "within 2.1% of the best"),
        ({"status": "baseline", "gap": 0.1}, "no time to improve"),
        ({"status": "out_of_time", "gap": 1.0}, "Nothing is proposed"),
        ({"status": "optimal", "gap": 9.6e-5, "gaps": {"children": 9.6e-5, "fit": None}}, "may leave out children"),
        ({"status": "optimal", "gap": 0.01, "objective_name": "fairness"}, "proven the fairest"),
        (
            {
                "status": "optimal",
                "gap": 3.8e-6,
                "gaps": {"children": 0.0, "fit": 0.0076},
                "objective_name": "fairness",
                "fairness": {"worst_fit": 31.86, "worst_fit_bound": 31.86, "worst_fit_proven": True},
            },
            "the most children any allocation can place (urgency-weighted), the worst-off placed child's fit (31.86) "
            "as high as it can be with them, then total fit within 0.76% of the best.",
        ),
        (
            {
                "status": "optimal",
                "gap": 0.0,
                "gaps": {"children": 0.0, "fit": 0.0},
                "objective_name": "fairness",
                "fairness": {"worst_fit": 45.0, "worst_fit_bound": 45.0, "worst_fit_proven": True},
            },
            "fit (45) as high as it can be with them, then the best total fit.",
        ),
        (
            {
                "status": "feasible",
                "gap": 0.0057,
                "gaps": {"children": 0.0057, "fit": None},
                "objective_name": "fairness",
                "fairness": {"worst_fit": 17.46, "worst_fit_bound": 40.13, "worst_fit_proven": False},
            },
            "worst-off placed child's fit is 17.46, and no allocation placing as many children can give every placed "
            "child more than 40.13",
        ),
        (
            {
                "status": "feasible",
                "gap": 0.0057,
                "objective_name": "fairness",
                "fairness": {"worst_fit": 17.46, "worst_fit_bound": 17.46, "worst_fit_proven": True},
            },
            "(17.46) is proven as high as it can be while placing as many children; the total is within 0.57%",
        ),
        (
            {"status": "feasible", "gap": 0.091, "no_worse_than_first_come": {"asked": True, "children_given_back": 5}},
            "keeping them no worse off cost 5 urgency-weighted children the search had placed",
        ),
        (
            {"status": "feasible", "gap": 0.002, "no_worse_than_first_come": {"asked": True, "children_given_back": 0}},
            "within 0.2% of the best possible (a proven bound)",
        ),
    ],
)
def test_the_sentence_says_what_the_result_proves(payload: dict[str, object], says: str) -> None:
    assert says in quality_words(payload)


def test_an_optimal_answer_with_a_fit_gap_is_not_called_the_best_possible() -> None:
    words = quality_words({"status": "optimal", "gap": 3.5e-6, "gaps": {"children": 0.0, "fit": 0.0069}})
    assert "proven the best possible" not in words
    assert "most children" in words
