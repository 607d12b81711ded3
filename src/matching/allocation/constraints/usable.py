"""Pairs no valid allocation can use: fixed to 0.

An arc is usable only if its unit fits its household on its own: no more children than the free
places, and within the usual fostering limit unless a sibling group goes alone into an empty
household (:func:`~matching.allocation.constraints.capacity.room_allows`).  A unit that does not fit
an empty-of-others household fits it with nobody else either, so fixing such an arc to 0 removes no
valid allocation; every other family is written over the usable arcs only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from matching.allocation.constraints.capacity import RoomArrays, room_allows
from matching.allocation.constraints.rows import Rows, chosen, rows_of
from matching.allocation.instance import AllocationInstance, arc_array

FAMILY = "usable"


def usable(instance: AllocationInstance) -> np.ndarray:
    """For each arc, whether some valid allocation could use it (room for the unit at all)."""
    if not instance.arcs:
        return np.zeros(0, dtype=bool)
    rooms = RoomArrays.of(instance)
    unit, home = arc_array(instance, "unit"), arc_array(instance, "household")
    return room_allows(
        rooms.sizes[unit], rooms.vacancies[home], rooms.usual[home], rooms.exempt[home], rooms.empty[home]
    )


def rows(instance: AllocationInstance, ok: np.ndarray | None = None) -> Rows:
    """``x[k] <= 0`` for every arc ``k`` that is not usable (``ok``: :func:`usable`, if already known);
    each row is about its arc."""
    ok = usable(instance) if ok is None else ok
    dead = np.flatnonzero(~ok)
    return rows_of(FAMILY, np.arange(len(dead)), dead, np.ones(len(dead)), np.zeros(len(dead)), dead)


def violations(instance: AllocationInstance, assignment: Mapping[int, int]) -> list[str]:
    """The arcs of ``assignment`` (unit -> arc index) that no valid allocation can use, in words."""
    out = []
    family = rows(instance)
    for r in family.broken(chosen(instance, assignment)):
        arc = instance.arcs[int(family.about[r, 0])]
        unit, room = instance.units[arc.unit], instance.households[arc.household]
        if unit.size > room.vacancies:
            why = f"{unit.size} children for {room.vacancies} free places"
        else:
            why = (
                f"{unit.size} children over the usual fostering limit, not a sibling group alone in an empty household"
            )
        out.append(f"{room.household_id}: no room for {unit.unit_id} ({why})")
    return out
