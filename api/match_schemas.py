"""JSON shapes of the matching endpoints: the ad-hoc referral in, the ranked candidates out."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas import IsoDate
from matching import codes

Sex = Literal["M", "F", "U"]
if TYPE_CHECKING:  # the code lists are built at run time; mypy sees plain strings
    Ethnicity = str
    Religion = str
    Urgency = str
    PlacementType = str
    LiveAlongside = str
    RiskToChild = str
    RiskToOthers = str
    Pet = str
    Communication = str
    Setting = str
else:
    Ethnicity = Literal[tuple(sorted(codes.ETHNIC))]
    Religion = Literal[codes.RELIGIONS]
    Urgency = Literal[codes.URGENCY]
    PlacementType = Literal[codes.PLACEMENT_TYPES]
    LiveAlongside = Literal[codes.LIVE_ALONGSIDE]
    RiskToChild = Literal[codes.RISKS_TO_CHILD]
    RiskToOthers = Literal[codes.RISKS_TO_OTHERS]
    Pet = Literal[codes.PETS]
    Communication = Literal[codes.COMMUNICATION_NEEDS]
    Setting = Literal[codes.SUITABLE_FOR]
Month = Field(pattern=r"^(19|20)\d{2}-(0[1-9]|1[0-2])$", description="YYYY-MM, years 1900-2099")
#: Limits of the API's contract (docs/limits.md): each list holds at most this many codes (each list's
#: vocabulary is smaller), a referral at most this many needs (the taxonomy has fewer domains).
MAX_CODES = 20
MAX_NEEDS = 40
#: A need domain of the taxonomy (an unknown one is refused by name) and its severity.
NeedId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
Needs = Annotated[
    dict[NeedId, int],  # severities 0-3, checked with the other cross-field rules (all reported at once)
    Field(default_factory=dict, max_length=MAX_NEEDS, description="Need domain (taxonomy) -> severity 0-3."),
]
Language = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LocationIn(_In):
    """A national grid point of a postcode sector (metres)."""

    easting: int = Field(ge=0, le=700_000)
    northing: int = Field(ge=0, le=1_300_000)


class ChildIn(_In):
    """The child referred (Placements Standard v2: child details)."""

    child_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.\-]{1,64}$",
        description="A stored child's id, in your remit (422 otherwise); leave it out for a child not yet recorded. "
        "Lets connected-person carers approved for this child rank first.",
    )
    la_code: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    birth_month: str = Month
    sex: Sex
    ethnicity: Ethnicity = "NOBT"
    religion: Religion = "not_known"
    first_languages: list[Language] = Field(default_factory=lambda: ["english"], max_length=5)
    disability: bool = False
    home: LocationIn | None = None
    school: LocationIn | None = None


class SiblingIn(_In):
    """A brother or sister to be placed with the child, with what their own referral says.

    Every rule judges each child on their own referral: nothing here is borrowed from the first
    child's (an emergency outside terms of approval must be allowed for this child too).
    """

    child_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    birth_month: str = Month
    sex: Sex
    disability: bool = False
    needs: Needs
    live_alongside: LiveAlongside = "any"
    risks_to_child: list[RiskToChild] = Field(default_factory=list, max_length=MAX_CODES)
    risks_to_others: list[RiskToOthers] = Field(default_factory=list, max_length=MAX_CODES)
    allergies: list[Pet] = Field(default_factory=list, max_length=MAX_CODES)
    respiratory_needs: bool = False
    needs_adaptation: bool = False
    dolo: bool = False
    emergency_outside_terms: bool = False
    max_distance_miles: float | None = Field(default=None, gt=0, le=1000)


class WishesIn(_In):
    """The child's wishes and feelings."""

    text: str = Field(default="", max_length=4000)
    near_school: bool = False
    near_family: bool = False
    same_religion: bool = False
    same_language: bool = False
    pets: bool = False


