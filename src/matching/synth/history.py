"""Synthetic placement history: every placement of the current period of care of each child of an
authority, simulated in date order so that records change over time.

The authority's placement starts and endings are processed chronologically (a heap keyed by day,
endings before starts on the same day, then by row or child index), so the state a placement reads
on its start day reflects only what happened before:

* the child's needs are those assessed by then (:mod:`matching.synth.needs`); an unplanned ending
  books a reassessment that often raises a behaviour-related need;
* the carers' experience is what they had before approval plus the actionable needs (severity >= 2)
  of every child whose placement with them has ended;
* after an unplanned ending the carers may add one of that child's needs or risks to their "will not
  consider" list, and may narrow their preferred ages below the child's age;
* the children living there are the foster children whose placements are open that day (earlier
  placements and current ones alike) and the birth children born by then.

At each start a setting is chosen (a foster household of the authority whose age range fits and which
has a free place, nearer ones preferred; children's homes for complex adolescents; supported
accommodation at 16+), the outcome process (:mod:`matching.synth.outcomes`) gives the true probability
of an unplanned ending within 12 months, and the outcome is drawn.  A placement lasts until it breaks
down (within 12 months), ends as planned, or the child's current placement begins; the current
placement is the child's last row and stays open (its outcome is not yet known).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from matching import codes
from matching.coverage import CoverageTables
from matching.synth.children import ChildArrays
from matching.synth.geography import distance_miles
from matching.synth.households import HouseholdProfile, Households
from matching.synth.needs import NeedsTimeline
from matching.synth.outcomes import OutcomeProcess, PlacementState

_UNPLANNED = {"CREQB": 8.0, "CREQO": 6.0, "CHILD": 3.0, "ALLEG": 1.0, "STAND": 1.0, "CLOSE": 1.0, "APPRR": 0.3}
_PLANNED = {"CARPL": 31.0, "PLACE": 24.0, "OTHER": 22.0, "LAREQ": 1.0, "CUSTOD": 0.2}
#: Distance from home of placements that are not with a household in the data (miles, gamma mean).
_OTHER_DISTANCE = {"K2": 36.0, "K3": 9.0, "P1": 1.0, "K1": 45.0, "R1": 30.0, "S1": 30.0}
#: Coverage of needs assumed for settings without household training data (staffed homes etc.).
_SETTING_COVERAGE = {"K2": 0.75, "K3": 0.5, "P1": 0.45, "other": 0.6}
_YEAR = 365.25
_FIVE_YEARS = int(5 * _YEAR)
#: After an unplanned ending: the chance the carers add one of the child's needs or risks to their
#: "will not consider" list, and (for a child of 10 or over) narrow their preferred ages below the child's.
P_ADD_EXCLUSION = 0.3
P_NARROW_AGES = 0.15
_END, _START = 0, 1  # event kinds: endings are processed before starts on the same day
#: Risks to others not implied by a need, and the age from which a child flagged with one poses it.
EXTRA_RISKS: tuple[tuple[str, float], ...] = (("fire_setting", 10.0), ("harm_to_animals", 5.0))


def _cumulative(table: dict[str, float]) -> tuple[tuple[str, ...], np.ndarray]:
    keys = tuple(table)
    return keys, np.cumsum([table[k] for k in keys])


_UNPLANNED_CUM = _cumulative(_UNPLANNED)
_PLANNED_CUM = _cumulative(_PLANNED)


def dynamics() -> dict[str, object]:
    """The parameters of the household dynamics, for ``truth/generator.json``."""
    return {
        "p_add_exclusion_after_unplanned_ending": P_ADD_EXCLUSION,
        "p_narrow_ages_after_unplanned_ending": P_NARROW_AGES,
    }


@dataclass
class History:
    """Placement rows of one local authority, in the order they started."""

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

    def ordered(self) -> np.ndarray:
        """Row order by child, then start (the order written)."""
        return np.lexsort((np.array(self.start, dtype=np.int64), np.array(self.child, dtype=np.int64)))


@dataclass
class HouseholdState:
    """The households of one authority as they change over the simulation (the snapshot at the end)."""

    east: np.ndarray
    north: np.ndarray
    age_min: np.ndarray
    age_max: np.ndarray
    places: np.ndarray
    kin: np.ndarray
    agency_type: np.ndarray
    approved: np.ndarray
    births: list[tuple[int, ...]]  # birth days of each household's birth children
    course_done: np.ndarray  # (H, courses)
    course_expires: np.ndarray  # (H, courses) float: day a course stops being current
    experience: np.ndarray  # (H, needs) bool: base experience, growing as placements end
    wont: list[list[str]]  # "will not consider", growing after unplanned endings
    pref_min: np.ndarray
    pref_max: np.ndarray
    residents: list[list[int]]  # foster children (child index) living there now
    occupied: np.ndarray  # len(residents[k]) for each household

    @classmethod
    def build(
        cls, hh: Households, prof: HouseholdProfile, births: list[tuple[int, ...]], tables: CoverageTables
    ) -> HouseholdState:
        """The state before any placement: the profile's approval, experience and preferences."""
        done = prof.course_done
        return cls(
            east=np.array(hh.east, dtype=float),
            north=np.array(hh.north, dtype=float),
            age_min=np.array(hh.age_min),
            age_max=np.array(hh.age_max),
            places=np.array(hh.places),
            kin=np.array([len(k) > 0 for k in hh.kin_for], dtype=bool),
            agency_type=np.array(hh.agency_type),
            approved=prof.approved_day.copy(),
            births=births,
            course_done=done,
            course_expires=done.astype(float) + tables.valid_days[None, :],
            experience=prof.base_experience.copy(),
            wont=[list(w) for w in prof.wont],
            pref_min=prof.pref_min.copy(),
            pref_max=prof.pref_max.copy(),
            residents=[[] for _ in range(len(hh))],
            occupied=np.zeros(len(hh), dtype=np.int64),
        )


