"""Solving an allocation with OR-Tools; the answer checked (:mod:`matching.allocation.result`) and then reported on
(:mod:`matching.allocation.report`: reasons for the unplaced, levers, the baselines beside it).

The objective is lexicographic: first the urgency-weighted number of children placed (a child
needed today counts as four needed later), then the sum of fit scores.  ``objective`` and
``bound`` are reported as (children-equivalents placed, fit) through one number,
``child_weight x children + fit``; ``gap`` is relative to that bound.

The exact model is CP-SAT over the eligible arcs only (:mod:`matching.allocation.model`: one
boolean each, linear constraints whose relaxation is tight).  Solving, within one time limit:

1. a min-cost-flow relaxation (siblings splittable, no rules between units) gives an upper bound,
   and is rounded into a valid allocation (:mod:`matching.allocation.rounding`: where the flow breaks
   a rule, units are pinned and the flow solved again on the rest, so that long chains of moves stay
   possible), for at most 70% of the time;
2. what rounding leaves open (and units it could not place that still have a household with room)
   is solved exactly by CP-SAT on the room the rest leave (on a large remainder, for children placed
   first);
3. on an instance small enough, and with time to build it, the exact model on the whole instance,
   hinted with that answer (above :data:`CHILDREN_FIRST_ARCS` pairs, only after the neighbourhoods of 4. have had
   :data:`NEIGHBOURHOODS_FIRST_SHARE` of the time, and only while the answer is short of the bound by more than the
   tolerance or by any child), one objective after the other: the urgency-weighted children placed
   (small coefficients: CP-SAT's presolve proves them on a region's 40,000 pairs in about 1.5 s),
   then, only while the gap is above the tolerance, the fit among allocations placing as many; its
   proven bound replaces the flow's when tighter;
4. large-neighbourhood search, with the time left while the gap is above the tolerance: around
   each unplaced unit (those the relaxation placed first, then the most urgent), the units competing for its
   households are freed and re-solved exactly (for the whole objective without CP-SAT's presolve, which took most
   of a neighbourhood's time), keeping only improvements; while the bound leaves room for more children, for the
   children alone first, widening as they must (a region's last child within 3 s).

Meanwhile, on a thread of its own, the household bound (:mod:`matching.allocation.bound`: the linear
relaxation's prices, then each household's best set under every rule) replaces the flow's bound
when it is tighter and ready in time.

The greedy answer is a floor: the search never returns worse.  **The like-for-like rule** (by default,
:attr:`SolverSettings.no_worse_than_first_come`): the children first come, first served places must fare no
worse under the answer; the search weighs the rule's three rows at fixed prices (a Lagrangian relaxation: a child
placed against what it costs those children in fit, miles and area), and its answer is mended where it still breaks
the rule (:mod:`matching.allocation.guard`), which can cost children the search placed, never below first come,
first served's own answer.  The steered search (on an instance too large for the exact model with the rule's rows)
stops its neighbourhoods in time for its answer to be made to keep the rule (re-seating the children who limit nobody
at higher prices, :mod:`matching.allocation.reseat`, or mending, whichever keeps more); the neighbourhoods (4.) are
then searched on the instance itself, each keeping the rule's rows with what the rest of the answer adds to them.  A
part of the steered instance (a neighbourhood, what rounding leaves open) values a child as the whole does: its
scores carry prices in the whole's children.  Solver settings (time limit,
seed, workers) are explicit, and so is the status: "optimal", "feasible" (with its gap) or "baseline" (the greedy
answer: nothing better was found in time).

**One deadline** (:class:`matching.allocation.deadline.Deadline`) bounds the whole allocation,
from the command or job's start: the shares above are of the time left when solving begins, less
what checking and summarising the answer is expected to take (:func:`reporting_seconds`).  A phase
with no time left is skipped (the flow when one round would not finish; an exact model when
building it would not leave :data:`MIN_SOLVE_SECONDS` to solve it; building stops part way if its
estimate was wrong), and ``notes`` says what was cut short.  The household bound's thread stops at its own
deadline and is joined before the answer is returned.

**The fairness objective** (the most children, then the worst-off placed child's fit, then total fit) is solved
by its parts on an instance small enough for the exact model, when the flow is quick enough (:func:`_by_floor`): the flows above ever higher fit floors find the
highest floor that still places the most children; the search above runs on only the pairs reaching it, and
when it places as many, both parts are proven and its bound is the fairness objective's own (a region: proven in
about 2.0-2.5 s end to end, where the model below had not proven it in 10).  Otherwise the total objective is searched first; the
fairness model's solve gets half the search when its model can be built in it; when it cannot, a fifth of the
search re-solves the worst-off children's neighbourhoods with that objective instead (said in ``notes``).  Either
way, the result's ``fairness`` says the worst-off fit and its proven bound (a flow above it, at the end).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from matching.allocation.baselines import first_come_first_served, greedy_best_pair
from matching.allocation.bound import BackgroundBound, objective_bound
from matching.allocation.deadline import Deadline, OutOfTime
from matching.allocation.guard import Mended, guard_seconds, holds, no_worse_than_first_come, rule_rows, steered
from matching.allocation.instance import (
    SCALE,
    AllocationInstance,
    Arc,
    arc_array,
    arc_values,
    canonical,
    rooms_after,
    units_by_household,
    units_conflict,
    weighted_children,
)
from matching.allocation.merge import merge
from matching.allocation.model import build_model, usable
from matching.allocation.report import report, reporting_seconds, summarise
from matching.allocation.reseat import SECONDS_PER_ARC as RESEAT_SECONDS_PER_ARC
from matching.allocation.reseat import Reseated, reseat_under_rule
from matching.allocation.result import OPTIMAL_GAP, AllocationResult, relative_gap, split_gap
from matching.allocation.rounding import FitFloor, flow_bound, round_flow
from matching.allocation.validate import objective
from matching.collector import collector_paused

ROUNDING_SHARE = 0.85  # of the search time, at most, for rounding the flow relaxation
BOUND_SHARE = 0.8  # of the search time, at most, for the household bound on a thread of its own
REMAINDER_SHARE = 0.6  # of the time left, for the exact model on what the relaxation leaves open
FAIRNESS_SHARE = 0.5  # of the search time, for the fairness objective's second solve
#: ... or, when its exact model is too large to build in that time, for raising the worst-off children's fit around
#: them (:func:`_fairer`).
FAIR_NEIGHBOURHOODS_SHARE = 0.2
#: ... and keeping the like-for-like rule, the share left for them after the total objective's guarded search
#: (:func:`_fair_steered`).  National benchmark at 20 s: at a fifth the gap was 5.12e-3, at a tenth 4.88e-3-5.20e-3
#: (3 runs), at a twentieth 4.88e-3 (2 runs); no step around the worst-off fitted in the time left at any of them.
FAIR_STEERED_SHARE = 0.05
#: The fairness objective searches for the highest fit floor that still places the most children (:func:`_by_floor`)
#: when that many flows, as long as the first, take at most this share of the search.
FLOOR_SHARE = 0.35
#: Of the time left after it, the share for the search above the floor (the rest is kept for the fairness search as
#: before, should the pairs above the floor not place as many children as the flow).  A region at 3 s: its floor
#: search takes 0.06 s, and the search above the floor places its last child in the 0.8 s this leaves it.
FLOORED_SHARE = 0.8
BUILD_SECONDS_PER_ARC = 30e-6  # building the exact model from Python (measured: 4.7 s for 218,000 pairs)
FAIR_BUILD_SECONDS_PER_ARC = 40e-6  # the same with the fairness objective's constraints
FLOW_SECONDS_PER_ARC = 4e-6  # one round of the flow relaxation (measured: 0.53 s for 218,000 pairs)
#: The children above one fit floor (:meth:`matching.allocation.rounding.FitFloor.children`, a maximum flow per
#: urgency weight): measured 0.004 s for a region's 38,000 pairs and 0.06-0.11 s for England's 385,000, at most 0.3
#: microseconds a pair; a slow or busy machine's twice that, with room.
FLOOR_SECONDS_PER_ARC = 0.8e-6
REMAINDER_SECONDS_PER_ARC = 4e-6  # what rounding leaves open, as an instance, and its greedy answer (at most)
CHILDREN_FIRST_ARCS = 5_000  # remainders larger than this are solved for children placed first
#: Of the time left for the exact model on the whole instance, at most this share proves the children placed (on a
#: region, building and presolving take 2.5 s on an idle machine and twice that on a busy one); the rest searches
#: neighbourhoods, which rarely improve on it.
CHILDREN_SHARE = 0.8
#: Then, while the gap is above the tolerance, at most this share of the time left for the whole objective.
WHOLE_SHARE = 0.6
#: On an instance larger than :data:`CHILDREN_FIRST_ARCS` yet small enough for the exact model, the neighbourhoods
#: (:func:`_improve`) get at most this share of the time left before it, while the answer is short of the bound.
NEIGHBOURHOODS_FIRST_SHARE = 0.3
#: Rounds of merging with the baselines at most (each round that changes the answer raises its objective).
MERGE_ROUNDS = 5
MIN_SOLVE_SECONDS = 0.1  # no CP-SAT model is built with less time than this left to solve it
#: Once every unplaced unit's neighbourhood has been searched, they are searched again this many times as large, for
#: children placed first (:func:`_widened`), at most :data:`WIDENINGS` times.
WIDEN_FACTOR = 2
WIDENINGS = 3
#: Of a neighbourhood, at most this share follows the relaxation's chain of moves from its seed (:class:`_Hoods`).
#: National benchmark at 20 s, solver alone, urgency-weighted children kept under the rule (noisy): on average 12,481 at
#: a quarter (8 runs, 12,479-12,483), 12,480 at a half (4 runs), 12,480 for the whole (3 runs); 12,477 breadth first
#: alone (the relaxation's units first).
LED_SHARE = 0.25
#: Of the like-for-like rule's search on a large instance, the share for the search with the rule priced in, its
#: neighbourhoods included (the rest makes its answer keep the rule, then searches under it), while it leaves time
#: for re-seating at :data:`RESEATS_KEPT` scales at least.  National benchmark at 20 s end to end (solver alone, one-off
#: runs): 12,197-12,200 urgency-weighted children kept at 0.6 and 0.75, 12,201-12,204 at 0.85; the neighbourhoods under
#: the rule placed no child in any of them.
STEERED_SHARE = 0.85
RESEATS_KEPT = 2
#: With less time than this left after the search, the guard's parts are chosen greedily, without HiGHS.
MIN_CHOICE_SECONDS = 0.02
#: The code of an answer that is the greedy baseline (beside CP-SAT's statuses).
BASELINE = -1


@dataclass(frozen=True)
class SolverSettings:
    """How hard and how reproducibly to solve."""

    time_limit_seconds: float = 10.0
    random_seed: int = 2024
    workers: int = 2
    #: Up to this many eligible pairs, an answer short of its bound is re-solved with the exact model on the
    #: whole instance (hinted with it) to close or prove it (see the module's 3.); the fairness objective is solved
    #: by its parts.
    full_model_max_arcs: int = 60_000
    #: "total": children placed (urgency-weighted), then total fit.  "fairness": as many children
    #: placed, then the worst-off placed child's fit as high as it can be, then total fit.
    objective: str = "total"
    #: Large-neighbourhood search after the first answer: units freed around each unplaced unit, and
    #: the longest one neighbourhood may take.
    neighbourhood_units: int = 150
    neighbourhood_seconds: float = 1.0
    #: True (the default): with the total objective, the search weighs how the children first come, first served
    #: places compare with its choices for them, and its answer is then mended, part by part, so that they fare no
    #: worse under it (mean fit, miles, out of area: :mod:`matching.allocation.guard`), at the cost of a few children
    #: it would otherwise place; with the fairness objective, its answer is made to keep the rule the same way once
    #: found (:func:`_fair_under_rule`).  False: the objective as the search finds it; the comparison reports how
    #: those children fare.
    no_worse_than_first_come: bool = True

    @property
    def guarding(self) -> bool:
        """Whether the search itself keeps the like-for-like rule: asked for, and the total objective."""
        return self.objective == "total" and self.no_worse_than_first_come

    @property
    def fair_guarding(self) -> bool:
        """Whether the fairness objective's answer is made to keep the like-for-like rule once found."""
        return self.objective == "fairness" and self.no_worse_than_first_come


