"""A decision on a referral by a named officer, and what makes one complete.

The reasons are required where practice requires them to be written down: choosing a household other than
the best-ranked offer, choosing one the service did not rank (outside its terms of approval or ruled out by a
rule), accepting a warning the service gave about the chosen household, and deciding on no household at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from matching.decisions.snapshot import RecommendationSnapshot


class DecisionOutcome(StrEnum):
    """What was decided."""

    HOUSEHOLD_CHOSEN = "household_chosen"
    NO_HOUSEHOLD = "no_household"


#: Why a household other than the best-ranked was chosen (or one not ranked, or a warning accepted).
OVERRIDE_REASONS: dict[str, str] = {
    "child_wishes": "The child's wishes and feelings",
    "family_wishes": "The wishes of the child's parents or family",
    "siblings_together": "Keeps brothers and sisters together or near each other",
    "school_stability": "Keeps the child at their school",
    "contact": "Makes contact with family easier",
    "existing_relationship": "The child already knows the carers",
    "identity": "Better meets the child's identity, culture, religion or language",
    "carer_information": "The fostering service knows something about the household the service does not",
    "better_offer_withdrawn": "A better-ranked offer was withdrawn or declined",
    "support_agreed": "Support or training agreed closes the gap the warning names",
    "other": "Another reason (written below)",
}
#: Why no household was chosen.
NO_HOUSEHOLD_REASONS: dict[str, str] = {
    "no_offer": "No carer agreed to be put forward",
    "no_suitable_offer": "No offer could meet the child's needs",
    "residential_needed": "The child's needs are best met in a children's home for now",
    "returned_home": "The child returned home or to family",
    "referral_withdrawn": "The referral was withdrawn",
    "other": "Another reason (written below)",
}
MAX_NAME, MAX_TEXT = 200, 4000


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field of a decision, in words for the person filling it in."""

    field: str
    message: str
    #: What the field accepts, where a rule says so (the data contract's words); never the value sent.
    expected: str | None = None


class ProblemsError(ValueError):
    """A record that cannot be written, with every problem at once (``problems``)."""

    def __init__(self, found: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in found))
        self.problems = found


class DecisionError(ProblemsError):
    """A decision that cannot be recorded, with every problem at once."""


@dataclass(frozen=True)
class DecisionDraft:
    """A decision as submitted, before it is checked against the snapshot it was made on."""

    outcome: DecisionOutcome | str
    named_officer: str
    household_id: str | None = None
    reason_codes: tuple[str, ...] = ()
    reason_text: str | None = None
    accepted_warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """A recorded decision."""

    decision_id: int
    referral_id: str
    snapshot_sha256: str
    outcome: DecisionOutcome
    household_id: str | None
    best_ranked_household_id: str | None
    departs_from_ranking: bool
    named_officer: str
    reason_codes: tuple[str, ...]
    reason_text: str | None
    accepted_warnings: tuple[str, ...]
    recorded_by: str
    decided_at: datetime


def departs_from_ranking(draft: DecisionDraft, snapshot: RecommendationSnapshot) -> bool:
    """True when the chosen household is not the best-ranked offer (the best-ranked household when no carer
    offered), or was not ranked at all."""
    return draft.outcome == DecisionOutcome.HOUSEHOLD_CHOSEN and draft.household_id != snapshot.best_ranked


def problems(draft: DecisionDraft, snapshot: RecommendationSnapshot) -> list[Problem]:
    """Everything that stops ``draft`` being recorded on ``snapshot`` (empty when it is complete)."""
    found: list[Problem] = []
    if not draft.named_officer.strip():
        found.append(Problem("named_officer", "Enter the name and job title of the officer who made the decision"))
    elif len(draft.named_officer) > MAX_NAME:
        found.append(Problem("named_officer", f"The officer's name must be {MAX_NAME} characters or fewer"))
    if draft.reason_text is not None and len(draft.reason_text) > MAX_TEXT:
        found.append(Problem("reason_text", f"The reasons must be {MAX_TEXT} characters or fewer"))
    try:
        outcome = DecisionOutcome(draft.outcome)
    except ValueError:
        return [*found, Problem("outcome", "Choose whether a household was chosen or no household")]
    allowed = OVERRIDE_REASONS if outcome is DecisionOutcome.HOUSEHOLD_CHOSEN else NO_HOUSEHOLD_REASONS
    if unknown := [c for c in draft.reason_codes if c not in allowed]:
        found.append(Problem("reason_codes", f"Choose reasons from the list ({len(unknown)} not on it)"))
    if "other" in draft.reason_codes and not (draft.reason_text or "").strip():
        found.append(Problem("reason_text", "Write the other reason"))
    if outcome is DecisionOutcome.NO_HOUSEHOLD:
        if draft.household_id:
            found.append(Problem("household_id", "Do not choose a household when deciding on no household"))
        if not draft.reason_codes:
            found.append(Problem("reason_codes", "Choose why no household was chosen"))
        return found
    if not draft.household_id:
        return [*found, Problem("household_id", "Choose the household")]
    shown = snapshot.candidate(draft.household_id)
    warnings = {w["code"] for w in shown["warnings"]} if shown else set()
    if not_shown := sorted(set(draft.accepted_warnings) - warnings):
        found.append(Problem("accepted_warnings", f"{len(not_shown)} accepted warning(s) were not given for it"))
    needs_reason = []
    if shown is None:
        needs_reason.append("the household was not among those ranked (outside its terms or ruled out by a rule)")
    elif draft.household_id != snapshot.best_ranked:
        best = snapshot.candidate(snapshot.best_ranked) if snapshot.best_ranked else None
        if snapshot.offers and best is not None:
            needs_reason.append(
                f"the household was ranked {shown['rank']}; the best-ranked offer was ranked {best['rank']}"
            )
        elif snapshot.offers:
            needs_reason.append("no offer was ranked")
        else:
            needs_reason.append(f"the household was ranked {shown['rank']}, not first")
    if unaccepted := sorted(warnings - set(draft.accepted_warnings)):
        found.append(
            Problem("accepted_warnings", f"Accept or reconsider each warning given ({len(unaccepted)} not accepted)")
        )
    if warnings:
        needs_reason.append("warnings about the household were accepted")
    if needs_reason and not draft.reason_codes:
        found.append(Problem("reason_codes", "Give the reasons: " + "; ".join(needs_reason)))
    return found