@dataclass(frozen=True)
class RiskCodes:
    """Needs and risks as bits, so that a "will not consider" conflict is one AND."""

    bit: dict[str, int]  # code -> bit
    need_bits: tuple[int, ...]  # per need: its own code and the risks it implies (when actionable)

    @classmethod
    def build(cls, need_ids: Sequence[str], risk_of_need: Mapping[str, Sequence[str]]) -> RiskCodes:
        """Bits for every need and risk code."""
        vocab = list(dict.fromkeys([*need_ids, *codes.RISKS_TO_CHILD, *codes.RISKS_TO_OTHERS]))
        bit = {c: 1 << k for k, c in enumerate(vocab)}
        need_bits = []
        for nid in need_ids:
            b = bit[nid]
            for r in risk_of_need.get(nid, ()):
                b |= bit[r]
            need_bits.append(b)
        return cls(bit, tuple(need_bits))

    def of(self, level: np.ndarray, extra: int) -> int:
        """The bits of a needs profile in force (actionable needs and the risks they imply) and extra risks."""
        out = extra
        for j in np.flatnonzero(level >= 2):
            out |= self.need_bits[j]
        return out

    def extra(self, flags: np.ndarray, age: float) -> int:
        """Bits of the risks not implied by needs (:data:`EXTRA_RISKS`) that count at ``age``."""
        out = 0
        for (code, from_age), flag in zip(EXTRA_RISKS, flags, strict=True):
            if flag and age >= from_age:
                out |= self.bit[code]
        return out

    def names(self, bits: int) -> list[str]:
        """The codes set in ``bits``, in vocabulary order."""
        return [c for c, b in self.bit.items() if bits & b]