@collector_paused()  # millions of small objects, none in cycles: see matching.collector
def solve(
    instance: AllocationInstance, settings: SolverSettings | None = None, deadline: Deadline | None = None
) -> AllocationResult:
    """The best allocation found by the deadline, validated, with reasons, summary and baselines.

    ``deadline``: the one time limit of the whole command or job (reading and building came out of it
    already); without one, ``settings.time_limit_seconds`` from now.  The search stops in time to check
    and summarise its answer before it passes; when little or no time is left the answer is the best
    found so far, or the greedy baseline, with the reason in ``notes``.

    The instance is solved in canonical order, so the same instance gives the same answer whatever
    the order it was given in (with a fixed seed and worker count).
    """
    settings = settings or SolverSettings()
    ordered, original_arc = canonical(instance)
    result = _solve(ordered, settings, deadline or Deadline.start(settings.time_limit_seconds))
    result.assignment = {instance.arcs[original_arc[k]].unit: original_arc[k] for k in result.assignment.values()}
    return result


@dataclass
class _Search:
    """What the search found: the answer, how (a CP-SAT status, or :data:`BASELINE` for the greedy
    answer), the bound and what proves it, whether the answer is proven optimal, and the fairness
    solve's status (None when it did not run); and, guarding (:func:`_guarded_search`), whether the bound
    already proves the children placed, whether its fit part is only each child's best, and whether it is a bound
    under the like-for-like rule (the exact model with the rule's rows, or the search with the rule priced in) rather
    than one that ignores it."""

    assignment: dict[int, int]
    code: Any
    bound: float
    bound_source: str
    proven: bool = False
    fair_code: Any = None
    children_proven: bool = False
    fit_unbounded: bool = False
    rule_bound: bool = False
    #: The fairness objective, searched above a fit floor (:func:`_by_floor`): that floor, in hundredths, proven the
    #: highest any allocation placing as many children can keep (None: not searched so).
    worst_bound: int | None = None
    #: Guarding: the answer is known to keep the like-for-like rule (nothing for the guard to mend).
    keeps_rule: bool = False
    #: Guarding: how the search's answer was made to keep the rule (:func:`_guarded_search`), and the children the
    #: search under the rule then placed again (urgency-weighted), for the result's notes.
    kept_rule: Reseated | None = None
    regained: int = 0
    #: Where the relaxation sent each unit it placed (:attr:`matching.allocation.rounding.Rounding.flowed`), for the
    #: neighbourhoods after it.
    towards: Mapping[int, int] = field(default_factory=dict)


def _solve(instance: AllocationInstance, settings: SolverSettings, deadline: Deadline) -> AllocationResult:
    started = time.perf_counter()
    notes: list[str] = []
    if deadline.expired():
        notes.append("time ran out before solving began: the answer is the greedy baseline")
    guarding = settings.guarding
    guard_time = guard_seconds(len(instance.arcs))
    fairness = settings.objective == "fairness"
    # The fairness objective's answer is proven the fairest, or its worst-off fit bounded, by the flows above fit
    # floors at the end (:func:`_worst_fit_bound`): their arrays and a few floors, the first most often settling it.
    proof_time = fairness * 4 * FLOOR_SECONDS_PER_ARC * len(instance.arcs)
    reporting = reporting_seconds(len(instance.units), len(instance.arcs))
    # The fairness objective keeping the like-for-like rule on an instance too large for its own search by parts: the
    # total objective's guarded search, then fairness around the worst-off children where it keeps the rule.
    fair_steered = settings.fair_guarding and len(instance.arcs) > settings.full_model_max_arcs
    end = deadline.keeping(reporting + (guarding or settings.fair_guarding) * guard_time + proof_time)
    households_bound = (
        BackgroundBound(instance, deadline.share(BOUND_SHARE, end))
        if instance.arcs and end - started >= MIN_SOLVE_SECONDS
        else None
    )
    try:
        greedy, first_come = greedy_best_pair(instance), first_come_first_served(instance)
        if fair_steered:
            search = _fair_steered(instance, settings, (greedy, first_come), end, notes)
        else:
            search = _guarded_search(instance, settings, (greedy, first_come), end, notes, guarding)
            if settings.fair_guarding:  # however late: a region's floor search rarely breaks it, and mending is quick
                _fair_under_rule(instance, search, first_come, deadline.keeping(reporting + proof_time), guard_time)
        children = None
        if households_bound is not None and not search.children_proven:
            placed = weighted_children(instance, search.assignment)
            children = households_bound.children(wait_until=end, enough=placed)
    finally:
        if households_bound is not None:  # it stops at its own deadline, before ``end``: wait for the thread
            households_bound.close(wait=max(deadline.remaining(), MIN_SOLVE_SECONDS))
    assignment = search.assignment
    value = objective(instance, assignment)
    bound, bound_source, bound_keeps_rule = search.bound, search.bound_source, search.rule_bound
    tighter = math.inf if children is None else objective_bound(instance, children)
    if tighter < bound:  # every bound on all allocations bounds those keeping the rule too
        bound, bound_source, bound_keeps_rule = tighter, "households", False
    if search.proven:
        bound, bound_source = value, "exact model"  # the whole instance, proven optimal by CP-SAT
    if (
        search.fit_unbounded
        and split_gap(instance, assignment, bound)["children"] == 0
        and _flow_fits(instance, deadline)
    ):
        # The steered search proved the children placed; the fit is bounded by the flow on the instance's own scores.
        flow = flow_bound(instance)
        if flow < bound:
            bound, bound_source, bound_keeps_rule = flow, "flow", False
    guarded = False
    children_given_back = 0
    # Guarding, every search's answer keeps the rule by now (found under its rows, checked, or made to keep it by
    # :func:`_under_rule`, however late): what making it keep the rule cost is said here.
    kept_rule = search.kept_rule
    if kept_rule is not None and kept_rule.changed:
        # Made to keep the rule already (mended, or re-seated and mended), then searched under it.
        guarded = True
        children_given_back = max(0, kept_rule.mended.children_lost - search.regained)
        notes.append(_kept_rule_note(kept_rule, search.regained))
    worst = _worst_fit_bound(instance, search, deadline.keeping(reporting)) if fairness else None
    searched = time.perf_counter()
    bound = max(value, bound)
    gap = relative_gap(value, bound)
    gaps = split_gap(instance, assignment, bound)
    most = gaps["children"] == 0  # the first part of either objective: the most children, proven
    if worst is not None:
        # The fairness objective: optimal when the children are proven the most, the worst-off placed child's fit
        # proven as high as it can be with as many, and either CP-SAT proved the rest or the total is within the
        # tolerance of a proven bound (which bounds it under the fairness too).
        proven_fair = (
            most and worst["worst_fit_proven"] and (search.fair_code == cp_model.OPTIMAL or gap <= OPTIMAL_GAP)
        )
        status = "optimal" if proven_fair else "baseline" if search.code == BASELINE else "feasible"
    elif gap <= OPTIMAL_GAP and most:
        # Within the tolerance, and the most children proven: the tolerance is for the fit, never a child.
        status = "optimal"
    elif search.code in (cp_model.OPTIMAL, cp_model.FEASIBLE) or guarded:
        status = "feasible"  # the guard's mix of the search's answer and first come, first served's is no baseline
    else:
        status = "baseline"
    fit = sum(instance.arcs[k].score for k in assignment.values())
    result = AllocationResult(status, value, bound, gap, searched - started, assignment, fit, bound_source)
    result.summary = summarise(instance, assignment)
    result.gaps = gaps
    result.objective_name = settings.objective
    result.fairness = worst
    result.rule = {
        "asked": guarding or settings.fair_guarding,
        "children_given_back": children_given_back,
        "bound_keeps_rule": guarding and bound_keeps_rule,
    }
    # Every result is checked (every rule for every child, and the like-for-like rule when asked) before anything is
    # reported on it.
    result.check(instance, first_come=first_come)
    report(instance, result, greedy=greedy, first_come=first_come)
    result.notes = notes
    result.seconds = {"solving": searched - started, "reporting": time.perf_counter() - searched}
    result.time_limit_seconds = deadline.seconds
    return result


