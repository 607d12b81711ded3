"""No worse than first come, first served for the children both place (issue 21's like-for-like rule).

Placing more children comes first, but not by making the children today's practice would have placed fare worse:
over the children both answers place, ours must have at least the mean fit, at most the mean miles from home and
at most as many placements out of their area.  An answer that breaks this is mended here, part by part.

The parts are the components of :func:`matching.allocation.merge.components` between our answer and first come,
first served's: in each, taking either side's choices leaves a valid allocation.  A component taking first come,
first served's choices gives its children exactly that answer's figures; one keeping ours changes the sums over
the children both place by its own differences.  So the guard chooses which components keep ours: the most value
(children placed, urgency-weighted, then fit) such that, summed over them, the fit of the children both place
does not fall, nor their miles or placements out of area rise.  That choice is a small integer programme (one
yes/no a component, three constraints), solved by HiGHS (or, with no time left for it, chosen greedily); taking
first come, first served's side everywhere always meets it, so an answer always exists.

Mending alone gives back too much: nationally, the differences between an answer found for children placed and
fit alone and first come, first served's form one part of thousands of units, and keeping first come, first
served's side of it gives back most of the extra children.  So the search itself is steered (:func:`steered`): the
rule's three rows are priced into the objective (a Lagrangian relaxation with fixed multipliers), so that placing one
more child is weighed against what it costs the children first come, first served places, in fit, miles and area.
The search then places a few children fewer than it could while ignoring the rule, and the mending gives back few.
National benchmark, 11-12 s of search, urgency-weighted children kept: mended alone, about 11,200 of 12,200; steered
within fit alone (placing a child always first), then mended, 12,073; priced in children, then mended, 12,170-12,190.
The household bound, which ignores the rule, is 12,260; with the rule's rows in its master programme, that programme
still reached 12,247, so in the relaxation the rule costs at most about 13 children.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from matching.allocation.instance import (
    SCALE,
    AllocationInstance,
    Arc,
    arc_array,
    arc_values,
    cached_array,
    weighted_children,
)
from matching.allocation.merge import components
from matching.allocation.validate import objective

#: Fit and miles are compared in millionths (integers: sums in any order agree exactly).
MICRO = 1_000_000
#: The time kept for the guard from the search (the solver's, when it is asked for): HiGHS's choice of components
#: (166 nationally) gets most of it; past it, a greedy choice.
GUARD_SECONDS = 0.5
#: ... of which an instance needs about this much a pair, and a little more (measured: 0.36 s for England's 385,000
#: pairs, 2 ms for a region's 38,000): a region keeps 0.08 s, not 0.5, from its search.
GUARD_SECONDS_PER_ARC = 1.5e-6


def guard_seconds(arcs: int) -> float:
    """The time kept for the guard on an instance of ``arcs`` eligible pairs (at most :data:`GUARD_SECONDS`)."""
    return min(GUARD_SECONDS, 0.02 + GUARD_SECONDS_PER_ARC * arcs)


#: The multipliers of :func:`steered`, in urgency-weighted children: what a point of fit for a child first come, first
#: served places is worth, a mile further from home than its choice costs, and a placement out of its area where that
#: choice is in it costs.  They are close to the linear relaxation's prices of the rule's three rows on the national
#: benchmark (0.0107, 0.00088, 0.003: the rule's rows added to the household bound's master programme, converged by
#: column generation), where a child's placement weighs 1, 2 or 4.  National benchmark, 11-12 s of search (one-off
#: runs of the search and the mending alone), urgency-weighted children kept after mending: at these prices
#: 12,170-12,190; at half of each 12,178; at one and a half times each 12,170; without the miles and area terms 11,910;
#: against 12,073 for the earlier steering within fit alone.  The search's own noise is some tens of children.
STEER_FIT, STEER_MILES, STEER_AWAY = 0.01, 0.0009, 0.003


@dataclass(frozen=True)
class Mended:
    """The answer after the guard, and what it changed: components given first come, first served's choices,
    and the urgency-weighted children and objective value (hundredths) that cost."""

    assignment: dict[int, int]
    reverted: int
    children_lost: int
    value_lost: int

    @classmethod
    def against(
        cls, instance: AllocationInstance, found: dict[int, int], kept: dict[int, int], reverted: int
    ) -> Mended:
        """``kept`` in place of ``found``, with ``reverted`` parts given first come, first served's choices: what that
        cost against ``found`` in urgency-weighted children and objective value (hundredths)."""
        children = weighted_children(instance, found) - weighted_children(instance, kept)
        value = round((objective(instance, found) - objective(instance, kept)) * SCALE)
        return cls(kept, reverted, children, value)

    @property
    def changed(self) -> bool:
        """Whether keeping the rule changed the answer found, or cost anything against it."""
        return bool(self.reverted or self.children_lost or self.value_lost)


def steered(instance: AllocationInstance, first_come: dict[int, int]) -> AllocationInstance:
    """``instance`` with the like-for-like rule priced into its scores (a Lagrangian relaxation of the rule's three
    rows with the fixed multipliers :data:`STEER_FIT`, :data:`STEER_MILES` and :data:`STEER_AWAY`): each pair of a unit
    ``first_come`` places gains, in children, what it adds to the rule's rows (:func:`rule_rows`: fit above that
    choice, miles and placements out of area below it) at those prices; every other score is kept.  A child placed
    can now be worth less than the fit it costs the children first come, first served places, so the search trades
    one for the other as the rule does; a pair's value stays positive (a unit is never worth less than leaving it
    unplaced through the prices alone).  Units, households, rules and arc order are the same, so an answer to it is
    an answer to ``instance``; and over any allocation keeping the rule the added scores sum to at least 0, so a bound
    on the steered objective bounds the children such an allocation places."""
    if not instance.arcs or not first_come:
        return instance
    priced = rule_prices(instance, first_come)
    weight = np.array([u.weight for u in instance.units], dtype=np.float64)[arc_array(instance, "unit")]
    # At least one hundredth of a point of value left: placing a child is never made worth nothing or less.
    floor = -weight * instance.child_weight + 1.0 / SCALE
    # Values count in hundredths: the price is rounded up on its own, so that over an allocation keeping the rule the
    # rounded prices too add at least nothing (rounding the priced score as a whole could lose a hundredth).
    score = np.round(arc_array(instance, "score") * SCALE)
    raw = np.maximum((score + np.ceil(priced * instance.child_weight * SCALE)) / SCALE, floor)
    arcs = [Arc(a.unit, a.household, s, a.distance_miles) for a, s in zip(instance.arcs, raw.tolist(), strict=True)]
    on = AllocationInstance(
        instance.units,
        instance.households,
        arcs,
        dict(instance.unit_without_arcs),
        instance.context,
        not_considered=set(instance.not_considered),
        staying=set(instance.staying),
        regions=dict(instance.regions),
        # Its scores carry prices in this instance's children: its parts (a neighbourhood's, what rounding leaves open)
        # must weigh a child as it does, not by their own count of units.
        children_worth=instance.child_weight,
    )
    # The same pairs, and the scores just computed: kept on it rather than read again from its arcs.
    for name, array in (("unit", arc_array(instance, "unit")), ("household", arc_array(instance, "household"))):
        cached_array(on, name, partial(_same, array))
    cached_array(on, "score", partial(_same, raw))
    return on


def rule_prices(instance: AllocationInstance, first_come: dict[int, int]) -> np.ndarray:
    """What each pair adds to the like-for-like rule's rows (:func:`rule_rows`) at the steering prices
    (:data:`STEER_FIT`, :data:`STEER_MILES`, :data:`STEER_AWAY`), in urgency-weighted children: positive where it
    does better than first come, first served's choice for the unit, zero for units it does not place."""
    fit, miles, away = rule_rows(instance, first_come)
    return np.asarray((STEER_FIT * fit - STEER_MILES * miles) / MICRO - STEER_AWAY * away, dtype=np.float64)