def simulate_history(
    la_code: str,
    children: ChildArrays,
    home_of: np.ndarray,
    hs: HouseholdState,
    tables: CoverageTables,
    needs: NeedsTimeline,
    risks: RiskCodes,
    extra_risks: np.ndarray,
    process: OutcomeProcess,
    snapshot_day: int,
    rng: np.random.Generator,
    *,
    redraw_from: int | None = None,
) -> History:
    """Simulate every placement of one authority's children in date order (``hs`` and ``needs`` change).

    ``extra_risks`` flags, per child, the risks not implied by needs (:data:`EXTRA_RISKS`).  ``redraw_from`` is a testing
    aid: from the first event on that day, every random draw comes from a fresh stream, so a test
    can check that nothing before it changed.
    """
    hist = History()
    n = len(children)
    need_ids = tables.need_ids
    agg = need_ids.index("physical_aggression") if "physical_aggression" in need_ids else -1
    course_w, exp_w = tables.course_weight, tables.experience_weight
    birth = children.birth_day
    cur_start = children.placement_start
    mainstream = np.flatnonzero(~hs.kin)
    # Weights of the mainstream households for each child (nearer preferred), computed once.
    near = (
        np.exp(
            -distance_miles(
                children.home_e[:, None], children.home_n[:, None], hs.east[mainstream], hs.north[mainstream]
            )
            / 10.0
        )
        + 1e-12
    )
    moves = np.zeros(n, dtype=np.int64)
    prev_res = np.zeros(n, dtype=bool)
    row_unplanned: list[bool] = []
    events: list[tuple[int, int, int]] = [(int(children.care_started[i]), _START, i) for i in range(n)]
    heapq.heapify(events)
    redrawn = redraw_from is None
    while events:
        day, kind, key = heapq.heappop(events)
        if not redrawn and redraw_from is not None and day >= redraw_from:
            rng = np.random.default_rng([redraw_from, 0x5EED])
            redrawn = True
        if kind == _END:
            _end(key, day, hist, row_unplanned[key], hs, needs, risks, extra_risks, snapshot_day, rng)
            continue
        i, t = key, day
        current = t >= cur_start[i]
        if current:
            place, provider, k = str(children.place[i]), str(children.provider[i]), int(home_of[i])
        else:
            place, provider, k = _previous_placement(i, t, children, hs, mainstream, near[i], rng)
        level = needs.advance(i, t, rng)
        age = (t - birth[i]) / _YEAR
        complexity = float((level * (level >= 2)).sum()) / 3.0
        aggression = agg >= 0 and level[agg] >= 2
        if k >= 0:
            hs.approved[k] = min(hs.approved[k], t - 14)
            cur = (hs.course_done[k] <= t) & (t < hs.course_expires[k])
            cov_n = np.maximum((course_w * cur).max(axis=1), (exp_w * hs.experience[k]).max(axis=1))
            total = float(level.sum())
            coverage = float((level * cov_n).sum()) / total if total > 0 else 1.0
            de, dn = float(children.home_e[i] - hs.east[k]), float(children.home_n[i] - hs.north[k])
            dist = (de * de + dn * dn) ** 0.5 / 1000 / 1.6093  # DfE miles, as geography.distance_miles
            kin = bool(hs.kin[k])
            whole = int(age)
            outside = bool(hs.pref_min[k] >= 0 and not (hs.pref_min[k] <= whole <= hs.pref_max[k]))
            others = [j for j in hs.residents[k] if j != i]
            young = any(b <= t < b + _FIVE_YEARS for b in hs.births[k]) or any(
                t - birth[j] < _FIVE_YEARS for j in others
            )
            mine = risks.of(level, risks.extra(extra_risks[i], age))
            conflict = bool(mine & _bits(risks, hs.wont[k]))
            exp_years = max(0.0, (t - hs.approved[k]) / _YEAR)
            n_others = len(others)
        else:
            coverage = _SETTING_COVERAGE.get(place, _SETTING_COVERAGE["other"])
            mean = _OTHER_DISTANCE.get(place, 20.0)
            dist = float(min(999.0, rng.gamma(2.0, mean / 2.0)))
            kin = outside = young = conflict = False
            exp_years = 5.0
            n_others = 0
        # Siblings' earlier placements are chosen one child at a time, so the record shows them
        # apart; the current placement keeps the group together when the plan says so.
        sib_sep = bool(children.sibling_group[i] is not None and (not current or not children.place_together[i]))
        state = PlacementState(
            age=age,
            previous_moves=int(moves[i]),
            previous_residential=bool(prev_res[i]),
            coverage=coverage,
            complexity=complexity,
            distance_miles=dist,
            sibling_separated=sib_sep,
            kinship=kin,
            outside_preferred_age=outside,
            preference_conflict=conflict,
            aggression=bool(aggression),
            young_child=young,
            other_foster_children=n_others,
            experience_years=exp_years,
            household=k,
            child=i,
        )
        latent = process.latent(state, rng)
        p = 1.0 / (1.0 + math.exp(-process.logit(state, latent)))
        breaks = bool(rng.random() < p)
        row = len(hist.child)
        hist.child.append(i)
        hist.household.append(k)
        hist.place.append(place)
        hist.provider.append(provider)
        hist.start.append(t)
        hist.distance.append(round(dist, 1))
        hist.p_true.append(p)
        hist.logit_latent.append(latent)
        if k >= 0:
            hs.residents[k].append(i)
            hs.occupied[k] += 1
        if current:
            hist.end.append(-1)
            hist.reason.append("")
            hist.unplanned_12m.append(-1)
            row_unplanned.append(False)
            continue
        length = int(rng.integers(14, 364)) if breaks else int(rng.exponential(420.0)) + 30
        end = min(t + length, int(cur_start[i]))
        if end <= t:
            end = t + 1
        hist.end.append(end)
        hist.reason.append(_reason(breaks, rng))
        hist.unplanned_12m.append(int(breaks))
        row_unplanned.append(breaks)
        moves[i] += 1
        prev_res[i] = prev_res[i] or place == codes.PLACE_CHILDRENS_HOME
        heapq.heappush(events, (end, _END, row))
        heapq.heappush(events, (end, _START, i))
    order = hist.ordered()
    ids = np.empty(len(order), dtype=object)
    ids[order] = [f"{la_code}-P{r + 1:06d}" for r in range(len(order))]
    hist.placement_id = list(ids)
    return hist


