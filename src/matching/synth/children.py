"""Synthetic children looked after in one local authority, calibrated to domain.md §7."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching import codes
from matching.synth.geography import LocalAuthority, scatter_around
from matching.taxonomy import Taxonomy

#: Age bands at the snapshot (DfE 2022): under 1, 1-4, 5-9, 10-15, 16+.
AGE_BANDS_MONTHS = ((0, 12), (12, 60), (60, 120), (120, 192), (192, 216))
AGE_BAND_SHARES = (0.05, 0.14, 0.18, 0.39, 0.25)

#: Relative weights of placement categories within each age band (rows: AGE_BANDS_MONTHS;
#: columns: codes.PLACEMENT_CATEGORIES).  Tuned so the national mix meets the FOI shares.
CATEGORY_WEIGHTS = np.array(
    [
        # in-house, IFA, kinship, home, supported, parents, other
        [40, 18, 22, 0.0, 0, 12, 6],
        [36, 20, 22, 0.5, 0, 10, 6],
        [36, 26, 20, 2.0, 0, 9, 4],
        [28, 28, 14, 19.0, 0, 4, 3],
        [15, 21, 9, 11.0, 41, 3, 1],
    ]
)
CAT = {name: i for i, name in enumerate(codes.PLACEMENT_CATEGORIES)}

#: Base prevalence of each need domain (young = under 10, older = 10+), before complexity.
NEED_PREVALENCE: dict[str, tuple[float, float]] = {
    "trauma_attachment": (0.50, 0.50),
    "neglect": (0.42, 0.30),
    "emotional_regulation": (0.30, 0.45),
    "physical_aggression": (0.12, 0.28),
    "self_harm": (0.01, 0.18),
    "sexualised_behaviour": (0.05, 0.07),
    "sexual_exploitation": (0.0, 0.09),
    "criminal_exploitation": (0.0, 0.11),
    "going_missing": (0.01, 0.16),
    "substance_misuse": (0.0, 0.11),
    "eating_difficulties": (0.02, 0.05),
    "autism": (0.08, 0.08),
    "learning_disability": (0.11, 0.11),
    "physical_disability_medical": (0.06, 0.04),
    "executive_functioning": (0.08, 0.13),
    "education_exclusion": (0.01, 0.10),
    "offending": (0.0, 0.07),
    "shame_behaviours": (0.14, 0.13),
}
_NEEDS_UNDER_ONE = {"neglect", "trauma_attachment", "physical_disability_medical"}

_ETHNIC_CODE_WEIGHTS: dict[str, dict[str, float]] = {
    "White": {"WBRI": 0.80, "WIRI": 0.02, "WOTH": 0.15, "WIRT": 0.02, "WROM": 0.01},
    "Mixed": {"MWBC": 0.35, "MWBA": 0.15, "MWAS": 0.15, "MOTH": 0.35},
    "Asian": {"AIND": 0.20, "APKN": 0.35, "ABAN": 0.15, "AOTH": 0.25, "CHNE": 0.05},
    "Black": {"BCRB": 0.25, "BAFR": 0.60, "BOTH": 0.15},
    "Other": {"OOTH": 1.0},
    "Not known": {"REFU": 0.3, "NOBT": 0.7},
}
_GROUPS = ("White", "Mixed", "Asian", "Black", "Other", "Not known")
#: Non-UASC group shares chosen so that with ~7% UASC the total is 71/11/5/7/5 (+1% not known).
_GROUP_P_CITIZEN = np.array([0.757, 0.118, 0.031, 0.056, 0.028, 0.010])
_GROUP_P_UASC = np.array([0.05, 0.0, 0.30, 0.25, 0.40, 0.0])
_UASC_LANGUAGES = ("arabic", "pashto", "kurdish", "tigrinya", "dari", "persian", "vietnamese", "albanian")
_RELIGION_BY_GROUP = {
    "White": ({"none": 0.52, "christian": 0.36, "not_known": 0.10, "other": 0.02}),
    "Mixed": ({"none": 0.45, "christian": 0.30, "muslim": 0.12, "not_known": 0.13}),
    "Asian": ({"muslim": 0.58, "hindu": 0.16, "sikh": 0.10, "christian": 0.04, "buddhist": 0.04, "not_known": 0.08}),
    "Black": ({"christian": 0.58, "muslim": 0.27, "none": 0.05, "not_known": 0.10}),
    "Other": ({"muslim": 0.55, "christian": 0.25, "other": 0.08, "not_known": 0.12}),
    "Not known": ({"not_known": 1.0}),
}
_SECOND_LANGUAGE = {
    "Asian": ("urdu", "punjabi", "bengali", "gujarati"),
    "Black": ("somali", "yoruba", "twi"),
    "White": ("polish", "romanian", "lithuanian"),
    "Mixed": ("english",),
    "Other": ("arabic",),
}


@dataclass
class ChildArrays:
    """Column arrays of the children of one local authority (dates as day numbers)."""

    child_id: np.ndarray
    birth_day: np.ndarray
    age_months: np.ndarray
    sex: np.ndarray
    ethnicity: np.ndarray
    eth_group: np.ndarray
    religion: np.ndarray
    languages: list[tuple[str, ...]]
    uasc: np.ndarray
    disability: np.ndarray
    sen: np.ndarray
    health: list[tuple[str, ...]]
    legal_status: np.ndarray
    cin: np.ndarray
    care_started: np.ndarray
    category: np.ndarray
    place: np.ndarray
    provider: np.ndarray
    placement_start: np.ndarray
    home_e: np.ndarray
    home_n: np.ndarray
    school_urn: np.ndarray
    school_e: np.ndarray
    school_n: np.ndarray
    sibling_group: np.ndarray
    place_together: np.ndarray
    care_plan_goal: np.ndarray
    complexity: np.ndarray
    severity: np.ndarray  # (n, needs)

    def __len__(self) -> int:
        return len(self.child_id)


def _pick(rng: np.random.Generator, options: dict[str, float], size: int) -> np.ndarray:
    keys = list(options)
    p = np.array([options[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=size, p=p / p.sum())]


def _draw_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Draw one column index per row of ``weights`` (rows need not sum to 1)."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return (cum < u[:, None]).sum(axis=1)


def make_children(
    la: LocalAuthority, n: int, snapshot_day: int, taxonomy: Taxonomy, rng: np.random.Generator
) -> ChildArrays:
    """Generate ``n`` children looked after by ``la`` on the snapshot day."""
    shares = np.array(AGE_BAND_SHARES)
    band = rng.choice(len(AGE_BANDS_MONTHS), size=n, p=shares / shares.sum())
    lo = np.array([b[0] for b in AGE_BANDS_MONTHS])[band]
    hi = np.array([b[1] for b in AGE_BANDS_MONTHS])[band]
    age_m = rng.integers(lo, hi)
    uasc = np.zeros(n, dtype=bool)
    uasc[age_m >= 192] = rng.random((age_m >= 192).sum()) < 0.245
    teen = (age_m >= 168) & (age_m < 192)
    uasc[teen] = rng.random(teen.sum()) < 0.06
    male = np.where(uasc, rng.random(n) < 0.95, rng.random(n) < 0.541)
    sex = np.where(male, "M", "F").astype(object)
    grp_idx = np.where(
        uasc,
        rng.choice(6, size=n, p=_GROUP_P_UASC / _GROUP_P_UASC.sum()),
        rng.choice(6, size=n, p=_GROUP_P_CITIZEN / _GROUP_P_CITIZEN.sum()),
    )

    # Sibling groups: about 14% of children, never UASC, sharing ethnicity, home and care start.
    sibling_group = np.full(n, None, dtype=object)
    place_together = np.ones(n, dtype=bool)
    free = list(rng.permutation(np.flatnonzero(~uasc)))
    n_groups = round(0.14 * n / 2.45)
    home_e, home_n = scatter_around(la.centre_easting, la.centre_northing, la.radius_miles, n, rng)
    care_days = np.minimum(age_m * 30.4, rng.exponential(2.8 * 365.25, size=n)).astype(np.int64) + 10
    for g in range(n_groups):
        size = int(rng.choice([2, 3, 4], p=[0.65, 0.25, 0.10]))
        if len(free) < size:
            break
        members = [free.pop() for _ in range(size)]
        lead = members[0]
        gid = f"{la.la_code}-S{g + 1:04d}"
        together = bool(rng.random() < 0.85)
        for k, m in enumerate(members):
            sibling_group[m] = gid
            place_together[m] = together
            if k:
                offset = int(rng.integers(12, 72)) * (1 if rng.random() < 0.5 else -1)
                age_m[m] = int(np.clip(age_m[lead] + offset, 0, 215))
                grp_idx[m] = grp_idx[lead]
                home_e[m], home_n[m] = home_e[lead], home_n[lead]
        start = min(int(care_days[lead]), int(min(age_m[m] for m in members) * 30.4) + 10)
        care_days[members] = start
    eth_group = np.array(_GROUPS, dtype=object)[grp_idx]
    ethnicity = np.empty(n, dtype=object)
    religion = np.empty(n, dtype=object)
    for gname in _GROUPS:
        mask = eth_group == gname
        if mask.any():
            ethnicity[mask] = _pick(rng, _ETHNIC_CODE_WEIGHTS[gname], int(mask.sum()))
            religion[mask] = _pick(rng, _RELIGION_BY_GROUP[gname], int(mask.sum()))
    languages: list[tuple[str, ...]] = []
    for i in range(n):
        if uasc[i]:
            languages.append((str(rng.choice(_UASC_LANGUAGES)),))
        elif ethnicity[i] not in ("WBRI", "WIRI") and eth_group[i] in _SECOND_LANGUAGE and rng.random() < 0.25:
            languages.append(("english", str(rng.choice(_SECOND_LANGUAGE[eth_group[i]]))))
        else:
            languages.append(("english",))
    for i in range(n):  # siblings share languages with their eldest-listed sibling
        if sibling_group[i] is not None:
            first = int(np.flatnonzero(sibling_group == sibling_group[i])[0])
            languages[i] = languages[first]
            religion[i] = religion[first]
            ethnicity[i] = ethnicity[first]

    age_band = np.searchsorted(np.array([12, 60, 120, 192]), age_m, side="right")
    complexity = rng.normal(0.0, 1.0, size=n)

    # Placement category by age band, shifted by complexity (children's homes) and UASC.
    w = CATEGORY_WEIGHTS[age_band].copy()
    w[:, CAT["childrens_home"]] *= np.exp(0.8 * complexity)
    w[uasc, CAT["fostering_kinship"]] = 0
    w[uasc, CAT["placed_with_parents"]] = 0
    w[uasc, CAT["supported_accommodation"]] *= 1.5
    category = _draw_rows(rng, w)
    for gid in {g for g in sibling_group if g is not None}:
        group = np.flatnonzero(sibling_group == gid)
        lead_cat = category[group[0]]
        if place_together[group[0]] and lead_cat in (
            CAT["fostering_in_house"],
            CAT["fostering_ifa"],
            CAT["fostering_kinship"],
            CAT["placed_with_parents"],
        ):
            category[group] = lead_cat
    category[(category == CAT["supported_accommodation"]) & (age_m < 192)] = CAT["fostering_in_house"]
    complexity[category == CAT["childrens_home"]] += 0.6

    place, provider = _place_codes(category, age_m, rng)
    legal = _pick(rng, {"C2": 0.57, "C1": 0.13, "V2": 0.22, "E1": 0.05, "J2": 0.01, "L2": 0.01, "D1": 0.01}, n)
    legal[uasc] = "V2"
    legal[np.isin(place, ["A3", "A4", "A5", "A6"])] = "E1"
    cin = _pick(rng, {"N1": 0.66, "N2": 0.03, "N3": 0.03, "N4": 0.08, "N5": 0.14, "N6": 0.02, "N7": 0.0, "N8": 0.04}, n)
    cin[uasc] = "N8"

    # Needs profile.
    need_ids = taxonomy.need_ids
    sev = np.zeros((n, len(need_ids)), dtype=np.int64)
    older = age_m >= 120
    for j, need in enumerate(need_ids):
        young_p, old_p = NEED_PREVALENCE.get(need, (0.05, 0.05))
        base = np.where(older, old_p, young_p)
        if need not in _NEEDS_UNDER_ONE:
            base = np.where(age_m < 12, 0.0, base)
        with np.errstate(divide="ignore"):
            logit = np.log(base / np.maximum(1 - base, 1e-9)) + 0.75 * complexity
        present = rng.random(n) < 1 / (1 + np.exp(-logit))
        level = 1 + rng.binomial(2, 1 / (1 + np.exp(-(0.9 * complexity - 0.3))))
        sev[:, j] = np.where(present, level, 0)
    disability = rng.random(n) < 0.12
    idx = {nid: j for j, nid in enumerate(need_ids)}
    if "physical_disability_medical" in idx:
        pd_j = idx["physical_disability_medical"]
        disability |= sev[:, pd_j] >= 2
        give = disability & (sev[:, pd_j] == 0) & (rng.random(n) < 0.5)
        sev[give, pd_j] = rng.integers(1, 4, give.sum())
    if "learning_disability" in idx:
        ld = idx["learning_disability"]
        give = disability & (sev[:, ld] == 0) & (rng.random(n) < 0.5)
        sev[give, ld] = rng.integers(1, 4, give.sum())
    school_age = age_m >= 48
    neuro = np.zeros(n, dtype=bool)
    for nid in ("learning_disability", "autism"):
        if nid in idx:
            neuro |= sev[:, idx[nid]] >= 1
    sen_u = rng.random(n)
    sen = np.where(
        ~school_age,
        "none",
        np.where(
            neuro,
            np.where(sen_u < 0.7, "ehcp", "sen_support"),
            np.where(sen_u < 0.20, "ehcp", np.where(sen_u < 0.48, "sen_support", "none")),
        ),
    ).astype(object)
    health: list[tuple[str, ...]] = []
    hu = rng.random((n, 3))
    for i in range(n):
        h = tuple(
            name
            for name, u, p in zip(("asthma", "epilepsy", "diabetes"), hu[i], (0.10, 0.02, 0.01), strict=True)
            if u < p
        )
        health.append(h)

    school_e = np.full(n, -1, dtype=np.int64)
    school_n = np.full(n, -1, dtype=np.int64)
    se, sn = scatter_around(0, 0, 2.5, n, rng)
    school_e[school_age] = np.clip(home_e[school_age] + se[school_age], 1, 699_999)
    school_n[school_age] = np.clip(home_n[school_age] + sn[school_age], 1, 1_299_999)
    urn_base = 100_000 + int(la.la_code[1:]) * 1000
    school_urn = np.where(school_age, (urn_base + rng.integers(0, 999, n)).astype(str), "").astype(object)

    birth_day = snapshot_day - (age_m * 30.44).astype(np.int64) - rng.integers(0, 28, n)
    care_days = np.minimum(care_days, snapshot_day - birth_day - 1)
    care_started = snapshot_day - care_days
    # Current placement: the first placement of this period of care (40%), else a later move.
    first_placement = rng.random(n) < 0.40
    since = np.minimum(care_days, rng.exponential(1.6 * 365.25, size=n).astype(np.int64) + 7)
    placement_start = np.where(first_placement, care_started, snapshot_day - since)
    placement_start = np.maximum(placement_start, care_started)
    # Supported accommodation only from the 16th birthday.
    k3 = place == codes.PLACE_SUPPORTED_ACCOMMODATION
    sixteen = birth_day + int(16 * 365.25) + 1
    placement_start = np.where(k3, np.maximum(placement_start, sixteen), placement_start)
    for gid in {g for g in sibling_group if g is not None}:
        group = np.flatnonzero(sibling_group == gid)
        if place_together[group[0]] and len(set(category[group])) == 1:
            placement_start[group] = placement_start[group].max()

    goal = np.empty(n, dtype=object)
    home_mask = category == CAT["childrens_home"]
    goal[home_mask] = _pick(
        rng,
        {"foster": 0.35, "kin": 0.05, "return_home": 0.10, "stay_residential": 0.38, "independence": 0.12},
        int(home_mask.sum()),
    )
    rest = ~home_mask
    goal[rest] = _pick(
        rng, {"foster": 0.55, "kin": 0.15, "return_home": 0.15, "adoption": 0.05, "independence": 0.10}, int(rest.sum())
    )
    goal[category == CAT["fostering_kinship"]] = "kin"
    goal[np.isin(place, ["A3", "A4", "A5", "A6"])] = "adoption"

    return ChildArrays(
        child_id=np.array([f"{la.la_code}-C{i + 1:05d}" for i in range(n)], dtype=object),
        birth_day=birth_day,
        age_months=age_m,
        sex=sex,
        ethnicity=ethnicity,
        eth_group=eth_group,
        religion=religion,
        languages=languages,
        uasc=uasc,
        disability=disability,
        sen=sen,
        health=health,
        legal_status=legal,
        cin=cin,
        care_started=care_started,
        category=category,
        place=place,
        provider=provider,
        placement_start=placement_start,
        home_e=home_e,
        home_n=home_n,
        school_urn=school_urn,
        school_e=school_e,
        school_n=school_n,
        sibling_group=sibling_group,
        place_together=place_together,
        care_plan_goal=goal,
        complexity=complexity,
        severity=sev,
    )


def _place_codes(category: np.ndarray, age_m: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = len(category)
    place = np.empty(n, dtype=object)
    provider = np.empty(n, dtype=object)
    u = rng.random(n)
    v = rng.random(n)
    for i in range(n):
        c = category[i]
        if c == CAT["fostering_in_house"]:
            place[i] = "U5" if (age_m[i] < 24 and u[i] < 0.08) else ("U4" if u[i] < 0.45 else "U6")
            provider[i] = "PR1" if v[i] < 0.92 else "PR2"
        elif c == CAT["fostering_ifa"]:
            place[i] = "U4" if u[i] < 0.45 else "U6"
            provider[i] = "PR4" if v[i] < 0.85 else "PR5"
        elif c == CAT["fostering_kinship"]:
            place[i] = "U1" if u[i] < 0.5 else ("U2" if (u[i] < 0.53 and age_m[i] < 24) else "U3")
            provider[i] = "PR1"
        elif c == CAT["childrens_home"]:
            place[i] = "K2"
            provider[i] = "PR4" if v[i] < 0.75 else ("PR1" if v[i] < 0.95 else "PR5")
        elif c == CAT["supported_accommodation"]:
            place[i] = "K3"
            provider[i] = "PR4" if v[i] < 0.7 else "PR1"
        elif c == CAT["placed_with_parents"]:
            place[i] = "P1"
            provider[i] = "PR0"
        elif age_m[i] < 72:
            place[i] = ("A3", "A4", "A5", "A6")[int(u[i] * 4)]
            provider[i] = "PR1"
        else:
            place[i] = ("R1", "S1", "K1", "Z11", "Z12", "R2")[int(u[i] * 6)]
            provider[i] = "PR4" if v[i] < 0.6 else "PR1"
    return place, provider
