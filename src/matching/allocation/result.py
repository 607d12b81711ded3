"""What an allocation says of itself: its status, the typed result that checks itself against its instance,
and its gap, whole and in its two parts (children placed, then fit)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from matching.allocation.baselines import first_come_first_served
from matching.allocation.guard import holds
from matching.allocation.instance import SCALE, AllocationInstance, weighted_children
from matching.allocation.report import summarise
from matching.allocation.validate import objective, violations
from matching.eligibility.rules import sibling_clashes


class AllocationError(RuntimeError):
    """A solution failed validation: a bug, never returned to a user as an answer."""


class AllocationStatus(StrEnum):
    """What the solver can say of an allocation."""

    #: Within :data:`OPTIMAL_GAP` of a bound proven in the same run (the MIP convention), or proven by CP-SAT.
    OPTIMAL = "optimal"
    #: Valid, with the gap to the bound reported.
    FEASIBLE = "feasible"
    #: The greedy baseline: the solver found nothing better in time.
    BASELINE = "baseline"
    #: The time limit passed before any child was considered: nothing proposed.
    OUT_OF_TIME = "out_of_time"


#: A relative gap at or below this, against a bound proven in the same run, is reported as optimal (issue 21:
#: the MIP convention), with the tolerance in the result.
OPTIMAL_GAP = 1e-4


class AllocationCheckError(AllocationError):
    """A result that does not check against its instance (:meth:`AllocationResult.check`): every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
        self.problems = problems


