"""Our allocation against first come, first served, like for like (issue 21): for the children both place, the
mean fit, the mean miles from home and the children placed out of their area under each; and, apart, the same
figures for the children only one of them places.  Placing more children is not allowed to hide a worse answer
for the children today's practice would have placed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from matching.allocation.instance import AllocationInstance


def figures(instance: AllocationInstance, assignment: dict[int, int], units: Iterable[int]) -> dict[str, Any]:
    """For the children of ``units`` as ``assignment`` places them: how many, mean fit, mean miles from home
    (of those with a known distance) and how many out of their area (every child of a unit counted)."""
    children = fits = miles = 0.0
    known = out_of_area = 0
    for u in units:
        unit, arc = instance.units[u], instance.arcs[assignment[u]]
        children += unit.size
        fits += arc.score * unit.size
        if arc.distance_miles is not None:
            miles += arc.distance_miles * unit.size
            known += unit.size
        out_of_area += unit.size * (instance.households[arc.household].la_code != unit.la_code)
    return {
        "children": int(children),
        "mean_fit": round(fits / children, 2) if children else None,
        "mean_distance_miles": round(miles / known, 1) if known else None,
        "out_of_area": out_of_area,
    }


def like_for_like(instance: AllocationInstance, ours: dict[int, int], first_come: dict[int, int]) -> dict[str, Any]:
    """Ours against first come, first served: the children both place (each method's figures), the children only
    ours places, and the children only first come, first served places (see :func:`figures`)."""
    both = sorted(ours.keys() & first_come.keys())
    return {
        "both": {
            "ours": figures(instance, ours, both),
            "first_come_first_served": figures(instance, first_come, both),
        },
        "only_ours": figures(instance, ours, sorted(ours.keys() - first_come.keys())),
        "only_first_come_first_served": figures(instance, first_come, sorted(first_come.keys() - ours.keys())),
    }
