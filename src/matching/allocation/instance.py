"""An allocation instance: units to place, households with room, and the eligible arcs between them.

A **unit** is a child, or a sibling group referred to be placed together (placed whole or not at
all).  An **arc** joins a unit to a household that passed every eligibility rule for it, with the
fit score.  Arcs come from the ranking pool, so allocation and single-child ranking apply one set
of rules.  Household rooms: free places (vacancy), and the usual fostering limit of 3 unless the
household has an exemption.  A sibling group larger than that may only go into an empty household,
alone.  Some units must live alone (a child who must be the only child), and some pairs of units
cannot share a household: every child of a unit carries the limits of their own referral
(:mod:`matching.eligibility.together`), and two units may share a household only if no child of
one rules out a child of the other.  The children already living in a household are judged by the
arcs themselves (eligibility, both ways).  The instance keeps each unit's request and each
household's record so that the validator can judge every placed child again by the rules.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import NamedTuple

import numpy as np

from matching.domain import CarerHousehold
from matching.eligibility.request import MatchRequest
from matching.eligibility.rules import NUMBER_TERMS, RULE_INDEX
from matching.eligibility.together import Limit, age_mask, forbidden_mask
from matching.fit_config import FitConfig
from matching.ranking.pool import HouseholdPool

#: Child-equivalents of placing one child, by urgency (documented weights): a child needed today
#: counts as four children needed later.  Placing children comes before fit (see ``child_weight``).
URGENCY_WEIGHT = {"today": 4, "within_5_days": 2, "over_5_days": 1}
URGENCY_ORDER = {"today": 0, "within_5_days": 1, "over_5_days": 2}
#: Why a unit has no arcs when building stopped before judging its households.
NOT_CONSIDERED = "not considered: time ran out before this child's households were judged"
#: Assembling the instance once units are judged takes up to this share of the judging time (measured: about 0.2).
ASSEMBLY_SHARE = 0.3
#: Units whose eligible households are scored in one pass (:meth:`HouseholdPool.pair_scores`): the cost of a
#: pass is mostly per pass, not per pair, below a few hundred units.
SCORING_BATCH = 256
#: ... or this many pairs, whichever comes first (a pass holds a few arrays of pairs x residents x group size).
SCORING_PAIRS = 60_000
#: Objective units per point of value: values are exact to 0.01, so the solvers' integer objectives are exact.
SCALE = 100


@dataclass(frozen=True)
class Unit:
    """A child, or siblings to be placed together."""

    unit_id: str
    child_ids: tuple[str, ...]
    ages: tuple[int, ...]
    urgency: str
    referral_date: date
    la_code: str
    #: The limits each child (in the order of ``child_ids``) puts on other children, from their own referral.
    limits: tuple[tuple[Limit, ...], ...] = ()

    @cached_property
    def masks(self) -> tuple[int, int]:
        """(ages ruled out by a child of the unit, ages of its children) as bits: two units clash exactly when
        one's first and the other's second share a bit (:func:`units_conflict`)."""
        return forbidden_mask(self.limits), age_mask(self.ages)

    @property
    def solo(self) -> bool:
        """True if a child of the unit must live as the only child (with their siblings only)."""
        return any(lim.kind == "solo" for lims in self.limits for lim in lims)

    @property
    def restricts(self) -> bool:
        """True if a child of the unit limits who may share its household."""
        return any(self.limits)

    @property
    def size(self) -> int:
        """Children in the unit."""
        return len(self.child_ids)

    @property
    def worth(self) -> int:
        """Child-equivalents of placing one of its children: the unit's urgency weight."""
        return URGENCY_WEIGHT[self.urgency]

    @property
    def weight(self) -> int:
        """Child-equivalents of placing the unit: its children, each weighted by urgency."""
        return self.worth * self.size

    @property
    def age(self) -> int:
        """The referred child's age (the first child of the unit)."""
        return self.ages[0]


