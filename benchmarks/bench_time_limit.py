"""Does the time limit hold for the whole command?  ``matching allocate`` end to end, against its limit.

For each objective (total, fairness) and limit (2, 5, 10 s by default), on a region (the first in
name order) and on all of England of the generated store (``las150-seed2024.db``, built by
``benchmarks/bench_matching.py``), run the command in a fresh process, as a user would, and time it
from outside: the wall time includes starting Python and loading the libraries, which the command's
own deadline cannot count (it starts once the command's arguments are read).  Also printed: the
command's own account of where the time went (reading the store, building, solving, reporting), its
status, the children placed and considered, and its notes.  The target (issue 17): the command's
own total within the limit + 1 s, for every objective.

Run: ``.venv/bin/python benchmarks/bench_time_limit.py [--workdir DIR] [--limits 2,5,10] [--national/--no-national]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from matching.allocation.deadline import GRACE_SECONDS
from matching.store import schema
from matching.store.engine import make_engine

ON = "2026-04-01"


def run(url: str, area: list[str], limit: float, objective: str) -> tuple[float, dict]:  # type: ignore[type-arg]
    """One ``matching allocate`` in a fresh process: its wall time and its JSON."""
    cmd = [
        sys.executable,
        "-c",
        "from matching.cli import main; main()",
        "allocate",
        *area,
        "--on",
        ON,
        "--time-limit",
        str(limit),
        "--objective",
        objective,
        "--json",
    ]
    env = {**os.environ, "DATABASE_URL": url}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - t0
    return wall, json.loads(done.stdout)


def main() -> None:
    """Every objective and limit, regional then national."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--limits", default="2,5,10")
    ap.add_argument("--objectives", default="total,fairness")
    ap.add_argument("--national", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args()
    db = args.workdir / "las150-seed2024.db"
    if not db.exists():
        raise SystemExit(f"{db} is missing: run benchmarks/bench_matching.py once to build it")
    url = f"sqlite:///{db}"
    with make_engine(url).connect() as conn:
        region = sorted(set(conn.execute(select(schema.local_authority.c.region)).scalars()))[0]
    areas = [(f"regional ({region})", ["--region", region])]
    if args.national:
        areas.append(("national", []))
    print(
        f"{'instance':32s} {'objective':9s} {'limit':>5s} {'wall':>6s} {'own':>6s} {'read':>5s} {'build':>5s} "
        f"{'solve':>5s} {'report':>6s} {'held':>4s}  status     placed/considered/waiting"
    )
    for label, area in areas:
        for objective in args.objectives.split(","):
            for limit in [float(x) for x in args.limits.split(",")]:
                wall, out = run(url, area, limit, objective)
                sec = out["seconds"]
                waiting = out["summary"]["waiting"]
                unconsidered = sum(1 for u in out["unplaced"] if u["reason"] == "not_considered")
                held = "yes" if sec["total"] <= limit + GRACE_SECONDS else "NO"
                print(
                    f"{label:32s} {objective:9s} {limit:5g} {wall:6.2f} {sec['total']:6.2f} {sec['reading']:5.2f} "
                    f"{sec['building']:5.2f} {sec.get('solving', 0.0):5.2f} {sec.get('reporting', 0.0):6.2f} "
                    f"{held:>4s}  {out['status']:10s} {out['summary']['placed']}/{waiting - unconsidered}/{waiting}"
                    f" gap {out['gap']:.1e}",
                    flush=True,
                )
                for note in out["notes"]:
                    print(f"{'':34s}note: {note}")


if __name__ == "__main__":
    main()
