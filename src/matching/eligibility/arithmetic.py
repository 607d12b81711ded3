"""The domain arithmetic the rules need, written once: ages on a date and the DfE distance.

Ages are whole years from the month of birth (children's records hold the month only): the
difference of two month indexes, integer-divided by 12.  Distances follow the DfE: the Euclidean
distance between national-grid points in metres / 1000 / 1.6093, in miles.
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar

import numpy as np

#: Metres in a mile as the DfE's distance divides them (1000 x 1.6093).
METRES_PER_MILE = 1609.3
#: Age from which a person no longer counts as a child living in the household.
ADULT_AGE = 18

_N = TypeVar("_N", float, np.ndarray)


def month_index(d: date) -> int:
    """Months since year 0: ages in whole years are differences of these // 12."""
    return d.year * 12 + d.month - 1


def age_on(birth_month: date, on: date) -> int:
    """Age in whole years on ``on`` of someone born in ``birth_month`` (never below 0)."""
    return max(0, (month_index(on) - month_index(birth_month)) // 12)


def age_from_months(on_month: int | np.ndarray, birth_months: np.ndarray) -> np.ndarray:
    """Whole-year ages on the month ``on_month`` (a :func:`month_index`) of people born in ``birth_months``."""
    return (on_month - birth_months) // 12


def miles(de: _N, dn: _N) -> _N:
    """DfE miles of a grid offset (metres east, metres north): scalars or arrays."""
    if isinstance(de, np.ndarray) or isinstance(dn, np.ndarray):
        return np.sqrt(de * de + dn * dn) / 1000 / 1.6093
    return float((de * de + dn * dn) ** 0.5 / 1000 / 1.6093)


def beyond_miles(de: _N, dn: _N, limit: float) -> bool | np.ndarray:
    """True where a grid offset is further than ``limit`` miles (compared in squared metres: no rounding)."""
    far = de * de + dn * dn > (limit * METRES_PER_MILE) ** 2
    return far if isinstance(far, np.ndarray) else bool(far)