def _fair_under_rule(
    instance: AllocationInstance, search: _Search, first_come: dict[int, int], until: float, guard_time: float
) -> None:
    """The fairness objective's answer (``search``'s) made to keep the like-for-like rule when it breaks it: mended,
    or its children who can live with anyone re-seated at higher prices first, whichever keeps more
    (:func:`matching.allocation.reseat.reseat_under_rule`), by ``until``, however late (with no time left, the mending
    chooses its parts greedily).  Its fairness is then no longer proven: the floor it was proven above, if any, is for
    as many children as it placed before.  (Nationally at 20 s the fairness objective's answer placed 1,917 children
    first come, first served did not, and the 5,762 both placed were on average 1.85 points of fit worse, 4.3 miles
    further from home and 346 more out of area.)"""
    if not search.assignment or holds(instance, search.assignment, first_come):
        search.keeps_rule = True
        return
    kept = _reseated(instance, search.assignment, first_come, until, until, 0.3 * guard_time)
    search.assignment, search.kept_rule, search.keeps_rule = kept.mended.assignment, kept, True
    search.proven, search.worst_bound = False, None
    search.code = cp_model.FEASIBLE
    if search.fair_code is not None:
        search.fair_code = cp_model.FEASIBLE


def _fair_steered(
    instance: AllocationInstance,
    settings: SolverSettings,
    baselines: tuple[dict[int, int], dict[int, int]],
    end: float,
    notes: list[str],
) -> _Search:
    """The fairness objective keeping the like-for-like rule on an instance too large for its search by parts: the
    total objective's guarded search (:func:`_guarded_search`: the most children keeping the rule, then fit) for all
    but :data:`FAIR_STEERED_SHARE` of the time, then the worst-off children's neighbourhoods re-solved with the
    fairness objective (:func:`_fairer`) with the rule's rows in each neighbourhood's model, each step kept only
    while the whole answer still keeps the rule."""
    first_come = baselines[1]
    now = time.perf_counter()
    search = _guarded_search(
        instance,
        replace(settings, objective="total"),
        baselines,
        end - FAIR_STEERED_SHARE * (end - now),
        notes,
        guarding=True,
    )
    before = _worst_fit(instance, search.assignment)
    fair, steps, out_of_time = _fairer(
        instance,
        search.assignment,
        settings,
        end,
        instance.arcs_of_unit(),
        keep=lambda answer: holds(instance, answer, first_come),
        rule=rule_rows(instance, first_come),
    )
    if steps:
        search.assignment, search.code, search.proven = fair, cp_model.FEASIBLE, False
        notes.append(_fairer_note(instance, " (under the like-for-like rule)", before, fair, steps))
    else:
        why = "no time was left" if out_of_time else "nothing found kept as many children and the rule"
        notes.append(
            f"fairness not applied ({why} to re-solve around the worst-off placed child, fit {before / SCALE:g}): the "
            "answer places the most children it found keeping the like-for-like rule, then the most total fit "
            "(allow more time)"
        )
    search.fair_code = cp_model.FEASIBLE if steps else cp_model.UNKNOWN
    return search


def _fairer_note(instance: AllocationInstance, why: str, before: int, fairer: dict[int, int], steps: int) -> str:
    """The note on :func:`_fairer`'s steps: the worst-off fit ``before`` (hundredths) and in ``fairer``."""
    return (
        f"fairness applied around the worst-off children, not proven fairest{why}: the worst-off placed child's fit "
        f"went from {before / SCALE:g} to {_worst_fit(instance, fairer) / SCALE:g} in {steps} step(s), as many "
        "children placed"
    )


def _kept_rule_note(kept: Reseated, regained: int) -> str:
    """The note on how an answer was made to keep the like-for-like rule (``kept``), and what that changed in
    urgency-weighted children placed: against the answer found (more or fewer), then ``regained`` by searching again
    under the rule."""
    parts = f"kept first come, first served's choices in {kept.mended.reverted:,} part(s)"
    if kept.scale is not None:
        how = (
            "re-seated the children who can live with anyone, weighing how the children first come, first served "
            f"places fare at {kept.scale:g} times the search's prices"
            + (f", and {parts}" if kept.mended.reverted else "")
        )
    elif kept.mended.reverted:
        how = f"{parts} of the answer"
    else:
        how = "kept the search's first complete answer, which kept the rule where its last did not"
    lost = kept.mended.children_lost
    change = (
        f"{abs(lost):,} {'fewer' if lost >= 0 else 'more'} children placed (urgency-weighted) than the answer found"
        if lost
        else "as many children placed (urgency-weighted) as the answer found, "
        f"{kept.mended.value_lost / SCALE:,.2f} points of fit fewer in all"
    )
    again = f"; searching again under that rule placed {regained:,} more" if regained > 0 else ""
    return (
        f"{how}, so that the children both place fare no worse under it (mean fit, miles from home, placements out "
        f"of area): {change}{again}"
    )


def _guarded_search(
    instance: AllocationInstance,
    settings: SolverSettings,
    baselines: tuple[dict[int, int], dict[int, int]],
    end: float,
    notes: list[str],
    guarding: bool,
) -> _Search:
    """:func:`_search`, and (``guarding``) the like-for-like rule's search.

    Guarding, an instance small enough for the exact model is first searched as it is, and that answer kept when
    the children first come, first served places fare no worse under it; that search stops at its first complete
    answer when that one already breaks the rule (a region's rarely does: its whole time is then the search's, where
    half of it was kept back in case, and a region's proof of the children placed did not fit in the half on a slow
    machine).  When it breaks the rule and, mended, is within the tolerance of that search's bound, the mended
    answer is returned (that bound bounds every allocation keeping the rule too).  Otherwise: on a small instance (at most :data:`CHILDREN_FIRST_ARCS`
    pairs) the exact model with the rule's three rows (:func:`matching.allocation.guard.rule_rows`), hinted with
    the first answer mended, whose bound keeps the rule; otherwise, and on a larger instance at once, the search on
    the instance with the rule priced into its scores (:func:`matching.allocation.guard.steered`), whose bound, in
    children, bounds every allocation keeping the rule.  When two answers ran, the one worth more once mended is
    kept, and the tighter bound."""
    greedy, first_come = baselines
    first: _Search | None = None
    first_notes: list[str] = []
    early: list[dict[int, int]] = []  # the first search's first complete answer, when it keeps the rule
    if not guarding or len(instance.arcs) <= settings.full_model_max_arcs:

        def keeps_rule(answer: dict[int, int]) -> bool:
            if holds(instance, answer, first_come):
                early.append(dict(answer))
                return True
            return False

        first = _search(instance, settings, baselines, end, first_notes, keep_on=keeps_rule if guarding else None)
        first.children_proven = first.proven or _children_proven(instance, first)
        if not guarding or holds(instance, first.assignment, first_come):
            notes.extend(first_notes)
            first.keeps_rule = guarding
            return first
    seconds = 0.3 * guard_seconds(len(instance.arcs))
    # The first answer mended (or, when worth more, its first complete answer, which kept the rule): the exact model's
    # hint, or the answer to beat.
    kept = None if first is None else no_worse_than_first_come(instance, first.assignment, first_come, seconds=seconds)
    if (
        first is not None
        and kept is not None
        and early
        and objective(instance, early[0]) > objective(instance, kept.assignment)
    ):
        # What keeping the search's first complete answer cost against its last, which breaks the rule.
        kept = Mended.against(instance, first.assignment, early[0], 0)
    if (
        first is not None
        and kept is not None
        and (end - time.perf_counter() < 2 * MIN_SOLVE_SECONDS or not _short(instance, kept.assignment, first.bound))
    ):
        # No time for the rule's own search, or no need (what keeps the rule is within the tolerance of the first
        # search's bound, which bounds every allocation keeping it too: a region at 10 s searched on to 7.8 s for a
        # gap of 3.5e-6 where 9.7e-6 was found by 2.5 s): the better answer keeping the rule, bounded as the first
        # search was.
        notes.extend(first_notes)
        first.assignment, first.proven, first.keeps_rule = kept.assignment, False, True
        first.kept_rule = Reseated(kept, None, ())
        first.children_proven = _children_proven(instance, first)
        return first
    if first is not None and kept is not None and len(instance.arcs) <= CHILDREN_FIRST_ARCS:
        mended = kept.assignment
        cp_bound: list[float] = []
        rows = rule_rows(instance, first_come)
        found, code = _cpsat(instance, settings, end, mended, cp_bound, rule=rows)
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) and objective(instance, found) >= objective(instance, mended):
            proven = code == cp_model.OPTIMAL
            bound = objective(instance, found) if proven else min(cp_bound[0], first.bound) if cp_bound else first.bound
            under_rule = proven or bool(cp_bound and cp_bound[0] <= first.bound)  # CP-SAT's bound keeps the rule's rows
            exact = _Search(found, code, bound, "exact model", proven, rule_bound=under_rule, keeps_rule=True)
            exact.children_proven = proven or _children_proven(instance, exact)  # first's proof is of more children
            return exact
    mended_first: Mended | None = None  # the first search's answer mended, when it is kept
    on = steered(instance, first_come)
    # The steered search, its neighbourhoods stopping in time to make its answer keep the rule (re-seating at a few
    # scales) and to search the instance itself under it.
    now = time.perf_counter()
    keep = max((1 - STEERED_SHARE) * (end - now), _reseating_seconds(len(instance.arcs), seconds))
    search = _search(on, settings, (greedy_best_pair(on), first_come), end, notes, improve_until=end - keep)
    # Over any allocation keeping the rule the priced scores add at least nothing (see ``steered``): a bound on the
    # steered objective, in children, bounds the children any such allocation places.
    steered_bound = objective(on, search.assignment) if search.proven else search.bound
    children = math.floor(steered_bound / instance.child_weight + 1e-9)
    placeable = weighted_children(instance, np.unique(arc_array(instance, "unit")).tolist())
    source, under_rule = (search.bound_source, True) if children < placeable else ("trivial", False)
    code = cp_model.FEASIBLE if search.code == BASELINE and search.assignment != greedy else search.code
    bound = objective_bound(instance, min(children, placeable))  # every child with a household: the trivial bound
    answer = _Search(search.assignment, code, bound, source, rule_bound=under_rule, towards=search.towards)
    answer.fair_code, answer.fit_unbounded = search.fair_code, first is None
    if first is not None:
        first_bound = objective(instance, first.assignment) if first.proven else first.bound
        if first_bound < answer.bound:  # the instance's own optimum, or its own search's bound (ignoring the rule)
            answer.bound, answer.bound_source = first_bound, "exact model" if first.proven else first.bound_source
            answer.rule_bound = False
        found = no_worse_than_first_come(instance, answer.assignment, first_come, seconds=seconds).assignment
        if kept is not None and objective(instance, kept.assignment) > objective(instance, found):  # worth more
            notes.extend(first_notes)
            answer.assignment, answer.code = kept.assignment, first.code
            mended_first = kept
    _under_rule(instance, settings, answer, first_come, end, seconds)
    if mended_first is not None and mended_first.changed and answer.kept_rule and not answer.kept_rule.mended.reverted:
        # The first search's answer mended, or its first complete answer, was kept (it keeps the rule, so nothing more
        # was mended): what that cost against the answer found is the note's.
        answer.kept_rule = Reseated(mended_first, None, ())
    # A proven steered optimum proves only its bound in children (the prices can add value), and the first search's
    # proof is of an answer breaking the rule: checked like any bound.
    answer.children_proven = _children_proven(instance, answer)
    return answer


