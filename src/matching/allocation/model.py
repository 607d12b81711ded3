"""The exact allocation model for CP-SAT: every constraint family's rows, emitted as CP-SAT constraints.

One boolean per eligible pair (arc), in arc order.  The rows, and why each is exact, are written
once in :mod:`matching.allocation.constraints` (pairs no valid allocation can use, one household per
unit, room, who can live together); this module only hands them to CP-SAT, "one household per unit"
as CP-SAT's own "at most one".  The linear relaxation is tight and the size linear.

The solution validator (:mod:`matching.allocation.validate`) stays the specification: every answer
from this model passes through it, and the tests check both agree constraint by constraint.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ortools.sat.python import cp_model

from matching.allocation.constraints import FAMILIES, one_household
from matching.allocation.constraints.rows import Rows
from matching.allocation.constraints.usable import usable
from matching.allocation.deadline import OutOfTime
from matching.allocation.instance import AllocationInstance

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
    for family in FAMILIES:
        rows = family.rows(instance, ok)
        check()
        add_rows(model, x, rows, check)
    return model, x


def add_rows(
    model: cp_model.CpModel, x: list[cp_model.IntVar], rows: Rows, check: Callable[[], None] = _no_check
) -> None:
    """Add ``rows`` over the booleans ``x`` (one per arc) to ``model``: "one household per unit" as CP-SAT's own "at
    most one", every other row as a linear constraint.  ``check`` is called every :data:`ROWS_PER_CHECK` rows."""
    at_most_one = rows.family == one_household.FAMILY
    for r, (arcs, coefs, upper) in enumerate(rows.each()):
        if r % ROWS_PER_CHECK == 0:
            check()
        if at_most_one:
            model.add_at_most_one(x[k] for k in arcs)
        else:
            model.add(cp_model.LinearExpr.weighted_sum([x[k] for k in arcs], coefs) <= upper)
