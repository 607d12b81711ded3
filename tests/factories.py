"""Plain factory functions for domain objects in tests (synthetic values only)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from matching.domain import (
    CarerHousehold,
    Child,
    HouseholdMember,
    Location,
    NeedsProfile,
    Referral,
    TermsOfApproval,
    TrackRecord,
    TrainingRecord,
)
from matching.eligibility.request import MatchRequest

ON = date(2026, 4, 1)
HOME = Location(450_000, 300_000)


def make_child(**kw: Any) -> Child:
    base: dict[str, Any] = {
        "child_id": "C1",
        "la_code": "L001",
        "birth_month": date(2016, 1, 1),
        "sex": "F",
        "ethnicity": "WBRI",
        "legal_status": "C2",
        "category_of_need": "N1",
        "care_started": date(2024, 1, 1),
        "place": "U4",
        "placement_start": date(2024, 1, 1),
        "religion": "none",
        "first_languages": ("english",),
        "home": HOME,
        "school": Location(451_000, 300_500),
        "needs": {},
    }
    base.update(kw)
    return Child(**base)


def make_referral(child: Child | None = None, **kw: Any) -> Referral:
    child = child or make_child()
    base: dict[str, Any] = {
        "referral_id": "R1",
        "child_id": child.child_id,
        "referral_date": ON,
        "urgency": "over_5_days",
        "placement_type": "long_term",
        "needs": NeedsProfile(dict(child.needs), assessed=child.needs_assessed),
    }
    base.update(kw)
    return Referral(**base)


def make_request(
    child: Child | None = None, siblings: tuple[Child, ...] = (), on: date = ON, **referral: Any
) -> MatchRequest:
    child = child or make_child()
    return MatchRequest(make_referral(child, **referral), child, on, siblings)


def make_group(*members: tuple[Child, dict[str, Any]], on: date = ON) -> MatchRequest:
    """A sibling group: each (child, their own referral's fields); the first child is the one referred."""
    refs = [make_referral(c, referral_id=f"R-{c.child_id}", **kw) for c, kw in members]
    return MatchRequest(refs[0], members[0][0], on, tuple(c for c, _ in members[1:]), tuple(refs[1:]))


def make_terms(**kw: Any) -> TermsOfApproval:
    base: dict[str, Any] = {
        "age_min": 0,
        "age_max": 17,
        "places": 2,
        "placement_types": ("emergency", "short_term", "long_term"),
        "max_sibling_group": 2,
    }
    base.update(kw)
    return TermsOfApproval(**base)


def make_household(terms: TermsOfApproval | None = None, **kw: Any) -> CarerHousehold:
    base: dict[str, Any] = {
        "household_id": "H1",
        "agency_code": "LA-L001",
        "agency_type": "la",
        "la_code": "L001",
        "location": Location(452_000, 301_000),
        "approved_on": date(2020, 1, 1),
        "terms": terms or make_terms(),
        "ethnicity": "WBRI",
        "religion": "none",
        "languages": ("english",),
        "bedrooms_available": 2,
        "experience_years": 6.0,
    }
    base.update(kw)
    return CarerHousehold(**base)


def member(
    kind: str,
    born: date,
    sex: str = "M",
    member_id: str = "M1",
    live_alongside: str = "any",
    risks_to_others: tuple[str, ...] = (),
) -> HouseholdMember:
    return HouseholdMember(member_id, kind, born, sex, live_alongside, risks_to_others)


def trained(
    h: CarerHousehold, *courses: str, completed: date = date(2025, 1, 1), expires: date | None = None
) -> CarerHousehold:
    return replace(h, training=tuple(TrainingRecord(c, completed, expires) for c in courses))


def with_track(h: CarerHousehold, ended: int, unplanned: int) -> CarerHousehold:
    return replace(h, track_record=TrackRecord(ended, unplanned))