def _same(array: np.ndarray) -> np.ndarray:
    return array


def rule_rows(instance: AllocationInstance, first_come: dict[int, int]) -> np.ndarray:
    """The like-for-like rule as three linear rows over the arcs (shape 3 x arcs, exact integers): what placing an
    arc's unit there adds, over the children both place, to our fit minus first come, first served's, and to our
    miles and placements out of area minus its (millionths; children; every child of a unit counted, miles only
    where both are known); zero for units it does not place.  An allocation keeps the rule exactly when, summed
    over its arcs, the first row is at least 0 and the other two at most 0.  Read-only, kept on the instance for the
    same ``first_come`` (a guarded allocation asks for them three or four times: 0.17 s each for England)."""
    return cached_array(instance, "rule_rows", lambda: _rule_rows(instance, first_come), given=first_come)


def _rule_rows(instance: AllocationInstance, first_come: dict[int, int]) -> np.ndarray:
    rows = np.zeros((3, len(instance.arcs)), dtype=np.int64)
    if not instance.arcs or not first_come:
        return rows
    unit, household = arc_array(instance, "unit"), arc_array(instance, "household")
    chosen = np.full(len(instance.units), -1, dtype=np.int64)
    chosen[list(first_come)] = list(first_come.values())
    placed = chosen[unit] >= 0
    ref = np.where(placed, chosen[unit], 0)  # first come, first served's arc for the unit (any arc when none)
    size = np.array([u.size for u in instance.units], dtype=np.int64)[unit]
    fit = np.round(arc_array(instance, "score") * MICRO).astype(np.int64)
    miles = np.fromiter(
        (np.nan if a.distance_miles is None else a.distance_miles for a in instance.arcs),
        dtype=np.float64,
        count=len(instance.arcs),
    )
    known = ~np.isnan(miles)
    far = np.round(np.nan_to_num(miles) * MICRO).astype(np.int64)
    home = np.array([u.la_code for u in instance.units], dtype=object)[unit]
    away = (np.array([h.la_code for h in instance.households], dtype=object)[household] != home).astype(np.int64)
    rows[0] = np.where(placed, size * (fit - fit[ref]), 0)
    rows[1] = np.where(placed & known & known[ref], size * (far - far[ref]), 0)
    rows[2] = np.where(placed, size * (away - away[ref]), 0)
    return rows


