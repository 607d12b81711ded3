"""The generative processes behind synthetic placement outcomes.

Each historical placement gets a true probability of an **unplanned ending within 12 months**
(SSDA903 REASON_PLACE_CHANGE in CREQB, CREQO, CHILD, ALLEG, STAND, CLOSE, APPRR), computed
from the true state of the child, the household and the pair **on the day the placement
starts** (the needs assessed by then, the carers' experience and preferences by then, the
children living there then), plus terms the record does not show.  The outcome is then drawn
from that probability, so a learned model can be judged against the truth (the generator writes
it to ``truth/placement_truth.csv``).

Two processes can be chosen (``matching generate --outcome-process``):

* ``standard`` (:class:`StandardProcess`, the default): additive log-odds, monotone in age and
  moves, with a small per-placement latent term.  Its directions follow the stability literature
  in domain.md §3: breakdown is more likely with older age, behaviour problems, previous
  residential care, more previous placements, sibling separation, non-kin care and a poor match;
  experienced, well-matched carers and kin protect.
* ``interacting`` (:class:`InteractingProcess`): the same influences in another functional form
  -- risk peaking at 13-15, jumps at 3 and 6 previous placements, previous residential care
  mattering more for younger children, other foster children in the home, coverage entering
  squared and with complexity -- plus unrecorded effects: one per household and one per child
  (in no file) and per-placement noise.  A model tuned to the standard process's form is tested
  against a world it was not built for.

:func:`unplanned_logit` is the standard process written over arrays (documentation, tests and
other code use it); the simulation calls the scalar :meth:`StandardProcess.logit`, which gives
the same numbers one placement at a time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

OUTCOME_PROCESSES: tuple[str, ...] = ("standard", "interacting")


@dataclass(frozen=True)
class OutcomeCoefficients:
    """Log-odds contributions of the standard process (documented in docs/synthetic-data.md)."""

    intercept: float = -3.75  # calibrated to the published ending mix with the records changing over time (was -4.1)
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


@dataclass(frozen=True)
class InteractingCoefficients:
    """Log-odds contributions of the interacting process (documented in docs/synthetic-data.md)."""

    intercept: float = -3.75  # calibrated: the unplanned rate and ending mix match the standard process's
    age_under_1: float = -0.6
    age_1_to_4: float = -0.3
    age_5_to_9: float = 0.0
    age_10_to_12: float = 0.55
    age_13_to_15: float = 1.15
    age_16_plus: float = 0.4
    moves_3_plus: float = 0.45  # 3 or more previous placements
    moves_6_plus: float = 0.55  # 6 or more: on top of the jump at 3
    residential_under_13: float = 1.0  # a previous children's home, this placement starting before 13
    residential_13_plus: float = 0.25  # ... starting at 13 or over
    per_other_foster_child: float = 0.3  # other foster children living there on the day (capped at 3)
    aggression_with_child_under_5: float = 0.9  # physical aggression >= 2 and a child under 5 living there
    uncovered_squared: float = 2.4  # x (1 - coverage)^2
    uncovered_x_complexity: float = 0.35  # x (1 - coverage) x complexity
    complexity: float = 0.15
    over_20_miles: float = 0.35
    sibling_separated: float = 0.45
    kinship: float = -0.9
    outside_preferred_age: float = 0.5
    preference_conflict: float = 1.1
    new_carers: float = 0.45  # approved under 2 years on the day
    household_sd: float = 0.5  # per-household effect, never recorded
    child_sd: float = 0.35  # per-child effect, never recorded
    noise_sd: float = 0.2  # per placement

    def as_dict(self) -> dict[str, float]:
        """The coefficients as a plain mapping (for the truth metadata)."""
        return asdict(self)


DEFAULT_INTERACTING = InteractingCoefficients()


@dataclass(frozen=True, slots=True)
class PlacementState:
    """The true state of a pair on the day a placement starts: everything an outcome process reads."""

    age: float  # years
    previous_moves: int  # placements before this one in the period of care
    previous_residential: bool  # an earlier placement in a children's home
    coverage: float  # severity-weighted coverage of the needs in force by training current and experience
    complexity: float  # sum of severities of actionable needs (>= 2) in force / 3
    distance_miles: float
    sibling_separated: bool
    kinship: bool
    outside_preferred_age: bool  # the carers' preferred ages in force then
    preference_conflict: bool  # a need or risk in force on the carers' "will not consider" list then
    aggression: bool  # physical aggression >= 2 in force
    young_child: bool  # a child under 5 living there (birth or foster child)
    other_foster_children: int  # other foster children living there
    experience_years: float  # since approval
    household: int  # index in the authority, -1 for settings without household data
    child: int  # index in the authority


class OutcomeProcess(Protocol):
    """What the history simulation needs from an outcome process."""

    @property
    def name(self) -> str:
        """The process's name (``OUTCOME_PROCESSES``)."""
        ...

    def latent(self, state: PlacementState, rng: np.random.Generator) -> float:
        """The unrecorded part of the log-odds of this placement (draws its noise from ``rng``)."""
        ...

    def logit(self, state: PlacementState, latent: float) -> float:
        """The log-odds of an unplanned ending within 12 months, given the unrecorded part."""
        ...

    def describe(self) -> dict[str, object]:
        """Name and parameters, for ``truth/generator.json``."""
        ...


