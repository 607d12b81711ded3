"""Our allocation against first come, first served, like for like (issue 21): for the children both place, the
mean fit, the mean miles from home and the children placed out of their area under each; and, apart, the same
figures for the children only one of them places; and who each method places, by group of children.  Placing more
children is not allowed to hide a worse answer for the children today's practice would have placed."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from matching.allocation.instance import AllocationInstance, Arc
from matching.decisions.monitoring import ALL_GROUPS, GROUP_ATTRIBUTES, SMALL_GROUP, group_values, group_words


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


@dataclass
class _Placed:
    """One method's placements of one group's children: how many, the sum of their fit, and of the miles from home
    of those with a known distance."""

    placed: int = 0
    fit: float = 0.0
    miles: float = 0.0
    known: int = 0

    def add(self, arc: Arc) -> None:
        self.placed += 1
        self.fit += arc.score
        if arc.distance_miles is not None:
            self.miles += arc.distance_miles
            self.known += 1

    def figures(self, waiting: int) -> dict[str, Any]:
        return {
            "placed": self.placed,
            "placed_share": round(self.placed / waiting, 3),
            "mean_fit": round(self.fit / self.placed, 2) if self.placed else None,
            "mean_distance_miles": round(self.miles / self.known, 1) if self.known else None,
        }


def fairness_by_group(
    instance: AllocationInstance, ours: dict[int, int], first_come: dict[int, int]
) -> list[dict[str, Any]]:
    """For each group of children (sex, ethnicity group, age band, disability, UASC, as the monitoring names them)
    waiting in the instance: how many wait, and under each method the share placed, the mean fit and the mean
    miles from home.  A group of fewer than :data:`SMALL_GROUP` children is counted but its figures not shown.
    Empty when the instance holds no records (a hand-made one)."""
    ctx = instance.context
    if ctx is None:
        return []
    methods = {"ours": ours, "first_come_first_served": first_come}
    waiting: Counter[tuple[str, str]] = Counter()
    placed: defaultdict[tuple[str, str], dict[str, _Placed]] = defaultdict(lambda: {n: _Placed() for n in methods})
    for u, unit in enumerate(instance.units):
        request = ctx.requests[u]
        children = {c.child_id: c for c in (request.child, *request.siblings)}
        for child_id in unit.child_ids:
            child = children.get(child_id)
            if child is None:
                continue
            for key in group_values(child, request.on).items():
                waiting[key] += 1
                for name, assignment in methods.items():
                    if u in assignment:
                        placed[key][name].add(instance.arcs[assignment[u]])
    out: list[dict[str, Any]] = []
    for attribute in GROUP_ATTRIBUTES:
        found = {g for (a, g) in waiting if a == attribute}
        for group in [
            *(g for g in ALL_GROUPS.get(attribute, ()) if g in found),
            *sorted(found - set(ALL_GROUPS.get(attribute, ()))),
        ]:
            n = waiting[(attribute, group)]
            shown = n >= SMALL_GROUP
            row: dict[str, Any] = {
                "attribute": attribute,
                "group": group,
                "words": group_words(attribute, group),
                "waiting": n if shown else None,
                "suppressed": not shown,
            }
            for name in methods:
                row[name] = placed[(attribute, group)][name].figures(n) if shown else None
            out.append(row)
    return out