@dataclass
class AllocationResult:
    """A proposed allocation: what the solver proved, who goes where, who does not and why."""

    status: str
    objective: float
    bound: float
    gap: float
    solve_seconds: float
    assignment: dict[int, int]
    fit: float = 0.0
    #: ``bound`` is proven for the objective asked for: with the fairness objective, on the total of the fairest
    #: allocations (it may be below another allocation's total).  What proves it: "flow" (the relaxation),
    #: "households" (the Lagrangian bound, every rule kept) or "exact model" (CP-SAT on the whole instance).
    bound_source: str = "flow"
    unplaced: list[dict[str, str]] = field(default_factory=list)
    levers: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Ours against first come, first served on the children both place, and apart on the rest
    #: (:func:`matching.allocation.compare.like_for_like`).
    like_for_like: dict[str, Any] = field(default_factory=dict)
    #: Who each method places, by group of children (:func:`matching.allocation.compare.fairness_by_group`).
    fairness_by_group: list[dict[str, Any]] = field(default_factory=list)
    #: What the time limit cut short, in words (no child's data).
    notes: list[str] = field(default_factory=list)
    #: Seconds each phase took ("reading", "building", "solving", "reporting", "total"; the first two and the
    #: total when the allocation read the store) and the limit they were held to.
    seconds: dict[str, float] = field(default_factory=dict)
    time_limit_seconds: float | None = None
    #: What was asked: "total" (children placed, then total fit) or "fairness" (then the worst-off child's fit).
    objective_name: str = "total"
    #: The gap in its two parts (:func:`split_gap`): children placed, and fit once the children are proven.
    gaps: dict[str, float | None] = field(default_factory=dict)
    #: The like-for-like rule (:mod:`matching.allocation.guard`): whether it was asked for, the urgency-weighted
    #: children it gave back from the answer the search found, and whether the bound keeps the rule too (when it
    #: does not, the gap counts those children).
    rule: dict[str, Any] = field(
        default_factory=lambda: {"asked": False, "children_given_back": 0, "bound_keeps_rule": False}
    )

    #: The fairness objective's own part (None for the total objective): the worst-off placed child's fit, the most
    #: it could be in any allocation placing as many children (a proven bound), and whether the two meet.
    fairness: dict[str, Any] | None = None

    def check(self, instance: AllocationInstance, *, first_come: dict[int, int] | None = None) -> None:
        """Raise :class:`AllocationCheckError` unless the result holds for ``instance``: every placed child judged
        again by every rule (with everyone placed beside them), the like-for-like rule when it was asked for (the
        children first come, first served places fare no worse: ``first_come`` is its answer, computed when not
        given), the objective, the fit and the summary recomputed from the assignment, a known status, and a bound
        and gap that agree with the objective."""
        problems = list(violations(instance, self.assignment))
        if self.rule.get("asked") and self.assignment and not problems:
            theirs = first_come_first_served(instance) if first_come is None else first_come
            if not holds(instance, self.assignment, theirs):
                problems.append(
                    "the like-for-like rule was asked for, yet the children first come, first served places fare "
                    "worse (mean fit, miles from home or placements out of area)"
                )
        try:
            status = AllocationStatus(self.status)
        except ValueError:
            problems.append(f"unknown status {self.status!r}")
            status = None
        if status is AllocationStatus.OUT_OF_TIME and self.assignment:
            problems.append("out of time, yet children are placed")
        if not problems:
            value = objective(instance, self.assignment)
            if abs(value - self.objective) > 1e-6 * max(1.0, abs(value)):
                problems.append(f"objective {self.objective} is not the assignment's {value}")
            fit = sum(instance.arcs[k].score for k in self.assignment.values())
            if abs(fit - self.fit) > 1e-6 * max(1.0, abs(fit)):
                problems.append(f"fit {self.fit} is not the assignment's {fit}")
            if self.summary and self.summary != summarise(instance, self.assignment):
                problems.append("the summary is not the assignment's")
            if status is not AllocationStatus.OUT_OF_TIME:
                if self.bound + 1e-6 < self.objective:
                    problems.append(f"bound {self.bound} is below the objective {self.objective}")
                gap = relative_gap(self.objective, self.bound)
                if abs(gap - self.gap) > 1e-9:
                    problems.append(f"gap {self.gap} is not (bound - objective) / bound = {gap}")
                if self.gaps and self.gaps != split_gap(instance, self.assignment, self.bound):
                    problems.append("the gaps by part are not the assignment's and the bound's")
            if self.fairness is not None and self.assignment:
                worst = min(round(instance.arcs[k].score * SCALE) for k in self.assignment.values()) / SCALE
                if self.fairness.get("worst_fit") != worst:
                    problems.append(f"worst-off fit {self.fairness.get('worst_fit')} is not the assignment's {worst}")
                elif (self.fairness.get("worst_fit_bound") or 0.0) < worst:
                    problems.append(f"worst-off fit bound {self.fairness.get('worst_fit_bound')} is below {worst}")
        if problems:
            raise AllocationCheckError(problems)

    def as_dict(self, instance: AllocationInstance) -> dict[str, Any]:
        """The JSON shape of ``matching allocate --json``."""
        assignments = []
        ctx = instance.context
        for u, k in sorted(self.assignment.items(), key=lambda kv: instance.units[kv[0]].unit_id):
            arc = instance.arcs[k]
            # Restrictions between siblings placed together: the care plan's to confirm, shown with each child.
            warnings = [] if ctx is None else [c.sentence() for c in sibling_clashes(ctx.requests[u])]
            for child in instance.units[u].child_ids:
                assignments.append(
                    {
                        "child_id": child,
                        "household_id": instance.households[arc.household].household_id,
                        "score": round(arc.score, 2),
                        "distance_miles": None if arc.distance_miles is None else round(arc.distance_miles, 1),
                        "unit_id": instance.units[u].unit_id,
                        "warnings": warnings,
                    }
                )
        return {
            "status": self.status,
            "objective": round(self.objective, 3),
            "bound": round(self.bound, 3),
            "bound_source": self.bound_source,
            "gap": round(self.gap, 8),
            "objective_name": self.objective_name,
            "tolerance": OPTIMAL_GAP,
            "gaps": self.gaps,
            "no_worse_than_first_come": self.rule,
            "fairness": self.fairness,
            "fit": round(self.fit, 3),
            "solve_seconds": round(self.solve_seconds, 3),
            "time_limit_seconds": self.time_limit_seconds,
            "seconds": {phase: round(t, 3) for phase, t in self.seconds.items()},
            "notes": self.notes,
            "assignments": assignments,
            "unplaced": self.unplaced,
            "levers": self.levers,
            "summary": self.summary,
            "baselines": self.baselines,
            "like_for_like": self.like_for_like,
            "fairness_by_group": self.fairness_by_group,
            "note": "A proposal for a named officer to consider: nothing here changes a child's placement.",
        }


def split_gap(instance: AllocationInstance, assignment: dict[int, int], bound: float) -> dict[str, float | None]:
    """The relative gap of ``assignment`` to ``bound`` in its two parts: ``children``, of the urgency-weighted
    children placed to the most the bound allows; and ``fit``, of the fit to what the bound leaves for it once
    the children are proven the most possible (None until then).  The objective weighs one child above all
    the fit in the instance, so its single gap can hide a fit far from the best: this one cannot."""
    cw = instance.child_weight
    children = weighted_children(instance, assignment)
    most = math.floor(bound / cw + 1e-9)  # all the fit in the instance is worth less than one child
    if children < most:
        return {"children": round((most - children) / most, 8), "fit": None}
    room = bound - cw * children
    fit = objective(instance, assignment) - cw * children
    return {"children": 0.0, "fit": 0.0 if room <= 0 else round(max(0.0, room - fit) / room, 8)}


def relative_gap(value: float, bound: float) -> float:
    """The relative gap of ``value`` to ``bound``."""
    return 0.0 if bound <= 0 else max(0.0, (bound - value) / bound)
