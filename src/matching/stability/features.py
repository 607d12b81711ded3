"""The features of a (child, household) pair on the day a placement starts ("as at" that date).

One definition, two ways in:

* :func:`history_features` rebuilds, for every past placement with a household in the store,
  what the record showed **on the day it started**, so the model learns only from what was
  knowable at the time;
* :func:`candidate_features` computes the same columns for a child needing a placement and
  the households of a :class:`~matching.ranking.pool.HouseholdPool` on the date asked.

Both read dated records through :class:`Records` (needs by assessment date, risks by referral
date), fill a :class:`PairState` and pass it to :func:`feature_frame`, so training and scoring
cannot drift apart.  Protected characteristics (sex, ethnicity, disability, UASC) are **not**
features; they are carried beside the features only to report results by group.

Point in time (issue 15).  For a past placement starting on day *D*:

* the child's needs come from the assessments dated on or before *D*; a rating dated after *D*
  (or undated) is ignored, and when no assessment is dated on or before *D* the whole profile,
  its complexity, coverage and uncovered severity are unknown (NaN) rather than read from now;
* the risks come from the referrals dated on or before *D*;
* the carers' experience is the actionable needs (as assessed by *D*) of the store's children
  whose placement with them had ended by *D* -- never the ``experience_needs`` recorded now;
* the children living there are the store's children placed there on *D* and the birth
  children born by *D* -- never the foster children living there now;
* training current on *D*, the track record (endings before *D*), SDQ, age, moves and time in
  care were already dated.

Fields the store holds only as they are now, with no history -- the legal status, the school
(its distance), the carers' "will not consider" list and preferred ages, the number of carers,
the connected-person approvals, and the child's home when the placement does not record its
distance -- are **left out of training**: their columns are unknown (NaN, or -1 for the legal
status) in every history row, so a model trained on them cannot use them.  The column *names*
are kept so the model's inputs stay the same, and live scoring still fills them, because for a
new placement "now" is its start date.  ``preference_conflicts`` needs the "will not consider"
list, so it is unknown in training too.

Live scoring (:func:`candidate_features`) reads the record as it is on the request's date: the
referral's needs, risks from referrals dated by then (:meth:`Records.risks_on`), training current
then, and the household arrays of the pool.  One difference remains: live scoring still reads the
carers' experience from the ``experience_needs`` on file (the record on the day of a new
placement), where training derives it from the placement history; deriving it the same way when
scoring needs every past placement of the pool's households and is left for later.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from matching import codes
from matching.domain import Child, PlacementEpisode
from matching.eligibility.request import MatchRequest
from matching.ranking.pool import HouseholdPool

#: Legal statuses in a fixed order (the integer code is the position; unknown is -1).
LEGAL_STATUSES: tuple[str, ...] = tuple(sorted(codes.LEGAL_STATUS))
_RESIDENTIAL = frozenset({codes.PLACE_CHILDRENS_HOME})
_YEAR = 365.25

CHILD_FEATURES: tuple[str, ...] = (
    "age",
    "previous_moves",
    "years_in_care",
    "previous_residential",
    "complexity",
    "actionable_needs",
    "sdq",
    "legal_status",
    "sibling_group",
    "siblings_separated",
)
HOUSEHOLD_FEATURES: tuple[str, ...] = (
    "experience_years",
    "experience_needs",
    "current_courses",
    "ifa",
    "carers",
    "other_children",
    "child_under_5",
    "past_endings",
    "past_unplanned",
)
PAIR_FEATURES: tuple[str, ...] = (
    "need_coverage",
    "uncovered_severity",
    "distance_miles",
    "school_miles",
    "in_area",
    "kinship",
    "outside_preferred_age",
    "aggression_with_young_child",
    "preference_conflicts",
    "same_ethnic_group",
    "same_religion",
    "shared_language",
    "nearest_age_gap",
)
#: Columns the estimator treats as categories (integer codes).  None by default: the legal status
#: code is split by the trees as a number, which scores measurably faster than a categorical split.
CATEGORICAL: tuple[str, ...] = ()
#: Attributes results are reported by (never used as features).
GROUP_ATTRIBUTES: tuple[str, ...] = ("sex", "ethnicity_group", "age_band", "disability", "uasc")


def feature_names(need_ids: Sequence[str]) -> list[str]:
    """Every feature column, in the order the model expects."""
    return [*CHILD_FEATURES, *(f"severity_{n}" for n in need_ids), *HOUSEHOLD_FEATURES, *PAIR_FEATURES]


def age_band(age_years: np.ndarray) -> np.ndarray:
    """The DfE age bands used in reporting: under 5, 5-10, 11-15, 16 and over."""
    a = np.asarray(age_years, dtype=float)
    return np.select([a < 5, a < 11, a < 16], ["0-4", "5-10", "11-15"], "16+").astype(object)


@dataclass
class PairState:
    """What the record shows about each pair on its start date (one row per pair; arrays aligned)."""

    age: np.ndarray
    previous_moves: np.ndarray
    years_in_care: np.ndarray
    previous_residential: np.ndarray
    severity: np.ndarray  # (rows, needs)
    sdq: np.ndarray  # NaN when none recorded by then
    legal_status: np.ndarray  # integer code, -1 unknown
    sibling_group: np.ndarray
    siblings_separated: np.ndarray
    experience_years: np.ndarray
    experience: np.ndarray  # (rows, needs) bool: needs cared for before the date
    current: np.ndarray  # (rows, courses) bool: training current on the date
    ifa: np.ndarray
    carers: np.ndarray
    other_ages: np.ndarray  # (rows, k) ages of the other children living there, NaN padded
    past_endings: np.ndarray
    past_unplanned: np.ndarray
    distance_miles: np.ndarray
    school_miles: np.ndarray  # NaN when no school recorded
    in_area: np.ndarray
    kinship: np.ndarray
    outside_preferred_age: np.ndarray
    preference_conflicts: np.ndarray
    same_ethnic_group: np.ndarray
    same_religion: np.ndarray
    shared_language: np.ndarray


def feature_frame(state: PairState, pool: HouseholdPool) -> pd.DataFrame:
    """The model's feature columns from a pair state (the one place features are computed)."""
    t = pool.tables
    sev = np.asarray(state.severity, dtype=float)
    n = len(sev)
    # One child against many households: the child's needs are one row broadcast (work on that row).
    one_child = n > 0 and sev.strides[0] == 0
    child_sev = sev[:1] if one_child else sev
    # A need not known on the date is NaN: it counts as not rated; with no need known, the derived
    # columns are unknown too.
    unknown = np.isnan(child_sev)
    no_profile = unknown.all(axis=1) if unknown.any() and child_sev.shape[1] else None
    if unknown.any():
        child_sev = np.where(unknown, 0.0, child_sev)
    # Only needs someone has count towards coverage: score those columns alone.
    active = np.flatnonzero((child_sev > 0).any(axis=0))
    cov_n = t.need_coverage(state.current, state.experience, active)
    sev_a = np.broadcast_to(child_sev[:, active], (n, len(active)))
    coverage = t.weighted_coverage(sev_a, cov_n)
    uncovered = (sev_a * (1.0 - cov_n)).sum(axis=1)
    actionable = child_sev >= 2
    complexity = (child_sev * actionable).sum(axis=1) / 3.0
    n_actionable = actionable.sum(axis=1).astype(float)
    if no_profile is not None and no_profile.any():
        rows_unknown = np.broadcast_to(no_profile, (n,)) if one_child else no_profile
        coverage = np.where(rows_unknown, np.nan, coverage)
        uncovered = np.where(rows_unknown, np.nan, uncovered)
        complexity = np.where(no_profile, np.nan, complexity)
        n_actionable = np.where(no_profile, np.nan, n_actionable)
    child_sev = np.where(unknown, np.nan, child_sev) if unknown.any() else child_sev
    others = np.asarray(state.other_ages, dtype=float)
    has_others = ~np.isnan(others)
    n_others = has_others.sum(axis=1)
    youngest = np.where(has_others, others, np.inf).min(axis=1)
    gaps = np.where(has_others, np.abs(others - state.age[:, None]), np.inf).min(axis=1)
    under_5 = youngest < 5
    agg = t.need_ids.index("physical_aggression") if "physical_aggression" in t.need_ids else None
    aggressive = child_sev[:, agg] >= 2 if agg is not None else np.zeros(len(child_sev), dtype=bool)
    cols: dict[str, np.ndarray] = {
        "age": state.age,
        "previous_moves": state.previous_moves,
        "years_in_care": state.years_in_care,
        "previous_residential": state.previous_residential,
        "complexity": complexity,
        "actionable_needs": n_actionable,
        "sdq": state.sdq,
        "legal_status": state.legal_status,
        "sibling_group": state.sibling_group,
        "siblings_separated": state.siblings_separated,
    }
    for j, need in enumerate(t.need_ids):
        cols[f"severity_{need}"] = child_sev[:, j]
    cols.update(
        {
            "experience_years": state.experience_years,
            "experience_needs": np.asarray(state.experience).sum(axis=1),
            "current_courses": np.asarray(state.current).sum(axis=1),
            "ifa": state.ifa,
            "carers": state.carers,
            "other_children": n_others,
            "child_under_5": under_5,
            "past_endings": state.past_endings,
            "past_unplanned": state.past_unplanned,
            "need_coverage": coverage,
            "uncovered_severity": uncovered,
            "distance_miles": state.distance_miles,
            "school_miles": state.school_miles,
            "in_area": state.in_area,
            "kinship": state.kinship,
            "outside_preferred_age": state.outside_preferred_age,
            "aggression_with_young_child": aggressive & under_5,
            "preference_conflicts": state.preference_conflicts,
            "same_ethnic_group": state.same_ethnic_group,
            "same_religion": state.same_religion,
            "shared_language": state.shared_language,
            "nearest_age_gap": np.where(np.isfinite(gaps), gaps, np.nan),
        }
    )
    names = feature_names(t.need_ids)
    matrix = np.empty((n, len(names)), order="F")  # columns contiguous: filled fast, held by pandas as is
    for j, name in enumerate(names):
        matrix[:, j] = cols[name]
    return pd.DataFrame(matrix, columns=names, copy=False)


