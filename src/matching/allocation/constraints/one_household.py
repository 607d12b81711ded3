"""One household per unit: at most one of a unit's usable arcs.

Exact by definition: a unit (a child, or siblings placed together) is placed whole, in one household,
or not at all.  CP-SAT takes these rows as "at most one" constraints.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from matching.allocation.constraints.rows import Rows, chosen, rows_of
from matching.allocation.constraints.usable import usable
from matching.allocation.instance import AllocationInstance, arc_array

FAMILY = "one_household"


def rows(instance: AllocationInstance, ok: np.ndarray | None = None) -> Rows:
    """``sum(x[k] for k of the unit) <= 1`` for every unit with a usable arc (``ok``: :func:`usable`, if
    already known); each row is about its unit, in unit order."""
    ok = usable(instance) if ok is None else ok
    arcs = np.flatnonzero(ok)
    units, row = np.unique(arc_array(instance, "unit")[arcs], return_inverse=True)
    return rows_of(FAMILY, row, arcs, np.ones(len(arcs)), np.ones(len(units)), units)


def violations(instance: AllocationInstance, assignment: Mapping[int, int]) -> list[str]:
    """The units that ``assignment`` (unit -> arc index) places in more than one household, in words."""
    family = rows(instance)
    x = chosen(instance, assignment)
    load = family.activity(x)
    return [
        f"{instance.units[int(family.about[r, 0])].unit_id}: placed in {load[r]} households" for r in family.broken(x)
    ]
