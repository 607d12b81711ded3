"""Room: in each household, the units placed weigh at most its room.

The room is the free places under the usual fostering limit (all free places with an exemption),
and at least 1 (:meth:`~matching.allocation.constraints.capacity.RoomArrays.room`).  A unit that
must live alone (a "solo" child, or a sibling group over the usual limit) weighs the whole room, so
placing it leaves no room for anyone; every other unit weighs its number of children
(:meth:`~matching.allocation.constraints.capacity.RoomArrays.weights`).

Exact: units that are not alone fit exactly when their children are within the free places and the
usual limit, which is the row.  A unit alone fills the row by itself, and it may go in on its own
(its arc is usable: :mod:`~matching.allocation.constraints.usable`); any other unit with it adds at
least 1 over the room.  This is much tighter than "if alone then nobody else" in the linear
relaxation.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from matching.allocation.constraints.capacity import RoomArrays
from matching.allocation.constraints.rows import Rows, chosen, rows_of
from matching.allocation.constraints.usable import usable
from matching.allocation.instance import AllocationInstance, arc_array

FAMILY = "room"


def rows(instance: AllocationInstance, ok: np.ndarray | None = None) -> Rows:
    """``sum(weight[k] * x[k] for usable k into the household) <= room`` for every household with a usable
    arc (``ok``: :func:`usable`, if already known); each row is about its household, in household order."""
    ok = usable(instance) if ok is None else ok
    arcs = np.flatnonzero(ok)
    rooms = RoomArrays.of(instance)
    households, row = np.unique(arc_array(instance, "household")[arcs], return_inverse=True)
    return rows_of(FAMILY, row, arcs, rooms.weights(instance, arcs), rooms.room()[households], households)


def violations(instance: AllocationInstance, assignment: Mapping[int, int]) -> list[str]:
    """The households that ``assignment`` (unit -> arc index) fills over their room, in words."""
    family = rows(instance)
    x = chosen(instance, assignment)
    load = family.activity(x)
    out = []
    for r in family.broken(x):
        h = int(family.about[r, 0])
        entries = range(family.starts[r], family.starts[r + 1])
        placed = [instance.arcs[k].unit for k in family.arc[entries].tolist() if x[k]]
        alone = [instance.units[u].unit_id for u in placed if instance.households[h].must_live_alone(instance.units[u])]
        why = f"; {', '.join(alone)} must live alone" if alone else ""
        names = ", ".join(instance.units[u].unit_id for u in placed)
        out.append(f"{instance.households[h].household_id}: {names} take {load[r]} of a room of {family.upper[r]}{why}")
    return out