# --- shared pieces -----------------------------------------------------------------------


def _day(d: date) -> int:
    return d.toordinal()


def _legal_code(status: str) -> int:
    return LEGAL_STATUSES.index(status) if status in LEGAL_STATUSES else -1


def _risk_bits(pool: HouseholdPool, items: frozenset[str]) -> int:
    bits = 0
    for item in items:
        pos = pool.wont_vocab.get(item)
        if pos is not None:
            bits |= 1 << pos
    return bits


def _popcount(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.uint64)
    return np.bitwise_count(x).astype(np.int64)


def _wont_bits(pool: HouseholdPool) -> np.ndarray:
    if pool.wont_bits is not None:
        return np.asarray(pool.wont_bits, dtype=np.uint64)
    raise ValueError("the needs and risks vocabulary is too large for the stability features (more than 62)")


def _latest_sdq(child: Child, day: int) -> float:
    best = np.nan
    for s in child.sdq:  # oldest first
        if _day(s.assessed_on) <= day:
            best = float(s.score)
    return best


# --- dated records -----------------------------------------------------------------------

#: A child's rated needs: (assessment date or None when undated, need, severity), oldest first.
DatedNeeds = tuple[tuple[date | None, str, int], ...]
#: A child's risks by referral: (referral date, risks to and from the child), oldest first.
DatedRisks = tuple[tuple[date, frozenset[str]], ...]