class ReferralIn(_In):
    """An ad-hoc referral in the Placements Standard v2 vocabulary."""

    child: ChildIn
    siblings_to_place_with: list[SiblingIn] = Field(default_factory=list, max_length=8)
    needs: Needs
    needed_by: Urgency = "over_5_days"
    placement_type: PlacementType = "long_term"
    expected_duration_weeks: int | None = Field(default=None, ge=0, le=1000)
    expected_duration_days: int | None = Field(
        default=None, ge=0, le=7000, description="Expected stay in days: outside terms only for under 6 days."
    )
    live_alongside: LiveAlongside = "any"
    risks_to_child: list[RiskToChild] = Field(default_factory=list, max_length=MAX_CODES)
    risks_to_others: list[RiskToOthers] = Field(default_factory=list, max_length=MAX_CODES)
    allergies: list[Pet] = Field(default_factory=list, max_length=MAX_CODES)
    respiratory_needs: bool = False
    communication_needs: list[Communication] = Field(default_factory=list, max_length=MAX_CODES)
    needs_adaptation: bool = False
    dolo: bool = False
    suitable_for: list[Setting] = Field(default_factory=lambda: ["foster"], min_length=1, max_length=MAX_CODES)
    cultural_needs: str = Field(default="", max_length=2000)
    wishes: WishesIn = Field(default_factory=WishesIn)
    emergency_outside_terms: bool = False
    max_distance_miles: float | None = Field(default=None, gt=0, le=1000)
    placement_date: IsoDate | None = None


class FactorOut(BaseModel):
    """One part of the score."""

    name: str
    weight: float
    value: float | None
    contribution: float
    detail: str


class NeedMetOut(BaseModel):
    """One need and how it is covered."""

    need: str
    label: str
    severity: int
    coverage: float
    met: bool
    by: list[str]


class GapOut(BaseModel):
    """Something the placement plan must add."""

    kind: str
    need: str | None
    action: str


class WarningOut(BaseModel):
    """Something to weigh."""

    code: str
    message: str


class StabilityOut(BaseModel):
    """The learned estimate for this pair, with the band of what happened to similar past placements."""

    model_config = ConfigDict(protected_namespaces=())

    p_lasting: float = Field(description="Chance of lasting 12 months without an unplanned ending.")
    band_low: float = Field(
        description="Of held-out past placements given similar estimates, the share that lasted: low."
    )
    band_high: float = Field(description="... and high (95% interval).")
    estimates_low: float | None = Field(
        default=None, description="The range of estimates of those held-out placements (it holds p_lasting): low."
    )
    estimates_high: float | None = Field(default=None, description="... and high.")
    model_version: str
    detail: str


class ExplanationOut(BaseModel):
    """The explanation shared by both directions of matching."""

    rank: int
    tier: str
    score: float
    factors: list[FactorOut]
    needs_met: list[NeedMetOut]
    gaps: list[GapOut]
    warnings: list[WarningOut]
    outside_terms: list[str]
    distance_miles: float | None
    stability: StabilityOut | None = Field(
        default=None, description="None when no stability model is loaded or its estimate is withheld (see `model`)."
    )


class CandidateOut(ExplanationOut):
    """A ranked household with its explanation."""

    household_id: str
    agency_code: str
    agency_type: str
    vacancies: int


class NearMissOut(BaseModel):
    """A household failing one rule only."""

    household_id: str
    rule: str
    reason: str
    score: float


class ReasonOut(BaseModel):
    """A rule a household failed."""

    code: str
    reason: str


class ExcludedOut(BaseModel):
    """A ruled-out household and why."""

    household_id: str
    reasons: list[ReasonOut]


class MatchResultOut(BaseModel):
    """Ranked households for a child."""

    child_id: str
    referral_id: str
    placement_date: date
    considered: int
    eligible: int
    model: str = Field(
        description="The stability model in use, or why the ranking is rules-only (none loaded, or its estimate "
        "withheld because it was not shown to beat the rules-only score on held-out placements)."
    )
    candidates: list[CandidateOut]
    excluded_counts: dict[str, int]
    nearest_misses: list[NearMissOut]
    notes: list[str]
    excluded: list[ExcludedOut] | None = None


class ChildCandidateOut(ExplanationOut):
    """A waiting child a household could care for."""

    child_id: str
    referral_id: str
    urgency: str


class CarerMatchesOut(BaseModel):
    """Waiting children for a household."""

    household_id: str
    vacancies: int
    placement_date: date
    considered: int
    candidates: list[ChildCandidateOut]
    excluded_counts: dict[str, int]
