"""The data contract: every CSV file a local authority or agency can bring, column by column.

This module is the single source of truth for the file formats: the validator checks files
against it, the importer maps it onto the store, the synthetic generator writes it and
``docs/data-format.md`` is rendered from it (a test keeps the document in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from matching import codes

Kind = Literal["id", "text", "int", "float", "bool", "date", "month", "code", "codes", "ids", "words"]

#: Allowed values that come from the taxonomy in force rather than from a fixed list.
TAXONOMY_NEEDS = "taxonomy:needs"
TAXONOMY_COURSES = "taxonomy:courses"
#: Need domains or risk codes (what carers will not consider).
TAXONOMY_NEEDS_AND_RISKS = "taxonomy:needs+risks"

KIND_HELP: dict[str, str] = {
    "id": "identifier: 1-64 characters of letters, digits, `_`, `-`, `.`",
    "text": "free text (UTF-8); may be empty unless required",
    "int": "whole number",
    "float": "decimal number",
    "bool": "`true` / `false` (also accepted: `1`/`0`, `yes`/`no`, `y`/`n`)",
    "date": "date `YYYY-MM-DD` (also accepted: `dd/mm/YYYY`); not in the future",
    "month": "month `YYYY-MM` (month precision is enough for dates of birth)",
    "code": "one code from the allowed list",
    "codes": "zero or more codes from the allowed list, separated by `;`",
    "ids": "zero or more identifiers separated by `;`",
    "words": "zero or more lower-case words (`a-z`, `_`) separated by `;`",
}


@dataclass(frozen=True)
class Column:
    """One column of a contract file."""

    name: str
    kind: Kind
    required: bool
    description: str
    unit: str | None = None
    allowed: tuple[str, ...] | str | None = None
    minimum: float | None = None
    maximum: float | None = None
    references: tuple[str, str] | None = None
    default: str | None = None


@dataclass(frozen=True)
class FileSpec:
    """One contract file: its name, key, columns and whether a folder must contain it."""

    name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    required_file: bool = True
    column_index: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_index", {c.name: c for c in self.columns})

    @property
    def filename(self) -> str:
        """The file's name in a contract folder."""
        return f"{self.name}.csv"

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns that must be present in the header."""
        return tuple(c.name for c in self.columns if c.required)


def _c(name: str, kind: Kind, required: bool, description: str, **kw: object) -> Column:
    return Column(name, kind, required, description, **kw)  # type: ignore[arg-type]


EASTING = {"unit": "metres (OSGB36 grid)", "minimum": 0, "maximum": 700_000}
NORTHING = {"unit": "metres (OSGB36 grid)", "minimum": 0, "maximum": 1_300_000}

LOCAL_AUTHORITIES = FileSpec(
    name="local_authorities",
    description="Local authorities responsible for children and approving in-house carers.",
    key=("la_code",),
    columns=(
        _c("la_code", "id", True, "Local authority code (e.g. the DfE three-digit code)."),
        _c("name", "text", True, "Local authority name."),
        _c("region", "text", True, "Region (used for regional allocation and reports)."),
        _c("centre_easting", "int", True, "Grid easting of the area's centre.", **EASTING),
        _c("centre_northing", "int", True, "Grid northing of the area's centre.", **NORTHING),
        _c(
            "radius_miles",
            "float",
            False,
            "Approximate radius of the area.",
            unit="miles",
            minimum=0.5,
            maximum=100,
            default="10",
        ),
    ),
)

AGENCIES = FileSpec(
    name="agencies",
    description="Fostering services: a local authority's in-house service or an independent fostering agency (IFA).",
    key=("agency_code",),
    columns=(
        _c("agency_code", "id", True, "Fostering service code."),
        _c("name", "text", True, "Fostering service name."),
        _c(
            "agency_type",
            "code",
            True,
            "`la` in-house service or `ifa` independent agency.",
            allowed=codes.AGENCY_TYPES,
        ),
        _c(
            "la_code",
            "id",
            False,
            "For an in-house service, its local authority.",
            references=("local_authorities", "la_code"),
        ),
    ),
)

CHILDREN = FileSpec(
    name="children",
    description="Children looked after: one row per child, pseudonymous.  Never names, addresses or "
    "full dates of birth.",
    key=("child_id",),
    columns=(
        _c("child_id", "id", True, "Pseudonymous child identifier (as in SSDA903 CHILD)."),
        _c("la_code", "id", True, "Responsible local authority.", references=("local_authorities", "la_code")),
        _c("birth_month", "month", True, "Month of birth (de-identified to month precision)."),
        _c("sex", "code", True, "SSDA903 SEX (2024-25 onward: M, F, U).", allowed=tuple(sorted(codes.SEX))),
        _c("ethnicity", "code", True, "SSDA903 ETHNIC code.", allowed=tuple(sorted(codes.ETHNIC))),
        _c("religion", "code", False, "Religion.", allowed=codes.RELIGIONS, default="not_known"),
        _c(
            "first_languages",
            "words",
            False,
            "First language(s), lower case (e.g. `english;polish`).",
            default="english",
        ),
        _c("uasc", "bool", False, "Unaccompanied asylum-seeking child.", default="false"),
        _c("disability", "bool", False, "Child has a disability.", default="false"),
        _c("sen", "code", False, "Special educational needs provision.", allowed=codes.SEN, default="none"),
        _c("health_needs", "words", False, "Health needs (e.g. `asthma;epilepsy`)."),
        _c(
            "legal_status",
            "code",
            True,
            "SSDA903 LS legal status of the open episode.",
            allowed=tuple(sorted(codes.LEGAL_STATUS)),
        ),
        _c(
            "category_of_need",
            "code",
            True,
            "SSDA903 CIN category of need.",
            allowed=tuple(sorted(codes.CATEGORY_OF_NEED)),
        ),
        _c("care_started", "date", True, "Date the current period of care started."),
        _c(
            "place",
            "code",
            True,
            "SSDA903 PLACE code of the current placement (the last one, for a child who ceased to be looked "
            "after); legacy H5, P2, Z1 accepted as recorded in their years.",
            allowed=tuple(sorted(codes.PLACE | codes.PLACE_LEGACY)),
        ),
        _c(
            "place_provider",
            "code",
            False,
            "SSDA903 PLACE_PROVIDER of the current placement.",
            allowed=tuple(sorted(codes.PLACE_PROVIDER)),
        ),
        _c("placement_start", "date", True, "Start date of the current placement."),
        _c(
            "household_id",
            "id",
            False,
            "Carer household of a current foster placement, if held in this data.",
            references=("households", "household_id"),
        ),
        _c("home_easting", "int", False, "Grid easting of the home postcode sector.", **EASTING),
        _c("home_northing", "int", False, "Grid northing of the home postcode sector.", **NORTHING),
        _c("school_urn", "id", False, "Unique reference number of the child's school."),
        _c("school_easting", "int", False, "Grid easting of the school.", **EASTING),
        _c("school_northing", "int", False, "Grid northing of the school.", **NORTHING),
        _c(
            "sibling_group_id",
            "id",
            False,
            "Sibling group shared by brothers and sisters in care (at least two children).",
        ),
        _c(
            "place_with_siblings",
            "bool",
            False,
            "The care plan is to place the sibling group together.",
            default="true",
        ),
        _c("care_plan_goal", "code", False, "Permanence goal of the care plan.", allowed=codes.CARE_PLAN_GOALS),
    ),
)

CHILD_NEEDS = FileSpec(
    name="child_needs",
    description="The child's assessed needs, with their history: one row per need domain and assessment date. "
    "The latest rating of each need (by `assessed_on`) is the one in force; a rating of 0 records that a need "
    "rated before has gone. Undated ratings count as older than any dated one and are never read as in force "
    "on a past date.",
    key=("child_id", "need", "assessed_on"),
    required_file=False,
    columns=(
        _c("child_id", "id", True, "Child.", references=("children", "child_id")),
        _c("need", "code", True, "Need domain from the taxonomy in force.", allowed=TAXONOMY_NEEDS),
        _c(
            "severity",
            "int",
            True,
            "0 none, 1 mild, 2 moderate (actionable), 3 severe (actionable).",
            minimum=0,
            maximum=3,
        ),
        _c("assessed_on", "date", False, "Date of the assessment (needed to read the needs as they were on a date)."),
    ),
)

SDQ_SCORES = FileSpec(
    name="sdq_scores",
    description="Strengths and Difficulties Questionnaire total difficulties scores (scores only: the "
    "questionnaire is copyright).",
    key=("child_id", "assessed_on"),
    required_file=False,
    columns=(
        _c("child_id", "id", True, "Child.", references=("children", "child_id")),
        _c("assessed_on", "date", True, "Date of the SDQ."),
        _c(
            "score",
            "int",
            True,
            "Total difficulties 0-40 (0-13 normal, 14-16 borderline, 17-40 concern).",
            minimum=0,
            maximum=40,
        ),
    ),
)

REFERRALS = FileSpec(
    name="referrals",
    description="What a child needs now: a request for a placement (Placements Standard v2 vocabulary).",
    key=("referral_id",),
    required_file=False,
    columns=(
        _c("referral_id", "id", True, "Referral identifier."),
        _c("child_id", "id", True, "Child referred.", references=("children", "child_id")),
        _c("referral_date", "date", True, "Date the referral was made."),
        _c("status", "code", False, "Referral status.", allowed=codes.REFERRAL_STATUS, default="open"),
        _c("urgency", "code", True, "Needed by: today, within 5 days, over 5 days.", allowed=codes.URGENCY),
        _c("placement_type", "code", True, "Placement type needed.", allowed=codes.PLACEMENT_TYPES),
        _c("expected_duration_weeks", "int", False, "Expected duration.", unit="weeks", minimum=0, maximum=1000),
        _c(
            "expected_duration_days",
            "int",
            False,
            "Expected stay in days (read before the weeks): an emergency may go outside terms of approval only "
            "for a stay under 6 days.",
            unit="days",
            minimum=0,
            maximum=7000,
        ),
        _c(
            "live_alongside",
            "code",
            False,
            "Who the child can live alongside.",
            allowed=codes.LIVE_ALONGSIDE,
            default="any",
        ),
        _c("risks_to_child", "codes", False, "Risks to the child.", allowed=codes.RISKS_TO_CHILD),
        _c("risks_to_others", "codes", False, "Risks to others.", allowed=codes.RISKS_TO_OTHERS),
        _c("allergies", "codes", False, "Animals the child is allergic to.", allowed=codes.PETS),
        _c("respiratory_needs", "bool", False, "Asthma or another condition that smoking worsens.", default="false"),
        _c("communication_needs", "codes", False, "Communication needs.", allowed=codes.COMMUNICATION_NEEDS),
        _c("needs_adaptation", "bool", False, "Needs an adapted / wheelchair-accessible home.", default="false"),
        _c("dolo", "bool", False, "A deprivation of liberty order is in force or sought.", default="false"),
        _c(
            "suitable_for",
            "codes",
            False,
            "Settings the child is suitable for.",
            allowed=codes.SUITABLE_FOR,
            default="foster",
        ),
        _c(
            "cultural_needs",
            "text",
            False,
            "Cultural, religious and identity needs in the child's words or the social worker's.",
        ),
        _c("wishes_text", "text", False, "The child's wishes and feelings, as recorded."),
        _c("wish_near_school", "bool", False, "The child wants to stay at their school.", default="false"),
        _c("wish_near_family", "bool", False, "The child wants to live near family.", default="false"),
        _c("wish_same_religion", "bool", False, "The child wants carers of their religion.", default="false"),
        _c("wish_same_language", "bool", False, "The child wants carers who speak their language.", default="false"),
        _c("wish_pets", "bool", False, "The child would like a home with pets.", default="false"),
        _c(
            "emergency_outside_terms",
            "bool",
            False,
            "An emergency placement of under 6 days may go outside terms of approval.",
            default="false",
        ),
        _c(
            "max_distance_miles",
            "float",
            False,
            "Furthest acceptable distance from home.",
            unit="miles",
            minimum=0,
            maximum=1000,
        ),
    ),
)

HOUSEHOLDS = FileSpec(
    name="households",
    description="Approved foster carer households with their terms of approval, circumstances, experience "
    "and preferences.",
    key=("household_id",),
    columns=(
        _c("household_id", "id", True, "Carer household identifier."),
        _c(
            "agency_code",
            "id",
            True,
            "Fostering service that approved the household.",
            references=("agencies", "agency_code"),
        ),
        _c(
            "la_code",
            "id",
            True,
            "Local authority area the household lives in.",
            references=("local_authorities", "la_code"),
        ),
        _c("easting", "int", True, "Grid easting of the household's postcode sector.", **EASTING),
        _c("northing", "int", True, "Grid northing of the household's postcode sector.", **NORTHING),
        _c("status", "code", False, "Approval status.", allowed=codes.HOUSEHOLD_STATUS, default="active"),
        _c("approved_on", "date", True, "Date of approval."),
        _c("approved_age_min", "int", True, "Youngest age approved for.", unit="years", minimum=0, maximum=17),
        _c("approved_age_max", "int", True, "Oldest age approved for.", unit="years", minimum=0, maximum=17),
        _c("approved_places", "int", True, "Number of children approved for.", minimum=1, maximum=10),
        _c("approved_placement_types", "codes", True, "Placement types approved for.", allowed=codes.PLACEMENT_TYPES),
        _c(
            "max_sibling_group", "int", False, "Largest sibling group approved for.", minimum=1, maximum=10, default="1"
        ),
        _c(
            "usual_limit_exemption",
            "bool",
            False,
            "The LA has granted an exemption from the usual fostering limit of 3.",
            default="false",
        ),
        _c(
            "connected_child_ids",
            "ids",
            False,
            "Children this household is approved for as connected persons (kinship: relative or friend).",
        ),
        _c("carers", "int", False, "Number of approved carers in the household.", minimum=1, maximum=4, default="2"),
        _c("ethnicity", "code", False, "Main carer's SSDA903 ETHNIC code.", allowed=tuple(sorted(codes.ETHNIC))),
        _c("religion", "code", False, "Household religion.", allowed=codes.RELIGIONS, default="not_known"),
        _c("languages", "words", False, "Languages spoken at home.", default="english"),
        _c("pets", "codes", False, "Animals in the household.", allowed=codes.PETS),
        _c("smoking", "bool", False, "Someone in the household smokes.", default="false"),
        _c("wheelchair_accessible", "bool", False, "The home is adapted / wheelchair accessible.", default="false"),
        _c(
            "bedrooms_available",
            "int",
            False,
            "Bedrooms available for foster children.",
            minimum=0,
            maximum=10,
            default="1",
        ),
        _c(
            "experience_years",
            "float",
            False,
            "Years of fostering experience.",
            unit="years",
            minimum=0,
            maximum=70,
            default="0",
        ),
        _c(
            "experience_needs",
            "codes",
            False,
            "Need domains of children the carers have cared for.",
            allowed=TAXONOMY_NEEDS,
        ),
        _c(
            "will_not_consider",
            "codes",
            False,
            "Needs or risks the carers have said they will not consider.",
            allowed=TAXONOMY_NEEDS_AND_RISKS,
        ),
        _c("preferred_age_min", "int", False, "Youngest age the carers prefer.", unit="years", minimum=0, maximum=17),
        _c("preferred_age_max", "int", False, "Oldest age the carers prefer.", unit="years", minimum=0, maximum=17),
        _c("support_package", "codes", False, "Support the fostering service provides.", allowed=codes.SUPPORT_PACKAGE),
    ),
)

HOUSEHOLD_MEMBERS = FileSpec(
    name="household_members",
    description="People living in a carer household who are not in children.csv: birth children, other "
    "adults, and foster children placed by authorities outside this data.",
    key=("member_id",),
    required_file=False,
    columns=(
        _c("member_id", "id", True, "Member identifier."),
        _c("household_id", "id", True, "Household.", references=("households", "household_id")),
        _c("kind", "code", True, "Who they are.", allowed=codes.MEMBER_KINDS),
        _c("birth_month", "month", True, "Month of birth."),
        _c("sex", "code", True, "Sex (M, F, U).", allowed=tuple(sorted(codes.SEX))),
    ),
)

CARER_TRAINING = FileSpec(
    name="carer_training",
    description="Training completed by a household's carers.",
    key=("household_id", "course", "completed_on"),
    required_file=False,
    columns=(
        _c("household_id", "id", True, "Household.", references=("households", "household_id")),
        _c("course", "code", True, "Course from the taxonomy in force.", allowed=TAXONOMY_COURSES),
        _c("completed_on", "date", True, "Date completed."),
        _c(
            "expires_on",
            "date",
            False,
            "Date it stops being current; empty: from the taxonomy's validity. May be in the future.",
        ),
    ),
)

PLACEMENTS = FileSpec(
    name="placements",
    description="Placement history: every placement episode of every child, the current one included.",
    key=("placement_id",),
    required_file=False,
    columns=(
        _c("placement_id", "id", True, "Placement identifier."),
        _c("child_id", "id", True, "Child.", references=("children", "child_id")),
        _c(
            "household_id",
            "id",
            False,
            "Carer household, for foster placements held in this data.",
            references=("households", "household_id"),
        ),
        _c(
            "place",
            "code",
            True,
            "SSDA903 PLACE (legacy H5, P2, Z1 accepted in history).",
            allowed=tuple(sorted(codes.PLACE | codes.PLACE_LEGACY)),
        ),
        _c("place_provider", "code", False, "SSDA903 PLACE_PROVIDER.", allowed=tuple(sorted(codes.PLACE_PROVIDER))),
        _c("start_date", "date", True, "Start of the placement."),
        _c("end_date", "date", False, "End of the placement; empty while it is open."),
        _c(
            "end_reason",
            "code",
            False,
            "SSDA903 REASON_PLACE_CHANGE; required when end_date is given.",
            allowed=tuple(codes.REASON_PLACE_CHANGE),
        ),
        _c(
            "distance_miles",
            "float",
            False,
            "Distance from home (DfE: grid distance / 1000 / 1.6093; 999.9 unknown).",
            unit="miles",
            minimum=0,
            maximum=999.9,
        ),
    ),
)

PROGRESS_RECORDS = FileSpec(
    name="progress_records",
    description="What a children's home records about a child each month: incidents, school, staffing, "
    "therapeutic work, wellbeing and the child's wishes (read by step-down readiness).  Counts are for the "
    "calendar month; an empty optional value means not recorded, never zero.",
    key=("child_id", "month"),
    required_file=False,
    columns=(
        _c("child_id", "id", True, "Child.", references=("children", "child_id")),
        _c("month", "month", True, "Month recorded (`YYYY-MM`)."),
        _c("physical_aggression", "int", True, "Incidents of physical aggression.", minimum=0, maximum=999),
        _c("self_harm", "int", True, "Incidents of self-harm.", minimum=0, maximum=999),
        _c("missing", "int", True, "Missing or away-without-permission episodes.", minimum=0, maximum=999),
        _c("police", "int", True, "Police call-outs.", minimum=0, maximum=999),
        _c("restraints", "int", True, "Physical interventions (restraints).", minimum=0, maximum=999),
        _c("attendance", "float", False, "School attendance (% of sessions).", unit="%", minimum=0, maximum=100),
        _c("exclusion_days", "int", False, "Days excluded from school.", unit="days", minimum=0, maximum=31),
        _c("staffing", "code", True, "Staffing the child needed.", allowed=codes.STAFFING_LEVELS),
        _c(
            "therapy_engagement",
            "code",
            False,
            "Engagement with therapeutic work.",
            allowed=codes.THERAPY_ENGAGEMENT,
        ),
        _c("trusted_adult", "bool", False, "The child has a trusted adult relationship."),
        _c("family_time", "code", False, "How family time went.", allowed=codes.FAMILY_TIME),
        _c("sdq", "int", False, "SDQ total difficulties if assessed this month (0-40).", minimum=0, maximum=40),
        _c("wishes", "code", False, "The child's wishes about where to live next.", allowed=codes.CHILD_WISHES),
        _c(
            "care_plan_goal",
            "code",
            False,
            "Permanence goal of the care plan this month.",
            allowed=codes.CARE_PLAN_GOALS,
        ),
    ),
)

MISSING_EPISODES = FileSpec(
    name="missing_episodes",
    description="Episodes of a child missing from their placement or away without permission (SSDA903 Missing table).",
    key=("child_id", "start_date", "kind"),
    required_file=False,
    columns=(
        _c("child_id", "id", True, "Child.", references=("children", "child_id")),
        _c("start_date", "date", True, "Start of the episode (SSDA903 MIS_START)."),
        _c("end_date", "date", False, "End of the episode (MIS_END); empty while the child is missing."),
        _c("kind", "code", True, "missing, or away without permission (SSDA903 M / A).", allowed=codes.MISSING_KINDS),
    ),
)

#: Files in dependency order (a file only references files before it).
FILES: tuple[FileSpec, ...] = (
    LOCAL_AUTHORITIES,
    AGENCIES,
    HOUSEHOLDS,
    CHILDREN,
    CHILD_NEEDS,
    SDQ_SCORES,
    REFERRALS,
    HOUSEHOLD_MEMBERS,
    CARER_TRAINING,
    PLACEMENTS,
    PROGRESS_RECORDS,
    MISSING_EPISODES,
)
FILES_BY_NAME: dict[str, FileSpec] = {f.name: f for f in FILES}

#: Columns whose dates may lie in the future.
FUTURE_DATES_ALLOWED: frozenset[tuple[str, str]] = frozenset({("carer_training", "expires_on")})