@dataclass(frozen=True)
class Records:
    """The dated records features are read from "as at" a date (both ways in read them alike)."""

    needs: dict[str, DatedNeeds]
    risks: dict[str, DatedRisks]

    def needs_on(self, child_id: str, on: date, need_ids: Sequence[str]) -> np.ndarray:
        """Severity of each need as assessed on or before ``on``; all NaN when nothing was assessed by then.

        Ratings dated after ``on`` (or undated, so not shown to be in force) are ignored, as if not yet
        written; a need not rated by then is 0 when the child had an assessment by then.  When the store
        holds only later assessments, the profile on ``on`` is unknown (every need NaN), never today's.
        """
        pos = {n: j for j, n in enumerate(need_ids)}
        known = [(n, v) for d, n, v in self.needs.get(child_id, ()) if d is not None and d <= on]
        if not known:
            return np.full(len(need_ids), np.nan)
        out = np.zeros(len(need_ids))
        for n, v in known:  # oldest first: the latest rating of a need wins
            if n in pos:
                out[pos[n]] = v
        return out

    def risks_on(self, child_id: str, on: date) -> frozenset[str]:
        """Risks to and from the child recorded on referrals dated on or before ``on``."""
        out: frozenset[str] = frozenset()
        for d, items in self.risks.get(child_id, ()):
            if d <= on:
                out |= items
        return out


