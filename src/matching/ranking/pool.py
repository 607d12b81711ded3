"""The fast path: every score factor over many households at once (the rules come from eligibility).

A :class:`HouseholdPool` is the :class:`~matching.eligibility.columns.HouseholdColumns` of a scope
(which households fail which rule, built once, reused for every request) plus the columns the fit
score needs.  :meth:`HouseholdPool.scores` computes exactly what :mod:`matching.ranking.fit`
defines for one household; the property tests compare the two on generated data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Protocol

import numpy as np

from matching import codes
from matching.coverage import CoverageTables
from matching.domain import CarerHousehold
from matching.eligibility.arithmetic import miles, month_index
from matching.eligibility.columns import HouseholdColumns, RuleFailures, flags, remember
from matching.eligibility.request import MatchRequest
from matching.fit_config import FitConfig
from matching.ranking.explanation import StabilityEstimate
from matching.ranking.fit import identity_shares, locality_shares, track_record_value
from matching.taxonomy import Taxonomy

__all__ = ["HouseholdPool", "RuleFailures", "StabilityModel"]

_NEVER = np.iinfo(np.int64).max // 4
_UNKNOWN_ETHNICITY = frozenset(codes.ETHNICITY_GROUPS["Not known"])
_NO_RELIGION = frozenset({"none", "not_known"})
#: An age no child has, padding a request's ages to the batch's widest group (never the nearest to anyone's).
_FAR_AGE = 10_000


class StabilityModel(Protocol):
    """What the ranking needs of a learned stability estimate (the stability package provides one)."""

    version: str

    def p_unplanned(self, pool: HouseholdPool, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        """P(unplanned ending within 12 months) for each household at ``idx``."""
        ...

    def estimate(self, p_unplanned: float) -> StabilityEstimate:
        """The estimate shown for one pair."""
        ...


class HouseholdPool(HouseholdColumns):
    """Households as columns for fast eligibility and scoring; ordered by household id."""

    def __init__(self, households: Sequence[CarerHousehold], taxonomy: Taxonomy, cfg: FitConfig) -> None:
        super().__init__(households, taxonomy.need_ids, cfg)
        hs = self.households
        #: The learned stability estimate, when a model is loaded (see :meth:`with_stability`).
        self.stability: StabilityModel | None = None
        self._last_p: tuple[MatchRequest, np.ndarray, np.ndarray] | None = None
        #: What the ranking runs on, in words (shown with every result).
        self.model_note = "rules only (no stability model loaded)"
        self.taxonomy = taxonomy
        self.tables = CoverageTables.from_taxonomy(taxonomy)
        n = len(hs)
        self.la = np.array([h.la_code for h in hs], dtype=object)
        self.ethnicity = np.array([h.ethnicity or "" for h in hs], dtype=object)
        self.eth_group = np.array([codes.ETHNIC_TO_GROUP.get(h.ethnicity or "", "") for h in hs], dtype=object)
        self.religion = np.array([h.religion for h in hs], dtype=object)
        self.language_sets = [frozenset(h.languages) for h in hs]
        self._language_cache: dict[str, np.ndarray] = {}
        self.pref_min = np.array(
            [-1 if h.preferred_age_min is None else h.preferred_age_min for h in hs], dtype=np.int64
        )
        self.pref_max = np.array(
            [-1 if h.preferred_age_max is None else h.preferred_age_max for h in hs], dtype=np.int64
        )
        self.has_pref = (self.pref_min >= 0) & (self.pref_max >= 0)
        self.bedrooms = np.array([h.bedrooms_available for h in hs], dtype=np.float64)
        self.approved_day = np.array([h.approved_on.toordinal() for h in hs], dtype=np.int64)
        self.ifa = np.array([h.agency_type == "ifa" for h in hs], dtype=bool)
        self.carers = np.array([h.carers for h in hs], dtype=np.float64)
        self.track = np.array([track_record_value(h, cfg) for h in hs], dtype=np.float64)
        self.track_ended = np.array([h.track_record.ended for h in hs], dtype=np.float64)
        self.track_unplanned = np.array([h.track_record.unplanned_within_12_months for h in hs], dtype=np.float64)
        course_pos = {c: j for j, c in enumerate(taxonomy.course_ids)}
        per: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        for i, h in enumerate(hs):
            for t in h.training:
                j = course_pos.get(t.course)
                if j is not None:
                    exp = _NEVER if t.expires_on is None else t.expires_on.toordinal()
                    per[(i, j)].append((t.completed_on.toordinal(), exp))
        depth = max([len(v) for v in per.values()] + [1])
        self.done = np.full((n, len(course_pos), depth), _NEVER, dtype=np.int64)
        self.expires = np.full((n, len(course_pos), depth), 0, dtype=np.int64)
        for (i, j), recs in per.items():
            for r, (d, e) in enumerate(recs):
                self.done[i, j, r] = d
                self.expires[i, j, r] = e
        self.experience = flags([h.experience_needs for h in hs], taxonomy.need_ids)
        self._current_cache: dict[int, np.ndarray] = {}
        self._coded: dict[str, tuple[dict[str, int], np.ndarray]] = {}
        self._cover_cache: dict[tuple[int, str], np.ndarray | None] = {}
        self._need_pos = {nid: j for j, nid in enumerate(self.tables.need_ids)}
        #: Languages no household speaks (a request's language can be anything: kept small).
        self._nobody_speaks: set[str] = set()

    def equals(self, column: str, value: str, idx: np.ndarray) -> np.ndarray:
        """``getattr(self, column)[idx] == value`` for a text column, on integer codes (built once per column)."""
        coded = self._coded.get(column)
        if coded is None:
            values = getattr(self, column)
            index = {v: i for i, v in enumerate(sorted(set(values)))}
            coded = self._coded[column] = (index, np.array([index[v] for v in values], dtype=np.int32))
        code = coded[0].get(value, -1)
        return np.asarray(coded[1][idx] == code)

    def current_courses(self, on: date) -> np.ndarray:
        """Which courses each household holds current on ``on`` (households x courses; the last few dates cached)."""
        day = on.toordinal()
        cached = self._current_cache.get(day)
        if cached is not None:
            return cached
        current = np.asarray(((self.done <= day) & (day < self.expires)).any(axis=2))
        current.flags.writeable = False  # shared by every request of that day
        remember(self._cache_lock, self._current_cache, day, current, 4)
        return current

    def with_stability(self, scorer: StabilityModel) -> HouseholdPool:
        """Score with the learned estimate from now on, at the configuration's weight for it."""
        self.stability = scorer
        self.cfg = self.cfg.with_stability_model()
        self.model_note = f"rules and stability model {scorer.version}"
        return self

    def stability_p(self, req: MatchRequest, idx: np.ndarray) -> np.ndarray | None:
        """P(unplanned ending within 12 months) for each household at ``idx``; None with no model loaded."""
        if self.stability is None or self.cfg.weights["stability"] == 0:
            return None
        idx = np.asarray(idx)
        last = self._last_p
        if last is not None and last[0] is req:
            # The explanation asks again for households already scored for the same request.
            pos = np.searchsorted(last[1], idx)
            pos = np.minimum(pos, len(last[1]) - 1)
            if len(last[1]) and np.array_equal(last[1][pos], idx):
                return np.asarray(last[2][pos])
        p = self.stability.p_unplanned(self, req, idx)
        if len(idx) and np.all(idx[1:] >= idx[:-1]):
            self._last_p = (req, idx, p)
        return p

    def _speaks(self, language: str) -> np.ndarray:
        cached = self._language_cache.get(language)
        if cached is None:
            if language in self._nobody_speaks:
                return np.zeros(len(self.language_sets), dtype=bool)
            cached = np.array([language in s for s in self.language_sets], dtype=bool)
            if cached.any():  # kept only for a language some household speaks: a request's language can be anything
                self._language_cache[language] = cached
            elif len(self._nobody_speaks) < 1_000:
                self._nobody_speaks.add(language)
        return cached

    # --- scores ------------------------------------------------------------------------

    def score_upper_bounds(self, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        """An upper bound of each score: locality and track record exact, the other factors at their best."""
        w = self.cfg.weights
        best = w["needs"] + w["household_fit"] + w["identity"] + (w["stability"] if self.stability else 0.0)
        idx = np.asarray(idx, dtype=np.int64)
        locality = self._locality([req], np.zeros(len(idx), dtype=np.int64), idx)
        return np.asarray(best + w["locality"] * locality + w["track_record"] * self.track[idx])

    def scores(self, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        """Fit scores (0-100) of the households at positions ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        return self.pair_scores([req], np.zeros(len(idx), dtype=np.int64), idx)

    def pair_scores(self, reqs: Sequence[MatchRequest], r: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Fit scores (0-100) of many pairs at once: request ``reqs[r[p]]`` with the household at position
        ``idx[p]``, for each p (what :meth:`scores` gives for each request, without its cost per request)."""
        r = np.asarray(r, dtype=np.int64)
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            return np.zeros(0)
        w = self.cfg.weights
        total = (
            w["needs"] * self._needs(reqs, r, idx)
            + w["locality"] * self._locality(reqs, r, idx)
            + w["household_fit"] * self._household_fit(reqs, r, idx)
            + w["track_record"] * self.track[idx]
            + w["identity"] * self._identity(reqs, r, idx)
        )
        if self.stability is not None and self.cfg.weights["stability"] != 0:
            p = np.zeros(len(idx))
            for k in np.unique(r):
                mine = np.flatnonzero(r == k)
                got = self.stability_p(reqs[int(k)], idx[mine])
                assert got is not None
                p[mine] = got
            total = total + w["stability"] * (1.0 - p)
        return np.asarray(total, dtype=np.float64)

    def _needs(self, reqs: Sequence[MatchRequest], r: np.ndarray, idx: np.ndarray) -> np.ndarray:
        # Each pair sums its request's needs in name order, as for one request alone (the same sums, bit for bit).
        acc = np.zeros(len(idx))
        for day in sorted({req.on for req in reqs}):
            on_day = [k for k, req in enumerate(reqs) if req.on == day and req.needs_known]
            for need in sorted({n for k in on_day for n in reqs[k].needs}):
                cover = self.need_cover(day, need)
                if cover is None:
                    continue
                severity = np.zeros(len(reqs))
                for k in on_day:
                    severity[k] = reqs[k].needs.get(need, 0)
                pairs = np.flatnonzero(severity[r] > 0)
                acc[pairs] += severity[r[pairs]] * cover[idx[pairs]]
        known = np.array([req.needs_known for req in reqs], dtype=bool)[r]
        total = np.array([sum(req.needs.values()) for req in reqs], dtype=np.float64)[r]
        # Not known: no points (as fit.needs_value); nothing to meet: full points.
        return np.where(~known, 0.0, np.where(total == 0, 1.0, acc / np.where(total == 0, 1.0, total)))

    def need_cover(self, on: date, need: str) -> np.ndarray | None:
        """How well each household covers ``need`` on ``on`` (0-1: its best current course for it, or experience
        of it), for every household; None for a need the coverage tables do not know.  Kept per day and need:
        every child judged on the same day reads the same column (an allocation judges thousands)."""
        key = (on.toordinal(), need)
        cached = self._cover_cache.get(key)
        if cached is not None or key in self._cover_cache:
            return cached
        t = self.tables
        j = self._need_pos.get(need)
        cover = None
        if j is not None:
            cover = (self.current_courses(on) * t.course_weight[j]).max(axis=1)
            related = np.flatnonzero(t.experience_weight[j] > 0)
            if len(related):
                has = self.experience[:, related].any(axis=1)
                cover = np.maximum(cover, np.where(has, t.experience_weight[j, related[0]], 0.0))
        if cover is not None:
            cover.flags.writeable = False  # shared by every request of that day
        remember(self._cache_lock, self._cover_cache, key, cover, 4 * max(1, len(t.need_ids)))  # a few days' worth
        return cover

    def _locality(self, reqs: Sequence[MatchRequest], r: np.ndarray, idx: np.ndarray) -> np.ndarray:
        s = self.cfg.locality
        shares = np.array([locality_shares(req, self.cfg) for req in reqs], dtype=np.float64).reshape(-1, 3)[r]
        homes = [req.child.home for req in reqs]
        schools = [req.child.school for req in reqs]
        has_home = np.array([h is not None for h in homes], dtype=bool)[r]
        home_e = np.array([0 if h is None else h.easting for h in homes], dtype=np.float64)[r]
        home_n = np.array([0 if h is None else h.northing for h in homes], dtype=np.float64)[r]
        home_part = np.where(
            has_home,
            np.maximum(0.0, 1.0 - miles(self.east[idx] - home_e, self.north[idx] - home_n) / s.home_zero_miles),
            0.5,
        )
        school_part = np.zeros(len(idx))
        has_school = np.array([c is not None for c in schools], dtype=bool)[r]
        if has_school.any():
            school_e = np.array([0 if c is None else c.easting for c in schools], dtype=np.float64)[r]
            school_n = np.array([0 if c is None else c.northing for c in schools], dtype=np.float64)[r]
            d = miles(self.east[idx] - school_e, self.north[idx] - school_n)
            span = s.school_zero_miles - s.school_full_miles
            near = np.where(d <= s.school_full_miles, 1.0, np.maximum(0.0, 1.0 - (d - s.school_full_miles) / span))
            school_part = np.where(has_school, near, 0.0)
        in_area = self._same("la", [req.child.la_code for req in reqs], r, idx).astype(np.float64)
        return shares[:, 0] * home_part + shares[:, 1] * school_part + shares[:, 2] * in_area

    def _same(self, column: str, values: Sequence[str], r: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Whether text ``column`` of the household at ``idx[p]`` is ``values[r[p]]``, for each pair."""
        coded = self._coded.get(column)
        if coded is None:
            self.equals(column, "", idx[:0])
            coded = self._coded[column]
        wanted = np.array([coded[0].get(v, -1) for v in values], dtype=np.int32)
        return np.asarray(coded[1][idx] == wanted[r])

    def _identity(self, reqs: Sequence[MatchRequest], r: np.ndarray, idx: np.ndarray) -> np.ndarray:
        shares = np.array([identity_shares(req, self.cfg) for req in reqs], dtype=np.float64).reshape(-1, 3)[r]
        children = [req.child for req in reqs]
        unknown = np.array([c.ethnicity in _UNKNOWN_ETHNICITY for c in children], dtype=bool)[r]
        same = self._same("ethnicity", [c.ethnicity for c in children], r, idx)
        group = self._same("eth_group", [c.ethnicity_group for c in children], r, idx)
        eth = np.where(unknown, 1.0, np.where(same, 1.0, np.where(group, 0.7, 0.0)))
        no_religion = np.array([c.religion in _NO_RELIGION for c in children], dtype=bool)[r]
        rel = np.where(no_religion, 1.0, self._same("religion", [c.religion for c in children], r, idx) * 1.0)
        lang = np.zeros(len(idx), dtype=bool)
        for language in sorted({x for c in children for x in c.first_languages}):
            theirs = np.array([language in c.first_languages for c in children], dtype=bool)[r]
            lang |= theirs & self._speaks(language)[idx]
        return shares[:, 0] * eth + shares[:, 1] * rel + shares[:, 2] * lang

    def _household_fit(self, reqs: Sequence[MatchRequest], r: np.ndarray, idx: np.ndarray) -> np.ndarray:
        s = self.cfg.household_fit
        other_ages, valid = self.other_ages(np.array([month_index(req.on) for req in reqs], dtype=np.int64)[r], idx)
        # Each request's ages, padded with a sentinel no age is near (and that every age range holds).
        width = max(len(req.ages) for req in reqs)
        ages = np.full((len(reqs), width), _FAR_AGE, dtype=np.int64)
        for k, req in enumerate(reqs):
            ages[k, : len(req.ages)] = req.ages
        padded = ages == _FAR_AGE
        ages, padded = ages[r], padded[r]
        gaps = np.abs(other_ages[:, :, None] - ages[:, None, :]).min(axis=2)
        gaps = np.where(valid, gaps, np.iinfo(np.int64).max)
        nearest = gaps.min(axis=1)
        gap_part = np.where(valid.any(axis=1), np.minimum(1.0, nearest / s.age_gap_full_years), 1.0)
        lo, hi = self.pref_min[idx], self.pref_max[idx]
        inside = (((lo[:, None] <= ages) & (ages <= hi[:, None])) | padded).all(axis=1)
        pref = np.where(self.has_pref[idx], inside * 1.0, 1.0)
        size = np.array([req.group_size for req in reqs], dtype=np.float64)[r]
        beds = np.minimum(1.0, self.bedrooms[idx] / size)
        return s.age_gap * gap_part + s.preferred_age * pref + s.bedrooms * beds

    def tiers(self, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        """1 for connected-person carers approved for this child, else 2 (s22C ladder)."""
        positions = [set(self.connected.get(c.child_id, ())) for c in req.group]
        both = set.intersection(*positions) if positions else set()
        return np.where(np.isin(idx, list(both)), 1, 2)
