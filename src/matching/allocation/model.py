"""The exact allocation model for CP-SAT, written so that its linear relaxation is tight and its size linear.

One boolean per eligible pair.  Pairs no valid allocation can use (a unit larger than the free
places; over the usual fostering limit unless a sibling group goes alone into an empty household)
are fixed to false.  Then:

* **one household per unit**: at most one of a unit's pairs;
* **room**: in each household, the sum of the pairs' weights is at most the room, where the room is
  the free places under the usual limit (all free places with an exemption), and at least 1.  A unit that must live
  alone (a "solo" child, or a sibling group over the usual limit) weighs the whole room, so placing
  it leaves no room for anyone; every other unit weighs its number of children.  This is exact and
  much tighter than "if alone then nobody else" in the linear relaxation;
* **who can live together** (who the child can live alongside, risks to others): every such rule
  of every child is a range of ages it rules out (:class:`matching.eligibility.together.Limit`).
  For a household and a range, ``N`` counts the children placed in units with a child of an age in
  that range.  A unit with a child holding that limit adds ``N + (C - own) x <= C``, where ``C`` is
  the household's free places and ``own`` the unit's own children counted in ``N``: placed, it
  leaves ``N`` nothing but itself; not placed, the constraint is implied.  (Limits between
  siblings of one unit are the care plan's to weigh, shown as warnings; they never bar the unit.)  One constraint per restricted pair, instead of one per conflicting
  pair of pairs (millions nationally).  (Sharing ``N`` through an integer variable made CP-SAT
  slower here, so each constraint spells its terms out.)

The solution validator (:mod:`matching.allocation.validate`) stays the specification: every answer
from this model passes through it, and the tests check both agree constraint by constraint.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from matching.allocation.deadline import OutOfTime
from matching.allocation.instance import AllocationInstance, arc_array


def room_allows(
    size: np.ndarray, vacancies: np.ndarray, usual: np.ndarray, exempt: np.ndarray, empty: np.ndarray
) -> np.ndarray:
    """Whether a unit of ``size`` may go into a household with these free places, usual room, exemption
    and emptiness (all arrays, one entry per pair): room at all, and within the usual limit unless a
    sibling group goes alone into an empty household."""
    over_limit = ~exempt & (size > usual)
    return (size <= vacancies) & (~over_limit | (empty & (size > 1)))


@dataclass(frozen=True)
class RoomArrays:
    """Every unit's size, and every household's room, as arrays (:class:`HouseholdRoom`'s fields)."""

    sizes: np.ndarray  # children per unit
    vacancies: np.ndarray  # free places per household
    usual: np.ndarray  # places left under the usual limit; all free places with an exemption
    exempt: np.ndarray
    empty: np.ndarray

    @classmethod
    def of(cls, instance: AllocationInstance) -> RoomArrays:
        """The arrays of ``instance``."""
        vacancies = np.array([r.vacancies for r in instance.households], dtype=np.int64)
        exempt = np.array([r.usual_room is None for r in instance.households], dtype=bool)
        usual = np.array([r.vacancies if r.usual_room is None else r.usual_room for r in instance.households])
        return cls(
            np.array([u.size for u in instance.units], dtype=np.int64),
            vacancies,
            usual.astype(np.int64),
            exempt,
            np.array([r.empty for r in instance.households], dtype=bool),
        )

    def room(self) -> np.ndarray:
        """Each household's room constraint: its places (:attr:`HouseholdRoom.places`), at least 1, so that
        a sibling group over the usual limit may still go in alone."""
        return np.maximum(1, np.minimum(self.vacancies, self.usual))

    def weights(self, instance: AllocationInstance, arcs: np.ndarray) -> np.ndarray:
        """What each of ``arcs`` weighs in its household's room: the whole room for a unit that must live
        alone (:meth:`HouseholdRoom.must_live_alone`), its number of children otherwise."""
        unit, home = arc_array(instance, "unit")[arcs], arc_array(instance, "household")[arcs]
        solo = np.array([u.solo for u in instance.units], dtype=bool)
        size = self.sizes[unit]
        alone = solo[unit] | (~self.exempt[home] & (size > self.usual[home]))
        return np.where(alone, self.room()[home], size)


def usable(instance: AllocationInstance) -> np.ndarray:
    """For each arc, whether some valid allocation could use it (room for the unit at all)."""
    if not instance.arcs:
        return np.zeros(0, dtype=bool)
    rooms = RoomArrays.of(instance)
    unit, home = arc_array(instance, "unit"), arc_array(instance, "household")
    return room_allows(
        rooms.sizes[unit], rooms.vacancies[home], rooms.usual[home], rooms.exempt[home], rooms.empty[home]
    )


def _thresholds(instance: AllocationInstance, k: int) -> list[tuple[int, int]]:
    """The age ranges (lo, hi) that arc ``k``'s unit rules out for other units in the household: every limit of
    every child of the unit, except "only child", which the room already weighs (:meth:`RoomArrays.weights`)."""
    u = instance.units[instance.arcs[k].unit]
    return sorted({(lim.lo, lim.hi) for lims in u.limits for lim in lims if lim.kind != "solo"})


def build_model(
    instance: AllocationInstance, until: float | None = None
) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
    """The constraints of an allocation over ``instance`` (one boolean per arc, in arc order), without
    an objective.  Raises :class:`~matching.allocation.deadline.OutOfTime` once ``until`` (a
    :func:`time.perf_counter` value) passes while building."""

    def check() -> None:
        if until is not None and time.perf_counter() > until:
            raise OutOfTime

    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{k}") for k in range(len(instance.arcs))]
    check()
    ok = usable(instance)
    for dead in np.flatnonzero(~ok).tolist():
        model.add(x[dead] == 0)
    by_unit: dict[int, list[int]] = defaultdict(list)
    by_household: dict[int, list[int]] = defaultdict(list)
    for k in np.flatnonzero(ok).tolist():
        arc = instance.arcs[k]
        by_unit[arc.unit].append(k)
        by_household[arc.household].append(k)
    for arcs in by_unit.values():
        model.add_at_most_one(x[k] for k in arcs)
    units = instance.units
    rooms = RoomArrays.of(instance)
    room_of = rooms.room().tolist()
    in_room = np.zeros(len(instance.arcs), dtype=np.int64)
    in_room[ok] = rooms.weights(instance, np.flatnonzero(ok))
    weight_of = in_room.tolist()
    for i, (h, arcs) in enumerate(by_household.items()):
        if i % 64 == 0:
            check()
        room = instance.households[h]
        model.add(cp_model.LinearExpr.weighted_sum([x[k] for k in arcs], [weight_of[k] for k in arcs]) <= room_of[h])
        rules: dict[tuple[int, int], list[int]] = defaultdict(list)
        for k in arcs:
            for span in _thresholds(instance, k):
                rules[span].append(k)
        if not rules:
            continue
        ages = {k: units[instance.arcs[k].unit].ages for k in arcs}
        cap = room.vacancies
        for (lo, hi), restricted in sorted(rules.items()):
            counted = [k for k in arcs if any(lo <= a <= hi for a in ages[k])]
            sizes = [units[instance.arcs[k].unit].size for k in counted]
            position = {k: i for i, k in enumerate(counted)}
            for k in restricted:
                terms, weights = [x[j] for j in counted], list(sizes)
                if k in position:  # counted with its own children: own + (cap - own)
                    weights[position[k]] = cap
                else:  # its own children are not counted: own = 0
                    terms.append(x[k])
                    weights.append(cap)
                model.add(cp_model.LinearExpr.weighted_sum(terms, weights) <= cap)
    return model, x
