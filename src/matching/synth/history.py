"""Synthetic placement history: every placement of each child's current period of care.

For each child the history runs forward from the day care started: a placement is chosen,
its true probability of an unplanned ending within 12 months is computed by
:mod:`matching.synth.outcomes`, the outcome is drawn from it, and the placement lasts until
it breaks down (within 12 months), ends as planned, or the current placement begins.  The
current placement is the last row and stays open; its outcome is not yet known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matching import codes
from matching.coverage import CoverageTables
from matching.synth.children import ChildArrays
from matching.synth.geography import distance_miles
from matching.synth.households import HouseholdProfile, Households
from matching.synth.outcomes import OutcomeCoefficients, sigmoid, unplanned_logit

_UNPLANNED = {"CREQB": 8.0, "CREQO": 6.0, "CHILD": 3.0, "ALLEG": 1.0, "STAND": 1.0, "CLOSE": 1.0, "APPRR": 0.3}
_PLANNED = {"CARPL": 31.0, "PLACE": 24.0, "OTHER": 22.0, "LAREQ": 1.0, "CUSTOD": 0.2}
#: Distance from home of placements that are not with a household in the data (miles, gamma mean).
_OTHER_DISTANCE = {"K2": 36.0, "K3": 9.0, "P1": 1.0, "K1": 45.0, "R1": 30.0, "S1": 30.0}
#: Coverage of needs assumed for settings without household training data (staffed homes etc.).
_SETTING_COVERAGE = {"K2": 0.75, "K3": 0.5, "P1": 0.45, "other": 0.6}
_FIVE_YEARS = int(5 * 365.25)


@dataclass
class History:
    """Placement rows of one local authority, in generation order."""

    placement_id: list[str] = field(default_factory=list)
    child: list[int] = field(default_factory=list)
    household: list[int] = field(default_factory=list)
    place: list[str] = field(default_factory=list)
    provider: list[str] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)  # -1: open
    reason: list[str] = field(default_factory=list)
    distance: list[float] = field(default_factory=list)
    p_true: list[float] = field(default_factory=list)
    logit_latent: list[float] = field(default_factory=list)
    unplanned_12m: list[int] = field(default_factory=list)  # 1/0, -1 unknown (open placement)


@dataclass(frozen=True)
class HouseholdArrays:
    """Numpy views of the household columns the history needs."""

    east: np.ndarray
    north: np.ndarray
    age_min: np.ndarray
    age_max: np.ndarray
    kin: np.ndarray
    agency_type: np.ndarray
    approved: np.ndarray
    pref_min: np.ndarray
    pref_max: np.ndarray
    births: list[tuple[int, ...]]  # birth days of each household's birth children
    wont: list[frozenset[str]]

    @classmethod
    def build(cls, hh: Households, prof: HouseholdProfile, births: list[tuple[int, ...]]) -> HouseholdArrays:
        """Collect the arrays from the household store and profile."""
        return cls(
            np.array(hh.east),
            np.array(hh.north),
            np.array(hh.age_min),
            np.array(hh.age_max),
            np.array([len(k) > 0 for k in hh.kin_for]),
            np.array(hh.agency_type),
            prof.approved_day.copy(),
            prof.pref_min,
            prof.pref_max,
            births,
            [frozenset(w) for w in prof.wont],
        )


def simulate_history(
    la_code: str,
    children: ChildArrays,
    home_of: np.ndarray,
    hh: HouseholdArrays,
    prof: HouseholdProfile,
    tables: CoverageTables,
    need_risk_codes: list[frozenset[str]],
    coef: OutcomeCoefficients,
    rng: np.random.Generator,
) -> History:
    """Simulate the placements of every child of one local authority."""
    hist = History()
    n = len(children)
    mainstream = np.flatnonzero(~hh.kin)
    need_ids = tables.need_ids
    idx = {nid: j for j, nid in enumerate(need_ids)}
    aggression = (
        children.severity[:, idx["physical_aggression"]] >= 2 if "physical_aggression" in idx else np.zeros(n, bool)
    )
    valid = tables.valid_days
    birth = children.birth_day
    for i in range(n):
        t = int(children.care_started[i])
        moves = 0
        prev_res = False
        sev = children.severity[i]
        complexity = float((sev * (sev >= 2)).sum()) / 3.0
        cur_start = int(children.placement_start[i])
        while True:
            current = t >= cur_start
            if current:
                place, provider = str(children.place[i]), str(children.provider[i])
                k = int(home_of[i])
            else:
                place, provider, k = _previous_placement(i, t, children, hh, mainstream, rng)
            age = (t - birth[i]) / 365.25
            if k >= 0:
                hh.approved[k] = min(hh.approved[k], t - 14)
                done = prof.course_done[k]
                cur = (done <= t) & (t < done + valid)
                cov_n = tables.need_coverage(cur, prof.base_experience[k])
                coverage = float(tables.weighted_coverage(sev, cov_n))
                dist = float(distance_miles(children.home_e[i], children.home_n[i], hh.east[k], hh.north[k]))
                kin = bool(hh.kin[k])
                outside = hh.pref_min[k] >= 0 and not (hh.pref_min[k] <= int(age) <= hh.pref_max[k])
                young = bool(aggression[i]) and any(b <= t < b + _FIVE_YEARS for b in hh.births[k])
                conflict = bool(need_risk_codes[i] & hh.wont[k])
                exp_years = max(0.0, (t - hh.approved[k]) / 365.25)
            else:
                coverage = _SETTING_COVERAGE.get(place, _SETTING_COVERAGE["other"])
                mean = _OTHER_DISTANCE.get(place, 20.0)
                dist = float(min(999.0, rng.gamma(2.0, mean / 2.0)))
                kin = outside = young = conflict = False
                exp_years = 5.0
            # Siblings' earlier placements are simulated one child at a time, so the record shows
            # them apart; the current placement keeps the group together when the plan says so.
            sib_sep = bool(children.sibling_group[i] is not None and (not current or not children.place_together[i]))
            latent = float(rng.normal(0.0, coef.latent_sd))
            logit = unplanned_logit(
                age_at_start=np.array(age),
                previous_moves=np.array(moves),
                coverage=np.array(coverage),
                complexity=np.array(complexity),
                distance_miles=np.array(dist),
                sibling_separated=np.array(sib_sep),
                kinship=np.array(kin),
                outside_preferred_age=np.array(outside),
                aggression_with_young=np.array(young),
                preference_conflict=np.array(conflict),
                experience_years=np.array(exp_years),
                previous_residential=np.array(prev_res),
                latent=np.array(latent),
                coef=coef,
            )
            p = float(sigmoid(logit))
            breaks = bool(rng.random() < p)
            hist.placement_id.append(f"{la_code}-P{len(hist.placement_id) + 1:06d}")
            hist.child.append(i)
            hist.household.append(k)
            hist.place.append(place)
            hist.provider.append(provider)
            hist.start.append(t)
            hist.distance.append(round(dist, 1))
            hist.p_true.append(p)
            hist.logit_latent.append(latent)
            if current:
                hist.end.append(-1)
                hist.reason.append("")
                hist.unplanned_12m.append(-1)
                break
            length = int(rng.integers(14, 364)) if breaks else int(rng.exponential(420.0)) + 30
            end = min(t + length, cur_start)
            if end <= t:
                end = t + 1
            hist.end.append(end)
            hist.reason.append(_reason(breaks, rng))
            hist.unplanned_12m.append(int(breaks))
            moves += 1
            prev_res = prev_res or place == codes.PLACE_CHILDRENS_HOME
            t = end
            t = min(cur_start, t)
    return hist


def _previous_placement(
    i: int, t: int, children: ChildArrays, hh: HouseholdArrays, mainstream: np.ndarray, rng: np.random.Generator
) -> tuple[str, str, int]:
    age = (t - children.birth_day[i]) / 365.25
    u = rng.random()
    teen = age >= 11
    complex_ = children.complexity[i] > 0.8
    p_home = (0.25 if complex_ else 0.08) if teen else 0.01
    if age >= 16 and u < 0.15:
        return "K3", "PR4", -1
    if u < p_home:
        return "K2", "PR4", -1
    if u < p_home + 0.04:
        return ("P1", "PR0", -1) if age < 12 else ("R1", "PR4", -1)
    ok = mainstream[(hh.age_min[mainstream] <= age) & (hh.age_max[mainstream] >= age)]
    if len(ok) == 0:
        ok = mainstream
    if len(ok) == 0:
        return "K2", "PR4", -1
    d = distance_miles(children.home_e[i], children.home_n[i], hh.east[ok], hh.north[ok])
    w = np.exp(-d / 10.0) + 1e-12
    k = int(ok[rng.choice(len(ok), p=w / w.sum())])
    ifa = hh.agency_type[k] == "ifa"
    place = "U4" if rng.random() < 0.3 else "U6"
    return place, ("PR4" if ifa else "PR1"), k


def _reason(unplanned: bool, rng: np.random.Generator) -> str:
    table = _UNPLANNED if unplanned else _PLANNED
    keys = list(table)
    p = np.array([table[k] for k in keys])
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]
