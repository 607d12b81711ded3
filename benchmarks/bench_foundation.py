"""Foundation benchmark: generate all of England, validate it, import it into SQLite (and PostgreSQL).

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_foundation.py [--las 150] [--postgres URL]``.
Each phase runs in a fresh process so its wall time and peak memory are its own; peak memory is
the largest resident set of the phase's process or of any one of its workers.
Targets (issue "Foundation"): generate <= 60 s, import <= 120 s, peak memory <= 4 GiB, on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"generate": 60.0, "import (SQLite)": 120.0, "import (PostgreSQL)": 120.0}
MEMORY_TARGET_MIB = 4096.0


_PEAK = (
    "\nimport resource as _r\n"
    "print('PEAK_KIB', max(_r.getrusage(_r.RUSAGE_SELF).ru_maxrss, _r.getrusage(_r.RUSAGE_CHILDREN).ru_maxrss))"
)


def phase(code: str) -> tuple[float, float, str]:
    """Run ``code`` in a fresh interpreter; return wall seconds, its own peak RSS (MiB) and its stdout."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code + _PEAK], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"phase failed:\n{done.stderr[-2000:]}")
    lines = done.stdout.strip().splitlines()
    peak_kib = int(lines[-1].split()[1])
    return wall, peak_kib / 1024.0, "\n".join(lines[:-1])


def main() -> None:
    """Run the phases and print a table of figures against the targets."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--las", type=int, default=150)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="admin URL of a PostgreSQL server to import into (a scratch database is created); '' to skip",
    )
    args = ap.parse_args()
    results: list[tuple[str, float, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "england"
        wall, mem, out = phase(
            f"from matching.synth.generator import generate; import json; "
            f"s = generate({str(folder)!r}, las={args.las}, seed={args.seed}); print(json.dumps(s.rows))"
        )
        rows = json.loads(out)
        results.append(
            (
                "generate",
                wall,
                mem,
                f"{rows['children']:,} children, {rows['households']:,} households, "
                f"{sum(v for k, v in rows.items() if k != 'placement_truth'):,} rows",
            )
        )
        wall, mem, out = phase(
            f"from matching.contract.validate import validate_folder; "
            f"r = validate_folder({str(folder)!r}); print(len(r.problems))"
        )
        results.append(("validate", wall, mem, f"{out} problems"))
        db = Path(tmp) / "england.db"
        wall, mem, _ = phase(
            f"from matching.store.engine import open_store; from matching.store.importer import "
            f"import_folder; import_folder(open_store('sqlite:///{db}'), {str(folder)!r})"
        )
        results.append(
            ("import (SQLite)", wall, mem, f"validation included; {db.stat().st_size / 2**20:,.0f} MiB file")
        )
        if args.postgres:
            name = f"pm_bench_{int(time.time())}"
            admin = (
                "from sqlalchemy import create_engine, text; "
                f"e = create_engine({args.postgres!r}, isolation_level='AUTOCOMMIT'); c = e.connect(); "
            )
            try:
                subprocess.run(
                    [sys.executable, "-c", admin + f"c.execute(text('CREATE DATABASE {name}'))"],
                    check=True,
                    capture_output=True,
                )
            except subprocess.CalledProcessError:
                print("PostgreSQL not reachable: skipping the PostgreSQL import")
            else:
                url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
                try:
                    wall, mem, _ = phase(
                        f"from matching.store.engine import open_store; from matching.store.importer "
                        f"import import_folder; import_folder(open_store({url!r}), {str(folder)!r})"
                    )
                    results.append(("import (PostgreSQL)", wall, mem, "validation included"))
                finally:
                    subprocess.run(
                        [sys.executable, "-c", admin + f"c.execute(text('DROP DATABASE {name} WITH (FORCE)'))"],
                        check=False,
                        capture_output=True,
                    )
    print(f"\nFoundation benchmark: {args.las} local authorities, seed {args.seed}, 2 cores")
    print(f"{'phase':22s} {'wall s':>8s} {'target s':>9s} {'ratio':>6s} {'peak MiB':>9s}  notes")
    for name, wall, mem, note in results:
        target = TARGETS.get(name)
        ratio = f"{wall / target:.2f}" if target else ""
        verdict = "" if target is None else ("ok" if wall <= target and mem <= MEMORY_TARGET_MIB else "MISSED")
        print(f"{name:22s} {wall:8.1f} {target or '':>9} {ratio:>6s} {mem:9.0f}  {note} {verdict}")
    print(f"memory target: {MEMORY_TARGET_MIB:.0f} MiB per phase")


if __name__ == "__main__":
    main()
