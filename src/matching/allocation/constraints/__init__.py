"""The exact allocation model's constraints, one module per family, each written once as solver-neutral rows.

One 0/1 variable per eligible pair (arc).  The families, each exact and together tight in the
linear relaxation and linear in size:

* :mod:`~matching.allocation.constraints.usable`: pairs no valid allocation can use, fixed to 0;
* :mod:`~matching.allocation.constraints.one_household`: at most one household per unit;
* :mod:`~matching.allocation.constraints.room`: each household's room, a unit that must live alone
  weighing the whole room;
* :mod:`~matching.allocation.constraints.together`: who can live together (every limit a child puts
  on other children's ages).

Each family gives its rows (:class:`~matching.allocation.constraints.rows.Rows`), which the CP-SAT
model (:func:`matching.allocation.model.build_model`) and the HiGHS model
(:mod:`matching.allocation.peers`) emit, and its ``violations`` of an assignment in words.  The
solution validator (:mod:`matching.allocation.validate`) stays the specification; the tests check
that the families together break exactly when it does.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from matching.allocation.constraints import one_household, room, together, usable
from matching.allocation.constraints.rows import Rows
from matching.allocation.instance import AllocationInstance

#: Every family, in the order the models emit them.
FAMILIES = (usable, one_household, room, together)


def every_row(instance: AllocationInstance, ok: np.ndarray | None = None) -> list[Rows]:
    """Every family's rows over ``instance`` (``ok``: :func:`usable.usable`, if already known)."""
    ok = usable.usable(instance) if ok is None else ok
    return [family.rows(instance, ok) for family in FAMILIES]


def violations(instance: AllocationInstance, assignment: Mapping[int, int]) -> list[str]:
    """Every row of every family that ``assignment`` (unit -> arc index) breaks, in words."""
    return [problem for family in FAMILIES for problem in family.violations(instance, assignment)]