NO_RECORDS = Records({}, {})


# --- history -----------------------------------------------------------------------------


@dataclass
class HistoryRows:
    """Past placements with a household in scope: their features, outcome and reporting groups."""

    features: pd.DataFrame
    label: np.ndarray  # 1: unplanned ending within 12 months
    meta: pd.DataFrame  # placement_id, child_id, household_id, start_date and the group attributes
    experience: np.ndarray | None = None  # (rows, needs) bool: the carers' experience as at the start

    def take(self, mask: np.ndarray, label: np.ndarray | None = None) -> HistoryRows:
        """These rows only (a boolean mask), optionally with another outcome as the label."""
        return HistoryRows(
            self.features[mask].reset_index(drop=True),
            self.label[mask] if label is None else label,
            self.meta[mask].reset_index(drop=True),
            None if self.experience is None else self.experience[mask],
        )


def history_features(
    pool: HouseholdPool,
    children: Sequence[Child],
    placements: Sequence[PlacementEpisode],
    records: Records,
    *,
    as_of: date | None = None,
    open_as_lasted: bool = False,
) -> HistoryRows:
    """Features and outcomes of every past placement whose 12-month outcome is known, as at its start.

    A placement's outcome is known when it has ended.  With ``open_as_lasted``, a placement
    still open a year after it began (by ``as_of``) counts as having lasted; by default such
    placements are left out (see the model card).  Every feature is read from the records as
    they stood on the start date; fields with no history are left out (see the module notes).
    """
    tables = pool.tables
    by_id = {c.child_id: c for c in children}
    needs_memo: dict[tuple[str, date], np.ndarray] = {}

    def needs_on(child_id: str, on: date) -> np.ndarray:
        key = (child_id, on)
        if key not in needs_memo:
            needs_memo[key] = records.needs_on(child_id, on, tables.need_ids)
        return needs_memo[key]

    in_pool = [p for p in placements if p.child_id in by_id]
    # Children placed in each household, by start: experience gained, who lived there, endings.
    per_household: dict[str, list[PlacementEpisode]] = defaultdict(list)
    for p in in_pool:
        if p.household_id is not None:
            per_household[p.household_id].append(p)
    for eps in per_household.values():
        eps.sort(key=lambda e: (e.start_date, e.placement_id))
    per_child: dict[str, list[PlacementEpisode]] = defaultdict(list)
    for p in in_pool:
        per_child[p.child_id].append(p)
    siblings: dict[str, list[str]] = defaultdict(list)
    for c in children:
        if c.sibling_group_id is not None:
            siblings[c.sibling_group_id].append(c.child_id)
    as_of_day = _day(as_of) if as_of is not None else max((_day(p.start_date) for p in in_pool), default=0)

    # episode, household row, moves, label, prev_res, the place before
    rows: list[tuple[PlacementEpisode, int, int, int, bool, str]] = []
    for eps in per_child.values():
        prev_res = False
        before = ""
        for moves, p in enumerate(eps):
            k = pool.index.get(p.household_id) if p.household_id is not None else None
            known = p.end_date is not None or (open_as_lasted and as_of_day - _day(p.start_date) >= 365)
            if k is not None and known:
                rows.append((p, k, moves, int(bool(p.unplanned_within(365))), prev_res, before))
            prev_res = prev_res or p.place in _RESIDENTIAL
            before = p.place
    n = len(rows)
    n_needs, n_courses = len(tables.need_ids), len(tables.course_ids)
    st = {
        "age": np.zeros(n),
        "previous_moves": np.zeros(n),
        "years_in_care": np.zeros(n),
        "previous_residential": np.zeros(n, dtype=bool),
        "severity": np.zeros((n, n_needs)),
        "sdq": np.full(n, np.nan),  # legal status and school: no history, left out (unknown)
        "legal_status": np.full(n, -1),
        "sibling_group": np.zeros(n, dtype=bool),
        "siblings_separated": np.zeros(n, dtype=bool),
        "experience_years": np.zeros(n),
        "experience": np.zeros((n, n_needs), dtype=bool),
        "current": np.zeros((n, n_courses), dtype=bool),
        "past_endings": np.zeros(n),
        "past_unplanned": np.zeros(n),
        "distance_miles": np.zeros(n),
        "school_miles": np.full(n, np.nan),
        "kinship": np.zeros(n, dtype=bool),
    }
    other_ages: list[list[float]] = []
    hh_idx = np.zeros(n, dtype=np.int64)
    days = np.zeros(n, dtype=np.int64)
    meta: dict[str, list[object]] = {
        k: []
        for k in (
            "placement_id",
            "child_id",
            "household_id",
            "start_date",
            "previous_place",
            "unplanned_within_52w",
            *GROUP_ATTRIBUTES,
        )
    }
    labels = np.zeros(n, dtype=np.int64)
    placed_on: dict[str, list[tuple[int, int, str]]] = {
        hid: [(_day(e.start_date), _day(e.end_date) if e.end_date else 10**9, e.child_id) for e in eps]
        for hid, eps in per_household.items()
    }
    for r, (p, k, moves, label, prev_res, before) in enumerate(rows):
        c = by_id[p.child_id]
        h = pool.households[k]
        day = _day(p.start_date)
        days[r], hh_idx[r], labels[r] = day, k, label
        age = (day - _day(c.birth_month)) / _YEAR
        st["age"][r] = age
        st["previous_moves"][r] = moves
        st["years_in_care"][r] = max(0, day - _day(c.care_started)) / _YEAR
        st["previous_residential"][r] = prev_res
        sev = needs_on(c.child_id, p.start_date)
        st["severity"][r] = sev
        st["sdq"][r] = _latest_sdq(c, day)
        sibs = [s for s in siblings.get(c.sibling_group_id or "", []) if s != c.child_id]
        st["sibling_group"][r] = bool(sibs)
        together = any(sid in sibs and start <= day < end for start, end, sid in placed_on[h.household_id])
        st["siblings_separated"][r] = bool(sibs) and not together
        st["experience_years"][r] = max(0, day - _day(h.approved_on)) / _YEAR
        ended = [e for e in per_household[h.household_id] if e.end_date is not None and _day(e.end_date) <= day]
        # Experience: the needs (as assessed by then) of the children whose placement there had ended.
        for e in ended:
            st["experience"][r] |= needs_on(e.child_id, p.start_date) >= 2
        st["past_endings"][r] = len(ended)
        st["past_unplanned"][r] = sum(1 for e in ended if e.unplanned_within(365))
        # The distance recorded with the placement; the child's home now is no record of then.
        ok = p.distance_miles is not None and p.distance_miles < 999
        st["distance_miles"][r] = p.distance_miles if ok else np.nan
        # Kinship from the placement's own code (the connected-person approvals on file are today's).
        st["kinship"][r] = p.place in codes.PLACE_FOSTER_CONNECTED
        # Birth children born by then, and the store's children placed there then (not the children there now).
        ages = [
            (day - _day(m.birth_month)) / _YEAR
            for m in h.members
            if m.kind == "birth_child" and _day(m.birth_month) <= day
        ]
        ages += [
            (day - _day(by_id[sid].birth_month)) / _YEAR
            for start, end, sid in placed_on[h.household_id]
            if sid != c.child_id and start <= day < end and sid in by_id
        ]
        other_ages.append([a for a in ages if a < 18])
        meta["placement_id"].append(p.placement_id)
        meta["child_id"].append(c.child_id)
        meta["household_id"].append(h.household_id)
        meta["start_date"].append(p.start_date)
        meta["previous_place"].append(before)
        meta["unplanned_within_52w"].append(int(bool(p.unplanned_within(364))))
        meta["sex"].append(c.sex)
        meta["ethnicity_group"].append(c.ethnicity_group)
        meta["age_band"].append(str(age_band(np.array([age]))[0]))
        meta["disability"].append("yes" if c.disability else "no")
        meta["uasc"].append("yes" if c.uasc else "no")
    # Training current on the start date, from the pool's course arrays.
    for lo in range(0, n, 20000):
        sl = slice(lo, lo + 20000)
        d = days[sl][:, None, None]
        st["current"][sl] = ((pool.done[hh_idx[sl]] <= d) & (d < pool.expires[hh_idx[sl]])).any(axis=2)
    state = _finish(pool, st, hh_idx, other_ages, by_id, list(meta["child_id"]))
    return HistoryRows(feature_frame(state, pool), labels, pd.DataFrame(meta), st["experience"])