def _reseating_seconds(arcs: int, choosing: float) -> float:
    """The time :func:`_under_rule` needs to re-seat an answer at :data:`RESEATS_KEPT` scales on an instance of
    ``arcs`` eligible pairs, with ``choosing`` seconds for each mending's choice of parts: the answer mended once, then
    each scale's flow and mending, finished :data:`MIN_SOLVE_SECONDS` before its end."""
    return MIN_SOLVE_SECONDS + choosing + RESEATS_KEPT * (RESEAT_SECONDS_PER_ARC * arcs + choosing)


def _under_rule(
    instance: AllocationInstance,
    settings: SolverSettings,
    answer: _Search,
    first_come: dict[int, int],
    end: float,
    seconds: float,
) -> None:
    """``answer`` (the steered search's) made to keep the like-for-like rule, by mending it or by re-seating the
    children who can live with anyone at higher prices first (:func:`matching.allocation.reseat.reseat_under_rule`,
    whichever keeps more), then searched by neighbourhoods on the instance itself with the rule's rows kept in each
    (:func:`_improve`), from the units it unplaced, until ``end`` (nationally they raise its fit, and rarely place a
    child: the steered search's own neighbourhoods, before, place more)."""
    # Always made to keep the rule, late or not: the guard's own time follows ``end``.
    kept = _reseated(instance, answer.assignment, first_come, end, end + guard_seconds(len(instance.arcs)), seconds)
    assignment = kept.mended.assignment
    if _short(instance, assignment, answer.bound) and end - time.perf_counter() >= 2 * MIN_SOLVE_SECONDS:
        unplaced = _most_urgent_first(instance, (u for u in answer.assignment if u not in assignment))
        rows = rule_rows(instance, first_come)
        found = _improve(
            instance,
            assignment,
            settings,
            end,
            instance.arcs_of_unit(),
            rule=rows,
            first=unplaced,
            bound=answer.bound,
            towards=answer.towards,
        )
        if found is not assignment and holds(instance, found, first_come):  # each neighbourhood kept the rule's rows
            assignment = found
    if assignment != answer.assignment:
        answer.code = cp_model.FEASIBLE
    answer.regained = weighted_children(instance, assignment) - weighted_children(instance, kept.mended.assignment)
    answer.assignment, answer.kept_rule, answer.keeps_rule = assignment, kept, True


def _reseated(
    instance: AllocationInstance,
    assignment: dict[int, int],
    first_come: dict[int, int],
    until: float,
    choose_by: float,
    seconds: float,
) -> Reseated:
    """``assignment`` made to keep the like-for-like rule (:func:`matching.allocation.reseat.reseat_under_rule`), its
    flows by ``until``, however late: the mending's choice of parts gets at most ``seconds`` and 0.6 of the time
    left before ``choose_by``; with none of it left, the greedy choice rather than HiGHS's (a few hundredths of a
    second late rather than an answer breaking the rule)."""
    left = choose_by - time.perf_counter()
    choosing = min(seconds, 0.6 * left) if left >= MIN_CHOICE_SECONDS else 0.0
    return reseat_under_rule(instance, assignment, first_come, until - MIN_SOLVE_SECONDS, seconds=choosing)


def _children_proven(instance: AllocationInstance, search: _Search) -> bool:
    """Whether ``search``'s bound already proves that no allocation places more children than its answer."""
    return split_gap(instance, search.assignment, search.bound)["children"] == 0


def _flow_fits(instance: AllocationInstance, deadline: Deadline) -> bool:
    """Whether one round of the flow relaxation on ``instance`` leaves the time to guard, check and report."""
    keep = reporting_seconds(len(instance.units), len(instance.arcs)) + guard_seconds(len(instance.arcs))
    return FLOW_SECONDS_PER_ARC * len(instance.arcs) <= deadline.remaining() - keep


