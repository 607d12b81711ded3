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

Peers, in the same run (``--no-peers`` to skip): after our solve, HiGHS on the same rows and plain
CP-SAT on the whole model (:mod:`matching.allocation.peers`), each with the same time limit as ours,
counted from the start of building its model.  Each runs in a process of its own, forked after our
solve (so it shares the instance), to report its own peak memory.  The table gives each method's
status, value, its own proven bound, its gap against that bound and against the best bound anyone
proved in the run, its seconds and memory, and the ratio of our gap to its (both against the best
bound).

Run: ``make bench-allocation`` or ``.venv/bin/python benchmarks/bench_allocation.py [--workdir DIR]
[--only regional] [--no-peers]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

from sqlalchemy import select

from matching.allocation.instance import AllocationInstance, build_instance
from matching.allocation.peers import PeerResult, gap, highs, plain_cpsat
from matching.allocation.solver import AllocationResult, SolverSettings, solve
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


def rss_mib() -> float:
    """This process's resident memory now, in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peer_child(
    peer: Callable[[AllocationInstance, float], PeerResult], instance: AllocationInstance, limit: float, out: Connection
) -> None:
    """In the forked process: the peer's result (without its answer) and its memory (start, peak) in MiB."""
    start = rss_mib()
    result = peer(instance, limit)
    out.send((replace(result, assignment={}), start, peak_mib()))
    out.close()


def run_peer(
    peer: Callable[[AllocationInstance, float], PeerResult], instance: AllocationInstance, limit: float
) -> tuple[PeerResult, float, float]:
    """``peer`` on ``instance`` for ``limit`` seconds in a forked process: its result, and its process's resident
    memory when it started (shared with this one) and at its peak, in MiB."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_peer_child, args=(peer, instance, limit, send))
    child.start()
    send.close()
    try:
        answer: tuple[PeerResult, float, float] = receive.recv()
    except EOFError:
        child.join()
        raise SystemExit(f"{peer.__name__} failed (exit code {child.exitcode})") from None
    child.join()
    return answer


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def peer_table(
    ours: AllocationResult, ours_memory: tuple[float, float], instance: AllocationInstance, limit: float
) -> None:
    """HiGHS and plain CP-SAT on ``instance`` with the time limit ``limit``, beside ``ours``, as a table."""
    rows: list[tuple[str, str, float | None, float | None, float, float, float]] = [
        ("ours", ours.status, ours.objective, ours.bound, ours.solve_seconds, *ours_memory)
    ]
    said = []
    for name, peer in (("HiGHS", highs), ("plain CP-SAT", plain_cpsat)):
        result, start, peak = run_peer(peer, instance, limit)
        rows.append((name, result.status, result.value, result.bound, result.seconds, peak, peak - start))
        said.append(f"{name}: {result.solver_status}; its model built in {result.build_seconds:.2f} s")
    best = min(r[3] for r in rows if r[3] is not None)
    ours_best = gap(ours.objective, best)
    print(
        f"  peers, each with the same time limit ({limit:g} s), best bound proven in the run {best:,.2f} "
        "(memory: each process's peak, and its own: above what it started with)"
    )
    print(
        f"  {'method':13s} {'status':9s} {'value':>13s} {'own bound':>13s} {'gap (own)':>9s} {'gap (best)':>10s} "
        f"{'seconds':>7s} {'peak MiB':>8s} {'own MiB':>7s} {'ours / theirs':>13s}"
    )
    for name, status, value, bound, seconds, peak, own in rows:
        theirs = gap(value, best)
        if name == "ours":
            ratio = "-"
        elif theirs is None:
            ratio = "no answer"
        elif theirs == 0:
            ratio = "both 0" if ours_best == 0 else "inf"
        else:
            ratio = f"{(ours_best or 0.0) / theirs:.3g}"
        print(
            f"  {name:13s} {status:9s} {_fmt(value, ',.2f'):>13s} {_fmt(bound, ',.2f'):>13s} "
            f"{_fmt(gap(value, bound), '.2e'):>9s} {_fmt(theirs, '.2e'):>10s} {seconds:7.2f} {peak:8,.0f} {own:7,.0f} "
            f"{ratio:>13s}"
        )
    for line in said:
        print(f"    {line}")


def run(label: str, conn, scope: Scope, n: int, limit: float, peers: bool = True) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    instance = build(conn, scope, n)
    t_build = time.perf_counter() - t0
    children = sum(u.size for u in instance.units)
    groups = sum(1 for u in instance.units if u.size > 1)
    before = rss_mib()
    result = solve(instance, SolverSettings(time_limit_seconds=limit, random_seed=2024, workers=2))
    peak = peak_mib()
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
    if peers:
        peer_table(result, (peak, max(0.0, peak - before)), instance, limit)


def main() -> None:
    """Regional and national runs."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--regional", type=int, default=1000)
    ap.add_argument("--national", type=int, default=10_000)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True, help="HiGHS and plain CP-SAT too")
    ap.add_argument("--only", choices=["regional", "national"], help="one instance only")
    args = ap.parse_args()
    db = args.workdir / "las150-seed2024.db"
    if not db.exists():
        raise SystemExit(f"{db} is missing: run benchmarks/bench_matching.py once to build it")
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        for label, scope, name in scopes(conn):
            if args.only in (None, name):
                n = args.regional if name == "regional" else args.national
                run(label, conn, scope, n, args.time_limit, args.peers)


if __name__ == "__main__":
    main()