def _finish(
    pool: HouseholdPool,
    st: dict[str, np.ndarray],
    hh_idx: np.ndarray,
    other_ages: list[list[float]],
    by_id: dict[str, Child],
    child_ids: list[object],
) -> PairState:
    """Household-side and identity columns shared by the history rows, vectorised over the pool."""
    n = len(hh_idx)
    width = max([len(a) for a in other_ages] + [1])
    ages = np.full((n, width), np.nan)
    for r, a in enumerate(other_ages):
        ages[r, : len(a)] = a
    kids = [by_id[str(c)] for c in child_ids]
    # The carers' preferences, their number and "will not consider" list are on file only as they are now.
    unknown = np.full(n, np.nan)
    eth = np.array([c.ethnicity_group for c in kids], dtype=object)
    rel = np.array([c.religion for c in kids], dtype=object)
    no_rel = np.isin(rel, ["none", "not_known"])
    lang = np.array(
        [bool(set(c.first_languages) & pool.language_sets[k]) for c, k in zip(kids, hh_idx, strict=True)],
        dtype=bool,
    )
    la = np.array([c.la_code for c in kids], dtype=object)
    return PairState(
        age=st["age"],
        previous_moves=st["previous_moves"],
        years_in_care=st["years_in_care"],
        previous_residential=st["previous_residential"],
        severity=st["severity"],
        sdq=st["sdq"],
        legal_status=st["legal_status"],
        sibling_group=st["sibling_group"],
        siblings_separated=st["siblings_separated"],
        experience_years=st["experience_years"],
        experience=st["experience"],
        current=st["current"],
        ifa=np.array([pool.households[k].agency_type == "ifa" for k in hh_idx], dtype=bool),
        carers=unknown,
        other_ages=ages,
        past_endings=st["past_endings"],
        past_unplanned=st["past_unplanned"],
        distance_miles=st["distance_miles"],
        school_miles=st["school_miles"],
        in_area=pool.la[hh_idx] == la,
        kinship=st["kinship"],
        outside_preferred_age=unknown,
        preference_conflicts=unknown,
        same_ethnic_group=pool.eth_group[hh_idx] == eth,
        same_religion=no_rel | (pool.religion[hh_idx] == rel),
        shared_language=lang,
    )