def _search(
    instance: AllocationInstance,
    settings: SolverSettings,
    baselines: tuple[dict[int, int], dict[int, int]],
    end: float,
    notes: list[str],
    keep_on: Callable[[dict[int, int]], bool] | None = None,
    *,
    improve_until: float = math.inf,
) -> _Search:
    """The best answer found by ``end`` (a :func:`time.perf_counter` value), never worse than the greedy
    baseline (the first of ``baselines``; the second is first come, first served); with the total objective,
    merged with both (:func:`matching.allocation.merge.merge`), so that no part of it is worse than theirs.
    A phase with no time left is skipped, and said so in ``notes``.  ``keep_on`` is asked of the first complete
    answer (the relaxation rounded and completed, merged): when it says no, that answer is returned at once, and the
    time left is the caller's.  What follows the first complete answer for the total objective (the exact model and
    the neighbourhoods) stops by ``improve_until`` when it is earlier; the fairness objective's part still ends by
    ``end``."""
    greedy = baselines[0]
    fairness = settings.objective == "fairness"
    if not instance.arcs:
        return _Search({}, cp_model.OPTIMAL, 0.0, "flow", proven=True, fair_code=cp_model.OPTIMAL if fairness else None)
    n_arcs = len(instance.arcs)
    # By its parts only where the search above the floor can place as many children as the flow there and so prove
    # them (nationally the flow, which splits siblings and ignores the rules between children, places 12,282
    # urgency-weighted children where the best allocation found in 400 s placed 12,230: its floor would prove nothing).
    floored = _by_floor(instance, settings, end, notes) if fairness and n_arcs <= settings.full_model_max_arcs else None
    if floored is not None and floored.worst_bound is not None:
        return floored  # both of the fairness objective's first parts proven
    # The fairness objective's second solve is the exact model on the whole instance: it gets half the
    # search, when its model can be built in that half; otherwise it is skipped and the first solve gets it all.
    total_end = end
    fair_planned = False
    if fairness:
        left = end - time.perf_counter()
        need = FAIR_BUILD_SECONDS_PER_ARC * n_arcs + MIN_SOLVE_SECONDS
        fair_planned = FAIRNESS_SHARE * left >= need
        # Otherwise the worst-off children's neighbourhoods get a share of their own (:func:`_fairer`).
        total_end = end - (FAIRNESS_SHARE if fair_planned else FAIR_NEIGHBOURHOODS_SHARE) * left
    arcs_of_unit = instance.arcs_of_unit()
    placeable = float(weighted_children(instance, arcs_of_unit))
    bound, bound_source = objective_bound(instance, placeable), "trivial"
    # 1. The flow relaxation, rounded (its first round gives the bound).
    fixed: dict[int, int] = {}
    open_units = set(arcs_of_unit)
    rounded = False
    flowed: list[int] = []  # the units the relaxation placed: the neighbourhoods' seeds first
    towards: dict[int, int] = {}  # ... and where it placed them
    now = time.perf_counter()
    if now + FLOW_SECONDS_PER_ARC * n_arcs <= total_end:
        rounding = round_flow(instance, now + ROUNDING_SHARE * (total_end - now), latest=total_end - MIN_SOLVE_SECONDS)
        if rounding.bound < bound:
            bound, bound_source = rounding.bound, "flow"
        fixed, open_units, rounded = rounding.decided, rounding.open_units, True
        flowed = _most_urgent_first(instance, rounding.flowed)
        towards = rounding.flowed
    else:
        notes.append("no time for the flow relaxation: the bound counts every child with an eligible household")
    # 2. What rounding left open, solved exactly (the whole instance when there was no rounding).
    assignment: dict[int, int] = greedy
    code: Any = BASELINE
    now = time.perf_counter()
    until = now + REMAINDER_SHARE * (total_end - now)
    whole_remainder = now + BUILD_SECONDS_PER_ARC * n_arcs + MIN_SOLVE_SECONDS <= until
    if rounded and not whole_remainder and now + REMAINDER_SECONDS_PER_ARC * n_arcs > total_end:
        assignment, code = dict(fixed), cp_model.FEASIBLE  # what rounding decided, with no time to complete it
    elif rounded or whole_remainder:
        sub, arc_back = _remainder(instance, fixed, _still_free(instance, fixed, open_units), arcs_of_unit)
        children_only = len(sub.arcs) > CHILDREN_FIRST_ARCS
        sub_assignment, sub_code = _cpsat(sub, settings, until, greedy_best_pair(sub), children_only=children_only)
        if sub_code == cp_model.OPTIMAL and not children_only:
            code = cp_model.OPTIMAL
        elif rounded or sub_code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            code = cp_model.FEASIBLE  # the rounded flow, completed by CP-SAT's best or the greedy on what it left
        assignment = dict(fixed) | {instance.arcs[arc_back[k]].unit: arc_back[k] for k in sub_assignment.values()}
    if objective(instance, greedy) > objective(instance, assignment):  # never worse than the greedy baseline
        assignment, code = greedy, BASELINE
    if not fairness:
        merged = _merged(instance, assignment, baselines)
        if merged != assignment:
            assignment, code = merged, BASELINE if merged == greedy else cp_model.FEASIBLE
    proven = not fixed and code == cp_model.OPTIMAL
    if keep_on is not None and not keep_on(assignment):
        return _Search(assignment, code, bound, bound_source, proven)
    # 3. The exact model on the whole instance, when it is small enough and there is time to build and solve it
    # (children placed, then fit); 4. neighbourhoods, with the time left while the gap is above the tolerance.
    improve_end = min(total_end, improve_until)
    if (
        not proven
        and CHILDREN_FIRST_ARCS < n_arcs <= settings.full_model_max_arcs
        and _short(instance, assignment, bound)
        and improve_end - time.perf_counter() >= 2 * MIN_SOLVE_SECONDS
    ):
        # Neighbourhoods first, for a share of the time: on a region they place its last children in a few tenths of
        # a second (widened when they must be), where the exact model takes 1.5 s to build and prove them.
        now = time.perf_counter()
        first = _improve(
            instance,
            assignment,
            settings,
            now + NEIGHBOURHOODS_FIRST_SHARE * (improve_end - now),
            arcs_of_unit,
            bound=bound,
            first=flowed,
            towards=towards,
        )
        if first is not assignment:
            assignment, code = first, cp_model.FEASIBLE
    build_seconds = BUILD_SECONDS_PER_ARC * n_arcs
    whole_model = (
        n_arcs <= settings.full_model_max_arcs
        and improve_end - time.perf_counter() >= 2 * build_seconds + 4 * MIN_SOLVE_SECONDS
    )
    gap = relative_gap(objective(instance, assignment), bound)
    # Within the tolerance with the children proven by the bound, only a small instance's fit is worth proving.
    if (
        not proven
        and (_short(instance, assignment, bound) or (gap > 0 and n_arcs <= CHILDREN_FIRST_ARCS))
        and whole_model
    ):
        now = time.perf_counter()
        most = _most_children(instance, settings, now + CHILDREN_SHARE * (improve_end - now), assignment)
        if most.children_bound is not None:
            children_bound = objective_bound(instance, most.children_bound)
            if children_bound < bound:  # proven on the whole instance by the exact model
                bound, bound_source = children_bound, "exact model"
        if weighted_children(instance, most.assignment) > weighted_children(instance, assignment):
            # The exact model places more children, but it chose among equals with no regard to fit: merged with
            # the fit-aware answer, each part where it places more takes its choices, the rest keep theirs.
            assignment, code = merge(instance, assignment, most.assignment), cp_model.FEASIBLE
        gap = relative_gap(objective(instance, assignment), bound)
        if _short(instance, assignment, bound) or (gap > 0 and n_arcs <= CHILDREN_FIRST_ARCS):
            # The whole objective, hinted with the answer so far: while the gap is above the tolerance, and on a
            # small instance, where it proves the fit too in a moment (on a large one it rarely improves it).
            now = time.perf_counter()
            cp_bound: list[float] = []
            whole, whole_code = _cpsat(
                instance, settings, now + WHOLE_SHARE * (improve_end - now), assignment, cp_bound
            )
            if whole_code in (cp_model.OPTIMAL, cp_model.FEASIBLE) and objective(instance, whole) >= objective(
                instance, assignment
            ):
                assignment, code, fixed = whole, whole_code, {}
            proven = whole_code == cp_model.OPTIMAL and objective(instance, whole) >= objective(instance, assignment)
            if cp_bound and cp_bound[0] < bound:  # the exact model's own bound is valid for the whole instance
                bound, bound_source = cp_bound[0], "exact model"
    if (
        not proven
        and _short(instance, assignment, bound)
        and improve_end - time.perf_counter() >= 2 * MIN_SOLVE_SECONDS
    ):
        improved = _improve(
            instance, assignment, settings, improve_end, arcs_of_unit, bound=bound, first=flowed, towards=towards
        )
        if improved is not assignment:
            assignment, code = improved, cp_model.FEASIBLE
    if not fairness:
        assignment = _merged(instance, assignment, baselines)
    fair_code = None
    fair_notes = len(notes)  # what the fairness part says from here, replaced should the floor's answer be kept
    if fair_planned:
        fair, fair_code = _fairest(instance, settings, end, assignment)
        if fair_code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            if proven:  # the total objective's optimum, proven, bounds the fairer answer's total: it is no longer it
                bound, bound_source, proven = objective(instance, assignment), "exact model", False
            assignment, code = fair, fair_code
        else:
            notes.append("fairness not applied: its model found no answer in the time left (allow more time)")
    elif fairness:
        before = _worst_fit(instance, assignment)
        fair, steps, out_of_time = _fairer(instance, assignment, settings, end, arcs_of_unit)
        need = FAIR_BUILD_SECONDS_PER_ARC * n_arcs + MIN_SOLVE_SECONDS
        why = f"its model of the whole instance ({n_arcs:,} eligible pairs) takes about {need:.1f} s to build and solve"
        if steps:
            if proven:  # as above: the proven total optimum now bounds the fairer answer
                bound, bound_source, proven = objective(instance, assignment), "exact model", False
            assignment, code, fair_code = fair, cp_model.FEASIBLE, cp_model.FEASIBLE
            notes.append(_fairer_note(instance, f" ({why})", before, assignment, steps))
        elif out_of_time:
            notes.append(
                f"fairness not applied: {why}, and no time was left to re-solve around the worst-off placed child "
                f"(fit {before / SCALE:g}); the answer maximises children placed, then total fit (allow more time)"
            )
        else:
            notes.append(
                f"fairness not proven ({why}): re-solving around the worst-off placed child (fit {before / SCALE:g}) "
                "with the fairness objective found no way to raise it while placing as many children, so the answer "
                "is the total objective's: children placed, then total fit (allow more time for the proof)"
            )
    if floored is not None and _fairness_key(instance, floored.assignment) > _fairness_key(instance, assignment):
        # The answer above the fit floor placed fewer children than the flow, yet more (or as many, fairer) than this.
        assignment, code, fair_code, proven = floored.assignment, cp_model.FEASIBLE, cp_model.FEASIBLE, False
        del notes[fair_notes:]
        notes.append(
            "the answer is the one found above the fit floor: the search on the whole instance placed no more "
            "children, nor as many with a fairer worst-off fit (not proven the fairest: allow more time)"
        )
    if code == BASELINE and objective(instance, assignment) < bound:
        notes.append("the search found nothing better than the greedy baseline in the time left (allow more time)")
    return _Search(assignment, code, bound, bound_source, proven, fair_code, towards=towards)


def _fairness_key(instance: AllocationInstance, assignment: dict[int, int]) -> tuple[int, int, int, float]:
    """The fairness objective's order of answers, higher being better: urgency-weighted children placed, then
    :func:`_standing` (the worst-off placed child's fit, then how few share it), then the total objective."""
    return (weighted_children(instance, assignment), *_standing(instance, assignment), objective(instance, assignment))


def _by_floor(instance: AllocationInstance, settings: SolverSettings, end: float, notes: list[str]) -> _Search | None:
    """The fairness objective by its parts, when the flow relaxation is quick enough to search with: the most
    urgency-weighted children the flow places on the whole instance; the highest fit floor at which it still places
    them (:meth:`matching.allocation.rounding.FitFloor.highest`: no allocation placing that many keeps every placed
    child above it); then the total objective's search (:func:`_search`) on only the pairs reaching the floor.  When
    that search places as many children, they are proven the most, the worst-off fit the highest, and its bound (on
    those pairs) bounds the total fit under both: the answer is the fairness objective's, with its own gap.  None
    when the floor search would not fit its share of the time (:data:`FLOOR_SHARE`); when the children placed above
    the floor fall short of the flow's (a sibling group or a rule between children the flow ignores, or too little
    time), its answer with no proof (``worst_bound`` None), for the caller to weigh against its own: the search above
    the floor had at most :data:`FLOORED_SHARE` of the time."""
    began = time.perf_counter()
    floors_end = began + FLOOR_SHARE * (end - began)
    levels = len(np.unique(np.rint(arc_array(instance, "score") * SCALE)))  # the fits, in hundredths (FitFloor's)
    steps = math.ceil(math.log2(levels + 1)) + 1
    # Judged first by the estimate, then by the first flow itself.
    if began + steps * FLOOR_SECONDS_PER_ARC * len(instance.arcs) > floors_end:
        return None
    floors = FitFloor(instance)
    most = floors.children(int(floors.levels[0]))
    if time.perf_counter() + steps * floors.last_seconds > floors_end:
        return None
    floor, finished = floors.highest(most, int(floors.levels[0]), floors_end)
    if not finished:
        return None
    keep = np.flatnonzero(floors.fits >= floor).tolist()
    above = AllocationInstance(instance.units, instance.households, [instance.arcs[k] for k in keep])
    baselines = (greedy_best_pair(above), first_come_first_served(above))
    found_notes: list[str] = []
    now = time.perf_counter()
    found = _search(
        above, replace(settings, objective="total"), baselines, now + FLOORED_SHARE * (end - now), found_notes
    )
    assignment = {u: keep[k] for u, k in found.assignment.items()}
    if weighted_children(instance, assignment) < most:
        notes.append(
            f"fairness: the search over the pairs fitting at least {floor / SCALE:g} placed fewer children than the "
            "flow relaxation there (it splits sibling groups and ignores the rules between children, or time was "
            "short): fairness was searched on the whole instance too, and the fairer answer kept"
        )
        return _Search(assignment, cp_model.FEASIBLE, found.bound, found.bound_source)  # a candidate, no proof
    notes.extend(found_notes)
    fair_code = cp_model.OPTIMAL if found.proven else cp_model.FEASIBLE
    # The flow proved ``most`` the most children: its bound caps a looser one found above the floor.
    bound, source = min((found.bound, found.bound_source), (objective_bound(instance, most), "flow"))
    return _Search(assignment, found.code, bound, source, found.proven, fair_code, worst_bound=floor)


