"""Allocation from the store: the waiting children of an area, the households they could go to, solved.

One time limit holds for the whole of it (:class:`~matching.allocation.deadline.Deadline`): reading
the store, building the instance, solving and reporting.  Reading reads only the households that
could take a child now (the others fail "active" or the vacancy for every child); building judges
the units most urgent first and stops when only the time the solver needs for its baseline answer is
left, reporting the children it did not reach as not considered; the solver stops in time to check its answer.  When
reading alone takes the whole limit, the result says so (status "out_of_time") and proposes nothing.
"""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy import Connection, select

from matching.allocation.deadline import Deadline
from matching.allocation.guard import guard_seconds
from matching.allocation.instance import AllocationInstance, build_instance
from matching.allocation.report import reporting_seconds, summarise, unplaced_reasons
from matching.allocation.result import AllocationResult
from matching.allocation.solver import MIN_SOLVE_SECONDS, SolverSettings, solve
from matching.collector import collector_paused
from matching.domain import Scope
from matching.eligibility.rules import reach
from matching.fit_config import FitConfig
from matching.ranking.pool import HouseholdPool
from matching.ranking.service import waiting_requests
from matching.store import queries, schema
from matching.taxonomy import Taxonomy
from matching.wording import counted

#: Building the instance stops in time for the greedy and first-come-first-served answers over the units
#: judged so far and checking one (:func:`~matching.allocation.report.reporting_seconds`, at most
#: ``top_k`` pairs a unit): considering every child matters more than searching longer (placing children comes first in the objective, and the greedy answer places most of
#: those the solver does).  Seconds per eligible pair for the two baselines (measured: 0.4 s for 218,000).
BASELINES_SECONDS_PER_ARC = 2e-6


def area_scope(conn: Connection, *, la_code: str | None = None, region: str | None = None) -> Scope:
    """The children of one LA or one region (all when neither); households from anywhere."""
    if la_code is None and region is None:
        return Scope.everything()
    stmt = select(schema.local_authority.c.la_code)
    stmt = (
        stmt.where(schema.local_authority.c.la_code == la_code)
        if la_code
        else stmt.where(schema.local_authority.c.region == region)
    )
    codes = frozenset(conn.execute(stmt).scalars())
    if not codes:
        raise LookupError(f"no local authority {la_code!r}" if la_code else f"no region {region!r}")
    return Scope(la_codes=codes)


@collector_paused()  # millions of small objects, none in cycles: see matching.collector
def allocate(
    conn: Connection,
    *,
    scope: Scope,
    on: date,
    cfg: FitConfig,
    taxonomy: Taxonomy,
    settings: SolverSettings | None = None,
    top_k: int = 50,
    min_fit: float = 0.0,
    max_distance_miles: float | None = None,
    keep_current: float | None = None,
    deadline: Deadline | None = None,
) -> tuple[AllocationInstance, AllocationResult]:
    """Every open referral in scope allocated to the households that could take them (a proposal).

    ``deadline``: when the command or job started, and its limit; without one, ``settings``'s time
    limit from now.  Everything here comes out of it; ``result.seconds`` says where it went."""
    settings = settings or SolverSettings()
    deadline = deadline or Deadline.start(settings.time_limit_seconds)
    reading = time.perf_counter()
    requests = waiting_requests(conn, scope=scope, on=on)
    # Where the waiting children live now: the households ``keep_current`` compares against.
    also = {r.child.household_id for r in requests if r.child.household_id} if keep_current is not None else set()
    # Only households within some waiting child's distance limit of home: the others fail the distance rule for
    # every child (a region's allocation read all England's households with room: 1.8 s, most of its reading).
    households = queries.households_with_room(
        conn, scope=Scope(agency_codes=scope.agency_codes), taxonomy=taxonomy, also=also, within=reach(requests, cfg)
    )
    pool = HouseholdPool(households, taxonomy, cfg)
    building = time.perf_counter()
    instance = build_instance(
        pool,
        requests,
        top_k=top_k,
        min_fit=min_fit,
        max_distance_miles=max_distance_miles,
        keep_current=keep_current,
        until=deadline.keeping(
            reporting_seconds(0, 0)
            + MIN_SOLVE_SECONDS
            + (guard_seconds(top_k * len(requests)) if settings.guarding else 0.0)
        ),
        seconds_per_unit=reporting_seconds(1, top_k) - reporting_seconds(0, 0) + BASELINES_SECONDS_PER_ARC * top_k,
    )
    instance.regions = queries.la_regions(
        conn, {u.la_code for u in instance.units} | {h.la_code for h in instance.households}
    )
    solving = time.perf_counter()
    if len(instance.not_considered) == len(instance.units) and instance.units:
        result = _out_of_time(instance, deadline, reading - deadline.started, building - reading, solving - building)
    else:
        result = solve(instance, settings, deadline)
        if instance.staying:
            children = sum(u.size for u in instance.units if u.unit_id in instance.staying)
            result.notes.insert(
                0,
                f"{counted(children, 'waiting child', 'waiting children')} stay with their current carers: no "
                f"household with room fits them at least {keep_current:g} points better (the keep-current option), so "
                "none is proposed for them and they are not counted as placed",
            )
        if instance.not_considered:
            children = sum(u.size for u in instance.units if u.unit_id in instance.not_considered)
            result.notes.insert(
                0,
                f"building stopped at the time limit: {children:,} of {sum(u.size for u in instance.units):,} "
                "waiting children were not considered (the most urgent and longest waiting were judged first; "
                "allow more time)",
            )
    result.seconds = {"reading": building - reading, "building": solving - building, **result.seconds}
    result.seconds["total"] = deadline.elapsed()
    return instance, result


def _out_of_time(
    instance: AllocationInstance, deadline: Deadline, before: float, reading: float, building: float
) -> AllocationResult:
    """No child considered: the limit passed before reading the store finished (``before`` it began, the
    command's start-up), or before building judged anyone."""
    if before + reading >= deadline.seconds:
        why = (
            f"the {deadline.seconds:g} s time limit had passed when reading the store finished ({before:.1f} s "
            f"starting, {reading:.1f} s reading): no child was considered and nothing is proposed (allow more "
            "time for building and solving after reading)"
        )
    else:
        why = (
            f"time ran out before any child's households were judged (reading {reading:.1f} s, building "
            f"{building:.1f} s, of {deadline.seconds:g} s): nothing is proposed (allow more time)"
        )
    # Nothing proposed and nothing proven: the gap is 1 (the whole of an unknown bound).
    result = AllocationResult("out_of_time", 0.0, 0.0, 1.0, 0.0, {}, bound_source="none")
    result.unplaced = unplaced_reasons(instance, {})
    result.summary = summarise(instance, {})
    result.notes = [why]
    result.time_limit_seconds = deadline.seconds
    return result
