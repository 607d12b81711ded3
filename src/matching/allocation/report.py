"""Reporting on an allocation once it is found and checked: who is placed how well, why the others are not and
what would place them, the baselines beside it, like for like, and by group."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from matching.allocation.compare import fairness_by_group, like_for_like
from matching.allocation.instance import AllocationInstance
from matching.allocation.levers import suggested_levers

if TYPE_CHECKING:
    from matching.allocation.result import AllocationResult

#: Checking and summarising an answer (every placed child judged again by the rules, the reasons, the
#: baselines; and the caller's JSON of it): measured 0.6 s (and 0.3 s) for 5,730 units and 218,000 pairs
#: on a quiet machine, 1.4-2.2 s with two cores shared by five busy processes; kept back from the search.
REPORT_SECONDS = 0.05
REPORT_SECONDS_PER_UNIT = 200e-6
REPORT_SECONDS_PER_ARC = 2.5e-6


def reporting_seconds(units: int, arcs: int) -> float:
    """What checking and summarising an answer over ``units`` and ``arcs`` is expected to take, generously:
    the search stops this long before the deadline."""
    return REPORT_SECONDS + REPORT_SECONDS_PER_UNIT * units + REPORT_SECONDS_PER_ARC * arcs


def quality_words(payload: Mapping[str, Any]) -> str:
    """How good an allocation is, in a plain sentence, from its JSON (``status``, ``gap``, ``gaps``): one wording
    for the command and the pages.  An "optimal" answer whose fit is still short of its bound says so."""
    status, gap = payload.get("status"), float(payload.get("gap") or 0.0)
    gaps = payload.get("gaps") or {}
    fit_gap, children_gap = gaps.get("fit"), gaps.get("children") or 0.0
    if status == "out_of_time":
        return "Nothing is proposed: the time ran out before any child could be considered."
    if payload.get("objective_name") == "fairness" and status in ("optimal", "feasible"):
        return _fairness_words(status, gap, children_gap, fit_gap, payload.get("fairness") or {})
    rule = payload.get("no_worse_than_first_come") or {}
    under_rule = bool(rule.get("bound_keeps_rule"))
    if status == "optimal" and under_rule:
        return (
            "It is proven the best possible that leaves none of the children first come first served would place "
            "worse off: the most children placed under that rule, then the best fit."
        )
    if status == "optimal" and children_gap:  # never so now, but a stored result may say it
        return f"It may leave out children another allocation would place (within {100 * gap:.2g}% of a bound)."
    if status == "optimal" and fit_gap:
        return (
            "It places the most children any allocation can (urgency-weighted, proven); their fit is within "
            f"{100 * fit_gap:.2g}% of the best possible."
        )
    if status == "optimal":
        return "It is proven the best possible: the most children placed, then the best fit."
    if status == "baseline":
        return "It is the quick best-pair-first answer only: there was no time to improve on it."
    given_back = int(rule.get("children_given_back") or 0)
    if under_rule:
        return (
            f"It is within {100 * gap:.2g}% of the best possible that leaves none of the children first come first "
            "served would place worse off (a proven bound), not proven the best."
        )
    if given_back:
        return (
            f"It is within {100 * gap:.2g}% of the best possible were the children first come first served would "
            f"place allowed to fare worse (a proven bound): keeping them no worse off cost {given_back} "
            f"urgency-weighted child{'ren' if given_back != 1 else ''} the search had placed."
        )
    return f"It is within {100 * gap:.2g}% of the best possible (a proven bound), not proven the best."


def _fairness_words(
    status: str, gap: float, children_gap: float, fit_gap: float | None, fairness: Mapping[str, Any]
) -> str:
    """:func:`quality_words` for the fairness objective: its own part (the worst-off placed child's fit against
    its proven bound) before the total's gap."""
    worst, most = fairness.get("worst_fit"), fairness.get("worst_fit_bound")
    if status == "optimal":
        many = "the most children any allocation can place" if not children_gap else "as many children"
        fit = f" ({worst:g})" if worst is not None else ""
        total = f"total fit within {100 * fit_gap:.2g}% of the best" if fit_gap else "the best total fit"
        return (
            f"It is proven the fairest: {many} (urgency-weighted), the worst-off placed child's fit{fit} as high as "
            f"it can be with them, then {total}."
        )
    if worst is None or most is None:  # a stored result from before the fairness part was reported
        return f"It is within {100 * gap:.2g}% of the best possible total (a proven bound), not proven the fairest."
    if fairness.get("worst_fit_proven"):
        return (
            f"The worst-off placed child's fit ({worst:g}) is proven as high as it can be while placing as many "
            f"children; the total is within {100 * gap:.2g}% of a proven bound, not proven the fairest."
        )
    return (
        f"It is not proven the fairest: the worst-off placed child's fit is {worst:g}, and no allocation placing as "
        f"many children can give every placed child more than {most:g} (a proven bound); the total is within "
        f"{100 * gap:.2g}% of a proven bound."
    )