@dataclass(frozen=True)
class HouseholdRoom:
    """How many children a household can take now."""

    household_id: str
    la_code: str
    vacancies: int
    usual_room: int | None  # places left under the usual limit of 3; None with an exemption
    empty: bool

    @property
    def places(self) -> int:
        """Children it can still take together: the free places, within the usual limit unless exempt."""
        return self.vacancies if self.usual_room is None else min(self.vacancies, self.usual_room)

    def must_live_alone(self, unit: Unit) -> bool:
        """True if ``unit`` here may have nobody else: a solo child, or a sibling group over the usual limit."""
        return unit.solo or (self.usual_room is not None and unit.size > self.usual_room)

    def after(self, units: list[Unit]) -> HouseholdRoom:
        """The room left once ``units`` (a valid set) live here: none after one who must live alone."""
        if not units:
            return self
        size = sum(u.size for u in units)
        closed = any(self.must_live_alone(u) for u in units)
        return HouseholdRoom(
            self.household_id,
            self.la_code,
            0 if closed else self.vacancies - size,
            None if self.usual_room is None else (0 if closed else max(0, self.usual_room - size)),
            False,
        )


class Arc(NamedTuple):
    """An eligible (unit, household) pair with its fit score and distance from home (a named tuple: an instance
    holds hundreds of thousands, and a frozen dataclass took 1.8 s to make England's 380,000)."""

    unit: int
    household: int
    score: float
    distance_miles: float | None


@dataclass(frozen=True)
class RuleContext:
    """The records behind an instance: the request of each unit and the record of each household (same order)."""

    requests: list[MatchRequest]
    households: list[CarerHousehold]
    cfg: FitConfig


