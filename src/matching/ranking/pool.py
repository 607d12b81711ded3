"""The fast path: every rule and every score factor over many households at once.

A :class:`HouseholdPool` holds the households of a scope as columns (built once, reused for every
request).  :meth:`HouseholdPool.failures` computes, for one request, which households fail which
rule; :meth:`HouseholdPool.scores` the fit score of chosen households.  Both compute exactly what
:mod:`matching.ranking.rules` and :mod:`matching.ranking.fit` define for one household; the
property tests compare the two on generated data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from matching import codes
from matching.coverage import CoverageTables
from matching.domain import CarerHousehold, Location
from matching.domain.referral import ACTIONABLE
from matching.fit_config import FitConfig
from matching.ranking.fit import identity_shares, locality_shares, track_record_value
from matching.ranking.request import MatchRequest, month_index
from matching.ranking.rules import RULE_CODES, emergency_outside_terms
from matching.taxonomy import Taxonomy

if TYPE_CHECKING:
    from matching.stability.scorer import StabilityScorer

_PAD_MONTH = np.iinfo(np.int64).max // 4
_NEVER = np.iinfo(np.int64).max // 4
_UNKNOWN_ETHNICITY = frozenset(codes.ETHNICITY_GROUPS["Not known"])
_NO_RELIGION = frozenset({"none", "not_known"})
_RULE = {code: i for i, code in enumerate(RULE_CODES)}


@dataclass
class RuleFailures:
    """Which households fail which rule for one request (rows: RULE_CODES; columns: households)."""

    failed: np.ndarray  # (rules, households) bool
    outside_terms: np.ndarray  # (rules, households) bool: passed only as an emergency outside terms

    @cached_property
    def failures_per_household(self) -> np.ndarray:
        """How many rules each household fails."""
        return np.add.reduce(self.failed.view(np.uint8), axis=0, dtype=np.uint8)

    @property
    def eligible(self) -> np.ndarray:
        """Households that pass every rule."""
        return np.asarray(self.failures_per_household == 0, dtype=bool)

    def counts(self) -> np.ndarray:
        """How many households fail each rule."""
        return np.add.reduce(self.failed.view(np.uint8), axis=1, dtype=np.int64)


class HouseholdPool:
    """Households as columns for fast eligibility and scoring; ordered by household id."""

    def __init__(self, households: Sequence[CarerHousehold], taxonomy: Taxonomy, cfg: FitConfig) -> None:
        hs = sorted(households, key=lambda h: h.household_id)
        #: The learned stability estimate, when a model is loaded (see :meth:`with_stability`).
        self.stability: StabilityScorer | None = None
        self._last_p: tuple[MatchRequest, np.ndarray, np.ndarray] | None = None
        #: What the ranking runs on, in words (shown with every result).
        self.model_note = "rules only (no stability model loaded)"
        self.households: list[CarerHousehold] = hs
        self.taxonomy = taxonomy
        self.cfg = cfg
        self.tables = CoverageTables.from_taxonomy(taxonomy)
        n = len(hs)
        self.ids = np.array([h.household_id for h in hs], dtype=object)
        self.index = {h.household_id: i for i, h in enumerate(hs)}
        self.active = np.array([h.status == "active" for h in hs], dtype=bool)
        self.kinship = np.array([h.is_kinship for h in hs], dtype=bool)
        self.connected: dict[str, list[int]] = defaultdict(list)
        for i, h in enumerate(hs):
            for cid in h.terms.connected_child_ids:
                self.connected[cid].append(i)
        self.age_min = np.array([h.terms.age_min for h in hs], dtype=np.int64)
        self.age_max = np.array([h.terms.age_max for h in hs], dtype=np.int64)
        self.places = np.array([h.terms.places for h in hs], dtype=np.int64)
        self.max_sib = np.array([h.terms.max_sibling_group for h in hs], dtype=np.int64)
        self.exemption = np.array([h.terms.usual_limit_exemption for h in hs], dtype=bool)
        self.fostered = np.array([h.foster_children_count for h in hs], dtype=np.int64)
        self.types = self._flags([h.terms.placement_types for h in hs], codes.PLACEMENT_TYPES)
        vocab = (*taxonomy.need_ids, *codes.RISKS_TO_CHILD, *codes.RISKS_TO_OTHERS)
        self.wont_vocab = {v: i for i, v in enumerate(vocab)}
        self.wont = self._flags([h.will_not_consider for h in hs], vocab)
        # The same as bits of one integer per household when the vocabulary fits (it does by default).
        self.wont_bits = (
            (self.wont.astype(np.int64) << np.arange(len(vocab), dtype=np.int64)).sum(axis=1)
            if len(vocab) <= 62
            else None
        )
        self.pets = self._flags([h.pets for h in hs], codes.PETS)
        self.has_pets = self.pets.any(axis=1)
        self.smoking = np.array([h.smoking for h in hs], dtype=bool)
        self.wheelchair = np.array([h.wheelchair_accessible for h in hs], dtype=bool)
        self.dolo_support = np.array(
            [{"therapeutic_support", "out_of_hours"} <= set(h.support_package) for h in hs], dtype=bool
        )
        self.east = np.array([h.location.easting for h in hs], dtype=np.float64)
        self.north = np.array([h.location.northing for h in hs], dtype=np.float64)
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
        kids = [
            [month_index(m.birth_month) for m in (*h.foster_children, *h.members) if m.kind != "other_adult"]
            for h in hs
        ]
        width = max([len(k) for k in kids] + [1])
        self.kid_months = np.full((n, width), _PAD_MONTH, dtype=np.int64)
        for i, k in enumerate(kids):
            self.kid_months[i, : len(k)] = k
        self.with_children = np.flatnonzero(np.array([len(k) > 0 for k in kids], dtype=bool))
        #: Birth month of the youngest child living there (a month long past when there is none).
        self.youngest_month = np.array([max(k) if k else -_PAD_MONTH for k in kids], dtype=np.int64)
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
        self.experience = self._flags([h.experience_needs for h in hs], taxonomy.need_ids)
        self._current_cache: dict[int, np.ndarray] = {}
        self._coded: dict[str, tuple[dict[str, int], np.ndarray]] = {}

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
        if len(self._current_cache) >= 4:
            self._current_cache.pop(next(iter(self._current_cache)))
        self._current_cache[day] = current
        return current

    def with_stability(self, scorer: StabilityScorer) -> HouseholdPool:
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

    def __len__(self) -> int:
        return len(self.households)

    @staticmethod
    def _flags(values: Sequence[Sequence[str]], vocab: Sequence[str]) -> np.ndarray:
        pos = {v: j for j, v in enumerate(vocab)}
        out = np.zeros((len(values), len(vocab)), dtype=bool)
        for i, vs in enumerate(values):
            for v in vs:
                j = pos.get(v)
                if j is not None:
                    out[i, j] = True
        return out

    def _speaks(self, language: str) -> np.ndarray:
        cached = self._language_cache.get(language)
        if cached is None:
            cached = np.array([language in s for s in self.language_sets], dtype=bool)
            self._language_cache[language] = cached
        return cached

    # --- rules -------------------------------------------------------------------------

    def _other_ages(self, req: MatchRequest, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ages on the placement date of the children living in households ``rows``, and which are under 18."""
        months = self.kid_months[rows]
        ages = (month_index(req.on) - months) // 12
        return ages, (months != _PAD_MONTH) & (ages < 18)

    def failures(self, req: MatchRequest) -> RuleFailures:
        """Which households fail which rule for ``req`` (and which pass only outside terms)."""
        n = len(self)
        ref = req.referral
        g = req.group_size
        ages = np.array(req.ages, dtype=np.int64)
        fail = np.zeros((len(RULE_CODES), n), dtype=bool)
        outside = np.zeros_like(fail)

        fail[_RULE["not_active"]] = ~self.active
        ok_connected = np.zeros(n, dtype=bool)
        positions = [set(self.connected.get(c.child_id, ())) for c in req.group]
        both = set.intersection(*positions) if positions else set()
        ok_connected[list(both)] = True
        fail[_RULE["connected_person_only"]] = self.kinship & ~ok_connected
        if "foster" not in ref.suitable_for:
            fail[_RULE["setting"]] = True
        within = np.ones(n, dtype=bool)
        for a in req.ages:
            within &= (self.age_min <= a) & (a <= self.age_max)
        terms = {
            "terms_age": ~within,
            "terms_placement_type": ~self.types[:, codes.PLACEMENT_TYPES.index(ref.placement_type)]
            if ref.placement_type in codes.PLACEMENT_TYPES
            else np.ones(n, dtype=bool),
            "terms_places": self.places < g,
            "sibling_group": (self.max_sib < g) if g > 1 else np.zeros(n, dtype=bool),
        }
        waive = emergency_outside_terms(req)
        for code, bad in terms.items():
            if waive:
                outside[_RULE[code]] = bad
            else:
                fail[_RULE[code]] = bad
        fail[_RULE["vacancy"]] = (self.places - self.fostered) < g
        after = self.fostered + g
        fail[_RULE["usual_limit"]] = ~(
            (after <= self.cfg.rules.usual_fostering_limit) | ((self.fostered == 0) & (g > 1)) | self.exemption
        )
        # Ages in whole years are (placement month - birth month) // 12, so "a child aged under A lives
        # there" is "the youngest child was born after month (placement month - 12 A)": no division.
        me = req.age
        on_m = month_index(req.on)
        youngest = self.youngest_month
        mode = ref.live_alongside
        if mode == "solo":
            fail[_RULE["live_alongside"]] = youngest > on_m - 216
        elif mode == "only_older":
            fail[_RULE["live_alongside"]] = youngest > on_m - 12 * (me + 1)
        elif mode == "only_younger":
            rows = self.with_children
            months = self.kid_months[rows]
            fail[_RULE["live_alongside"], rows] = ((months > on_m - 216) & (months <= on_m - 12 * me)).any(axis=1)
        risks = set(ref.risks_to_others)
        if "sexual_harm" in risks or "physical_harm" in risks:
            bad_risk = np.zeros(n, dtype=bool)
            if "sexual_harm" in risks:
                bad_risk |= youngest > on_m - 12 * me
            if "physical_harm" in risks:
                bad_risk |= youngest > on_m - 60
            fail[_RULE["risk_to_others"]] = bad_risk
        asked = (
            {k for k, s in req.needs.items() if s >= ACTIONABLE} | set(ref.risks_to_child) | set(ref.risks_to_others)
        )
        cols = [self.wont_vocab[a] for a in asked if a in self.wont_vocab]
        if cols and self.wont_bits is not None:
            fail[_RULE["carer_exclusions"]] = (self.wont_bits & sum(1 << c for c in cols)) != 0
        elif cols:
            fail[_RULE["carer_exclusions"]] = self.wont[:, cols].any(axis=1)
        allergy_cols = [codes.PETS.index(a) for a in ref.allergies if a in codes.PETS]
        bad_pets = self.pets[:, allergy_cols].any(axis=1) if allergy_cols else np.zeros(n, dtype=bool)
        if "harm_to_animals" in risks:
            bad_pets = bad_pets | self.has_pets
        fail[_RULE["pets"]] = bad_pets
        if bool((ages < 5).any()) or ref.respiratory_needs or any(c.disability for c in req.group):
            fail[_RULE["smoking"]] = self.smoking
        if ref.needs_adaptation:
            fail[_RULE["accessibility"]] = ~self.wheelchair
        if req.child.home is not None:
            limit = ref.max_distance_miles or self.cfg.rules.max_distance_miles
            fail[_RULE["distance"]] = self.beyond(req, limit)
        if ref.dolo:
            fail[_RULE["dolo"]] = ~self.dolo_support
        return RuleFailures(fail, outside)

    def beyond(self, req: MatchRequest, miles: float) -> np.ndarray:
        """Households further than ``miles`` from the child's home (the rule's own comparison)."""
        assert req.child.home is not None
        de = self.east - req.child.home.easting
        dn = self.north - req.child.home.northing
        return np.asarray(de * de + dn * dn > (miles * 1609.3) ** 2)

    def miles_from(self, place: Location, idx: np.ndarray | None = None) -> np.ndarray:
        """DfE miles from ``place`` to each household (or to ``idx``): grid distance / 1000 / 1.6093."""
        e, no = (self.east, self.north) if idx is None else (self.east[idx], self.north[idx])
        de = e - place.easting
        dn = no - place.northing
        return np.sqrt(de * de + dn * dn) / 1000 / 1.6093

    def home_miles(self, req: MatchRequest, idx: np.ndarray | None = None) -> np.ndarray:
        """DfE miles from the child's home to each household (or to ``idx``)."""
        assert req.child.home is not None
        return self.miles_from(req.child.home, idx)

    # --- scores ------------------------------------------------------------------------

    def score_upper_bounds(self, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        """An upper bound of each score: locality and track record exact, the other factors at their best."""
        w = self.cfg.weights
        best = w["needs"] + w["household_fit"] + w["identity"] + (w["stability"] if self.stability else 0.0)
        return np.asarray(best + w["locality"] * self._locality(req, idx) + w["track_record"] * self.track[idx])

    def scores(self, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        """Fit scores (0-100) of the households at positions ``idx``."""
        if len(idx) == 0:
            return np.zeros(0)
        w = self.cfg.weights
        total = (
            w["needs"] * self._needs(req, idx)
            + w["locality"] * self._locality(req, idx)
            + w["household_fit"] * self._household_fit(req, idx)
            + w["track_record"] * self.track[idx]
            + w["identity"] * self._identity(req, idx)
        )
        p = self.stability_p(req, idx)
        if p is not None:
            total = total + w["stability"] * (1.0 - p)
        return np.asarray(total, dtype=np.float64)

    def _needs(self, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        needs = req.needs
        sev_total = sum(needs.values())
        if sev_total == 0:
            return np.ones(len(idx))
        day = req.on.toordinal()
        current = ((self.done[idx] <= day) & (day < self.expires[idx])).any(axis=2)
        t = self.tables
        pos = {nid: j for j, nid in enumerate(t.need_ids)}
        acc = np.zeros(len(idx))
        for need in sorted(needs):
            j = pos.get(need)
            if j is None:
                continue
            cov = (current * t.course_weight[j]).max(axis=1)
            related = np.flatnonzero(t.experience_weight[j] > 0)
            if len(related):
                has = self.experience[idx][:, related].any(axis=1)
                cov = np.maximum(cov, np.where(has, t.experience_weight[j, related[0]], 0.0))
            acc += needs[need] * cov
        return acc / sev_total

    def _locality(self, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        s = self.cfg.locality
        child = req.child
        home_w, school_w, in_area_w = locality_shares(req, self.cfg)
        if child.home is None:
            home_part = np.full(len(idx), 0.5)
        else:
            home_part = np.maximum(0.0, 1.0 - self.home_miles(req, idx) / s.home_zero_miles)
        school_part = np.zeros(len(idx))
        if child.school is not None:
            d = self.miles_from(child.school, idx)
            span = s.school_zero_miles - s.school_full_miles
            school_part = np.where(
                d <= s.school_full_miles, 1.0, np.maximum(0.0, 1.0 - (d - s.school_full_miles) / span)
            )
        in_area = (self.la[idx] == child.la_code).astype(np.float64)
        return home_w * home_part + school_w * school_part + in_area_w * in_area

    def _identity(self, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        eth_w, rel_w, lang_w = identity_shares(req, self.cfg)
        child = req.child
        if child.ethnicity in _UNKNOWN_ETHNICITY:
            eth = np.ones(len(idx))
        else:
            same = self.ethnicity[idx] == child.ethnicity
            group = self.eth_group[idx] == child.ethnicity_group
            eth = np.where(same, 1.0, np.where(group, 0.7, 0.0))
        rel = np.ones(len(idx)) if child.religion in _NO_RELIGION else (self.religion[idx] == child.religion) * 1.0
        lang = np.zeros(len(idx), dtype=bool)
        for language in child.first_languages:
            lang |= self._speaks(language)[idx]
        return eth_w * eth + rel_w * rel + lang_w * lang

    def _household_fit(self, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        s = self.cfg.household_fit
        other_ages, valid = self._other_ages(req, idx)
        ages = np.array(req.ages, dtype=np.int64)
        gaps = np.abs(other_ages[:, :, None] - ages[None, None, :]).min(axis=2)
        gaps = np.where(valid, gaps, np.iinfo(np.int64).max)
        nearest = gaps.min(axis=1)
        gap_part = np.where(valid.any(axis=1), np.minimum(1.0, nearest / s.age_gap_full_years), 1.0)
        lo, hi = self.pref_min[idx], self.pref_max[idx]
        inside = ((lo[:, None] <= ages[None, :]) & (ages[None, :] <= hi[:, None])).all(axis=1)
        pref = np.where(self.has_pref[idx], inside * 1.0, 1.0)
        beds = np.minimum(1.0, self.bedrooms[idx] / req.group_size)
        return s.age_gap * gap_part + s.preferred_age * pref + s.bedrooms * beds

    def tiers(self, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        """1 for connected-person carers approved for this child, else 2 (s22C ladder)."""
        positions = [set(self.connected.get(c.child_id, ())) for c in req.group]
        both = set.intersection(*positions) if positions else set()
        return np.where(np.isin(idx, list(both)), 1, 2)
