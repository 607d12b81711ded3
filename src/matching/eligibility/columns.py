"""The rules over many households at once: which households fail which rule for one request.

:class:`HouseholdColumns` holds the households of a scope as columns (built once, reused for
every request).  :meth:`HouseholdColumns.failures` computes, for one request, exactly what the
rule functions of :mod:`matching.eligibility.rules` define for one household; property tests
compare the two on generated groups and households with residents.  The few households where a
child of the group lives now are judged by the rule functions themselves (the household without
that child), so the fast path never has to model a child moving out.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property, partial
from typing import TypeVar

import numpy as np

from matching import codes
from matching.domain import CarerHousehold, Location
from matching.eligibility.arithmetic import ADULT_AGE, age_from_months, beyond_miles, miles, month_index
from matching.eligibility.request import MatchRequest
from matching.eligibility.rules import (
    CHILD_TERMS,
    RULE_CODES,
    RULE_INDEX,
    RULES,
    distance_limit,
    emergency_outside_terms,
    group_outside_terms,
)
from matching.eligibility.together import LIMIT_KINDS, LIMIT_RULE, bounds, kinds_of
from matching.fit_config import FitConfig

_PAD_MONTH = np.iinfo(np.int64).max // 4
#: Columns kept by :meth:`HouseholdColumns._kept` (a few hundred, each one bool per household: under 10 MB for
#: England's households with room).
_KEPT_COLUMNS = 512
_ADULT_MONTHS = 12 * ADULT_AGE


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


def flags(values: Sequence[Sequence[str]], vocab: Sequence[str]) -> np.ndarray:
    """A (len(values), len(vocab)) boolean matrix: which words of ``vocab`` each entry holds."""
    pos = {v: j for j, v in enumerate(vocab)}
    out = np.zeros((len(values), len(vocab)), dtype=bool)
    for i, vs in enumerate(values):
        for v in vs:
            j = pos.get(v)
            if j is not None:
                out[i, j] = True
    return out


class HouseholdColumns:
    """Households as columns for the rules; ordered by household id."""

    def __init__(self, households: Sequence[CarerHousehold], need_ids: Sequence[str], cfg: FitConfig) -> None:
        hs = sorted(households, key=lambda h: h.household_id)
        self.households: list[CarerHousehold] = hs
        self.cfg = cfg
        n = len(hs)
        self.ids = np.array([h.household_id for h in hs], dtype=object)
        self.index = {h.household_id: i for i, h in enumerate(hs)}
        self.active = np.array([h.status == "active" for h in hs], dtype=bool)
        self.kinship = np.array([h.is_kinship for h in hs], dtype=bool)
        self.connected: dict[str, list[int]] = defaultdict(list)
        #: Where each of the store's foster children lives now (child id -> household positions).
        self.home_of: dict[str, list[int]] = defaultdict(list)
        for i, h in enumerate(hs):
            for cid in h.terms.connected_child_ids:
                self.connected[cid].append(i)
            for m in (*h.foster_children, *h.members):
                if m.kind == "foster_child":
                    self.home_of[m.member_id].append(i)
        self.age_min = np.array([h.terms.age_min for h in hs], dtype=np.int64)
        self.age_max = np.array([h.terms.age_max for h in hs], dtype=np.int64)
        self.places = np.array([h.terms.places for h in hs], dtype=np.int64)
        self.max_sib = np.array([h.terms.max_sibling_group for h in hs], dtype=np.int64)
        self.exemption = np.array([h.terms.usual_limit_exemption for h in hs], dtype=bool)
        self.fostered = np.array([h.foster_children_count for h in hs], dtype=np.int64)
        self.types = flags([h.terms.placement_types for h in hs], codes.PLACEMENT_TYPES)
        vocab = (*need_ids, *codes.RISKS_TO_CHILD, *codes.RISKS_TO_OTHERS)
        self.wont_vocab = {v: i for i, v in enumerate(vocab)}
        self.wont = flags([h.will_not_consider for h in hs], vocab)
        # The same as bits of one integer per household when the vocabulary fits (it does by default).
        self.wont_bits = (
            (self.wont.astype(np.int64) << np.arange(len(vocab), dtype=np.int64)).sum(axis=1)
            if len(vocab) <= 62
            else None
        )
        self.pets = flags([h.pets for h in hs], codes.PETS)
        self.has_pets = self.pets.any(axis=1)
        self.smoking = np.array([h.smoking for h in hs], dtype=bool)
        self.wheelchair = np.array([h.wheelchair_accessible for h in hs], dtype=bool)
        self.dolo_support = np.array(
            [{"therapeutic_support", "out_of_hours"} <= set(h.support_package) for h in hs], dtype=bool
        )
        self.east = np.array([h.location.easting for h in hs], dtype=np.float64)
        self.north = np.array([h.location.northing for h in hs], dtype=np.float64)
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
        # The restrictions of the children living there: one row per (child, kind of limit).
        rows: list[tuple[int, int, int]] = []
        for i, h in enumerate(hs):
            for m in (*h.foster_children, *h.members):
                if m.kind == "other_adult":
                    continue
                for kind in kinds_of(m.live_alongside, m.risks_to_others):
                    rows.append((i, month_index(m.birth_month), LIMIT_KINDS.index(kind)))
        self.res_household = np.array([r[0] for r in rows], dtype=np.int64)
        self.res_month = np.array([r[1] for r in rows], dtype=np.int64)
        self.res_kind = np.array([r[2] for r in rows], dtype=np.int64)
        self._ruled_out_cache: dict[int, np.ndarray] = {}
        self._columns_cache: dict[tuple[object, ...], np.ndarray] = {}
        #: Guards the caches' eviction and insertion: a pool is shared by the service's request threads.
        self._cache_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.households)

    # --- distance ----------------------------------------------------------------------

    def beyond(self, place: Location, limit: float) -> np.ndarray:
        """Households further than ``limit`` miles from ``place`` (the rule's own comparison)."""
        return np.asarray(beyond_miles(self.east - place.easting, self.north - place.northing, limit))

    def miles_from(self, place: Location, idx: np.ndarray | None = None) -> np.ndarray:
        """DfE miles from ``place`` to each household (or to ``idx``)."""
        e, no = (self.east, self.north) if idx is None else (self.east[idx], self.north[idx])
        return miles(e - place.easting, no - place.northing)

    def home_miles(self, req: MatchRequest, idx: np.ndarray | None = None) -> np.ndarray:
        """DfE miles from the child's home to each household (or to ``idx``)."""
        assert req.child.home is not None
        return self.miles_from(req.child.home, idx)

    # --- who lives there -----------------------------------------------------------------

    def any_child_aged(self, lo: int, hi: int, on: date) -> np.ndarray:
        """Households where a child aged ``lo``..``hi`` (whole years on ``on``, under 18) lives (read-only: kept
        for the next request asking the same, ages move only by month)."""
        key = ("aged", lo, hi, month_index(on))
        return self._kept(key, lambda: self._any_child_aged(lo, hi, on))

    def _kept(self, key: tuple[object, ...], compute: Callable[[], object]) -> np.ndarray:
        """A column that depends only on ``key`` (and the households), computed once and kept read-only: many
        requests of an allocation ask the same (a group size, an age, a placement type)."""
        cached = self._columns_cache.get(key)
        if cached is None:
            cached = np.asarray(compute())
            cached.flags.writeable = False
            remember(self._cache_lock, self._columns_cache, key, cached, _KEPT_COLUMNS)
        return cached

    def _outside_age(self, age: int) -> np.ndarray:
        return np.asarray(~((self.age_min <= age) & (age <= self.age_max)))

    def _any_child_aged(self, lo: int, hi: int, on: date) -> np.ndarray:
        on_m = month_index(on)
        hi = min(hi, ADULT_AGE - 1)
        out = np.zeros(len(self), dtype=bool)
        if lo > hi:
            return out
        if lo <= 0:  # born after the month that makes a child hi + 1: the youngest child decides
            return np.asarray(self.youngest_month > on_m - 12 * (hi + 1))
        rows = self.with_children
        months = self.kid_months[rows]
        out[rows] = ((months > on_m - 12 * (hi + 1)) & (months <= on_m - 12 * lo)).any(axis=1)
        return out

    def other_ages(self, on: date | np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ages on ``on`` of the children living in households ``rows``, and which of them are under 18; ``on``
        may be a month (:func:`~matching.eligibility.arithmetic.month_index`) for each row."""
        months = self.kid_months[rows]
        on_month = month_index(on) if isinstance(on, date) else np.asarray(on)[:, None]
        ages = np.maximum(0, age_from_months(on_month, months))
        return ages, (months != _PAD_MONTH) & (ages < ADULT_AGE)

    def has_children(self, on: date) -> np.ndarray:
        """Households where any child under 18 lives on ``on``."""
        return self.any_child_aged(0, ADULT_AGE - 1, on)

    def residents_rule_out(self, ages: Sequence[int], on: date) -> np.ndarray:
        """Households where a restriction of a child living there (foster or birth) rules out a child of one of
        ``ages``."""
        wanted = tuple(sorted({min(max(a, 0), ADULT_AGE) for a in ages}))
        month = month_index(on)
        return self._kept(
            ("residents", wanted, month), lambda: self._ruled_out_ages(month)[:, list(wanted)].any(axis=1)
        )

    def _ruled_out_ages(self, on_month: int) -> np.ndarray:
        """(households, 19) bool: whether a newcomer aged 0..17 (and 18+, never) is ruled out by a restriction of a
        child living there, in the month ``on_month`` (built once per month: ages move only by month)."""
        cached = self._ruled_out_cache.get(on_month)
        if cached is not None:
            return cached
        table = np.zeros((len(self), ADULT_AGE + 1), dtype=bool)
        if len(self.res_household):
            age_r = np.maximum(0, age_from_months(on_month, self.res_month))
            lo = np.zeros_like(age_r)
            hi = np.full_like(age_r, -1)
            for k, kind in enumerate(LIMIT_KINDS):
                mine = self.res_kind == k
                if mine.any():
                    lo_k, hi_k = bounds(kind, age_r[mine])
                    lo[mine], hi[mine] = lo_k, np.minimum(hi_k, ADULT_AGE - 1)
            child = age_r < ADULT_AGE  # a resident of 18 or over is not a child living there (rules.residents)
            for x in range(ADULT_AGE):
                table[self.res_household[child & (lo <= x) & (x <= hi)], x] = True
        remember(self._cache_lock, self._ruled_out_cache, on_month, table, 4)
        return table

    # --- the rules -----------------------------------------------------------------------

    def failures(self, req: MatchRequest) -> RuleFailures:
        """Which households fail which rule for ``req`` (and which pass only outside terms)."""
        n = len(self)
        cfg = self.cfg
        g = req.group_size
        fail = np.zeros((len(RULE_CODES), n), dtype=bool)
        outside = np.zeros_like(fail)
        members = req.members
        refs = req.referrals
        ages = req.ages

        fail[RULE_INDEX["not_active"]] = ~self.active
        ok_connected = np.zeros(n, dtype=bool)
        positions = [set(self.connected.get(c.child_id, ())) for c in req.group]
        ok_connected[list(set.intersection(*positions))] = True
        fail[RULE_INDEX["connected_person_only"]] = self.kinship & ~ok_connected
        if any("foster" not in r.suitable_for for r in refs):
            fail[RULE_INDEX["setting"]] = True
        # Terms of one child: each child's own emergency allowance waives them for that child only.
        for code in CHILD_TERMS:
            row = RULE_INDEX[code]
            for (_, ref), a in zip(members, ages, strict=True):
                if code == "terms_age":
                    bad = self._kept(("outside_age", a), partial(self._outside_age, a))
                elif ref.placement_type in codes.PLACEMENT_TYPES:
                    k = codes.PLACEMENT_TYPES.index(ref.placement_type)
                    bad = self._kept(("not_type", k), partial(np.logical_not, self.types[:, k]))
                else:
                    bad = np.ones(n, dtype=bool)
                if emergency_outside_terms(ref, cfg):
                    outside[row] |= bad
                else:
                    fail[row] |= bad
            outside[row] &= ~fail[row]
        # Places are never waived; the sibling-group approval only for the whole group, into a household with no child.
        fail[RULE_INDEX["terms_places"]] = self._kept(("places", g), lambda: self.places < g)
        if g > 1:
            bad = self.max_sib < g
            if group_outside_terms(req, cfg):
                empty = ~self.has_children(req.on)
                outside[RULE_INDEX["sibling_group"]] = bad & empty
                bad = bad & ~empty
            fail[RULE_INDEX["sibling_group"]] = bad
        fail[RULE_INDEX["vacancy"]] = self._kept(("vacancy", g), lambda: (self.places - self.fostered) < g)
        limit = cfg.rules.usual_fostering_limit
        fail[RULE_INDEX["usual_limit"]] = self._kept(
            ("usual_limit", g, limit),
            lambda: ~(((self.fostered + g) <= limit) | ((self.fostered == 0) & (g > 1)) | self.exemption),
        )
        # Who can live together: each child's own limits against the children living there, and theirs against him.
        for limits in req.limits:
            for lim in limits:
                fail[RULE_INDEX[LIMIT_RULE[lim.kind]]] |= self.any_child_aged(lim.lo, lim.hi, req.on)
        fail[RULE_INDEX["resident_restrictions"]] = self.residents_rule_out(ages, req.on)
        floor = cfg.rules.carer_exclusions_from_severity
        asked: set[str] = set()
        for ref in refs:
            asked |= {k for k, s in ref.needs.severities.items() if s >= floor and s > 0}
            asked |= set(ref.risks_to_child) | set(ref.risks_to_others)
        cols = [self.wont_vocab[a] for a in asked if a in self.wont_vocab]
        if cols and self.wont_bits is not None:
            fail[RULE_INDEX["carer_exclusions"]] = (self.wont_bits & sum(1 << c for c in cols)) != 0
        elif cols:
            fail[RULE_INDEX["carer_exclusions"]] = self.wont[:, cols].any(axis=1)
        allergy_cols = sorted({codes.PETS.index(a) for r in refs for a in r.allergies if a in codes.PETS})
        bad_pets = self.pets[:, allergy_cols].any(axis=1) if allergy_cols else np.zeros(n, dtype=bool)
        if any("harm_to_animals" in r.risks_to_others for r in refs):
            bad_pets = bad_pets | self.has_pets
        fail[RULE_INDEX["pets"]] = bad_pets
        if any(a < 5 or r.respiratory_needs or c.disability for (c, r), a in zip(members, ages, strict=True)):
            fail[RULE_INDEX["smoking"]] = self.smoking
        if any(r.needs_adaptation for r in refs):
            fail[RULE_INDEX["accessibility"]] = ~self.wheelchair
        for c, r in members:
            if c.home is not None:
                fail[RULE_INDEX["distance"]] |= self.beyond(c.home, distance_limit(r, cfg))
        if any(r.dolo for r in refs):
            fail[RULE_INDEX["dolo"]] = ~self.dolo_support
        # Where a child of the group lives now, the household is judged without them, by the rules themselves.
        for i in sorted({i for c in req.group for i in self.home_of.get(c.child_id, ())}):
            for k, rule in enumerate(RULES):
                o = rule(req, self.households[i], cfg)
                fail[k, i] = not o.passed
                outside[k, i] = o.outside_terms
        return RuleFailures(fail, outside)


K = TypeVar("K")
V = TypeVar("V")


def remember(lock: threading.Lock, cache: dict[K, V], key: K, value: V, most: int) -> None:
    """Keep ``value`` under ``key`` in ``cache``, forgetting the oldest entry once ``most`` are kept; under ``lock``,
    so that request threads sharing a pool never evict the same entry twice or iterate while another inserts."""
    with lock:
        while len(cache) >= most:
            cache.pop(next(iter(cache)), None)
        cache[key] = value
