"""Sufficiency benchmark: 1,000 simulated futures for a region (10 LAs, ~5,000 children), 1 and 2 Dask workers.

Targets (issue: sufficiency planning): 1,000 futures <= 60 s on 2 cores; speed-up from 1 to 2 local Dask
workers >= 1.7x; Monte Carlo error of the headline figures reported.

Run: ``make bench-sufficiency``. Uses the England store of the matching benchmark (built if missing).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from bench_matching import ensure_store
from sqlalchemy import func, select

from matching.store import schema
from matching.store.engine import make_engine
from matching.sufficiency.model import build_inputs
from matching.sufficiency.run import run_futures, summarise
from matching.sufficiency.scenario import Scenario


def _ok(good: bool) -> str:
    return "ok" if good else "MISSED"


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--futures", type=int, default=1000)
    args = parser.parse_args()
    engine = make_engine(ensure_store(args.workdir, 150))
    with engine.connect() as conn:
        la = schema.local_authority
        region = conn.execute(select(la.c.region).order_by(la.c.region)).scalars().first()
        las = sorted(conn.execute(select(la.c.la_code).where(la.c.region == region)).scalars())[:10]
        children = conn.execute(
            select(func.count()).select_from(schema.child).where(schema.child.c.la_code.in_(las))
        ).scalar_one()
        scenario = Scenario.model_validate(
            {"name": "bench", "area": {"las": las}, "horizon_months": 12, "simulations": args.futures, "seed": 2024}
        )
        t0 = time.perf_counter()
        inp = build_inputs(conn, scenario, la_codes=las)
        t_build = time.perf_counter() - t0
    print(f"\nRegion {region}: {len(las)} LAs, {children:,} children; {len(inp.proto_band):,} prototypes, "
          f"{len(inp.household_ids):,} households, {len(inp.arc_household):,} pairs; inputs built in {t_build:.1f} s")  # fmt: skip
    times = {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        futures = run_futures(inp, scenario.seed, args.futures, workers=workers)
        times[workers] = time.perf_counter() - t0
        print(
            f"  {args.futures:,} futures on {workers} local Dask worker{'s' if workers > 1 else ''}: {times[workers]:.1f} s"
        )
    speedup = times[1] / times[2]
    print(f"  2 workers: {times[2]:.1f} s   target <= 60 s -> {_ok(times[2] <= 60)}")
    print(f"  speed-up 1 -> 2 workers: {speedup:.2f}x   target >= 1.7x -> {_ok(speedup >= 1.7)}")
    s = summarise(inp, futures)
    for key in ("demand", "placed", "unmet", "cost"):
        e = s["headline"][key]
        print(f"  {key:8s} mean {e['mean']:>14,.1f}  Monte Carlo error {e['mc_error']:,.2f} "
              f"({100 * e['mc_error'] / max(1e-9, e['mean']):.2f}%)  90% of futures {e['low']:,.0f} to {e['high']:,.0f}")  # fmt: skip
    half = run_futures(inp, 7, args.futures // 2, workers=0)
    se_half = np.std([f["unmet"] for f in half], ddof=1) / np.sqrt(len(half))
    print(f"  variance of the mean, {args.futures // 2} vs {args.futures} futures: ratio "
          f"{(se_half / s['headline']['unmet']['mc_error']) ** 2:.2f} (2 expected)")  # fmt: skip
    for b in s["bottlenecks"][:4]:
        print(f"  - {b['text']}")


if __name__ == "__main__":
    main()