@dataclass(frozen=True)
class StandardProcess:
    """Additive log-odds (:func:`unplanned_logit`) with a per-placement latent term."""

    coef: OutcomeCoefficients = DEFAULT_COEFFICIENTS
    name: str = "standard"

    def latent(self, state: PlacementState, rng: np.random.Generator) -> float:  # noqa: ARG002 (the protocol's)
        """A normal draw per placement."""
        return float(rng.normal(0.0, self.coef.latent_sd))

    def logit(self, state: PlacementState, latent: float) -> float:
        """:func:`unplanned_logit` for one placement (same terms, same order)."""
        c, s = self.coef, state
        return (
            c.intercept
            + c.age_11_plus * (s.age >= 11)
            + c.age_14_plus * (s.age >= 14)
            + c.per_previous_move * min(s.previous_moves, 6)
            + c.uncovered_needs * (1.0 - s.coverage)
            + c.complexity * s.complexity
            + c.per_10_miles * min(s.distance_miles, 100.0) / 10.0
            + c.sibling_separated * s.sibling_separated
            + c.kinship * s.kinship
            + c.outside_preferred_age * s.outside_preferred_age
            + c.aggression_with_young_children * (s.aggression and s.young_child)
            + c.preference_conflict * s.preference_conflict
            + c.per_log_year_experience * math.log1p(s.experience_years)
            + c.previous_residential * s.previous_residential
            + latent
        )

    def describe(self) -> dict[str, object]:
        """Name and coefficients."""
        return {"name": self.name, "coefficients": self.coef.as_dict()}


@dataclass(frozen=True)
class InteractingProcess:
    """Thresholds, interactions and unrecorded household and child effects.

    ``effects`` holds one standard normal per child then one per household of the authority
    (drawn by the generator before the history, whichever process is chosen); they are scaled
    here by ``child_sd`` and ``household_sd``.  Use :meth:`with_effects` to attach them.
    """

    coef: InteractingCoefficients = DEFAULT_INTERACTING
    effects: tuple[np.ndarray, np.ndarray] | None = None  # (children, households) standard normals
    name: str = "interacting"

    def with_effects(self, child: np.ndarray, household: np.ndarray) -> InteractingProcess:
        """This process with one authority's unrecorded effects."""
        return InteractingProcess(self.coef, (np.asarray(child, dtype=float), np.asarray(household, dtype=float)))

    def latent(self, state: PlacementState, rng: np.random.Generator) -> float:
        """The child's effect, the household's effect (none outside households) and a noise draw."""
        c = self.coef
        noise = float(rng.normal(0.0, c.noise_sd))
        if self.effects is None:
            return noise
        child, household = self.effects
        out = c.child_sd * float(child[state.child]) + noise
        if state.household >= 0:
            out += c.household_sd * float(household[state.household])
        return out

    def logit(self, state: PlacementState, latent: float) -> float:
        """The interacting log-odds (see docs/synthetic-data.md for each term)."""
        c, s = self.coef, state
        uncovered = 1.0 - s.coverage
        return (
            c.intercept
            + age_term(s.age, c)
            + c.moves_3_plus * (s.previous_moves >= 3)
            + c.moves_6_plus * (s.previous_moves >= 6)
            + (c.residential_under_13 if s.age < 13 else c.residential_13_plus) * s.previous_residential
            + c.per_other_foster_child * min(s.other_foster_children, 3)
            + c.aggression_with_child_under_5 * (s.aggression and s.young_child)
            + c.uncovered_squared * uncovered * uncovered
            + c.uncovered_x_complexity * uncovered * s.complexity
            + c.complexity * s.complexity
            + c.over_20_miles * (s.distance_miles > 20.0)
            + c.sibling_separated * s.sibling_separated
            + c.kinship * s.kinship
            + c.outside_preferred_age * s.outside_preferred_age
            + c.preference_conflict * s.preference_conflict
            + c.new_carers * (s.household >= 0 and s.experience_years < 2.0)
            + latent
        )

    def describe(self) -> dict[str, object]:
        """Name and coefficients (the effects themselves are recorded nowhere)."""
        return {"name": self.name, "coefficients": self.coef.as_dict()}


def age_term(age: float, c: InteractingCoefficients = DEFAULT_INTERACTING) -> float:
    """The interacting process's age contribution: low for the youngest, peaking at 13-15, lower at 16+."""
    if age < 1:
        return c.age_under_1
    if age < 5:
        return c.age_1_to_4
    if age < 10:
        return c.age_5_to_9
    if age < 13:
        return c.age_10_to_12
    if age < 16:
        return c.age_13_to_15
    return c.age_16_plus


def outcome_process(
    name: str, coefficients: OutcomeCoefficients | InteractingCoefficients | None = None
) -> StandardProcess | InteractingProcess:
    """The process called ``name``, with its default coefficients unless others are given."""
    if name == "standard":
        if coefficients is not None and not isinstance(coefficients, OutcomeCoefficients):
            raise TypeError("the standard process takes OutcomeCoefficients")
        return StandardProcess(coefficients or DEFAULT_COEFFICIENTS)
    if name == "interacting":
        if coefficients is not None and not isinstance(coefficients, InteractingCoefficients):
            raise TypeError("the interacting process takes InteractingCoefficients")
        return InteractingProcess(coefficients or DEFAULT_INTERACTING)
    raise ValueError(f"unknown outcome process {name!r} (choose from {', '.join(OUTCOME_PROCESSES)})")


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
    """Log-odds of the standard process for each placement (arrays broadcast)."""
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
