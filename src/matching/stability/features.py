"""The features of a (child, household) pair on the day a placement starts ("as at" that date).

One way in: :func:`features_as_at` describes (child, household, date) pairs from the records as they
stood on each pair's date (:mod:`matching.stability.records`), fills a :class:`PairState` and passes it
to :func:`feature_frame`.  Two callers:

* :func:`history_features` -- every past placement with a household in the store, on its start date,
  so the model learns only from what was knowable at the time;
* :func:`candidate_features` -- a child needing a placement with the households of a
  :class:`~matching.ranking.pool.HouseholdPool`, on the request's date.

They differ only in what the placement itself says (moves before it, distance from home, connected
carers, siblings kept together: from the past placement, or from the request) and in the needs of a new
placement, which are its referral's (the record in force on the day).  Protected characteristics (sex,
ethnicity, disability, UASC) are **not** features; they are carried beside the features only to report
results by group.

Point in time (issue 15).  For a pair on day *D*:

* the child's needs come from the assessments dated on or before *D*; the latest rating of each need
  is in force (a later one supersedes it, 0 when the need had gone); a rating dated after *D* (or
  undated) is ignored, and when no assessment is dated on or before *D* the whole profile, its
  complexity, coverage and uncovered severity are unknown (NaN) rather than read from now;
* the risks come from the referrals dated on or before *D*;
* the carers' experience is the actionable needs (as assessed by *D*) of the store's children whose
  placement with them had ended by *D* -- never the ``experience_needs`` on file, for training and live
  scoring alike;
* the children living there are the household's birth children born by *D* and the store's children
  placed there on *D* (never the pair's own child);
* training current on *D*, the track record (endings before *D*), SDQ, age and time in care are dated.

Fields the store holds only as they are now, with no history -- the legal status, the school (its
distance), the carers' "will not consider" list and preferred ages, the number of carers -- are
**left out of training**: their columns are unknown (NaN, or -1 for the legal status) in every
history row, so a model trained on them cannot use them.  The column *names* are kept so the model's
inputs stay the same, and live scoring fills them (:class:`Present`), because for a new placement
"now" is its start date.  ``preference_conflicts`` needs the "will not consider" list, so it is
unknown in training too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from matching import codes
from matching.domain import Child, PlacementEpisode
from matching.eligibility.request import MatchRequest
from matching.ranking.pool import HouseholdPool
from matching.stability.records import _TABLE_FROM, NO_RECORDS, DatedNeeds, DatedRisks, Records

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


#: The DfE age bands used in reporting: each band's name and the age (years) it ends before; then 16 and over.
_AGE_BAND_ENDS: tuple[tuple[str, int], ...] = (("0-4", 5), ("5-10", 11), ("11-15", 16))
_LAST_AGE_BAND = "16+"


def age_band(age_years: np.ndarray) -> np.ndarray:
    """The DfE age bands used in reporting: under 5, 5-10, 11-15, 16 and over."""
    a = np.asarray(age_years, dtype=float)
    return np.select(
        [a < end for _, end in _AGE_BAND_ENDS], [name for name, _ in _AGE_BAND_ENDS], _LAST_AGE_BAND
    ).astype(object)


def age_band_of(age_years: float) -> str:
    """The reporting age band of one age (as :func:`age_band`, without an array for each child)."""
    return next((name for name, end in _AGE_BAND_ENDS if age_years < end), _LAST_AGE_BAND)


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


# --- the one way in: pairs as at their dates ----------------------------------------------


@dataclass
class Present:
    """Fields the store holds only as they are now: known for a placement starting now, unknown in the past."""

    legal_status: np.ndarray
    school_miles: np.ndarray
    carers: np.ndarray
    outside_preferred_age: np.ndarray
    preference_conflicts: np.ndarray


@dataclass
class Pairs:
    """(child, household, date) pairs to describe, with what each pair's own placement record says.

    The placement's own facts (moves before it, a children's home before it, the distance from home,
    whether the carers are connected to the child, whether siblings were kept together) come from the
    placement for a past pair and from the request for a new one; everything else is read from the
    records as at the pair's date by :func:`pair_state`.
    """

    child_ids: np.ndarray  # object: one per pair, or one for every pair (live scoring)
    hh_idx: np.ndarray  # pool positions
    days: np.ndarray  # the date each pair starts (ordinal): one per pair, or one for every pair
    previous_moves: np.ndarray
    previous_residential: np.ndarray
    sibling_group: np.ndarray
    siblings_separated: np.ndarray
    distance_miles: np.ndarray
    kinship: np.ndarray
    #: The needs stated for a new placement (its referral, one row broadcast); None: read as at the date.
    severity: np.ndarray | None = None
    #: Fields kept only as they are now, for a placement starting now; None: unknown (a past placement).
    present: Present | None = None


def pair_state(
    pool: HouseholdPool,
    records: Records,
    children: Mapping[str, Child],
    pairs: Pairs,
    *,
    read_on: date | None = None,
) -> PairState:
    """What the record showed about each pair on its date (the one place the dated records are read).

    ``read_on`` is for the leak probe only: it reads the child's needs, the carers' experience and the
    children living there as at that one date (as they are "now") instead of each pair's own date.
    """
    t = pool.tables
    hh = np.asarray(pairs.hh_idx, dtype=np.int64)
    n = len(hh)
    ids = np.asarray(pairs.child_ids, dtype=object)
    days = np.asarray(pairs.days, dtype=np.int64)
    # One child on one date (live scoring) comes as one id and one day for every pair: read once.
    one = len(ids) == 1 and len(days) == 1
    if not one:
        ids, days = np.broadcast_to(ids, (n,)), np.broadcast_to(days, (n,))
    read_days = days if read_on is None else np.full(len(days), _day(read_on), dtype=np.int64)
    log = records.log(pool)
    if one:
        c = children[str(ids[0])]
        kids = [c]
        day0 = int(days[0])
        age = np.full(n, (day0 - _day(c.birth_month)) / _YEAR)
        in_care = np.full(n, max(0, day0 - _day(c.care_started)) / _YEAR)
        sdq = np.full(n, _latest_sdq(c, day0))
    else:
        kids = [children[str(i)] for i in ids]
        age = np.array([(int(d) - _day(c.birth_month)) / _YEAR for c, d in zip(kids, days, strict=True)])
        in_care = np.array([max(0, int(d) - _day(c.care_started)) / _YEAR for c, d in zip(kids, days, strict=True)])
        sdq = np.array([_latest_sdq(c, int(d)) for c, d in zip(kids, days, strict=True)])
    width = len(t.need_ids)
    if pairs.severity is not None:
        severity = np.broadcast_to(np.asarray(pairs.severity, dtype=float).reshape(-1, width), (n, width))
    elif one:
        severity = np.broadcast_to(log.needs_on(str(ids[0]), int(read_days[0])), (n, width))
    elif n:
        severity = np.stack([log.needs_on(str(i), int(d)) for i, d in zip(ids, read_days, strict=True)])
    else:
        severity = np.zeros((0, width))
    if one and n >= _TABLE_FROM:  # the date's table for every household, kept for the next request
        table = log.table(int(read_days[0]))
        experience, others = table.experience[hh], table.ages_without(hh, ids, log.code_of)
        ended, unplanned = (
            (table.ended[hh], table.unplanned[hh]) if read_on is None else log.endings(hh, np.broadcast_to(days, (n,)))
        )
    else:
        ids_n, days_n, read_n = (np.broadcast_to(a, (n,)) for a in (ids, days, read_days))
        ended, unplanned = log.endings(hh, days_n)
        experience = log.experience(hh, read_n)
        others = log.children_there(hh, read_n, ids_n)
    # Training current on the date, from the pool's course arrays.
    if one or (n and bool((days == days[0]).all())):
        current = pool.current_courses(date.fromordinal(int(days[0])))[hh]
    else:
        current = np.zeros((n, len(t.course_ids)), dtype=bool)
        for lo in range(0, n, 20000):
            sl = slice(lo, lo + 20000)
            d = days[sl][:, None, None]
            current[sl] = ((pool.done[hh[sl]] <= d) & (d < pool.expires[hh[sl]])).any(axis=2)
    # Identity: compared on codes when one child, as values otherwise.
    eth = _same(pool, "eth_group", [c.ethnicity_group for c in kids], hh, one)
    rel_values = [c.religion for c in kids]
    no_rel = np.isin(np.array(rel_values, dtype=object), ["none", "not_known"])
    same_rel = (np.full(n, bool(no_rel[0])) if one else no_rel) | _same(pool, "religion", rel_values, hh, one)
    lang = np.zeros(n, dtype=bool)
    by_language: dict[str, list[int]] = {}
    for r, c in enumerate(kids):
        for language in c.first_languages:
            by_language.setdefault(language, []).append(r)
    for language, rows in by_language.items():
        if one:
            lang |= pool._speaks(language)[hh]
        else:
            lang[rows] |= pool._speaks(language)[hh[rows]]
    la = _same(pool, "la", [c.la_code for c in kids], hh, one)
    unknown = np.full(n, np.nan)
    present = pairs.present
    return PairState(
        age=age,
        previous_moves=np.asarray(pairs.previous_moves, dtype=float),
        years_in_care=in_care,
        previous_residential=np.asarray(pairs.previous_residential, dtype=bool),
        severity=severity,
        sdq=sdq,
        legal_status=present.legal_status if present is not None else np.full(n, -1),
        sibling_group=np.asarray(pairs.sibling_group, dtype=bool),
        siblings_separated=np.asarray(pairs.siblings_separated, dtype=bool),
        experience_years=np.maximum(0.0, (days - pool.approved_day[hh]) / _YEAR),
        experience=experience,
        current=current,
        ifa=pool.ifa[hh],
        carers=present.carers if present is not None else unknown,
        other_ages=others,
        past_endings=ended,
        past_unplanned=unplanned,
        distance_miles=np.asarray(pairs.distance_miles, dtype=float),
        school_miles=present.school_miles if present is not None else unknown,
        in_area=la,
        kinship=np.asarray(pairs.kinship, dtype=bool),
        outside_preferred_age=present.outside_preferred_age if present is not None else unknown,
        preference_conflicts=present.preference_conflicts if present is not None else unknown,
        same_ethnic_group=eth,
        same_religion=same_rel,
        shared_language=lang,
    )


def features_as_at(
    pool: HouseholdPool,
    records: Records,
    children: Mapping[str, Child],
    pairs: Pairs,
    *,
    read_on: date | None = None,
) -> pd.DataFrame:
    """The model's features of each pair as the record stood on its date: training and live scoring both."""
    return feature_frame(pair_state(pool, records, children, pairs, read_on=read_on), pool)


