"""The exact allocation model for CP-SAT: every constraint family's rows, emitted as CP-SAT constraints.

One boolean per eligible pair (arc), in arc order.  The rows, and why each is exact, are written
once in :mod:`matching.allocation.constraints` (pairs no valid allocation can use, one household per
unit, room, who can live together); this module only hands them to CP-SAT, "one household per unit"
as CP-SAT's own "at most one", in the order the model has always had (CP-SAT's search depends on
it).  The linear relaxation is tight and the size linear.

The solution validator (:mod:`matching.allocation.validate`) stays the specification: every answer
from this model passes through it, and the tests check both agree constraint by constraint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np
from ortools.sat.python import cp_model

from matching.allocation.constraints import one_household, room, together
from matching.allocation.constraints import usable as usable_family
from matching.allocation.constraints.rows import Rows
from matching.allocation.constraints.usable import usable
from matching.allocation.deadline import OutOfTime
from matching.allocation.instance import AllocationInstance, arc_array

#: How many rows are emitted between two looks at the clock.
ROWS_PER_CHECK = 1024


def _no_check() -> None:
    """No deadline."""


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
    dead, units = usable_family.rows(instance, ok), one_household.rows(instance, ok)
    rooms, limits = room.rows(instance, ok), together.rows(instance, ok)
    check()
    add_rows(model, x, dead, check)
    add_rows(model, x, units, check)
    # Household by household (in order of their first usable arc), its room and then its limits: the order the
    # model has always had, so that CP-SAT searches as it did.
    arc_of = np.where(ok, np.arange(len(ok)), len(ok))
    first = np.full(len(instance.households), len(ok))
    np.minimum.at(first, arc_array(instance, "household"), arc_of)
    limit_rows = np.searchsorted(limits.about[:, 0], np.arange(len(instance.households) + 1)).tolist()
    for i, r in enumerate(np.argsort(first[rooms.about[:, 0]], kind="stable").tolist()):
        if i % 64 == 0:
            check()
        home = int(rooms.about[r, 0])
        add_rows(model, x, rooms, rows_at=[r])
        add_rows(model, x, limits, rows_at=range(limit_rows[home], limit_rows[home + 1]))
    return model, x


def add_rows(
    model: cp_model.CpModel,
    x: list[cp_model.IntVar],
    rows: Rows,
    check: Callable[[], None] = _no_check,
    *,
    rows_at: Iterable[int] | None = None,
) -> None:
    """Add ``rows`` (those at ``rows_at`` only, if given) over the booleans ``x`` (one per arc) to ``model``: pairs
    no valid allocation can use fixed to 0, "one household per unit" as CP-SAT's own "at most one", every other
    row as a linear constraint.  ``check`` is called every :data:`ROWS_PER_CHECK` rows."""
    for i, (arcs, coefs, upper) in enumerate(rows.each(rows_at)):
        if i % ROWS_PER_CHECK == 0:
            check()
        if rows.family == usable_family.FAMILY:
            model.add(x[arcs[0]] == 0)
        elif rows.family == one_household.FAMILY:
            model.add_at_most_one(x[k] for k in arcs)
        else:
            model.add(cp_model.LinearExpr.weighted_sum([x[k] for k in arcs], coefs) <= upper)
