"""Code lists of the SSDA903 return and the Placements Standard v2 vocabulary.

Every coded column in the data contract takes its allowed values from here, so the
validator, the generator, the store and the documentation all agree.  Sources are in
``shared/domain.md`` §3 and §6.
"""

from __future__ import annotations

from typing import Final

# --- SSDA903 -----------------------------------------------------------------------

#: SEX from 2024-25 (M/F/U).  Earlier collection years used 1/2; see ``SEX_LEGACY``.
SEX: Final = frozenset({"M", "F", "U"})
SEX_LEGACY: Final = {"1": "M", "2": "F"}

#: ETHNIC codes grouped by the five published ethnicity groups.
ETHNICITY_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "White": ("WBRI", "WIRI", "WOTH", "WIRT", "WROM"),
    "Mixed": ("MWBC", "MWBA", "MWAS", "MOTH"),
    "Asian": ("AIND", "APKN", "ABAN", "AOTH", "CHNE"),
    "Black": ("BCRB", "BAFR", "BOTH"),
    "Other": ("OOTH",),
    "Not known": ("REFU", "NOBT"),
}
ETHNIC: Final = frozenset(c for codes in ETHNICITY_GROUPS.values() for c in codes)
ETHNIC_TO_GROUP: Final = {c: g for g, codes in ETHNICITY_GROUPS.items() for c in codes}

#: PLACE codes in force from 2025-26 (Z1 split into Z11–Z14).  Legacy codes are readable
#: in history only.
PLACE_FOSTER_CONNECTED: Final = frozenset({"U1", "U2", "U3"})
PLACE_FOSTER_OTHER: Final = frozenset({"U4", "U5", "U6"})
PLACE_FOSTER: Final = PLACE_FOSTER_CONNECTED | PLACE_FOSTER_OTHER
PLACE_CHILDRENS_HOME: Final = "K2"
PLACE_SECURE_HOME: Final = "K1"
PLACE_SUPPORTED_ACCOMMODATION: Final = "K3"
PLACE: Final = PLACE_FOSTER | frozenset(
    {
        "K1", "K2", "K3", "R1", "S1", "P1", "A3", "A4", "A5", "A6",
        "R2", "R3", "R5", "P3", "T0", "T1", "T2", "T3", "T4",
        "Z11", "Z12", "Z13", "Z14",
    }
)  # fmt: skip
PLACE_LEGACY: Final = frozenset({"H5", "P2", "Z1"})

#: What a PLACE code means, in plain words for people (the code is shown beside it).
PLACE_LABELS: Final = {
    "U1": "long-term foster care with a relative or friend",
    "U2": "fostering for adoption with a relative or friend",
    "U3": "foster care with a relative or friend",
    "U4": "long-term foster care",
    "U5": "fostering for adoption",
    "U6": "foster care",
    "K1": "secure children's home",
    "K2": "children's home",
    "K3": "supported accommodation",
    "R1": "residential care home",
    "S1": "residential school",
    "P1": "placed with parents",
    "A3": "placed for adoption",
    "A4": "placed for adoption",
    "A5": "placed for adoption",
    "A6": "placed for adoption",
    "R2": "health or medical setting",
    "R3": "family centre or mother and baby unit",
    "R5": "young offender institution or prison",
    "P3": "residential employment",
    **dict.fromkeys(("T0", "T1", "T2", "T3", "T4"), "temporary placement"),
    **dict.fromkeys(("Z1", "Z11", "Z12", "Z13", "Z14", "H5", "P2"), "other placement"),
}


def place_label(code: str) -> str:
    """A PLACE code in plain words with the code: "children's home (K2)"."""
    label = PLACE_LABELS.get(code)
    return f"{label} ({code})" if label else code


#: Age bands of plans and reports (whole years, inclusive); an age past the last band (18 on a
#: placement date) joins it.
AGE_BANDS: Final = ((0, 4), (5, 10), (11, 15), (16, 17))
AGE_BAND_NAMES: Final = ("0-4", "5-10", "11-15", "16-17")


def age_band_index(age: int) -> int:
    """Position in :data:`AGE_BANDS` of the band holding ``age``."""
    return next((i for i, (_, hi) in enumerate(AGE_BANDS) if age <= hi), len(AGE_BANDS) - 1)


#: PLACE_PROVIDER.
PLACE_PROVIDER: Final = frozenset({"PR0", "PR1", "PR2", "PR3", "PR4", "PR5"})
PROVIDER_LA: Final = frozenset({"PR1", "PR2"})
PROVIDER_IFA: Final = frozenset({"PR4", "PR5"})

#: Legal status (LS).
LEGAL_STATUS: Final = frozenset({"C1", "C2", "E1", "V2", "V3", "V4", "L1", "L2", "L3", "J1", "J2", "J3", "D1"})

#: Category of need (CIN).
CATEGORY_OF_NEED: Final[dict[str, str]] = {
    "N1": "Abuse or neglect",
    "N2": "Child's disability",
    "N3": "Parental illness or disability",
    "N4": "Family in acute stress",
    "N5": "Family dysfunction",
    "N6": "Socially unacceptable behaviour",
    "N7": "Low income",
    "N8": "Absent parenting",
}

