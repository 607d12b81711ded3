"""How placements are made today, for comparison: first come first served, and greedy best pair first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from matching.allocation.instance import AllocationInstance, arc_array, arc_values
from matching.allocation.validate import fits


def first_come_first_served(instance: AllocationInstance) -> dict[int, int]:
    """Each unit in referral order (then id) takes its best household still available."""
    by_unit = instance.arcs_of_unit()
    order = sorted(
        range(len(instance.units)), key=lambda u: (instance.units[u].referral_date, instance.units[u].unit_id)
    )
    return _place(
        instance,
        [
            (u, sorted(by_unit.get(u, ()), key=lambda k: (-instance.arcs[k].score, instance.arcs[k].household)))
            for u in order
        ],
    )


def greedy_best_pair(instance: AllocationInstance) -> dict[int, int]:
    """The most valuable remaining pair first (urgency and fit), ties by unit then household."""
    if not instance.arcs:
        return {}
    unit, household = arc_array(instance, "unit"), arc_array(instance, "household")
    order = np.lexsort((household, unit, -arc_values(instance))).tolist()
    units = unit.tolist()
    return _place(instance, ((units[k], (k,)) for k in order))


def _place(instance: AllocationInstance, plan: Iterable[tuple[int, Sequence[int]]]) -> dict[int, int]:
    assignment: dict[int, int] = {}
    placed: dict[int, list[int]] = defaultdict(list)
    load = [0] * len(instance.households)
    for unit, candidates in plan:
        if unit in assignment:
            continue
        size = instance.units[unit].size
        for k in candidates:
            h = instance.arcs[k].household
            if load[h] + size > instance.households[h].vacancies:  # no room: the quick test before the rules
                continue
            if fits(instance, placed[h], unit, h):
                load[h] += size
                assignment[unit] = k
                placed[h].append(unit)
                break
    return assignment
