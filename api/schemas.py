"""JSON shapes the API returns.  Public schemas are separate from the store's tables, so a field
that must not leave the service cannot leak by being added to a table."""

from __future__ import annotations

from collections.abc import Container
from datetime import date
from typing import Annotated, Generic, TypeVar

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, Field

from matching.domain import CarerHousehold, Child

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of results."""

    items: list[T]
    total: int = Field(description="Items in the caller's scope.")
    offset: int
    limit: int


class ErrorOut(BaseModel):
    """An error: what was not found or not allowed."""

    detail: str


NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut, "description": "Unknown, or outside the caller's scope"}
}
#: What a 404 says: never the id asked for (an error reply does not echo what was sent).
NO_CHILD = "no child with that id in your remit"
NO_HOUSEHOLD = "no household with that id in your remit"
#: A child's or a household's id in a path.
ChildId = Annotated[str, Path(min_length=1, max_length=64, description="The child's pseudonymous id.")]
HouseholdId = Annotated[str, Path(min_length=1, max_length=64, description="The household's id.")]
BAD_BODY: dict[int | str, dict[str, object]] = {400: {"model": ErrorOut, "description": "The body is not JSON"}}


class Health(BaseModel):
    """Service health."""

    status: str
    database: str
    version: str


class LocationPublic(BaseModel):
    """Grid point of a postcode sector (metres)."""

    easting: int
    northing: int


class ChildPublic(BaseModel):
    """A child as the API shows it: pseudonymous, month of birth only."""

    child_id: str
    la_code: str
    birth_month: str = Field(description="YYYY-MM")
    age: int
    sex: str
    ethnicity: str
    ethnicity_group: str
    religion: str
    first_languages: list[str]
    uasc: bool
    disability: bool
    sen: str
    legal_status: str
    category_of_need: str
    care_started: date
    place: str
    place_provider: str | None
    placement_category: str
    placement_start: date
    household_id: str | None
    sibling_group_id: str | None
    place_with_siblings: bool
    care_plan_goal: str | None
    needs: dict[str, int]
    latest_sdq: int | None = Field(description="Latest SDQ total difficulties; null when not known.")

    @classmethod
    def of(cls, child: Child, today: date) -> ChildPublic:
        """Public view of a domain Child."""
        sdq = child.latest_sdq
        return cls(
            child_id=child.child_id,
            la_code=child.la_code,
            birth_month=child.birth_month.strftime("%Y-%m"),
            age=child.age_on(today),
            sex=child.sex,
            ethnicity=child.ethnicity,
            ethnicity_group=child.ethnicity_group,
            religion=child.religion,
            first_languages=list(child.first_languages),
            uasc=child.uasc,
            disability=child.disability,
            sen=child.sen,
            legal_status=child.legal_status,
            category_of_need=child.category_of_need,
            care_started=child.care_started,
            place=child.place,
            place_provider=child.place_provider,
            placement_category=child.placement_category,
            placement_start=child.placement_start,
            household_id=child.household_id,
            sibling_group_id=child.sibling_group_id,
            place_with_siblings=child.place_with_siblings,
            care_plan_goal=child.care_plan_goal,
            needs=dict(sorted(child.needs.items())),
            latest_sdq=sdq.score if sdq else None,
        )


class TermsPublic(BaseModel):
    """Terms of approval."""

    age_min: int
    age_max: int
    places: int
    placement_types: list[str]
    max_sibling_group: int
    usual_limit_exemption: bool
    connected_child_ids: list[str] = Field(
        description="Children the household is approved for as connected persons: those in the caller's remit only."
    )


class TrainingPublic(BaseModel):
    """A training record and whether it is current today."""

    course: str
    completed_on: date
    expires_on: date | None
    current: bool


class HouseholdPublic(BaseModel):
    """A carer household as the API shows it."""

    household_id: str
    agency_code: str
    agency_type: str
    la_code: str
    status: str
    approved_on: date
    terms: TermsPublic
    is_kinship: bool
    foster_children: int
    vacancies: int
    experience_years: float
    experience_needs: list[str]
    will_not_consider: list[str]
    languages: list[str]
    religion: str
    pets: list[str]
    smoking: bool
    wheelchair_accessible: bool
    support_package: list[str]
    training: list[TrainingPublic]

    @classmethod
    def of(cls, h: CarerHousehold, today: date, children_in_remit: Container[str]) -> HouseholdPublic:
        """Public view of a domain CarerHousehold; a child outside ``children_in_remit`` is never named."""
        t = h.terms
        return cls(
            household_id=h.household_id,
            agency_code=h.agency_code,
            agency_type=h.agency_type,
            la_code=h.la_code,
            status=h.status,
            approved_on=h.approved_on,
            terms=TermsPublic(
                age_min=t.age_min,
                age_max=t.age_max,
                places=t.places,
                placement_types=list(t.placement_types),
                max_sibling_group=t.max_sibling_group,
                usual_limit_exemption=t.usual_limit_exemption,
                connected_child_ids=[c for c in t.connected_child_ids if c in children_in_remit],
            ),
            is_kinship=h.is_kinship,
            foster_children=h.foster_children_count,
            vacancies=h.vacancies,
            experience_years=h.experience_years,
            experience_needs=list(h.experience_needs),
            will_not_consider=list(h.will_not_consider),
            languages=list(h.languages),
            religion=h.religion,
            pets=list(h.pets),
            smoking=h.smoking,
            wheelchair_accessible=h.wheelchair_accessible,
            support_package=list(h.support_package),
            training=[
                TrainingPublic(
                    course=r.course, completed_on=r.completed_on, expires_on=r.expires_on, current=r.current_on(today)
                )
                for r in h.training
            ],
        )


def _iso_date(value: object) -> object:
    """Only an ISO date string (or a date) is a date: never a number of days since 1970."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ValueError("a date YYYY-MM-DD") from None
    if isinstance(value, date) and 1900 <= value.year <= 2200:
        return value
    raise ValueError("a date YYYY-MM-DD between 1900 and 2200")


#: A date in a query string or a JSON body: ``YYYY-MM-DD`` only, never a number.
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
