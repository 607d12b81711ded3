"""Synthetic carer households for one local authority, and the current foster children in them.

Households are made to fit the authority's fostered children: one kinship household per
connected child or sibling group, then in-house and IFA households with approved places such
that about 16% of all approved places are vacant (Ofsted 2024).  Current foster children are
placed with households whose terms of approval fit, preferring nearer homes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matching import codes
from matching.synth.children import CAT, ChildArrays
from matching.synth.geography import Agency, LocalAuthority, distance_miles, scatter_around
from matching.taxonomy import Taxonomy

VACANCY_TARGET = 0.16
_PLACES = (1, 2, 3, 4, 5)
_PLACES_P = (0.50, 0.33, 0.12, 0.04, 0.01)
_AGE_RANGES = ((0, 4), (0, 10), (0, 17), (5, 17), (8, 17), (11, 17), (2, 12))
_AGE_RANGES_P = (0.08, 0.18, 0.30, 0.14, 0.12, 0.12, 0.06)
_WONT = {
    "sexualised_behaviour": 0.18,
    "sexual_harm": 0.2,
    "fire_setting": 0.22,
    "substance_misuse": 0.1,
    "offending": 0.1,
    "criminal_exploitation": 0.07,
    "self_harm": 0.05,
    "physical_harm": 0.07,
    "going_missing": 0.04,
}
_THERAPEUTIC = {
    "secure_base",
    "pace_ddp",
    "theraplay",
    "foundations_for_attachment",
    "trauma_informed",
    "de_escalation_pbs",
    "step_down_therapeutic",
    "social_pedagogy",
}
_CARER_ETHNIC = {
    "WBRI": 0.76,
    "WOTH": 0.04,
    "WIRI": 0.02,
    "MWBC": 0.02,
    "MOTH": 0.01,
    "APKN": 0.04,
    "AIND": 0.03,
    "ABAN": 0.01,
    "BCRB": 0.03,
    "BAFR": 0.03,
    "OOTH": 0.01,
}


@dataclass
class Households:
    """Column store of the households of one local authority (dates as day numbers)."""

    ids: list[str] = field(default_factory=list)
    agency: list[str] = field(default_factory=list)
    agency_type: list[str] = field(default_factory=list)
    east: list[int] = field(default_factory=list)
    north: list[int] = field(default_factory=list)
    age_min: list[int] = field(default_factory=list)
    age_max: list[int] = field(default_factory=list)
    places: list[int] = field(default_factory=list)
    max_siblings: list[int] = field(default_factory=list)
    kin_for: list[tuple[str, ...]] = field(default_factory=list)
    used: list[int] = field(default_factory=list)

    def add(
        self,
        hid: str,
        agency: Agency,
        e: int,
        n: int,
        amin: int,
        amax: int,
        places: int,
        max_sib: int,
        kin_for: tuple[str, ...] = (),
    ) -> int:
        """Append one household and return its index."""
        self.ids.append(hid)
        self.agency.append(agency.agency_code)
        self.agency_type.append(agency.agency_type)
        self.east.append(int(e))
        self.north.append(int(n))
        self.age_min.append(int(amin))
        self.age_max.append(int(amax))
        self.places.append(int(places))
        self.max_siblings.append(int(max_sib))
        self.kin_for.append(kin_for)
        self.used.append(0)
        return len(self.ids) - 1

    def __len__(self) -> int:
        return len(self.ids)


def place_children(
    la: LocalAuthority,
    children: ChildArrays,
    in_house: Agency,
    ifas: list[Agency],
    rng: np.random.Generator,
) -> tuple[Households, np.ndarray]:
    """Create the households and return them with each child's household index (-1: none)."""
    hh = Households()
    n = len(children)
    home_of = np.full(n, -1, dtype=np.int64)
    age_y = children.age_months // 12
    cat = children.category

    def units(mask: np.ndarray) -> list[list[int]]:
        out: list[list[int]] = []
        seen: set[str] = set()
        for i in np.flatnonzero(mask):
            g = children.sibling_group[i]
            if g is not None and children.place_together[i]:
                if g in seen:
                    continue
                seen.add(g)
                members = [int(j) for j in np.flatnonzero((children.sibling_group == g) & mask)]
                out.append(members)
            else:
                out.append([int(i)])
        return out

    # Kinship: one connected-person household per child or sibling group, near the child's home;
    # a quarter of lone kin children share a household with another connected child (cousins).
    kin_units = units(cat == CAT["fostering_kinship"])
    singles = [u for u in kin_units if len(u) == 1 and rng.random() < 0.5]
    paired = {tuple(a) for a in singles}
    merged = [a + b for a, b in zip(singles[0::2], singles[1::2], strict=False)]
    kin_units = [u for u in kin_units if tuple(u) not in paired] + merged
    kin_units += list(singles[len(merged) * 2 :])
    for unit in kin_units:
        e, no = scatter_around(children.home_e[unit[0]], children.home_n[unit[0]], 6.0, 1, rng)
        ages = age_y[unit]
        k = hh.add(
            f"{la.la_code}-H{len(hh) + 1:05d}",
            in_house,
            e[0],
            no[0],
            max(0, ages.min() - 1),
            min(17, ages.max() + 2),
            len(unit),
            len(unit),
            tuple(children.child_id[unit]),
        )
        hh.used[k] = len(unit)
        home_of[unit] = k

    # Mainstream households sized so that ~16% of all approved places end up vacant.
    kin_places = sum(hh.places)
    fostered = {t: int((cat == CAT[c]).sum()) for t, c in (("la", "fostering_in_house"), ("ifa", "fostering_ifa"))}
    total_needed = (sum(fostered.values()) + kin_places) / (1 - VACANCY_TARGET)
    main_places = total_needed - kin_places
    share_la = fostered["la"] / max(1, sum(fostered.values()))
    target = {"la": main_places * share_la, "ifa": main_places * (1 - share_la)}
    for kind, goal in target.items():
        made = 0
        while made < goal - 0.5:
            places = int(rng.choice(_PLACES, p=_PLACES_P))
            agency = in_house if kind == "la" else ifas[int(rng.integers(len(ifas)))]
            radius = la.radius_miles * (1.3 if kind == "la" else 2.6)
            e, no = scatter_around(la.centre_easting, la.centre_northing, radius, 1, rng)
            amin, amax = _AGE_RANGES[int(rng.choice(len(_AGE_RANGES), p=_AGE_RANGES_P))]
            max_sib = places if (places >= 2 and rng.random() < 0.7) else 1
            hh.add(f"{la.la_code}-H{len(hh) + 1:05d}", agency, e[0], no[0], amin, amax, places, max_sib)
            made += places

    # Place the non-kin foster children: large sibling groups first, then the rest at random.
    for kind, c in (("la", "fostering_in_house"), ("ifa", "fostering_ifa")):
        todo = units(cat == CAT[c])
        order = sorted(range(len(todo)), key=lambda u: (-len(todo[u]), float(rng.random())))
        for u in order:
            unit = todo[u]
            k = _choose_household(hh, kind, unit, age_y, children, rng)
            if k < 0:
                agency = in_house if kind == "la" else ifas[int(rng.integers(len(ifas)))]
                e, no = scatter_around(la.centre_easting, la.centre_northing, la.radius_miles * 1.5, 1, rng)
                ages = age_y[unit]
                k = hh.add(
                    f"{la.la_code}-H{len(hh) + 1:05d}",
                    agency,
                    e[0],
                    no[0],
                    max(0, int(ages.min()) - 2),
                    min(17, int(ages.max()) + 3),
                    max(len(unit), 2),
                    len(unit),
                )
            hh.used[k] += len(unit)
            home_of[unit] = k
    return hh, home_of