@dataclass
class AllocationInstance:
    """Units, household rooms and arcs, in a canonical order (units and households by id)."""

    units: list[Unit]
    households: list[HouseholdRoom]
    arcs: list[Arc]
    unit_without_arcs: dict[str, str] = field(default_factory=dict)
    #: What the validator judges placed children on: each unit's request, each household's record, the settings.
    context: RuleContext | None = field(default=None, repr=False, compare=False)
    #: Units whose households were not judged because time ran out while building (they have no arcs).
    not_considered: set[str] = field(default_factory=set)
    #: Units that stay with their current carers: no household fits them enough better (``keep_current``; no arcs).
    staying: set[str] = field(default_factory=set)
    #: The region of each local authority of the units and households, where known (the levers group by it).
    regions: dict[str, str] = field(default_factory=dict)
    #: The value of one child-equivalent placed, when given rather than counted from the units: a part of an instance
    #: whose scores carry prices in children (:func:`matching.allocation.guard.steered`) keeps its whole's, so that
    #: those prices weigh against its children as they do in the whole.
    children_worth: float | None = None
    #: Arrays over the arcs (:func:`arc_array`, :func:`arc_values`), computed once: read-only.
    _arrays: dict[str, tuple[tuple[int, ...], np.ndarray, object]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def child_weight(self) -> float:
        """Value of one child-equivalent placed: more than all the fit in the instance (fit is 0-100 per unit),
        so the allocation places as many children (urgency-weighted) as possible, then maximises fit
        (:attr:`children_worth` when given)."""
        return 100.0 * len(self.units) + 1.0 if self.children_worth is None else self.children_worth

    def value(self, arc: Arc) -> float:
        """Objective value of an arc: urgency-weighted children placed, then the fit score (to 0.01, so the
        solvers' integer objectives are exact)."""
        return self.units[arc.unit].weight * self.child_weight + round(arc.score * SCALE) / SCALE

    def arcs_of_household(self) -> dict[int, list[int]]:
        """Arc indexes by household."""
        out: dict[int, list[int]] = {}
        for k, a in enumerate(self.arcs):
            out.setdefault(a.household, []).append(k)
        return out

    def arcs_of_unit(self) -> dict[int, list[int]]:
        """Arc indexes by unit (units without arcs are absent)."""
        out: dict[int, list[int]] = {}
        for k, a in enumerate(self.arcs):
            out.setdefault(a.unit, []).append(k)
        return out


def canonical(instance: AllocationInstance) -> tuple[AllocationInstance, list[int]]:
    """The same instance in canonical order (units and households by id, arcs by pair), and for each
    canonical arc the index of the original one: solving it makes the answer independent of input order."""
    u_order = sorted(range(len(instance.units)), key=lambda i: instance.units[i].unit_id)
    h_order = sorted(range(len(instance.households)), key=lambda i: instance.households[i].household_id)
    u_pos = np.empty(len(u_order), dtype=np.int64)
    u_pos[u_order] = np.arange(len(u_order))
    h_pos = np.empty(len(h_order), dtype=np.int64)
    h_pos[h_order] = np.arange(len(h_order))
    unit = u_pos[arc_array(instance, "unit")] if instance.arcs else np.zeros(0, dtype=np.int64)
    household = h_pos[arc_array(instance, "household")] if instance.arcs else np.zeros(0, dtype=np.int64)
    a_order = np.lexsort((household, unit))
    same_order = (
        u_order == list(range(len(u_order)))
        and h_order == list(range(len(h_order)))
        and bool(np.all(a_order == np.arange(len(a_order))))
    )
    if same_order:  # already canonical (as build_instance makes it): nothing to copy
        return instance, list(range(len(instance.arcs)))
    arcs = [
        Arc(int(unit[k]), int(household[k]), instance.arcs[k].score, instance.arcs[k].distance_miles)
        for k in a_order.tolist()
    ]
    ctx = instance.context
    same = AllocationInstance(
        [instance.units[i] for i in u_order],
        [instance.households[i] for i in h_order],
        arcs,
        dict(instance.unit_without_arcs),
        None
        if ctx is None
        else RuleContext([ctx.requests[i] for i in u_order], [ctx.households[i] for i in h_order], ctx.cfg),
        not_considered=set(instance.not_considered),
        staying=set(instance.staying),
        regions=dict(instance.regions),
        children_worth=instance.children_worth,
    )
    return same, a_order.tolist()


def arc_array(instance: AllocationInstance, name: str) -> np.ndarray:
    """One field of every arc as a read-only array (``unit``, ``household`` or ``score``)."""
    return cached_array(instance, name, lambda: _field(instance, name))


def _field(instance: AllocationInstance, name: str) -> np.ndarray:
    dtype = np.float64 if name == "score" else np.int64
    return np.fromiter((getattr(a, name) for a in instance.arcs), dtype=dtype, count=len(instance.arcs))


def arc_values(instance: AllocationInstance) -> np.ndarray:
    """:meth:`AllocationInstance.value` of every arc, in hundredths (exact integers), read-only."""
    return cached_array(instance, "values", lambda: _values(instance))


def _values(instance: AllocationInstance) -> np.ndarray:
    if not instance.arcs:
        return np.zeros(0, dtype=np.int64)
    per_unit = np.array([u.weight for u in instance.units], dtype=np.int64)
    weight = round(instance.child_weight * SCALE)
    return per_unit[arc_array(instance, "unit")] * weight + np.round(arc_array(instance, "score") * SCALE).astype(
        np.int64
    )


def cached_array(
    instance: AllocationInstance, name: str, compute: Callable[[], np.ndarray], given: object = None
) -> np.ndarray:
    """``compute()``, read-only, kept on the instance while its arcs, units and households are the same lists (by
    identity: lists replaced in place of the instance's own are not noticed) of the same lengths, and ``given`` (what
    else it is computed from: a value compared by equality and copied, such as a dict of ints; None when nothing) is
    equal."""
    key = (
        id(instance.arcs),
        len(instance.arcs),
        id(instance.units),
        len(instance.units),
        id(instance.households),
        len(instance.households),
    )
    kept = instance._arrays.get(name)
    if kept is None or kept[0] != key or kept[2] != given:
        array = compute()
        array.flags.writeable = False
        kept = instance._arrays[name] = (key, array, copy.copy(given))
    return kept[1]


def units_by_household(instance: AllocationInstance, assignment: dict[int, int]) -> dict[int, list[int]]:
    """The units of ``assignment`` (unit -> arc) in each household."""
    out: dict[int, list[int]] = {}
    for u, k in assignment.items():
        out.setdefault(instance.arcs[k].household, []).append(u)
    return out


def rooms_after(instance: AllocationInstance, fixed: dict[int, int]) -> list[HouseholdRoom]:
    """Every household's room once the ``fixed`` units (unit -> arc) are in."""
    taken = units_by_household(instance, fixed)
    return [room.after([instance.units[u] for u in taken.get(h, ())]) for h, room in enumerate(instance.households)]


def weighted_children(instance: AllocationInstance, units: Iterable[int]) -> int:
    """The urgency-weighted children of ``units`` (indexes; an assignment's keys): the objective's first part."""
    return sum(instance.units[u].weight for u in units)


def units_conflict(a: Unit, b: Unit) -> bool:
    """True if the two units cannot share a household: a child of one rules out a child of the other
    (:func:`matching.eligibility.together.ages_clash`, on bits)."""
    (fa, aa), (fb, ab) = a.masks, b.masks
    return bool(fa & ab or fb & aa)


def unit_of(unit_id: str, req: MatchRequest) -> Unit:
    """The unit of a request: its children, ages, urgency and every child's own limits."""
    return Unit(
        unit_id,
        tuple(c.child_id for c in req.group),
        req.ages,
        req.referral.urgency,
        req.referral.referral_date,
        req.child.la_code,
        req.limits,
    )


def build_instance(
    pool: HouseholdPool,
    requests: list[MatchRequest],
    *,
    top_k: int = 50,
    min_fit: float = 0.0,
    max_distance_miles: float | None = None,
    keep_current: float | None = None,
    until: float | None = None,
    seconds_per_unit: float = 0.0,
) -> AllocationInstance:
    """Units from the requests (siblings referred together become one unit) and their best ``top_k`` arcs.

    ``keep_current`` (points): a child already living with a carer household in the pool is only
    offered households that fit at least this much better than that one; otherwise the child stays.

    ``until`` (a :func:`time.perf_counter` value): judge the units' households, most urgent and longest
    waiting first, while there is time before then to assemble the instance and to spend
    ``seconds_per_unit`` on each unit judged (solving and reporting, for the caller); the units not
    reached stay in the instance with no arcs, in :attr:`AllocationInstance.not_considered`.  Stopping early was chosen over judging every unit more
    cheaply: the rules are never skipped, and nationally judging is about 0.5 ms per unit.
    """
    by_key: dict[tuple[str, ...], MatchRequest] = {}
    for req in requests:
        key = tuple(sorted(c.child_id for c in req.group))
        best = by_key.get(key)
        if best is None or (URGENCY_ORDER[req.referral.urgency], req.referral.referral_date) < (
            URGENCY_ORDER[best.referral.urgency],
            best.referral.referral_date,
        ):
            by_key[key] = req
    # A child is in one unit: where referrals disagree on who is placed together, the larger group stands (the
    # care plan's "together") and the overlapping smaller unit is reported, not placed twice.
    missing: dict[str, str] = {}
    taken: dict[str, str] = {}
    for key in sorted(by_key, key=lambda k: (-len(k), k)):
        clash = sorted({taken[c] for c in key if c in taken})
        if clash:
            missing["+".join(key)] = f"referred to be placed with siblings: see {', '.join(clash)}"
            del by_key[key]
        else:
            taken.update(dict.fromkeys(key, "+".join(key)))
    keys = sorted(by_key)
    # Judged most urgent first, then longest waiting: when time runs out, the children not reached are those the
    # objective values least (and they are reported as not considered, never silently dropped).
    judged: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}
    not_considered: set[str] = set()
    staying: set[str] = set()
    # Units judged but not yet scored: their households are scored together (one pass over all their pairs).
    pending: list[tuple[tuple[str, ...], MatchRequest, np.ndarray, bool]] = []

    def score_pending() -> None:
        if not pending:
            return
        reqs = [req for _, req, _, _ in pending]
        sizes = [len(idx) for _, _, idx, _ in pending]
        all_scores = pool.pair_scores(
            reqs, np.repeat(np.arange(len(reqs), dtype=np.int64), sizes), np.concatenate([p[2] for p in pending])
        )
        for (key, req, idx, any_eligible), scores in zip(
            pending, np.split(all_scores, np.cumsum(sizes)[:-1]), strict=True
        ):
            judged[key] = _best_arcs(
                pool,
                "+".join(key),
                req,
                idx,
                scores,
                any_eligible,
                missing,
                top_k,
                min_fit,
                max_distance_miles,
                keep_current,
                staying,
            )
        pending.clear()

    began = time.perf_counter()
    for key in sorted(
        keys, key=lambda k: (URGENCY_ORDER[by_key[k].referral.urgency], by_key[k].referral.referral_date, k)
    ):
        now = time.perf_counter()
        done = len(judged) + len(pending)
        if until is not None and now + ASSEMBLY_SHARE * (now - began) + seconds_per_unit * (done + 1) >= until:
            waiting_scores = {k for k, _, _, _ in pending}
            not_considered = {"+".join(k) for k in keys if k not in judged and k not in waiting_scores}
            break
        req = by_key[key]
        failures = pool.failures(req)
        # A placement outside the terms on the number of children holds only while nobody else joins the
        # household: allocation, which places children together, leaves those to the officer's ranking.
        number_waived = failures.outside_terms[[RULE_INDEX[c] for c in NUMBER_TERMS]].any(axis=0)
        eligible = failures.eligible & ~number_waived
        pending.append((key, req, np.flatnonzero(eligible), bool(failures.eligible.any())))
        if len(pending) >= SCORING_BATCH or sum(len(p[2]) for p in pending) >= SCORING_PAIRS:
            score_pending()
    score_pending()
    nothing = (np.zeros(0, dtype=np.int64), np.zeros(0), None)
    for unit_id in sorted(not_considered):
        missing[unit_id] = NOT_CONSIDERED
    units = [unit_of("+".join(key), by_key[key]) for key in keys]
    unit_arcs = [judged.get(key, nothing) for key in keys]
    used = sorted({int(i) for idx, _, _ in unit_arcs for i in idx}, key=lambda i: pool.households[i].household_id)
    position = {h: k for k, h in enumerate(used)}
    at = np.zeros(len(pool.households), dtype=np.int64)
    at[used] = np.arange(len(used))
    for u, (idx, scores, miles) in enumerate(unit_arcs):  # canonical order: each unit's arcs by household
        if len(idx) > 1:
            by_household = np.argsort(at[idx], kind="stable")
            unit_arcs[u] = (idx[by_household], scores[by_household], None if miles is None else miles[by_household])
    limit = pool.cfg.rules.usual_fostering_limit
    households = []
    for h_index in used:
        h = pool.households[h_index]
        fostered = h.foster_children_count
        households.append(
            HouseholdRoom(
                h.household_id,
                h.la_code,
                max(0, h.terms.places - fostered),
                None if h.terms.usual_limit_exemption else max(0, limit - fostered),
                fostered == 0,
            )
        )
    arcs = [
        Arc(u, position[i], s, m)
        for u, (idx, scores, miles) in enumerate(unit_arcs)
        for i, s, m in zip(
            idx.tolist(), scores.tolist(), [None] * len(idx) if miles is None else miles.tolist(), strict=True
        )
    ]
    context = RuleContext([by_key[k] for k in keys], [pool.households[i] for i in used], pool.cfg)
    return AllocationInstance(units, households, arcs, missing, context, not_considered=not_considered, staying=staying)