def _worst_fit_bound(instance: AllocationInstance, search: _Search, until: float) -> dict[str, Any]:
    """The fairness objective's own part: the worst-off placed child's fit in the answer, the most it could be in any
    allocation placing as many urgency-weighted children (proven: by the floor the search kept, by CP-SAT's proof
    of the fairness model, or else by the flow above it, :meth:`matching.allocation.rounding.FitFloor.highest`, by
    ``until``), and whether the two meet."""
    assignment = search.assignment
    if not assignment:
        return {"worst_fit": None, "worst_fit_bound": None, "worst_fit_proven": not instance.arcs}
    worst = _worst_fit(instance, assignment)
    if search.worst_bound is not None:
        bound = search.worst_bound
    elif search.fair_code == cp_model.OPTIMAL:
        bound = worst
    elif time.perf_counter() + FLOOR_SECONDS_PER_ARC * len(instance.arcs) > until:
        bound = max(worst, round(float(arc_array(instance, "score").max()) * SCALE))  # no time: the best fit bounds it
    else:
        floors = FitFloor(instance)
        floors.last_seconds = FLOOR_SECONDS_PER_ARC * len(instance.arcs)  # none run yet
        bound, _ = floors.highest(weighted_children(instance, assignment), worst, until)
    return {"worst_fit": worst / SCALE, "worst_fit_bound": bound / SCALE, "worst_fit_proven": bound == worst}


def _short(instance: AllocationInstance, assignment: dict[int, int], bound: float) -> bool:
    """Whether ``assignment`` is short of ``bound`` by more than the tolerance, or by any child at all."""
    gap = relative_gap(objective(instance, assignment), bound)
    return gap > OPTIMAL_GAP or (gap > 0 and split_gap(instance, assignment, bound)["children"] != 0)


def _merged(
    instance: AllocationInstance, assignment: dict[int, int], baselines: tuple[dict[int, int], ...]
) -> dict[int, int]:
    """``assignment`` merged with each baseline in turn: every part of it where a baseline does better takes
    the baseline's choices (in a moment: on England's 10,000 children, 0.1 s)."""
    for _ in range(MERGE_ROUNDS):  # merging in one baseline can open a part where the other is better again
        before = assignment
        for baseline in baselines:
            assignment = merge(instance, assignment, baseline)
        if assignment == before:
            break
    return assignment


@dataclass
class _MostChildren:
    """The exact model's answer for children placed alone, and the most urgency-weighted children any
    allocation places: proven when ``proven`` (then equal to the answer's), a bound otherwise (None if none)."""

    assignment: dict[int, int]
    children_bound: float | None
    proven: bool


def _most_children(
    instance: AllocationInstance, settings: SolverSettings, until: float, hint: dict[int, int]
) -> _MostChildren:
    """The exact model on the whole instance for the urgency-weighted children placed alone, hinted with
    ``hint``, by ``until``: small coefficients, which CP-SAT's presolve proves fast (a region's 40,000
    pairs in about 1.5 s), where the whole objective's (8.9 million a child) found nothing better in 30 s.
    Its answer places the most children but chooses among equal answers with no regard to fit."""
    if time.perf_counter() + BUILD_SECONDS_PER_ARC * len(instance.arcs) + MIN_SOLVE_SECONDS > until:
        return _MostChildren(hint, None, False)
    try:
        model, x = build_model(instance, until=until - MIN_SOLVE_SECONDS)
    except OutOfTime:
        return _MostChildren(hint, None, False)
    model.maximize(cp_model.LinearExpr.weighted_sum(x, [instance.units[arc.unit].weight for arc in instance.arcs]))
    bound: list[float] = []
    found, code = _run(model, x, instance, settings, until, hint, bound, complete=True)
    if code == cp_model.OPTIMAL:
        return _MostChildren(found, float(weighted_children(instance, found)), True)
    return _MostChildren(found if code == cp_model.FEASIBLE else hint, bound[0] if bound else None, False)


def _resolve(
    instance: AllocationInstance,
    assignment: dict[int, int],
    hood: set[int],
    settings: SolverSettings,
    until: float,
    arcs_of_unit: dict[int, list[int]],
    *,
    fairest: bool = False,
    rule: np.ndarray | None = None,
    children_only: bool = False,
) -> dict[int, int] | None:
    """``assignment`` with the units of ``hood`` re-solved exactly (hinted with where they are) on the room the
    others leave, by ``until`` (None when CP-SAT finds nothing, or there is no time): for the total objective (or
    ``children_only``, the urgency-weighted children placed alone), or when ``fairest`` the fairness objective's
    (:func:`_fairest`: as many children, the worst-off there first).  ``rule``: the like-for-like rule's rows over
    ``instance``'s arcs, kept over the whole answer."""
    if until - time.perf_counter() < MIN_SOLVE_SECONDS:
        return None
    fixed = {u: k for u, k in assignment.items() if u not in hood}
    sub, back = _remainder(instance, fixed, hood, arcs_of_unit)
    position = {k: j for j, k in enumerate(back)}
    hint = {sub.arcs[position[k]].unit: position[k] for u, k in assignment.items() if u in hood and k in position}
    # The rule's rows over the neighbourhood's pairs, and what the rest of the answer adds to them.
    rows, rest = (None, None) if rule is None else (rule[:, back], rule[:, list(fixed.values())].sum(axis=1))
    if fairest:
        found, code = _fairest(sub, settings, until, hint, rows, rest)
    else:
        found, code = _cpsat(
            sub,
            settings,
            until,
            hint,
            children_only=children_only,
            rule=rows,
            rule_offset=rest,
            presolve=children_only,
            complete=True,
        )
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return fixed | {instance.arcs[back[j]].unit: back[j] for j in found.values()}


def _still_free(instance: AllocationInstance, fixed: dict[int, int], open_units: set[int]) -> set[int]:
    """The units left to solve once ``fixed`` are in: the ``open`` ones, and every unplaced unit with
    an eligible household that still has room."""
    places = [room.places for room in rooms_after(instance, fixed)]
    reachable = {arc.unit for arc in instance.arcs if arc.unit not in fixed and places[arc.household] >= 1}
    return set(open_units) | reachable


def _remainder(
    instance: AllocationInstance, fixed: dict[int, int], free: set[int], arcs_of_unit: dict[int, list[int]]
) -> tuple[AllocationInstance, list[int]]:
    """The free units on the room the fixed ones leave, as an instance of its own, and for each of its
    arcs the original arc: only pairs with room left (:func:`matching.allocation.model.usable`) and
    nobody fixed there the unit cannot live with.  It values a child as ``instance`` does when that is given
    (a steered instance's).  Its households are only those the free units are eligible for (a neighbourhood of
    England's: a few hundred of 6,400; building its model went over every household of the list), numbered in
    their order in ``instance``: an answer to it is read through ``back``."""
    units = sorted(free)
    homes = sorted({instance.arcs[k].household for u in units for k in arcs_of_unit.get(u, ())})
    where = {h: i for i, h in enumerate(homes)}
    taken: dict[int, list[int]] = {}
    for u, k in fixed.items():
        home = instance.arcs[k].household
        if home in where:
            taken.setdefault(home, []).append(u)
    rooms = [instance.households[h].after([instance.units[u] for u in taken.get(h, ())]) for h in homes]
    position = {u: i for i, u in enumerate(units)}
    arcs: list[Arc] = []
    back: list[int] = []
    for k in sorted(k for u in units for k in arcs_of_unit.get(u, ())):
        arc = instance.arcs[k]
        me = instance.units[arc.unit]
        if any(units_conflict(me, instance.units[v]) for v in taken.get(arc.household, ())):
            continue
        arcs.append(Arc(position[arc.unit], where[arc.household], arc.score, arc.distance_miles))
        back.append(k)
    chosen = [instance.units[u] for u in units]
    ok = usable(AllocationInstance(chosen, rooms, arcs)).tolist()
    arcs, back = (
        [a for a, keep in zip(arcs, ok, strict=True) if keep],
        [k for k, keep in zip(back, ok, strict=True) if keep],
    )
    return AllocationInstance(chosen, rooms, arcs, children_worth=instance.children_worth), back


