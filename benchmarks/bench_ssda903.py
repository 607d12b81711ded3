"""SSDA903 benchmark: a national return (all of England's looked-after children and their episodes,
generated) imported into SQLite and PostgreSQL, validation included.

Targets (issue 14): SQLite <= 60 s, PostgreSQL <= 90 s, peak memory <= 2 GiB.

The generated England (150 LAs) is exported by the generator as one return per authority; the
benchmark joins them into one national return (the CHILD ids of the generated authorities do not
collide) and imports it for one authority code, ``ENG``, into an empty store. Each import runs in a
fresh process so its peak resident set is its own.

Run: ``make bench-ssda903`` (``benchmarks/bench_ssda903.py [--las 150] [--postgres URL]``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

SEED = 2024
TABLES = ("header", "episodes", "uasc", "oc2", "missing", "postcode_sectors")


def national_return(workdir: Path, las: int) -> Path:
    """Generate England (if not there) and join its authorities' returns into one folder."""
    from matching.synth.generator import generate

    gen = workdir / f"las{las}-seed{SEED}"
    if not (gen / "children.csv").exists():
        generate(gen, las=las, seed=SEED)
    out = workdir / f"903-national-las{las}"
    if (out / "episodes.csv").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    folders = sorted(p for p in (gen / "903").iterdir() if p.is_dir() and not p.name.endswith("-xml"))
    for name in TABLES:
        frames = [pd.read_csv(f / f"{name}.csv", dtype=str, keep_default_na=False) for f in folders]
        joined = pd.concat(frames, ignore_index=True)
        if name == "postcode_sectors":
            joined = joined.drop_duplicates("sector")
        joined.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
    return out


def _child(url: str, folder: str) -> None:
    """One import in this process: print its figures as JSON."""
    from sqlalchemy import insert, text

    from matching.ssda903.importer import import_903
    from matching.store import schema
    from matching.store.engine import open_store

    engine = open_store(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in reversed(schema.metadata.sorted_tables))
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
        conn.execute(
            insert(schema.local_authority).values(
                la_code="ENG", name="England", region="England", centre_easting=400_000, centre_northing=300_000,
                radius_miles=100,
            )
        )  # fmt: skip
    start = time.perf_counter()
    result, conv = import_903(engine, Path(folder), la_code="ENG", year=2026)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "peak_mib": peak, "children": conv.children, "episodes": conv.episodes,
                      "placements": conv.placements, "sdq": result.rows.get("sdq_scores", 0),
                      "missing": result.rows.get("missing_episodes", 0), "uasc": conv.uasc}))  # fmt: skip


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--las", type=int, default=150)
    ap.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    folder = national_return(args.workdir, args.las)
    print(f"SSDA903 benchmark: national return of {args.las} generated LAs (seed {SEED}), {os.cpu_count()} cores")
    db = args.workdir / "ssda903-national.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    for label, url, target in (("SQLite", f"sqlite:///{db}", 60.0), ("PostgreSQL", args.postgres, 90.0)):
        run = subprocess.run(
            [sys.executable, __file__, "--child", url, str(folder)], capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            print(f"  {label}: failed: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else run.returncode}")
            continue
        f = json.loads(run.stdout.strip().splitlines()[-1])
        ok = "ok" if f["wall"] <= target and f["peak_mib"] <= 2048 else "MISSED"
        print(
            f"  {label}: {f['wall']:.1f} s (target {target:.0f} s), peak {f['peak_mib']:,.0f} MiB (target 2,048) {ok}; "
            f"{f['children']:,} children, {f['episodes']:,} episodes, {f['placements']:,} placements, "
            f"{f['sdq']:,} SDQ scores, {f['missing']:,} missing episodes, {f['uasc']:,} UASC"
        )


if __name__ == "__main__":
    main()
