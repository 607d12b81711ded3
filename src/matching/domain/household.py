"""A foster carer household, its terms of approval, members and training."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from matching.domain.child import Location
from matching.eligibility.arithmetic import ADULT_AGE, age_on


@dataclass(frozen=True, slots=True)
class TermsOfApproval:
    """What the fostering panel approved the household for (Fostering Services Regs 2011 reg 27)."""

    age_min: int
    age_max: int
    places: int
    placement_types: tuple[str, ...]
    max_sibling_group: int = 1
    usual_limit_exemption: bool = False
    connected_child_ids: tuple[str, ...] = ()

    def covers_age(self, age: int) -> bool:
        """True if ``age`` is within the approved age range."""
        return self.age_min <= age <= self.age_max


@dataclass(frozen=True, slots=True)
class TrainingRecord:
    """A course completed by the household's carers."""

    course: str
    completed_on: date
    expires_on: date | None = None

    def current_on(self, when: date) -> bool:
        """True if completed by ``when`` and not yet expired."""
        return self.completed_on <= when and (self.expires_on is None or when < self.expires_on)


@dataclass(frozen=True, slots=True)
class HouseholdMember:
    """Someone living in the household: a birth child, another adult, or a foster child.

    A foster child carries their own recorded restriction (who they can live alongside) and risks
    to others: the children already living there are judged against newcomers, and newcomers
    against them.
    """

    member_id: str
    kind: str
    birth_month: date
    sex: str
    live_alongside: str = "any"
    risks_to_others: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TrackRecord:
    """How the household's past placements went (from the placement history in the store)."""

    ended: int = 0
    unplanned_within_12_months: int = 0


@dataclass(frozen=True, slots=True)
class CarerHousehold:
    """An approved foster carer household.

    ``foster_children`` are the store's children placed there now (as members of kind
    ``foster_child`` whose id is the child's); ``members`` are the birth children, other adults
    and foster children from outside the store.  Preferences are the
    carers' own (``will_not_consider``, ``preferred_age_*``) and are respected, not overridden.
    """

    household_id: str
    agency_code: str
    agency_type: str
    la_code: str
    location: Location
    approved_on: date
    terms: TermsOfApproval
    status: str = "active"
    carers: int = 2
    ethnicity: str | None = None
    religion: str = "not_known"
    languages: tuple[str, ...] = ("english",)
    pets: tuple[str, ...] = ()
    smoking: bool = False
    wheelchair_accessible: bool = False
    bedrooms_available: int = 1
    experience_years: float = 0.0
    experience_needs: tuple[str, ...] = ()
    will_not_consider: tuple[str, ...] = ()
    preferred_age_min: int | None = None
    preferred_age_max: int | None = None
    support_package: tuple[str, ...] = ()
    training: tuple[TrainingRecord, ...] = ()
    members: tuple[HouseholdMember, ...] = ()
    foster_children: tuple[HouseholdMember, ...] = ()
    track_record: TrackRecord = field(default_factory=TrackRecord)

    @property
    def foster_child_ids(self) -> tuple[str, ...]:
        """Ids of the store's children placed here now."""
        return tuple(m.member_id for m in self.foster_children)

    def children_living_there(self, on: date) -> tuple[HouseholdMember, ...]:
        """Everyone under 18 on ``on``: foster children (the store's and others) and birth children."""
        people = (*self.foster_children, *self.members)
        return tuple(m for m in people if m.kind != "other_adult" and age_on(m.birth_month, on) < ADULT_AGE)

    def without(self, child_ids: frozenset[str] | set[str]) -> CarerHousehold:
        """The household as it would be if these of its foster children moved out (itself when none live here)."""
        if not any(m.member_id in child_ids for m in self.foster_children):
            return self
        return replace(self, foster_children=tuple(m for m in self.foster_children if m.member_id not in child_ids))

    def with_foster_children(self, newcomers: tuple[HouseholdMember, ...]) -> CarerHousehold:
        """The household with these children placed in it as well."""
        return replace(self, foster_children=(*self.foster_children, *newcomers)) if newcomers else self

    @property
    def is_kinship(self) -> bool:
        """True for a connected-person (family and friends) household."""
        return bool(self.terms.connected_child_ids)

    @property
    def foster_children_count(self) -> int:
        """Foster children living there now (the store's and others)."""
        return len(self.foster_children) + sum(1 for m in self.members if m.kind == "foster_child")

    @property
    def vacancies(self) -> int:
        """Approved places not taken (never negative)."""
        return max(0, self.terms.places - self.foster_children_count)
