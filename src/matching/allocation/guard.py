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
yes/no a component, three constraints), solved by HiGHS; taking first come, first served's side everywhere always
meets it, so an answer always exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from matching.allocation.instance import AllocationInstance, arc_values
from matching.allocation.merge import components

#: Fit and miles are compared in millionths (integers: sums in any order agree exactly).
_MICRO = 1_000_000
#: The time kept for the guard from the search (the solver's, when it is asked for): HiGHS's choice of components
#: (166 nationally) gets most of it; past it, a greedy choice.
GUARD_SECONDS = 0.5


@dataclass(frozen=True)
class Mended:
    """The answer after the guard, and what it changed: components given first come, first served's choices,
    and the urgency-weighted children and objective value (hundredths) that cost."""

    assignment: dict[int, int]
    reverted: int
    children_lost: int
    value_lost: int


def _differences(
    instance: AllocationInstance, ours: dict[int, int], first_come: dict[int, int], units: list[int]
) -> tuple[int, int, int, int]:
    """For one component: our value minus theirs (hundredths), and over its children both place, our fit minus
    theirs, their miles from home (where known) and their placements out of area (millionths; children)."""
    values = arc_values(instance)
    value = sum(int(values[ours[u]]) for u in units if u in ours) - sum(
        int(values[first_come[u]]) for u in units if u in first_come
    )
    fit = miles = away = 0
    for u in units:
        if u not in ours or u not in first_come:
            continue
        size = instance.units[u].size
        mine, theirs = instance.arcs[ours[u]], instance.arcs[first_come[u]]
        fit += size * (round(mine.score * _MICRO) - round(theirs.score * _MICRO))
        if mine.distance_miles is not None and theirs.distance_miles is not None:
            miles += size * (round(mine.distance_miles * _MICRO) - round(theirs.distance_miles * _MICRO))
        la = instance.units[u].la_code
        away += size * (
            int(instance.households[mine.household].la_code != la)
            - int(instance.households[theirs.household].la_code != la)
        )
    return value, fit, miles, away


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
    diff = np.array([_differences(instance, ours, first_come, units) for units in parts], dtype=np.float64)
    value, fit, miles, away = diff.T
    if fit.sum() >= 0 and miles.sum() <= 0 and away.sum() <= 0:
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
    placements out of area not positive (HiGHS; a greedy choice when it finds none in ``seconds``)."""
    n = len(value)
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