def _choose_household(
    hh: Households, kind: str, unit: list[int], age_y: np.ndarray, children: ChildArrays, rng: np.random.Generator
) -> int:
    size = len(unit)
    ages = age_y[unit]
    places = np.array(hh.places)
    used = np.array(hh.used)
    ok = (
        (np.array(hh.agency_type) == kind)
        & (places - used >= size)
        & (np.array(hh.age_min) <= ages.min())
        & (np.array(hh.age_max) >= ages.max())
        & (np.array([len(k) == 0 for k in hh.kin_for]))
        & ((np.array(hh.max_siblings) >= size) | (size == 1))
        & ((used + size <= 3) | (size == places))
    )
    cand = np.flatnonzero(ok)
    if len(cand) == 0:
        return -1
    d = distance_miles(
        children.home_e[unit[0]], children.home_n[unit[0]], np.array(hh.east)[cand], np.array(hh.north)[cand]
    )
    w = np.exp(-d / 12.0) + 1e-12
    return int(cand[rng.choice(len(cand), p=w / w.sum())])


@dataclass
class HouseholdProfile:
    """Everything else about the households: terms, circumstances, skills, preferences."""

    approved_day: np.ndarray
    status: np.ndarray
    types: list[tuple[str, ...]]
    exemption: np.ndarray
    carers: np.ndarray
    ethnicity: np.ndarray
    religion: np.ndarray
    languages: list[tuple[str, ...]]
    pets: list[tuple[str, ...]]
    smoking: np.ndarray
    wheelchair: np.ndarray
    bedrooms: np.ndarray
    base_experience: np.ndarray  # (H, needs) bool
    wont: list[tuple[str, ...]]
    pref_min: np.ndarray
    pref_max: np.ndarray
    support: list[tuple[str, ...]]
    course_done: np.ndarray  # (H, courses) day completed, or a huge number when never
    skill: np.ndarray
    step_down: np.ndarray


