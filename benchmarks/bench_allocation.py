"""Batch-allocation benchmark on the generated England.

Instances: waiting children (open referrals, topped up with default referrals for other children
taken in id order when there are too few) against every household with a vacancy, each child's
best 50 eligible households kept.
* regional: ~1,000 children (whole regions, in name order);
* national: ~10,000 children from all of England.
For each: instance build time, solve status / objective / bound / gap / time, and ours against
first-come-first-served and greedy in children placed, mean fit, sibling groups together, mean
distance and out of area.
Targets (issue "batch allocation"): regional proven optimal in <= 1 s; national within 0.5% of a
proven bound in <= 10 s with peak memory <= 4 GiB.

Run: ``make bench-allocation`` or ``.venv/bin/python benchmarks/bench_allocation.py [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import date
from pathlib import Path

from sqlalchemy import select

from matching.allocation.instance import AllocationInstance, build_instance
from matching.allocation.solver import SolverSettings, solve
from matching.domain import Scope
from matching.eligibility.request import MatchRequest
from matching.fit_config import load_fit_config
from matching.pools import load_pool
from matching.ranking.service import default_referral, waiting_requests
from matching.store import queries, schema
from matching.store.engine import make_engine
from matching.taxonomy import load_taxonomy

ON = date(2026, 4, 1)


def requests_for(conn, scope: Scope, n: int) -> list[MatchRequest]:  # type: ignore[no-untyped-def]
    """Open referrals in scope, topped up with default referrals for other fostered or residential children."""
    reqs = waiting_requests(conn, scope=scope, on=ON)
    have = {c.child_id for r in reqs for c in r.group}
    if len(have) < n:
        page, _ = queries.list_children(conn, scope=scope, limit=200_000)
        extra = [
            c
            for c in page
            if c.child_id not in have and c.place in {"U4", "U5", "U6", "K2"} and c.sibling_group_id is None
        ]
        for child in extra[: n - len(have)]:
            reqs.append(MatchRequest(default_referral(child, ON), child, ON))
    return reqs


def build(conn, scope: Scope, n: int) -> AllocationInstance:  # type: ignore[no-untyped-def]
    """The benchmark instance: ``n`` waiting children in ``scope`` against every household in England."""
    cfg, tax = load_fit_config(), load_taxonomy()
    pool = load_pool(conn, scope=Scope.everything(), taxonomy=tax, cfg=cfg, with_stability=False)
    return build_instance(pool, requests_for(conn, scope, n))


def scopes(conn) -> list[tuple[str, Scope, str]]:  # type: ignore[no-untyped-def]
    """(label, scope, name) of the regional and national instances: whole regions in name order up to 18 LAs."""
    regions = sorted(set(conn.execute(select(schema.local_authority.c.region)).scalars()))
    las: list[str] = []
    for region in regions:
        las += list(
            conn.execute(
                select(schema.local_authority.c.la_code).where(schema.local_authority.c.region == region)
            ).scalars()
        )
        if len(las) >= 18:
            break
    return [
        (f"Regional ({len(las)} LAs)", Scope(la_codes=frozenset(las)), "regional"),
        ("National", Scope.everything(), "national"),
    ]


def run(label: str, conn, scope: Scope, n: int, limit: float) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    instance = build(conn, scope, n)
    t_build = time.perf_counter() - t0
    children = sum(u.size for u in instance.units)
    groups = sum(1 for u in instance.units if u.size > 1)
    result = solve(instance, SolverSettings(time_limit_seconds=limit, random_seed=2024, workers=2))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{label}: {children:,} children ({groups} sibling groups), {len(instance.households):,} households with "
        f"room, {len(instance.arcs):,} eligible pairs; built in {t_build:.1f} s"
    )
    print(
        f"  status {result.status}, {result.solve_seconds:.2f} s (model, solve, bound, baselines), "
        f"gap {result.gap:.2e}, peak memory {peak:,.0f} MiB"
    )
    print(f"  {'':26s} {'placed':>7s} {'mean fit':>9s} {'siblings':>9s} {'miles':>6s} {'out of area':>12s}")
    rows = [("this allocation", result.summary), *[(k.replace("_", " "), v) for k, v in result.baselines.items()]]
    for name, s in rows:
        print(
            f"  {name:26s} {s['placed']:7d} {s['mean_fit']:9.1f} {s['siblings_together']:4d}/{s['sibling_groups']:<4d} "
            f"{s['mean_distance_miles'] or 0:6.1f} {s['out_of_area']:12d}"
        )


def main() -> None:
    """Regional and national runs."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--regional", type=int, default=1000)
    ap.add_argument("--national", type=int, default=10_000)
    ap.add_argument("--time-limit", type=float, default=10.0)
    args = ap.parse_args()
    db = args.workdir / "las150-seed2024.db"
    if not db.exists():
        raise SystemExit(f"{db} is missing: run benchmarks/bench_matching.py once to build it")
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        for label, scope, name in scopes(conn):
            run(label, conn, scope, args.regional if name == "regional" else args.national, args.time_limit)


if __name__ == "__main__":
    main()
