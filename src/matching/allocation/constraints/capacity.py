"""Every unit's size and every household's room, as arrays: the facts the room families and the bounds read.

A household's **room** is its free places under the usual fostering limit (all its free places with
an exemption), and at least 1, so that a sibling group over the usual limit may still go in alone
into an empty household.  A unit that must live alone (a "solo" child, or a sibling group over the
usual limit) weighs the whole room; every other unit weighs its number of children
(:meth:`RoomArrays.weights`, used by :mod:`~matching.allocation.constraints.room` and by the bounds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