def report(
    instance: AllocationInstance, result: AllocationResult, *, greedy: dict[int, int], first_come: dict[int, int]
) -> None:
    """Fill ``result``'s reasons for the unplaced, levers, baselines, like-for-like comparison and fairness by group
    (``greedy`` and ``first_come``: the two baselines' answers on ``instance``)."""
    assignment = result.assignment
    result.unplaced = unplaced_reasons(instance, assignment)
    result.levers = suggested_levers(instance, assignment)
    result.baselines = {
        "first_come_first_served": summarise(instance, first_come),
        "greedy_best_pair": summarise(instance, greedy),
    }
    result.like_for_like = like_for_like(instance, assignment, first_come)
    result.fairness_by_group = fairness_by_group(instance, assignment, first_come)


def unplaced_reasons(instance: AllocationInstance, assignment: dict[int, int]) -> list[dict[str, str]]:
    """Why each unit without a household was not placed."""
    placed_in: dict[int, list[str]] = defaultdict(list)
    for u, k in assignment.items():
        placed_in[instance.arcs[k].household].append(instance.units[u].unit_id)
    by_unit = instance.arcs_of_unit()
    out = []
    for u, unit in enumerate(instance.units):
        if u in assignment:
            continue
        if u not in by_unit:
            reason = instance.unit_without_arcs.get(unit.unit_id, "no eligible household")
            code = (
                "not_considered"
                if unit.unit_id in instance.not_considered
                else "stays_with_current_carers"
                if unit.unit_id in instance.staying
                else "no_eligible_household"
            )
            for child in unit.child_ids:
                out.append({"child_id": child, "reason": code, "detail": reason})
            continue
        rivals = sorted({r for k in by_unit[u] for r in placed_in[instance.arcs[k].household]})
        detail = (
            f"{len(by_unit[u])} eligible household(s), all taken by children who fit them better or were "
            f"needed sooner: {', '.join(rivals[:5])}{' …' if len(rivals) > 5 else ''}"
        )
        for child in unit.child_ids:
            out.append({"child_id": child, "reason": "households_taken", "detail": detail})
    return out


def summarise(instance: AllocationInstance, assignment: dict[int, int]) -> dict[str, Any]:
    """Children placed, mean fit, sibling groups kept together, mean distance, placed out of area."""
    placed = fits = miles = 0.0
    known = out_of_area = siblings = 0
    for u, k in assignment.items():
        unit, arc = instance.units[u], instance.arcs[k]
        placed += unit.size
        fits += arc.score * unit.size
        if arc.distance_miles is not None:
            miles += arc.distance_miles * unit.size
            known += unit.size
        if instance.households[arc.household].la_code != unit.la_code:
            out_of_area += unit.size
        siblings += unit.size > 1
    groups = sum(1 for u in instance.units if u.size > 1)
    return {
        "placed": int(placed),
        "waiting": sum(u.size for u in instance.units),
        "mean_fit": round(fits / placed, 2) if placed else 0.0,
        "siblings_together": siblings,
        "sibling_groups": groups,
        "mean_distance_miles": round(miles / known, 1) if known else None,
        "out_of_area": out_of_area,
        "worst_fit": round(min((instance.arcs[k].score for k in assignment.values()), default=0.0), 2),
    }
