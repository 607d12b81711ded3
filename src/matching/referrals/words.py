"""Referrals in plain words: each field's name, each code's meaning, each status and the reasons for changing it.
Codes are for logic and the API; these words are what people read on the pages."""

from __future__ import annotations

from typing import Final

#: Each referral field the service records, named for people.
FIELD_LABELS: Final[dict[str, str]] = {
    "referral_id": "Referral",
    "child_id": "Child",
    "referral_date": "Date of the referral",
    "status": "Status",
    "urgency": "When the placement is needed",
    "placement_type": "Type of placement",
    "expected_duration_weeks": "Expected stay in weeks",
    "expected_duration_days": "Expected stay in days",
    "live_alongside": "Who the child can live alongside",
    "risks_to_child": "Risks to the child",
    "risks_to_others": "Risks to others",
    "allergies": "Animals the child is allergic to",
    "respiratory_needs": "Asthma or another condition that smoking makes worse",
    "communication_needs": "Communication needs",
    "needs_adaptation": "Needs an adapted or wheelchair-accessible home",
    "dolo": "A deprivation of liberty order is in force or sought",
    "suitable_for": "Settings the child is suitable for",
    "cultural_needs": "Cultural, religious and identity needs",
    "wishes_text": "The child's wishes and feelings",
    "wish_near_school": "Wants to stay at their school",
    "wish_near_family": "Wants to live near family",
    "wish_same_religion": "Wants carers of their religion",
    "wish_same_language": "Wants carers who speak their language",
    "wish_pets": "Would like a home with pets",
    "emergency_outside_terms": "An emergency stay of under 6 days may go outside the carers' terms of approval",
    "max_distance_miles": "Furthest distance from home, in miles",
}

#: Each code list of a referral, code -> plain words.
CODE_LABELS: Final[dict[str, dict[str, str]]] = {
    "urgency": {"today": "Today", "within_5_days": "Within 5 days", "over_5_days": "In more than 5 days"},
    "placement_type": {
        "emergency": "Emergency",
        "short_term": "Short term",
        "long_term": "Long term",
        "respite": "Short breaks (respite)",
        "parent_and_child": "Parent and child",
        "step_down": "Step-down from a children's home",
        "remand": "Remand",
    },
    "live_alongside": {
        "any": "Any other children",
        "solo": "No other children (the only child placed)",
        "only_older": "Only older children",
        "only_younger": "Only younger children",
    },
    "risks_to_child": {
        "self_harm": "Self-harm",
        "sexual_exploitation": "Sexual exploitation",
        "criminal_exploitation": "Criminal exploitation",
        "substance_misuse": "Drug or alcohol misuse",
        "eating_difficulties": "Eating difficulties",
        "going_missing": "Going missing",
    },
    "risks_to_others": {
        "physical_harm": "Physical harm to others",
        "sexual_harm": "Sexually harmful behaviour",
        "fire_setting": "Setting fires",
        "harm_to_animals": "Harm to animals",
    },
    "allergies": {
        "dog": "Dogs",
        "cat": "Cats",
        "small_animal": "Small animals",
        "bird": "Birds",
        "reptile": "Reptiles",
    },
    "communication_needs": {
        "esol": "English as a second language",
        "bsl": "British Sign Language",
        "makaton": "Makaton",
        "pecs": "Picture exchange (PECS)",
    },
    "suitable_for": {
        "foster": "A foster family",
        "residential": "A children's home",
        "supported_accommodation": "Supported accommodation (16 and 17 year olds)",
    },
}

#: A referral's status in plain words.
STATUS_LABELS: Final[dict[str, str]] = {
    "open": "Open: looking for a placement",
    "matched": "Matched: a household has been chosen",
    "closed": "Closed",
}

#: Why a referral was closed.
CLOSE_REASONS: Final[dict[str, str]] = {
    "placed": "The child has been placed",
    "no_longer_needed": "A placement is no longer needed",
    "child_returned_home": "The child returned home or to family",
    "another_placement_found": "Another placement was found",
    "referral_withdrawn": "The referral was withdrawn",
    "ceased_care": "The child is no longer looked after",
}
#: Why a matched referral was opened again.
REOPEN_REASONS: Final[dict[str, str]] = {
    "placement_fell_through": "The placement fell through",
    "carers_withdrew": "The carers withdrew",
    "decision_changed": "The decision was changed",
}
#: Why a household was chosen (matched).
MATCH_REASONS: Final[dict[str, str]] = {"household_chosen": "A household was chosen"}

#: Reasons by the status changed to.
STATUS_REASONS: Final[dict[str, dict[str, str]]] = {
    "closed": CLOSE_REASONS,
    "open": REOPEN_REASONS,
    "matched": MATCH_REASONS,
}


def code_label(field: str, code: str) -> str:
    """One code of ``field`` in plain words (the code itself when it has none)."""
    return CODE_LABELS.get(field, {}).get(code, code)


def reason_label(code: str | None) -> str:
    """A status change's reason in plain words ("" for none)."""
    if code is None:
        return ""
    for reasons in STATUS_REASONS.values():
        if code in reasons:
            return reasons[code]
    return code
