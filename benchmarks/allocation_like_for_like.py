"""Ours against first come first served like for like, the solver alone, with and without a guard.

On ``bench_allocation``'s store (its waiting list topped up), the instance is read and built as the
service does, then solved for ``--time-limit`` seconds of solving alone (reading and building not
counted), three times:

* **children first** (``no_worse_than_first_come=False``, the command's ``--children-first``);
* **guarded**: each child that first come first served places is offered only the households fitting
  them at least as well as its choice (an experiment, not in the service: it can leave such a child out);
* **guard**: as the service does by default (``no_worse_than_first_come``): the search with the rule priced into
  its scores (what a child placed costs the children first come first served places, in fit, miles and area),
  then mended part by part so that the children both place fare no worse;
* **mended only**: the children-first answer mended part by part, without steering (as the guard was before).

For each: children placed, gap, and on the children both methods place, each method's mean fit, miles
and placements out of area; and the merge of our answer with first come first served (its components).

Run: ``.venv/bin/python benchmarks/allocation_like_for_like.py [--regional] [--time-limit 20]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench_allocation import ON, prepare, scopes

from matching.allocation.baselines import first_come_first_served
from matching.allocation.compare import like_for_like
from matching.allocation.guard import no_worse_than_first_come
from matching.allocation.instance import AllocationInstance, build_instance, weighted_children
from matching.allocation.merge import components
from matching.allocation.solver import SolverSettings, solve
from matching.domain import Scope
from matching.eligibility.rules import reach
from matching.fit_config import load_fit_config
from matching.ranking.pool import HouseholdPool
from matching.ranking.service import waiting_requests
from matching.store import queries
from matching.taxonomy import load_taxonomy


def guarded(instance: AllocationInstance) -> AllocationInstance:
    """``instance`` keeping, for each unit first come first served places, only households fitting it at least as
    well as that choice."""
    floor = {u: instance.arcs[k].score for u, k in first_come_first_served(instance).items()}
    arcs = [a for a in instance.arcs if a.unit not in floor or a.score >= floor[a.unit] - 1e-9]
    return AllocationInstance(
        instance.units, instance.households, arcs, dict(instance.unit_without_arcs), instance.context
    )


def main() -> None:
    """Both runs on the national (or regional) instance."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--regional", action="store_true")
    args = ap.parse_args()
    cfg, taxonomy = load_fit_config(), load_taxonomy()
    with prepare(args.workdir).connect() as conn:
        label, scope, _ = scopes(conn)[0 if args.regional else 1]
        requests = waiting_requests(conn, scope=scope, on=ON)
        households = queries.households_with_room(
            conn, scope=Scope(agency_codes=scope.agency_codes), taxonomy=taxonomy, within=reach(requests, cfg)
        )
    instance = build_instance(HouseholdPool(households, taxonomy, cfg), requests)
    print(
        f"{label}: {len(instance.units):,} units, {len(instance.arcs):,} eligible pairs; {args.time_limit:g} s of solving"
    )
    runs = (("children first", instance, False), ("guarded", guarded(instance), False), ("guard", instance, True))
    children_first: dict[int, int] = {}
    for name, inst, guard in runs:
        started = time.perf_counter()
        result = solve(
            inst,
            SolverSettings(
                time_limit_seconds=args.time_limit, random_seed=2024, workers=2, no_worse_than_first_come=guard
            ),
        )
        first = first_come_first_served(inst)
        if name == "children first":
            children_first = result.assignment
        cmp = like_for_like(inst, result.assignment, first)
        ours, theirs = cmp["both"]["ours"], cmp["both"]["first_come_first_served"]
        parts = components(inst, result.assignment, first)
        print(
            f"  {name}: {result.status}, gap {result.gap:.2e}, placed {result.summary['placed']:,} "
            f"(first come first served {result.baselines['first_come_first_served']['placed']:,}), "
            f"{time.perf_counter() - started:.1f} s"
        )
        print(
            f"    the {ours['children']:,} both place: fit {ours['mean_fit']} / {theirs['mean_fit']}, miles "
            f"{ours['mean_distance_miles']} / {theirs['mean_distance_miles']}, out of area {ours['out_of_area']} / "
            f"{theirs['out_of_area']}; only ours {cmp['only_ours']['children']:,}, only first come first served "
            f"{cmp['only_first_come_first_served']['children']:,}"
        )
        print(
            f"    differences from first come first served: {len(parts):,} parts, the largest {max(map(len, parts), default=0)} units"
        )

    first = first_come_first_served(instance)
    mended = no_worse_than_first_come(instance, children_first, first)
    cmp = like_for_like(instance, mended.assignment, first)
    ours, theirs = cmp["both"]["ours"], cmp["both"]["first_come_first_served"]
    print(
        f"  mended only: placed {len(mended.assignment):,} units, {weighted_children(instance, mended.assignment):,} "
        f"urgency-weighted children (children first: {weighted_children(instance, children_first):,}); "
        f"{mended.reverted} parts given back; the {ours['children']:,} both place: fit {ours['mean_fit']} / "
        f"{theirs['mean_fit']}, miles {ours['mean_distance_miles']} / {theirs['mean_distance_miles']}"
    )


if __name__ == "__main__":
    main()