def _same(pool: HouseholdPool, column: str, values: list[str], hh: np.ndarray, one: bool) -> np.ndarray:
    """Whether each household's ``column`` equals the pair's child's value."""
    if one:
        return pool.equals(column, values[0], hh)
    return np.asarray(getattr(pool, column)[hh] == np.array(values, dtype=object), dtype=bool)


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


def history_records(
    needs: Mapping[str, DatedNeeds],
    risks: Mapping[str, DatedRisks],
    children: Sequence[Child],
    placements: Sequence[PlacementEpisode],
) -> Records:
    """The dated records of a store's children and their placements (what features are read from)."""
    return Records(needs, risks, tuple(placements), {c.child_id: c.birth_month for c in children})


def history_features(
    pool: HouseholdPool,
    children: Sequence[Child],
    placements: Sequence[PlacementEpisode],
    records: Records,
    *,
    as_of: date | None = None,
    open_as_lasted: bool = False,
    read_on: date | None = None,
) -> HistoryRows:
    """Features and outcomes of every past placement whose 12-month outcome is known, as at its start.

    A placement's outcome is known when it has ended.  With ``open_as_lasted``, a placement
    still open a year after it began (by ``as_of``) counts as having lasted; by default such
    placements are left out (see the model card).  Every feature is read from the records as
    they stood on the start date (:func:`features_as_at`); fields with no history are left out.
    ``records`` without placements gets these ``placements`` (and the children's births) added.
    ``read_on`` builds the deliberately leaky features of the leak probe (see :func:`pair_state`).
    """
    by_id = {c.child_id: c for c in children}
    if not records.placements:
        records = Records(
            records.needs, records.risks, tuple(placements), {c.child_id: c.birth_month for c in children}
        )
    in_pool = [p for p in placements if p.child_id in by_id]
    per_child: dict[str, list[PlacementEpisode]] = defaultdict(list)
    for p in sorted(in_pool, key=lambda p: (p.child_id, p.start_date, p.placement_id)):
        per_child[p.child_id].append(p)
    siblings: dict[str, set[str]] = defaultdict(set)
    for c in children:
        if c.sibling_group_id is not None:
            siblings[c.sibling_group_id].add(c.child_id)
    # Who was placed with each household when (siblings kept together or not).
    placed_with: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for p in in_pool:
        if p.household_id is not None:
            placed_with[p.household_id].append(
                (_day(p.start_date), _day(p.end_date) if p.end_date else 10**9, p.child_id)
            )
    as_of_day = _day(as_of) if as_of is not None else max((_day(p.start_date) for p in in_pool), default=0)

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
    separated = np.zeros(n, dtype=bool)
    in_group = np.zeros(n, dtype=bool)
    distance = np.full(n, np.nan)
    for r, (p, _k, _m, _l, _res, _b) in enumerate(rows):
        c = by_id[p.child_id]
        sibs = siblings.get(c.sibling_group_id or "", set()) - {c.child_id}
        day = _day(p.start_date)
        together = any(sid in sibs and start <= day < end for start, end, sid in placed_with[str(p.household_id)])
        in_group[r] = bool(sibs)
        separated[r] = bool(sibs) and not together
        # The distance recorded with the placement; the child's home now is no record of then.
        if p.distance_miles is not None and p.distance_miles < 999:
            distance[r] = p.distance_miles
    pairs = Pairs(
        child_ids=np.array([p.child_id for p, *_ in rows], dtype=object),
        hh_idx=np.array([k for _, k, *_ in rows], dtype=np.int64),
        days=np.array([_day(p.start_date) for p, *_ in rows], dtype=np.int64),
        previous_moves=np.array([m for _, _, m, *_ in rows], dtype=float),
        previous_residential=np.array([res for *_, res, _ in rows], dtype=bool),
        sibling_group=in_group,
        siblings_separated=separated,
        distance_miles=distance,
        # Kinship from the placement's own code (the connected-person approvals on file are today's).
        kinship=np.array([p.place in codes.PLACE_FOSTER_CONNECTED for p, *_ in rows], dtype=bool),
    )
    state = pair_state(pool, records, by_id, pairs, read_on=read_on)
    meta: dict[str, list[object]] = {
        "placement_id": [p.placement_id for p, *_ in rows],
        "child_id": [p.child_id for p, *_ in rows],
        "household_id": [pool.households[k].household_id for _, k, *_ in rows],
        "start_date": [p.start_date for p, *_ in rows],
        "previous_place": [b for *_, b in rows],
        "unplanned_within_52w": [int(bool(p.unplanned_within(364))) for p, *_ in rows],
        "sex": [by_id[p.child_id].sex for p, *_ in rows],
        "ethnicity_group": [by_id[p.child_id].ethnicity_group for p, *_ in rows],
        "age_band": list(age_band(state.age)),
        "disability": ["yes" if by_id[p.child_id].disability else "no" for p, *_ in rows],
        "uasc": ["yes" if by_id[p.child_id].uasc else "no" for p, *_ in rows],
    }
    labels = np.array([lab for _, _, _, lab, *_ in rows], dtype=np.int64)
    return HistoryRows(feature_frame(state, pool), labels, pd.DataFrame(meta), np.asarray(state.experience))


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
    history: ChildHistory | None = None,
    records: Records | None = None,
) -> pd.DataFrame:
    """Features of the request's child with each household at pool positions ``idx`` on ``req.on``.

    The same :func:`features_as_at` as training, on the request's date: the needs are the request's
    (its referral, the record in force for a new placement), the carers' experience and the children
    living there come from the placements in ``records``, and the fields kept only as they are now are
    known (for a placement starting now, now is its start).
    """
    tables = pool.tables
    history = history or ChildHistory()
    records = records or NO_RECORDS
    idx = np.asarray(idx, dtype=np.int64)
    n = len(idx)
    c = req.child
    need_pos = {nid: j for j, nid in enumerate(tables.need_ids)}
    sev = np.zeros(len(tables.need_ids))
    for need, level in req.needs.items():
        if need in need_pos:
            sev[need_pos[need]] = level
    age = (_day(req.on) - _day(c.birth_month)) / _YEAR
    connected_to = sorted({k for g in req.group for k in pool.connected.get(g.child_id, ())})
    actionable = frozenset(nm for nm, v in req.needs.items() if v >= 2)
    risks = records.risks_on(c.child_id, req.on)
    bits = np.uint64(_risk_bits(pool, actionable | risks | frozenset(req.referral.risks_to_child)
                                | frozenset(req.referral.risks_to_others)))  # fmt: skip
    whole = int(age)
    lo, hi = pool.pref_min[idx], pool.pref_max[idx]
    present = Present(
        legal_status=np.full(n, _legal_code(c.legal_status)),
        school_miles=pool.miles_from(c.school, idx) if c.school is not None else np.full(n, np.nan),
        carers=pool.carers[idx],
        outside_preferred_age=pool.has_pref[idx] & ((whole < lo) | (whole > hi)),
        preference_conflicts=_popcount(bits & _wont_bits(pool)[idx]),
    )
    pairs = Pairs(
        child_ids=np.array([c.child_id], dtype=object),
        hh_idx=idx,
        days=np.array([_day(req.on)], dtype=np.int64),
        previous_moves=np.full(n, float(history.moves)),
        previous_residential=np.full(n, history.residential),
        sibling_group=np.full(n, c.sibling_group_id is not None),
        siblings_separated=np.full(n, c.sibling_group_id is not None and req.group_size == 1),
        distance_miles=pool.miles_from(c.home, idx) if c.home is not None else np.full(n, np.nan),
        kinship=np.isin(idx, connected_to),
        severity=sev,
        present=present,
    )
    return features_as_at(pool, records, {c.child_id: c}, pairs)