def _improve(
    instance: AllocationInstance,
    assignment: dict[int, int],
    settings: SolverSettings,
    deadline: float,
    arcs_of_unit: dict[int, list[int]],
    *,
    rule: np.ndarray | None = None,
    first: Iterable[int] = (),
    bound: float | None = None,
    towards: Mapping[int, int] | None = None,
) -> dict[int, int]:
    """Large-neighbourhood search until ``deadline``: around each unplaced unit (those of ``first`` first, then
    most urgent first), free the units that compete for the same households, and those units' other households,
    and re-solve that neighbourhood exactly on the room the rest leave; keep an answer only if it is better.
    ``towards`` (unit -> household: where the relaxation sent each unit it placed) leads each neighbourhood first
    along the chain of moves the relaxation made: the units in the household it sent the seed to, the units in the
    households it sent those to, and so on (:func:`_led`).
    While ``bound`` (a proven bound on the objective) leaves room for more children, the neighbourhoods are
    re-solved for the children first, widening as they must (:func:`_widened`), and then, while the answer is still
    short of the bound and time is left, for the whole objective (the fit).  ``rule``: the like-for-like rule's rows
    (:func:`matching.allocation.guard.rule_rows`), which every answer kept goes on keeping when ``assignment``
    does."""
    leading = [u for u in dict.fromkeys(first) if u in arcs_of_unit]
    hoods = _Hoods(instance, arcs_of_unit, towards or {}, assignment)
    widened = _children_left(instance, assignment, bound) is True
    if widened:
        # A region's last children: a neighbourhood of 150 units re-solved for them alone takes 0.07 s, for the
        # whole objective 0.2-0.3 s, and it is a wider one that places them (300 units, 0.22 s).
        assignment = _widened(
            instance,
            assignment,
            settings,
            deadline,
            arcs_of_unit,
            rule=rule,
            bound=bound,
            first=leading,
            narrowest=0,
            hoods=hoods,
        )
        if bound is None or not _short(instance, assignment, bound):
            return assignment
        # Still short (a bound that splits siblings or ignores the rules between children counts children no
        # allocation places): the fit, by the whole objective, with the time left.
    current = objective(instance, assignment)
    tried: set[int] = set()
    for seed in _in_order(instance, arcs_of_unit, leading):  # a unit placed now may be unplaced by a later answer
        if time.perf_counter() >= deadline - MIN_SOLVE_SECONDS:
            break
        if seed in assignment or seed in tried:
            continue
        hood = hoods.around(seed, settings.neighbourhood_units)
        tried |= {u for u in hood if u not in assignment}
        until = min(time.perf_counter() + settings.neighbourhood_seconds, deadline)
        if until - time.perf_counter() < MIN_SOLVE_SECONDS:
            break
        candidate = _resolve(instance, assignment, hood, settings, until, arcs_of_unit, rule=rule)
        if candidate is None:
            continue
        value = objective(instance, candidate)
        if value > current:
            assignment, current = candidate, value
            hoods.follow(assignment)
    if widened:  # widened already, for the children, from the first width
        return assignment
    return _widened(
        instance, assignment, settings, deadline, arcs_of_unit, rule=rule, bound=bound, first=leading, hoods=hoods
    )


class _Hoods:
    """The neighbourhoods of one instance around its seeds, from an answer (:meth:`follow` it as it changes): up to
    :data:`LED_SHARE` of each along the relaxation's chain of moves from the seed (``towards``: unit -> the household
    the relaxation sent it to; :func:`_led`), the rest breadth first through shared households
    (:func:`_neighbourhood`)."""

    def __init__(
        self,
        instance: AllocationInstance,
        arcs_of_unit: dict[int, list[int]],
        towards: Mapping[int, int],
        assignment: dict[int, int],
    ) -> None:
        self.instance, self.arcs_of_unit, self.towards = instance, arcs_of_unit, towards
        self.arcs_of_household = instance.arcs_of_household()
        self.follow(assignment)

    def follow(self, assignment: dict[int, int]) -> None:
        """Draw the neighbourhoods from ``assignment`` from now on."""
        self.living = units_by_household(self.instance, assignment) if self.towards else {}

    def around(self, seed: int, limit: int) -> set[int]:
        """Up to ``limit`` units around ``seed``, the seed among them."""
        led = _led(seed, self.towards, self.living, int(LED_SHARE * limit))
        return led | _neighbourhood(
            self.instance, seed, self.arcs_of_unit, self.arcs_of_household, limit - len(led) + 1
        )


def _led(seed: int, towards: Mapping[int, int], living: Mapping[int, list[int]], limit: int) -> set[int]:
    """Up to ``limit`` units along the relaxation's chain of moves from ``seed`` (breadth first): the units living
    (``living``: household -> units, in the answer) where ``towards`` sends the seed, then those living where it sends
    them, and so on."""
    hood = {seed}
    frontier = [seed]
    while frontier and len(hood) < limit:
        nxt: list[int] = []
        for u in frontier:
            home = towards.get(u)
            for v in living.get(home, ()) if home is not None else ():
                if v not in hood and len(hood) < limit:
                    hood.add(v)
                    nxt.append(v)
        frontier = nxt
    return hood


def _children_left(instance: AllocationInstance, assignment: dict[int, int], bound: float | None) -> bool | None:
    """Whether ``bound`` leaves room for more urgency-weighted children than ``assignment`` places; None when it
    cannot say: no bound, or a steered instance, whose scores carry prices in children (there the bound's children
    do not count the children an answer can place)."""
    if bound is None or instance.children_worth is not None:
        return None
    return split_gap(instance, assignment, bound)["children"] != 0


def _in_order(instance: AllocationInstance, units: Iterable[int], first: Sequence[int] = ()) -> list[int]:
    """``units`` (indexes), those of ``first`` first in its order, then the most urgency-weighted children first,
    then by index."""
    chosen = set(units)
    leading = [u for u in first if u in chosen]
    return leading + _most_urgent_first(instance, chosen - set(leading))


def _most_urgent_first(instance: AllocationInstance, units: Iterable[int]) -> list[int]:
    """``units`` (indexes), the most urgency-weighted children first, then by index."""
    return sorted(units, key=lambda u: (-instance.units[u].weight, u))


def _widened(
    instance: AllocationInstance,
    assignment: dict[int, int],
    settings: SolverSettings,
    deadline: float,
    arcs_of_unit: dict[int, list[int]],
    *,
    rule: np.ndarray | None = None,
    bound: float | None = None,
    first: Sequence[int] = (),
    narrowest: int = 1,
    hoods: _Hoods | None = None,
) -> dict[int, int]:
    """Once every unplaced unit's neighbourhood has been tried (:func:`_improve`) and time is left: neighbourhoods
    :data:`WIDEN_FACTOR` times as large, then as large again (at most :data:`WIDENINGS` times), around each unit still
    unplaced (those of ``first`` first, then most urgent first), re-solved for the children placed alone, which
    CP-SAT decides far faster than the whole objective on as many units; where that places more, the units around the
    seed, at the neighbourhoods' own size, are re-solved for the whole objective from there (not when that answer is
    within the tolerance of ``bound``), and the better answer kept.  (A region at 3 s: its one unplaced unit's 150
    units placed no child more; 300 did, in 0.22 s, where the whole objective took 1.05 s.)  ``rule`` as in
    :func:`_improve`.
    It stops once ``bound`` (when given) proves that no allocation places more children: it only ever places more.
    (Not on a steered instance, whose scores carry prices in children: there the bound's children do not count the
    children an answer can place.)
    A neighbourhood already re-solved from the same answer (a seed's whole component, smaller than the width) is not
    re-solved.  ``narrowest``: 0 starts at the neighbourhoods' own size (:func:`_improve`, while children are
    missing), each width being :data:`WIDEN_FACTOR` to that power.  ``hoods``: the caller's (:func:`_improve`),
    drawn from ``assignment``; breadth first alone when not given."""
    hoods = hoods or _Hoods(instance, arcs_of_unit, {}, assignment)
    current = objective(instance, assignment)
    solved: set[frozenset[int]] = set()  # the neighbourhoods re-solved from ``assignment`` as it is
    done = _children_left(instance, assignment, bound) is False
    for power in range(narrowest, WIDENINGS + 1):
        units = settings.neighbourhood_units * WIDEN_FACTOR**power
        for seed in _in_order(instance, (u for u in arcs_of_unit if u not in assignment), first):
            if done or deadline - time.perf_counter() < 2 * MIN_SOLVE_SECONDS:
                return assignment
            if seed in assignment:  # placed by a wider neighbourhood around another seed
                continue
            hood = hoods.around(seed, units)
            if frozenset(hood) in solved:
                continue
            solved.add(frozenset(hood))
            began = time.perf_counter()
            until = min(began + settings.neighbourhood_seconds, deadline)
            more = _resolve(instance, assignment, hood, settings, until, arcs_of_unit, rule=rule, children_only=True)
            if more is None or weighted_children(instance, more) <= weighted_children(instance, assignment):
                continue
            # The fit, from that answer, around the seed at the neighbourhoods' own size, for at most twice as long as
            # finding it took: the whole objective on the wider neighbourhood rarely finds anything in that time (a
            # region's 300 units: nothing in 0.45-0.72 s), on the narrower one it is proven in 0.2-0.3 s; it is the
            # fit alone at stake, the hint keeping the children.  Not when that answer is within the tolerance of
            # ``bound`` already: it is optimal as it is.
            whole = None
            if bound is None or _short(instance, more, bound):
                now = time.perf_counter()
                until = min(
                    now + max(2 * (now - began), 2 * MIN_SOLVE_SECONDS), now + settings.neighbourhood_seconds, deadline
                )
                near = hoods.around(seed, settings.neighbourhood_units)
                whole = _resolve(instance, more, near, settings, until, arcs_of_unit, rule=rule)
            for candidate in (more, whole):  # the whole objective's, when it found one, is worth at least as much
                if candidate is not None and objective(instance, candidate) > current:
                    assignment, current = candidate, objective(instance, candidate)
                    hoods.follow(assignment)
                    solved.clear()  # from another answer, every neighbourhood is another problem
                    done = _children_left(instance, assignment, bound) is False
    return assignment


def _standing(instance: AllocationInstance, assignment: dict[int, int]) -> tuple[int, int]:
    """How fair ``assignment`` is, higher being fairer: the fit of its worst-off placed child, in hundredths (the
    fairness model's units), then how few placed children have that fit (negated)."""
    fits = [round(instance.arcs[k].score * SCALE) for k in assignment.values()]
    worst = min(fits, default=0)
    return worst, -fits.count(worst)