def _best_arcs(
    pool: HouseholdPool,
    unit_id: str,
    req: MatchRequest,
    idx: np.ndarray,
    scores: np.ndarray,
    any_eligible: bool,
    missing: dict[str, str],
    top_k: int,
    min_fit: float,
    max_distance_miles: float | None,
    keep_current: float | None,
    staying: set[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A unit's best ``top_k`` households above the thresholds, from its eligible ones (``idx``) and their scores,
    best first (ties by position); why none, in ``missing``, when none is left (and the unit in ``staying`` when it
    stays with its current carers)."""
    miles = pool.home_miles(req, idx) if req.child.home is not None else None
    keep = scores >= min_fit
    if max_distance_miles is not None and miles is not None:
        keep &= miles <= max_distance_miles
    stay_note = None
    current = pool.index.get(req.child.household_id or "") if keep_current is not None else None
    if current is not None and keep_current is not None:
        now = float(pool.scores(req, np.array([current]))[0])
        keep &= scores >= now + keep_current
        stay_note = (
            f"stays with {req.child.household_id}: no household fits at least {keep_current:g} points better "
            f"than the current one ({now:.1f})"
        )
    idx, scores = idx[keep], scores[keep]
    miles = miles[keep] if miles is not None else None
    if len(idx) > top_k:
        order = np.lexsort((idx, -np.round(scores, 6)))[:top_k]
        idx, scores = idx[order], scores[order]
        miles = miles[order] if miles is not None else None
    if len(idx) == 0 and stay_note is not None:
        staying.add(unit_id)
    if len(idx) == 0:
        missing[unit_id] = stay_note or (
            "no eligible household" if not any_eligible else "no household above the thresholds"
        )
    return idx, scores, miles