# --- candidates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildHistory:
    """What a child's placement record says before a new placement: moves and residential care."""

    moves: int = 0
    residential: bool = False


def child_histories(placements: Sequence[PlacementEpisode]) -> dict[str, ChildHistory]:
    """Each child's placements so far (the current one included) and whether one was a children's home."""
    moves: dict[str, int] = defaultdict(int)
    res: dict[str, bool] = defaultdict(bool)
    for p in placements:
        moves[p.child_id] += 1
        res[p.child_id] |= p.place in _RESIDENTIAL
    return {c: ChildHistory(moves[c], res[c]) for c in moves}


def candidate_features(
    pool: HouseholdPool,
    req: MatchRequest,
    idx: np.ndarray,
    history: ChildHistory,
    risks: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """Features of the request's child with each household at pool positions ``idx`` on ``req.on``."""
    tables = pool.tables
    n = len(idx)
    c = req.child
    day = _day(req.on)
    need_pos = {nid: j for j, nid in enumerate(tables.need_ids)}
    sev = np.zeros(len(tables.need_ids))
    for need, level in req.needs.items():
        if need in need_pos:
            sev[need_pos[need]] = level
    age = (day - _day(c.birth_month)) / _YEAR
    on_month = req.on.year * 12 + req.on.month - 1
    kid_months = pool.kid_months[idx]
    valid = kid_months < on_month + 1  # born by the date (padding is far in the future)
    other = np.where(valid, (on_month - kid_months) / 12.0, np.nan)
    other = np.where(other < 18, other, np.nan)
    connected_to = sorted({k for g in req.group for k in pool.connected.get(g.child_id, ())})
    connected = np.isin(idx, connected_to)
    actionable = frozenset(nm for nm, v in req.needs.items() if v >= 2)
    bits = np.uint64(_risk_bits(pool, actionable | risks | frozenset(req.referral.risks_to_child)
                                | frozenset(req.referral.risks_to_others)))  # fmt: skip
    dist = pool.miles_from(c.home, idx) if c.home is not None else np.full(n, np.nan)
    school = pool.miles_from(c.school, idx) if c.school is not None else np.full(n, np.nan)
    whole = int(age)
    lo, hi = pool.pref_min[idx], pool.pref_max[idx]
    no_rel = c.religion in ("none", "not_known")
    lang = np.zeros(n, dtype=bool)
    for language in c.first_languages:
        lang |= pool._speaks(language)[idx]
    state = PairState(
        age=np.full(n, age),
        previous_moves=np.full(n, float(history.moves)),
        years_in_care=np.full(n, max(0, day - _day(c.care_started)) / _YEAR),
        previous_residential=np.full(n, history.residential),
        severity=np.broadcast_to(sev, (n, len(sev))),
        sdq=np.full(n, _latest_sdq(c, day)),
        legal_status=np.full(n, _legal_code(c.legal_status)),
        sibling_group=np.full(n, c.sibling_group_id is not None),
        siblings_separated=np.full(n, c.sibling_group_id is not None and req.group_size == 1),
        experience_years=np.maximum(0.0, (day - pool.approved_day[idx]) / _YEAR),
        experience=pool.experience[idx],
        current=pool.current_courses(req.on)[idx],
        ifa=pool.ifa[idx],
        carers=pool.carers[idx],
        other_ages=other,
        past_endings=pool.track_ended[idx],
        past_unplanned=pool.track_unplanned[idx],
        distance_miles=dist,
        school_miles=school,
        in_area=pool.equals("la", c.la_code, idx),
        kinship=connected,
        outside_preferred_age=pool.has_pref[idx] & ((whole < lo) | (whole > hi)),
        preference_conflicts=_popcount(bits & _wont_bits(pool)[idx]),
        same_ethnic_group=pool.equals("eth_group", c.ethnicity_group, idx),
        same_religion=np.full(n, no_rel) | pool.equals("religion", c.religion, idx),
        shared_language=lang,
    )
    return feature_frame(state, pool)