def _bits(risks: RiskCodes, items: list[str]) -> int:
    out = 0
    for c in items:
        out |= risks.bit.get(c, 0)
    return out


def _end(
    row: int,
    day: int,
    hist: History,
    unplanned: bool,
    hs: HouseholdState,
    needs: NeedsTimeline,
    risks: RiskCodes,
    extra_risks: np.ndarray,
    snapshot_day: int,
    rng: np.random.Generator,
) -> None:
    """A placement ends: the household gains experience (and may change its preferences); a breakdown
    books the child's reassessment."""
    i, k = hist.child[row], hist.household[row]
    if k >= 0:
        hs.residents[k].remove(i)
        hs.occupied[k] -= 1
        level = needs.advance(i, day, rng)
        hs.experience[k] |= level >= 2
        if unplanned and not hs.kin[k]:
            age = (day - int(needs.birth_day[i])) / _YEAR
            if rng.random() < P_ADD_EXCLUSION:
                mine = risks.of(level, risks.extra(extra_risks[i], age))
                new = [c for c in risks.names(mine) if c not in hs.wont[k]]
                if new:
                    hs.wont[k].append(new[int(rng.integers(len(new)))])
            if age >= 10 and rng.random() < P_NARROW_AGES:
                lo = int(hs.pref_min[k]) if hs.pref_min[k] >= 0 else int(hs.age_min[k])
                hi = int(hs.pref_max[k]) if hs.pref_max[k] >= 0 else int(hs.age_max[k])
                hi = min(hi, int(age) - 1)
                if lo <= hi:
                    hs.pref_min[k], hs.pref_max[k] = lo, hi
    if unplanned:
        needs.reassess_after(i, day, snapshot_day, rng)


def _previous_placement(
    i: int,
    t: int,
    children: ChildArrays,
    hs: HouseholdState,
    mainstream: np.ndarray,
    near: np.ndarray,
    rng: np.random.Generator,
) -> tuple[str, str, int]:
    age = (t - children.birth_day[i]) / _YEAR
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
    if len(mainstream) == 0:
        return "K2", "PR4", -1
    fits = (hs.age_min[mainstream] <= age) & (hs.age_max[mainstream] >= age)
    if not fits.any():
        fits = np.ones(len(mainstream), dtype=bool)
    free = fits & (hs.occupied[mainstream] < hs.places[mainstream])
    ok = free if free.any() else fits
    w = np.where(ok, near, 0.0)
    cum = np.cumsum(w)
    pick = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(cum) - 1)
    k = int(mainstream[pick])
    place = "U4" if rng.random() < 0.3 else "U6"
    return place, ("PR4" if hs.agency_type[k] == "ifa" else "PR1"), k


def _reason(unplanned: bool, rng: np.random.Generator) -> str:
    keys, cum = _UNPLANNED_CUM if unplanned else _PLANNED_CUM
    return keys[min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(keys) - 1)]
