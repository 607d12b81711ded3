"""Step-down benchmark: assess every child in a children's home in England, and one child via the API.

Targets (issue: step-down readiness):
* a cohort of ~10,000 residential children (national scale) assessed in <= 10 s;
* one child <= 50 ms via the API;
* children generated on an improving path flagged "ready" with precision and recall >= 0.9, and no
  child whose plan is to stay or who wants to stay labelled ready.

Run: ``make bench-stepdown``. Uses the England store of the matching benchmark (built if missing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_matching import SEED, ensure_store
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from matching.access import Actor
from matching.domain import Scope
from matching.paths import PROJECT_ROOT
from matching.stability.trust import artefact_folders, trust
from matching.stepdown.assess import assess_cohort
from matching.store.engine import make_engine, open_store

READY = {"ready_to_start_matching", "in_transition"}


def _ok(good: bool) -> str:
    return "ok" if good else "MISSED"


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--children", type=int, default=200, help="children asked for one by one via the API")
    args = parser.parse_args()
    url = ensure_store(args.workdir, 150)
    folder = args.workdir / f"las150-seed{SEED}"
    engine = make_engine(url)
    with open_store(url).begin() as conn:  # the shipped models, trusted in the benchmark's store as `make run` does
        for shipped in artefact_folders(PROJECT_ROOT / "models"):
            trust(conn, shipped, actor=Actor.system("benchmark"), note="shipped models, trusted by bench_stepdown.py")
    import matching.stability.scorer  # noqa: F401 - imports outside the timing, as in a running service

    for label, models in (("rules only", str(args.workdir / "no-models")), ("with the stability model", None)):
        if models is None:
            os.environ.pop("MATCHING_MODELS_DIR", None)
        else:
            os.environ["MATCHING_MODELS_DIR"] = models
        t0 = time.perf_counter()
        with engine.connect() as conn:
            cohort = assess_cohort(conn, scope=Scope.everything())
        took = time.perf_counter() - t0
        counts = cohort.counts()
        in_homes = len(cohort.children) - counts["stepped_down"]
        print(f"\nCohort, England ({label}): {len(cohort.children):,} children ({in_homes:,} in homes), "
              f"assessed on {cohort.assessed_on}")  # fmt: skip
        print(f"  {took:.1f} s   target <= 10 s -> {_ok(took <= 10)}")
        print("  " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items()))
    costs = cohort.costs()
    print(f"  weekly cost now £{costs['weekly_now']:,}; annual difference if every family option were taken "
          f"£{costs['annual_difference']:,} ({costs['children_with_a_family_option']:,} children)")  # fmt: skip

    truth = pd.read_csv(folder / "truth" / "stepdown_truth.csv").set_index("child_id")["path"]
    flagged = {a.child_id for a in cohort.children if a.stage in READY}
    improving = set(truth[truth == "improving"].index)
    hit = len(flagged & improving)
    precision, recall = hit / max(1, len(flagged)), hit / max(1, len(improving))
    print(f"\nAgainst the generator's paths: precision {precision:.3f}, recall {recall:.3f} "
          f"({hit:,} of {len(improving):,} improving found, {len(flagged):,} flagged)   target >= 0.9 -> "
          f"{_ok(precision >= 0.9 and recall >= 0.9)}")  # fmt: skip
    wrong = 0
    shown_first = 0
    for a in cohort.children:
        if not a.indicators:
            continue
        by = {i.name: i for i in a.indicators}
        stay = by["care_plan"].status != "met" or by["wishes"].value.endswith("wants to stay where they are")
        if stay:
            wrong += a.stage in READY
            shown_first += bool(a.blockers) and a.blockers[0].startswith(("Care plan", "The child says"))
    print(f"  children whose plan is to stay or who want to stay: labelled ready {wrong}; reason shown first in "
          f"{shown_first:,}")  # fmt: skip

    print(f"\nOne child via the API ({args.children} children, England, stability model loaded)")
    client = TestClient(create_app(Settings(), engine=engine))
    ids = [a.child_id for a in cohort.children if a.stage != "stepped_down"]
    sample = ids[:: max(1, len(ids) // args.children)][: args.children]
    t0 = time.perf_counter()
    client.get(f"/v1/children/{sample[0]}/step-down")
    print(f"  first request (builds and caches the step-down pool): {time.perf_counter() - t0:.1f} s")
    ms = []
    for cid in sample:
        t0 = time.perf_counter()
        r = client.get(f"/v1/children/{cid}/step-down")
        ms.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text
    med = statistics.median(ms)
    print(f"  median {med:.1f} ms, p99 {np.percentile(ms, 99):.1f} ms   target <= 50 ms -> {_ok(med <= 50)}")


if __name__ == "__main__":
    main()