def _worst_fit(instance: AllocationInstance, assignment: dict[int, int]) -> int:
    """The fit of the worst-off placed child of ``assignment``, in hundredths."""
    return _standing(instance, assignment)[0]


def _fairer(
    instance: AllocationInstance,
    assignment: dict[int, int],
    settings: SolverSettings,
    deadline: float,
    arcs_of_unit: dict[int, list[int]],
    keep: Callable[[dict[int, int]], bool] | None = None,
    rule: np.ndarray | None = None,
) -> tuple[dict[int, int], int, bool]:
    """The fairness objective where its exact model is too large to build in time: around the worst-off placed
    children, the units competing for their households are freed and re-solved with that objective on the room
    the rest leave (as many children there, the worst-off fit as high as it can be, then total fit), while that
    raises the worst-off fit, or leaves fewer children at it, and time is left.  Returns the answer, how many
    neighbourhoods improved it, and whether it stopped for want of time (not because nothing could improve).
    ``keep``: what every step's answer must also pass; ``rule``: the like-for-like rule's rows, kept in each
    neighbourhood's model (:func:`_resolve`)."""
    arcs_of_household = instance.arcs_of_household()
    improved = 0
    while assignment:
        if time.perf_counter() >= deadline - MIN_SOLVE_SECONDS:
            return assignment, improved, True
        standing = _standing(instance, assignment)
        hood: set[int] = set()
        for seed in sorted(u for u, k in assignment.items() if round(instance.arcs[k].score * SCALE) == standing[0]):
            if len(hood) >= settings.neighbourhood_units:
                break
            hood |= _neighbourhood(instance, seed, arcs_of_unit, arcs_of_household, settings.neighbourhood_units)
        until = min(time.perf_counter() + settings.neighbourhood_seconds, deadline)
        candidate = _resolve(instance, assignment, hood, settings, until, arcs_of_unit, fairest=True, rule=rule)
        if candidate is None:
            return assignment, improved, True  # CP-SAT found nothing in the time it had
        if (
            weighted_children(instance, candidate) < weighted_children(instance, assignment)
            or _standing(instance, candidate) <= standing
            or (keep is not None and not keep(candidate))
        ):
            return assignment, improved, False  # the worst-off children's lot cannot improve around them
        assignment, improved = candidate, improved + 1
    return assignment, improved, False


def _neighbourhood(
    instance: AllocationInstance,
    seed: int,
    arcs_of_unit: dict[int, list[int]],
    arcs_of_household: dict[int, list[int]],
    limit: int,
) -> set[int]:
    """Up to ``limit`` units reachable from ``seed`` through shared households (breadth first, in index
    order): the units a better answer for ``seed`` would have to move."""
    hood = {seed}
    frontier = [seed]
    seen_households: set[int] = set()
    while frontier and len(hood) < limit:
        nxt: list[int] = []
        for u in frontier:
            for h in sorted({instance.arcs[k].household for k in arcs_of_unit[u]} - seen_households):
                seen_households.add(h)
                for k in arcs_of_household[h]:
                    v = instance.arcs[k].unit
                    if v not in hood:
                        hood.add(v)
                        nxt.append(v)
                        if len(hood) >= limit:
                            return hood
        frontier = nxt
    return hood


def _fairest(
    instance: AllocationInstance,
    settings: SolverSettings,
    until: float,
    best: dict[int, int],
    rule: np.ndarray | None = None,
    rule_offset: np.ndarray | None = None,
) -> tuple[dict[int, int], Any]:
    """Among allocations placing as many (urgency-weighted) children as ``best``, the one whose worst-off
    placed child fits best, then the most total fit (exact model, hinted with ``best``), found by ``until``
    (``best`` and UNKNOWN when there is no time to build the model or CP-SAT finds nothing).  ``rule`` and
    ``rule_offset`` as in :func:`_cpsat`: the like-for-like rule kept."""
    if not instance.arcs:
        return {}, cp_model.OPTIMAL
    try:
        model, x = build_model(instance, until=until - MIN_SOLVE_SECONDS)
    except OutOfTime:
        return best, cp_model.UNKNOWN
    if rule is not None and not _add_rule(model, x, rule, rule_offset):
        return best, cp_model.INFEASIBLE
    placed = [round(instance.value(arc) * SCALE) - round(arc.score * SCALE) for arc in instance.arcs]
    model.add(cp_model.LinearExpr.weighted_sum(x, placed) >= sum(placed[k] for k in best.values()))
    scores = [round(arc.score * SCALE) for arc in instance.arcs]
    worst = model.new_int_var(0, max(scores), "worst_fit")
    for k, s in enumerate(scores):
        if k % 4096 == 0 and time.perf_counter() > until - MIN_SOLVE_SECONDS:
            return best, cp_model.UNKNOWN
        model.add(worst <= s).only_enforce_if(x[k])
    big = sum(sorted(scores, reverse=True)[: len(instance.units)]) + 1
    model.maximize(worst * big + cp_model.LinearExpr.weighted_sum(x, scores))
    model.add_hint(worst, min((scores[k] for k in best.values()), default=max(scores)))
    # A large model's presolve can take all the time and more (26,000 pairs: none found in 8 s, 2 s over the
    # limit); without it CP-SAT starts from the complete hint at once and keeps to its limit.
    return _run(model, x, instance, settings, until, best, complete=True, presolve=len(x) <= CHILDREN_FIRST_ARCS)


def _cpsat(
    instance: AllocationInstance,
    settings: SolverSettings,
    until: float,
    greedy: dict[int, int],
    bound_out: list[float] | None = None,
    *,
    children_only: bool = False,
    rule: np.ndarray | None = None,
    rule_offset: np.ndarray | None = None,
    presolve: bool = True,
    complete: bool = False,
) -> tuple[dict[int, int], Any]:
    """The exact model on ``instance``: its best assignment by ``until`` (a :func:`time.perf_counter`
    value) and the CP-SAT status (and, into ``bound_out``, CP-SAT's proven upper bound in objective
    units); ``greedy`` and UNKNOWN when there is no time to build the model and solve it.
    ``children_only`` maximises the urgency-weighted children placed alone: small coefficients, which
    CP-SAT solves far faster on large remainders, leaving fit to the neighbourhood search.  ``rule``: the
    like-for-like rule's rows (:func:`matching.allocation.guard.rule_rows`), kept as constraints; ``rule_offset``:
    what units outside ``instance`` already add to those rows' sums (a neighbourhood's fixed rest).  ``presolve``:
    CP-SAT's own (a neighbourhood's whole objective is solved faster without it); ``complete``: ``greedy`` is the
    whole answer, every other pair hinted false too (a neighbourhood's: CP-SAT starts from it at once)."""
    if not instance.arcs:
        return {}, cp_model.OPTIMAL
    if time.perf_counter() + BUILD_SECONDS_PER_ARC * len(instance.arcs) + MIN_SOLVE_SECONDS > until:
        return greedy, cp_model.UNKNOWN
    try:
        model, x = build_model(instance, until=until - MIN_SOLVE_SECONDS)
    except OutOfTime:
        return greedy, cp_model.UNKNOWN
    if rule is not None and not _add_rule(model, x, rule, rule_offset):
        return greedy, cp_model.INFEASIBLE  # the rest alone breaks it: nothing here can mend it
    if children_only:
        model.maximize(cp_model.LinearExpr.weighted_sum(x, [instance.units[a.unit].weight for a in instance.arcs]))
    else:
        model.maximize(cp_model.LinearExpr.weighted_sum(x, arc_values(instance).tolist()))
    found = _run(model, x, instance, settings, until, greedy, bound_out, complete=complete, presolve=presolve)
    if bound_out:
        bound_out[-1] = bound_out[-1] / SCALE
    return found


def _add_rule(
    model: cp_model.CpModel, x: list[cp_model.IntVar], rule: np.ndarray, rule_offset: np.ndarray | None
) -> bool:
    """The like-for-like rule's rows (:func:`matching.allocation.guard.rule_rows`, over ``x``'s arcs) as constraints
    of ``model``, with ``rule_offset`` what units outside it already add to their sums; False when that rest alone
    breaks a row nothing in the model can mend."""
    offset = np.zeros(3, dtype=np.int64) if rule_offset is None else rule_offset
    for row, sign, rest in zip(rule, (1, -1, -1), offset.tolist(), strict=True):
        # Fit at least theirs; miles, out of area at most (with the rest's share).
        used = np.flatnonzero(row).tolist()
        if used:
            model.add(
                cp_model.LinearExpr.weighted_sum([x[k] for k in used], [sign * int(row[k]) for k in used])
                >= -sign * int(rest)
            )
        elif sign * rest < 0:
            return False
    return True


def _run(
    model: cp_model.CpModel,
    x: list[cp_model.IntVar],
    instance: AllocationInstance,
    settings: SolverSettings,
    until: float,
    hint: dict[int, int],
    bound_out: list[float] | None = None,
    *,
    complete: bool = False,
    presolve: bool = True,
) -> tuple[dict[int, int], Any]:
    """CP-SAT on ``model`` until ``until``, hinted with ``hint`` (every other pair hinted false too when
    ``complete``): the assignment it found and its status (``hint`` when it found none)."""
    if complete:
        chosen = set(hint.values())
        for k, var in enumerate(x):
            model.add_hint(var, k in chosen)
    else:
        for k in hint.values():
            model.add_hint(x[k], True)
    left = until - time.perf_counter()
    if left <= 0:
        return hint, cp_model.UNKNOWN
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = left
    solver.parameters.cp_model_presolve = presolve
    solver.parameters.random_seed = settings.random_seed
    solver.parameters.num_workers = settings.workers
    code = solver.solve(model)
    if bound_out is not None and code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        bound_out.append(solver.best_objective_bound)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {instance.arcs[k].unit: k for k in range(len(x)) if solver.boolean_value(x[k])}, code
    return hint, code
