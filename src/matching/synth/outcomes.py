"""The generative process behind synthetic placement outcomes.

Each historical placement gets a true probability of an **unplanned ending within 12 months**
(SSDA903 REASON_PLACE_CHANGE in CREQB, CREQO, CHILD, ALLEG, STAND, CLOSE, APPRR), computed
from what the record shows about the child, the household and the pair, plus a small latent
term the record does not show.  The outcome is then drawn from that probability, so a learned
model can be judged against the truth (the generator writes it to ``truth/placement_truth.csv``).

The directions follow the stability literature in domain.md §3: breakdown is more likely with
older age, behaviour problems, previous residential care, more previous placements, sibling
separation, non-kin care and a poor match; experienced, well-matched carers and kin protect.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class OutcomeCoefficients:
    """Log-odds contributions of the generative process (documented in docs/synthetic-data.md)."""

    intercept: float = -4.1
    age_11_plus: float = 0.75
    age_14_plus: float = 0.35
    per_previous_move: float = 0.22  # capped at 6 moves
    uncovered_needs: float = 2.2  # x (1 - severity-weighted need coverage)
    complexity: float = 0.35  # x sum of severities of actionable needs (>= 2) / 3
    per_10_miles: float = 0.12  # distance from home, capped at 100 miles
    sibling_separated: float = 0.55
    kinship: float = -0.7
    outside_preferred_age: float = 0.45
    aggression_with_young_children: float = 0.5  # physical aggression >= 2 and a child under 5 in the home
    preference_conflict: float = 0.9  # a need or risk the carers said they would not consider
    per_log_year_experience: float = -0.3  # x log1p(experience years)
    previous_residential: float = 0.4
    latent_sd: float = 0.25  # unrecorded influences (the carers' health, the child's family contact...)

    def as_dict(self) -> dict[str, float]:
        """The coefficients as a plain mapping (for the truth metadata)."""
        return asdict(self)


DEFAULT_COEFFICIENTS = OutcomeCoefficients()


def unplanned_logit(
    *,
    age_at_start: np.ndarray,
    previous_moves: np.ndarray,
    coverage: np.ndarray,
    complexity: np.ndarray,
    distance_miles: np.ndarray,
    sibling_separated: np.ndarray,
    kinship: np.ndarray,
    outside_preferred_age: np.ndarray,
    aggression_with_young: np.ndarray,
    preference_conflict: np.ndarray,
    experience_years: np.ndarray,
    previous_residential: np.ndarray,
    latent: np.ndarray,
    coef: OutcomeCoefficients = DEFAULT_COEFFICIENTS,
) -> np.ndarray:
    """Log-odds of an unplanned ending within 12 months for each placement (arrays broadcast)."""
    age = np.asarray(age_at_start, dtype=float)
    return (
        coef.intercept
        + coef.age_11_plus * (age >= 11)
        + coef.age_14_plus * (age >= 14)
        + coef.per_previous_move * np.minimum(previous_moves, 6)
        + coef.uncovered_needs * (1.0 - np.asarray(coverage, dtype=float))
        + coef.complexity * np.asarray(complexity, dtype=float)
        + coef.per_10_miles * np.minimum(distance_miles, 100.0) / 10.0
        + coef.sibling_separated * np.asarray(sibling_separated, dtype=float)
        + coef.kinship * np.asarray(kinship, dtype=float)
        + coef.outside_preferred_age * np.asarray(outside_preferred_age, dtype=float)
        + coef.aggression_with_young_children * np.asarray(aggression_with_young, dtype=float)
        + coef.preference_conflict * np.asarray(preference_conflict, dtype=float)
        + coef.per_log_year_experience * np.log1p(np.asarray(experience_years, dtype=float))
        + coef.previous_residential * np.asarray(previous_residential, dtype=float)
        + np.asarray(latent, dtype=float)
    )


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))