def _kept(sums: np.ndarray) -> bool:
    """Whether the rows of :func:`rule_rows`, summed over an allocation's arcs, keep the rule."""
    return bool(sums[0] >= 0 and sums[1] <= 0 and sums[2] <= 0)


def holds(instance: AllocationInstance, ours: dict[int, int], first_come: dict[int, int]) -> bool:
    """Whether, over the children both ``ours`` and ``first_come`` place, ours has at least the fit and at most the
    miles from home and placements out of area (the like-for-like rule, in :func:`rule_rows`' exact sums)."""
    return _kept(rule_rows(instance, first_come)[:, list(ours.values())].sum(axis=1))


def no_worse_than_first_come(
    instance: AllocationInstance,
    ours: dict[int, int],
    first_come: dict[int, int],
    *,
    seconds: float = 0.6 * GUARD_SECONDS,
) -> Mended:
    """``ours`` mended so that, over the children both it and ``first_come`` place, its mean fit is no lower and its
    mean miles from home and placements out of area no higher; the most value kept (see the module).  Unchanged when
    it already is."""
    parts = components(instance, ours, first_come)
    if not parts:
        return Mended(dict(ours), 0, 0, 0)
    rows, values = rule_rows(instance, first_come), arc_values(instance)
    # Each component: our value minus theirs (hundredths), and the rule's rows summed over our arcs there (taking
    # first come, first served's side adds nothing to them).
    ours_at = [[ours[u] for u in units if u in ours] for units in parts]
    theirs_at = [[first_come[u] for u in units if u in first_come] for units in parts]
    value = np.array([values[a].sum() - values[b].sum() for a, b in zip(ours_at, theirs_at, strict=True)], float)
    fit, miles, away = np.array([rows[:, a].sum(axis=1) for a in ours_at], dtype=np.float64).reshape(-1, 3).T
    if _kept(np.array([fit.sum(), miles.sum(), away.sum()])):
        return Mended(dict(ours), 0, 0, 0)
    keep = _choose(value, fit, miles, away, seconds)
    assignment = dict(ours)
    for units, kept in zip(parts, keep.tolist(), strict=True):
        if not kept:
            for u in units:
                assignment.pop(u, None)
                if u in first_come:
                    assignment[u] = first_come[u]
    lost = [units for units, kept in zip(parts, keep.tolist(), strict=True) if not kept]
    children = sum(instance.units[u].weight * ((u in ours) - (u in first_come)) for units in lost for u in units)
    return Mended(assignment, len(lost), int(children), int(value[~keep].sum()))


def _choose(value: np.ndarray, fit: np.ndarray, miles: np.ndarray, away: np.ndarray, seconds: float) -> np.ndarray:
    """Which components keep ours: the most value with the fit summed over them not negative and the miles and
    placements out of area not positive (HiGHS, given ``seconds``; the greedy choice when it finds none in them, or
    when ``seconds`` is 0)."""
    n = len(value)
    start = None
    if seconds > 0:
        rows = LinearConstraint(
            np.vstack([fit, -miles, -away]), lb=np.zeros(3), ub=np.full(3, np.inf)
        )  # sum(fit) >= 0, sum(miles) <= 0, sum(away) <= 0
        found = milp(
            -value,
            constraints=rows,
            integrality=np.ones(n),
            bounds=Bounds(0, 1),
            options={"time_limit": seconds, "disp": False, "presolve": True},
        )
        start = None if found.x is None else np.round(found.x).astype(bool)
    # Checked exactly (HiGHS keeps to a tolerance); when it breaks a constraint, the greedy choice mends it from there.
    keep = _greedy(value, fit, miles, away, start)
    # Never worth less than first come, first served's own answer (every component given back).
    return keep if value[keep].sum() >= 0 else np.zeros(n, dtype=bool)


def _greedy(
    value: np.ndarray, fit: np.ndarray, miles: np.ndarray, away: np.ndarray, start: np.ndarray | None = None
) -> np.ndarray:
    """Keep every component (or those of ``start``), then give back the one costing least value per unit of what is
    still broken, until nothing is (giving back all of them always mends it); ties by position."""
    keep = np.ones(len(value), dtype=bool) if start is None else start.copy()
    while True:
        broken = np.array([max(0.0, -fit[keep].sum()), max(0.0, miles[keep].sum()), max(0.0, away[keep].sum())])
        if not broken.any():
            return keep
        # How much of what is broken giving back each kept component mends (each measure scaled by how broken it is).
        mends = (
            np.maximum(0.0, -fit) / max(broken[0], 1.0) * (broken[0] > 0)
            + np.maximum(0.0, miles) / max(broken[1], 1.0) * (broken[1] > 0)
            + np.maximum(0.0, away) / max(broken[2], 1.0) * (broken[2] > 0)
        )
        cost = np.where(keep & (mends > 0), np.maximum(value, 0.0) / np.maximum(mends, 1e-12), np.inf)
        k = int(np.argmin(cost))
        if not np.isfinite(cost[k]):  # nothing kept mends it: give back everything
            return np.zeros(len(value), dtype=bool)
        keep[k] = False