#: REASON_PLACE_CHANGE, with the unplanned ("breakdown") codes marked.
REASON_PLACE_CHANGE: Final[dict[str, str]] = {
    "CARPL": "Change to the care plan (planned)",
    "CLOSE": "Provider closes",
    "ALLEG": "Allegation (s47)",
    "STAND": "Standards of care concern",
    "APPRR": "Approval removed",
    "CREQB": "Carer requests end due to child's behaviour",
    "CREQO": "Carer requests end for other reason",
    "CHILD": "Child requests end",
    "LAREQ": "Responsible authority requests end",
    "PLACE": "Change of placement type or provider",
    "CUSTOD": "Custody arrangement",
    "OTHER": "Other",
}
UNPLANNED_REASONS: Final = frozenset({"CREQB", "CREQO", "CHILD", "ALLEG", "STAND", "CLOSE", "APPRR"})
PLANNED_REASONS: Final = frozenset(REASON_PLACE_CHANGE) - UNPLANNED_REASONS

#: REC, the reason an episode ceased: X1 means the episode ceased and a new one began (the child is
#: still looked after); every other code means the period of care ended.
REASON_CEASED: Final = frozenset(
    {
        "X1", "E11", "E12", "E13", "E14", "E15", "E16", "E17", "E2", "E3", "E4A", "E4B",
        "E41", "E45", "E46", "E47", "E48", "E5", "E6", "E7", "E8", "E9",
    }
)  # fmt: skip

#: SDQ_REASON when there is no score.
SDQ_REASON: Final = frozenset({"SDQ1", "SDQ2", "SDQ3", "SDQ4", "SDQ5"})

# --- Placement categories used for calibration and reporting ----------------------

PLACEMENT_CATEGORIES: Final = (
    "fostering_in_house",
    "fostering_ifa",
    "fostering_kinship",
    "childrens_home",
    "supported_accommodation",
    "placed_with_parents",
    "other",
)


def placement_category(place: str, provider: str | None) -> str:
    """Return the calibration category (domain.md §7) of a PLACE / PLACE_PROVIDER pair."""
    if place in PLACE_FOSTER_CONNECTED:
        return "fostering_kinship"
    if place in PLACE_FOSTER_OTHER:
        return "fostering_ifa" if provider in PROVIDER_IFA else "fostering_in_house"
    if place == PLACE_CHILDRENS_HOME:
        return "childrens_home"
    if place == PLACE_SUPPORTED_ACCOMMODATION:
        return "supported_accommodation"
    if place == "P1":
        return "placed_with_parents"
    return "other"


# --- Placements Standard v2 referral vocabulary -----------------------------------

#: How urgently a placement is needed.
URGENCY: Final = ("today", "within_5_days", "over_5_days")

#: Placement types a household is approved for and a referral asks for.
PLACEMENT_TYPES: Final = (
    "emergency",
    "short_term",
    "long_term",
    "respite",
    "parent_and_child",
    "step_down",
    "remand",
)

#: Who the child can live alongside.
LIVE_ALONGSIDE: Final = ("any", "solo", "only_older", "only_younger")

#: Risks to the child.
RISKS_TO_CHILD: Final = (
    "self_harm",
    "sexual_exploitation",
    "criminal_exploitation",
    "substance_misuse",
    "eating_difficulties",
    "going_missing",
)

#: Risks to others.
RISKS_TO_OTHERS: Final = ("physical_harm", "sexual_harm", "fire_setting", "harm_to_animals")

#: Communication needs.
COMMUNICATION_NEEDS: Final = ("esol", "bsl", "makaton", "pecs")

#: Setting the child is suitable for.
SUITABLE_FOR: Final = ("foster", "residential", "supported_accommodation")

#: Pets a household may keep, and the allergies a child may have to them.
PETS: Final = ("dog", "cat", "small_animal", "bird", "reptile")

#: Special educational needs provision.
SEN: Final = ("none", "sen_support", "ehcp")

#: Religions recorded (census categories).
RELIGIONS: Final = (
    "none",
    "christian",
    "muslim",
    "hindu",
    "sikh",
    "jewish",
    "buddhist",
    "other",
    "not_known",
)

#: Agency types a carer household can belong to.
AGENCY_TYPES: Final = ("la", "ifa")
#: Agency types in plain words.
AGENCY_TYPE_LABELS: Final = {"la": "local authority fostering service", "ifa": "independent fostering agency"}


def agency_label(agency_type: str, agency_code: str) -> str:
    """An agency in plain words with its code: "independent fostering agency IFA-03"."""
    return f"{AGENCY_TYPE_LABELS.get(agency_type, agency_type)} {agency_code}"


#: Support a fostering service can put around a household.
SUPPORT_PACKAGE: Final = (
    "supervising_social_worker",
    "therapeutic_support",
    "out_of_hours",
    "respite",
    "education_support",
    "enhanced_allowance",
)

#: Who lives in a carer household besides the carers.
MEMBER_KINDS: Final = ("foster_child", "birth_child", "other_adult")

#: Household approval status.
HOUSEHOLD_STATUS: Final = ("active", "on_hold", "deregistered")

#: Referral status.
REFERRAL_STATUS: Final = ("open", "matched", "closed")

#: Care-plan goals (step-down readiness reads them).
CARE_PLAN_GOALS: Final = ("foster", "kin", "return_home", "stay_residential", "independence", "adoption")
#: Goals that mean family-based care.
FAMILY_GOALS: Final = frozenset({"foster", "kin", "return_home", "adoption"})

#: Residential progress records (what a children's home records monthly).
STAFFING_LEVELS: Final = ("two_to_one", "one_to_one", "ordinary")
THERAPY_ENGAGEMENT: Final = ("none", "partial", "full")
FAMILY_TIME: Final = ("positive", "mixed", "difficult", "none")
#: SSDA903 Missing table: M missing, A away without authorisation.
MISSING_KINDS: Final = ("missing", "away")

#: The child's own wishes about where to live next, as recorded by the home.
CHILD_WISHES: Final = ("wants_family", "wants_to_return_home", "unsure", "wants_to_stay", "not_asked")