NEVER = np.iinfo(np.int64).max // 4


def profile_households(
    hh: Households, snapshot_day: int, earliest_use: np.ndarray, taxonomy: Taxonomy, rng: np.random.Generator
) -> HouseholdProfile:
    """Draw the profile of each household; approval predates every placement it has had."""
    h = len(hh)
    kin = np.array([len(k) > 0 for k in hh.kin_for])
    ifa = np.array([t == "ifa" for t in hh.agency_type])
    years = np.where(kin, rng.uniform(0.2, 4.0, h), np.clip(rng.gamma(2.0, 3.5, h), 0.3, 35.0))
    approved = snapshot_day - (years * 365.25).astype(np.int64)
    approved = np.minimum(approved, earliest_use - 14)
    skill = rng.normal(0, 1, h)
    step_down = (~kin) & (rng.random(h) < np.where(ifa, 0.14, 0.06))
    skill = skill + step_down * 1.2
    amin = np.array(hh.age_min)
    types: list[tuple[str, ...]] = []
    for i in range(h):
        if kin[i]:
            types.append(("long_term",) if rng.random() < 0.7 else ("short_term", "long_term"))
            continue
        t = ["short_term", "long_term"]
        if rng.random() < 0.35:
            t.insert(0, "emergency")
        if rng.random() < 0.15:
            t.append("respite")
        if amin[i] == 0 and rng.random() < 0.05:
            t.append("parent_and_child")
        if step_down[i]:
            t.append("step_down")
        if hh.age_max[i] >= 12 and rng.random() < 0.03:
            t.append("remand")
        types.append(tuple(t))
    places = np.array(hh.places)
    exemption = (places > 3) & (np.array(hh.max_siblings) < places)
    carers = np.where(rng.random(h) < 0.27, 1, 2)
    ethnicity = np.array(list(_CARER_ETHNIC), dtype=object)[
        rng.choice(len(_CARER_ETHNIC), size=h, p=np.array(list(_CARER_ETHNIC.values())) / sum(_CARER_ETHNIC.values()))
    ]
    religion = np.where(
        np.isin(ethnicity, ["APKN", "ABAN"]),
        "muslim",
        np.where(ethnicity == "AIND", "hindu", np.where(rng.random(h) < 0.45, "christian", "none")),
    ).astype(object)
    languages: list[tuple[str, ...]] = [
        ("english", {"APKN": "urdu", "AIND": "gujarati", "ABAN": "bengali", "BAFR": "yoruba", "WOTH": "polish"}[e])
        if e in ("APKN", "AIND", "ABAN", "BAFR", "WOTH") and rng.random() < 0.6
        else ("english",)
        for e in ethnicity
    ]
    pets = []
    pu = rng.random((h, 5))
    for i in range(h):
        pets.append(
            tuple(p for p, u, q in zip(codes.PETS, pu[i], (0.30, 0.25, 0.10, 0.03, 0.02), strict=True) if u < q)
        )
    smoking = rng.random(h) < 0.08
    wheelchair = rng.random(h) < 0.05
    bedrooms = places + (rng.random(h) < 0.15)
    need_ids = taxonomy.need_ids
    exp_p = 1 / (1 + np.exp(-(-2.6 + 0.45 * np.sqrt(years)[:, None] + 0.4 * skill[:, None])))
    base_exp = (rng.random((h, len(need_ids))) < exp_p) & ~kin[:, None]
    wont = []
    wu = rng.random((h, len(_WONT)))
    for i in range(h):
        wont.append(
            ()
            if kin[i]
            else tuple(k for k, u in zip(_WONT, wu[i], strict=True) if u < _WONT[k] * (1.3 - 0.3 * step_down[i]))
        )
    pref = (rng.random(h) < 0.35) & ~kin
    span = np.array(hh.age_max) - amin
    pmin = np.where(pref, amin + (rng.random(h) * span * 0.3).astype(int), -1)
    pmax = np.where(pref, np.array(hh.age_max) - (rng.random(h) * span * 0.3).astype(int), -1)
    support = []
    for i in range(h):
        s = ["supervising_social_worker"]
        if rng.random() < (0.9 if ifa[i] else 0.7):
            s.append("out_of_hours")
        if step_down[i] or rng.random() < (0.55 if ifa[i] else 0.2):
            s.append("therapeutic_support")
        if rng.random() < 0.3:
            s.append("respite")
        if step_down[i]:
            s.append("enhanced_allowance")
        support.append(tuple(s))

    course_ids = taxonomy.course_ids
    done = np.full((h, len(course_ids)), NEVER, dtype=np.int64)
    since = snapshot_day - approved
    for j, course in enumerate(course_ids):
        if course == "tsd_standards":
            window = np.where(kin, 548, 365)
            p = np.where(kin, 0.8, 0.95) * np.minimum(1.0, since / window + 0.3)
            has = rng.random(h) < p
            when = approved + (rng.random(h) * np.minimum(window, since)).astype(np.int64)
        elif course == "skills_to_foster":
            has = (~kin) & (rng.random(h) < 0.9)
            when = approved - rng.integers(30, 200, h)
        else:
            bump = 1.6 * step_down if course in _THERAPEUTIC else 0.0
            if course == "step_down_therapeutic":
                bump = np.where(step_down, 3.5, -2.5)
            logit = -1.9 + 0.75 * skill + 0.3 * np.log1p(years) + bump - 1.2 * kin
            has = rng.random(h) < 1 / (1 + np.exp(-logit))
            when = approved + (rng.random(h) * np.maximum(since, 1)).astype(np.int64)
        done[has, j] = np.minimum(when[has], snapshot_day - 1)
    return HouseholdProfile(
        approved_day=approved,
        status=np.where(rng.random(h) < 0.03, "on_hold", "active").astype(object),
        types=types,
        exemption=exemption,
        carers=carers,
        ethnicity=ethnicity,
        religion=religion,
        languages=languages,
        pets=pets,
        smoking=smoking,
        wheelchair=wheelchair,
        bedrooms=bedrooms,
        base_experience=base_exp,
        wont=wont,
        pref_min=pmin,
        pref_max=pmax,
        support=support,
        course_done=done,
        skill=skill,
        step_down=step_down,
    )
