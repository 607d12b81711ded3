"""A child looked after."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from matching import codes
from matching.eligibility.arithmetic import age_on, miles


@dataclass(frozen=True, slots=True)
class Location:
    """A point on the national grid (metres), de-identified to a postcode sector."""

    easting: int
    northing: int

    def miles_to(self, other: Location) -> float:
        """DfE distance in miles: Euclidean grid distance / 1000 / 1.6093."""
        return miles(float(other.easting - self.easting), float(other.northing - self.northing))


@dataclass(frozen=True, slots=True)
class SdqScore:
    """One Strengths and Difficulties Questionnaire total difficulties score (0-40)."""

    assessed_on: date
    score: int


@dataclass(frozen=True, slots=True)
class Child:
    """A child looked after by a local authority (pseudonymous; month of birth only).

    ``place`` and ``place_provider`` are SSDA903 codes of the open placement; ``household_id``
    is set when that placement is with a foster household held in the store.  Siblings share a
    ``sibling_group_id``; ``place_with_siblings`` records the care plan's intention.
    """

    child_id: str
    la_code: str
    birth_month: date
    sex: str
    ethnicity: str
    legal_status: str
    category_of_need: str
    care_started: date
    place: str
    placement_start: date
    religion: str = "not_known"
    first_languages: tuple[str, ...] = ("english",)
    uasc: bool = False
    disability: bool = False
    sen: str = "none"
    health_needs: tuple[str, ...] = ()
    place_provider: str | None = None
    household_id: str | None = None
    home: Location | None = None
    school_urn: str | None = None
    school: Location | None = None
    sibling_group_id: str | None = None
    place_with_siblings: bool = True
    care_plan_goal: str | None = None
    needs: dict[str, int] = field(default_factory=dict)
    #: False when no assessment of the child's needs is on record (``needs`` empty means "not known").
    needs_assessed: bool = True
    #: Date the child ceased to be looked after; such a child is never placed or waiting.
    ceased: date | None = None
    sdq: tuple[SdqScore, ...] = ()

    def age_on(self, when: date) -> int:
        """Age in whole years on ``when`` (from the month of birth)."""
        return age_on(self.birth_month, when)

    @property
    def ethnicity_group(self) -> str:
        """The published ethnicity group of the SSDA903 code."""
        return codes.ETHNIC_TO_GROUP.get(self.ethnicity, "Not known")

    @property
    def placement_category(self) -> str:
        """Calibration category of the current placement (in-house, IFA, kinship, home...)."""
        return codes.placement_category(self.place, self.place_provider)

    @property
    def latest_sdq(self) -> SdqScore | None:
        """The most recent SDQ score, or None when not known (never zero)."""
        return max(self.sdq, key=lambda s: s.assessed_on) if self.sdq else None
