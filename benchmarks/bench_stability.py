"""Stability model benchmark: training on all of England's history, scoring 40,000 pairs, ranking with it.

Targets (issue 4, synthetic England, held out):
* ROC AUC >= 0.97 x the AUC of the generator's true probability; ECE <= 0.02; better than the
  rules-only baseline (difference and interval printed); no group's ECE above 0.05;
* training on all of England's history <= 5 minutes on 2 cores; scoring 40,000 pairs <= 50 ms.

Run: ``make bench-stability`` (or ``python benchmarks/bench_stability.py``).  Uses the England
store built by the matching benchmark (built here if missing) and writes the model to
``benchmarks/out/models``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np
from bench_matching import SEED, ensure_store

from matching.domain import Scope
from matching.fit_config import load_fit_config
from matching.pools import load_pool
from matching.ranking.service import rank_households, waiting_requests
from matching.stability.artefact import load_model
from matching.stability.features import ChildHistory, candidate_features
from matching.stability.train import train
from matching.store.engine import make_engine
from matching.taxonomy import load_taxonomy

ON = date(2026, 4, 1)
PAIRS = 40_000


def _ok(good: bool) -> str:
    return "ok" if good else "MISSED"


def train_and_report(engine, models: Path, truth: Path) -> None:  # type: ignore[no-untyped-def]
    """Train on England's history and print the model, baseline and ceiling figures."""
    print("\nTraining on all of England's history (2 cores)")
    t0 = time.perf_counter()
    with engine.connect() as conn:
        result = train(
            conn, scope=Scope.everything(), out_root=models, seed=SEED, truth=truth, source="synthetic England"
        )
    t_train = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    r = result.metadata["metrics"]
    td = result.metadata["training_data"]
    print(f"  {td['placements']:,} placements of {td['children']:,} children; {r['n']:,} held out")
    print(
        f"  train + evaluate + write: {t_train:.1f} s, peak RSS {peak:,.0f} MiB   target <= 300 s -> {_ok(t_train <= 300)}"
    )
    print(f"  {'':34s} {'ROC AUC':>8s} {'PR AUC':>8s} {'Brier':>8s} {'ECE':>8s}")
    for name in ("model", "baseline", "ceiling"):
        s = r[name]
        print(f"  {name:34s} {s['roc_auc']:8.4f} {s['pr_auc']:8.4f} {s['brier']:8.4f} {s['ece']:8.4f}")
    ratio = r["model_over_ceiling_auc"]
    d = r["model_minus_baseline_auc"]
    print(f"  model AUC / ceiling AUC: {ratio:.4f}   target >= 0.97 -> {_ok(ratio >= 0.97)}")
    print(f"  model ECE: {r['model']['ece']:.4f}   target <= 0.02 -> {_ok(r['model']['ece'] <= 0.02)}")
    print(f"  model - baseline AUC: {d['difference']:+.4f} (95% CI {d['ci_low']:+.4f} to {d['ci_high']:+.4f})")
    worst = max((g for g in r["groups"] if g["ece"] is not None), key=lambda g: g["ece"])
    print(
        f"  worst group ECE: {worst['ece']:.4f} ({worst['attribute']}={worst['group']}, n={worst['n']:,}; "
        f"chance alone at that size {worst['ece_chance']:.4f})   target <= 0.05 -> {_ok(worst['ece'] <= 0.05)}"
    )
    for gap in r["group_auc_gaps"]:
        print(
            f"  largest AUC gap by {gap['attribute']}: {gap['gap']:.4f} ({gap['highest']} vs {gap['lowest']}; "
            f"95% CI {gap['ci_low']:+.4f} to {gap['ci_high']:+.4f})"
        )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--skip-train", action="store_true", help="Reuse the model trained by the last run.")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    url = ensure_store(args.workdir, 150)
    truth = args.workdir / f"las150-seed{SEED}"
    models = args.workdir / "models"
    engine = make_engine(url)

    if not args.skip_train:
        train_and_report(engine, models, truth)

    print(f"\nScoring {PAIRS:,} pairs (one child against the national pool)")
    loaded = load_model(models)
    cfg, tax = load_fit_config(), load_taxonomy()
    with engine.connect() as conn:
        pool = load_pool(conn, scope=Scope.everything(), taxonomy=tax, cfg=cfg, with_stability=False)
        requests = waiting_requests(conn, scope=Scope.everything(), on=ON)
    idx = np.resize(np.arange(len(pool)), PAIRS)
    step = max(1, len(requests) // 25)
    feats_ms, model_ms, total_ms = [], [], []
    for req in requests[::step][:25]:  # a different child each time, as in service
        t0 = time.perf_counter()
        x = candidate_features(pool, req, idx, ChildHistory(2, False))
        t1 = time.perf_counter()
        loaded.model.predict_proba(x)
        t2 = time.perf_counter()
        feats_ms.append((t1 - t0) * 1000)
        model_ms.append((t2 - t1) * 1000)
        total_ms.append((t2 - t0) * 1000)
    f_med, m_med, total = (statistics.median(v[3:]) for v in (feats_ms, model_ms, total_ms))
    print(
        f"  features {f_med:.1f} ms + model {m_med:.1f} ms: {total:.1f} ms in all (median of {len(total_ms) - 3} "
        f"children; p90 {np.percentile(total_ms[3:], 90):.1f} ms)   target <= 50 -> {_ok(total <= 50)}"
    )

    print(f"\nRanking with and without the model ({args.requests} referrals, England)")
    os.environ["MATCHING_MODELS_DIR"] = str(models)
    with engine.connect() as conn:
        with_model = load_pool(conn, scope=Scope.everything(), taxonomy=tax, cfg=cfg)
    assert with_model.stability is not None
    sample = requests[:: max(1, len(requests) // args.requests)][: args.requests]
    timings: dict[str, list[float]] = {"rules only": [], "with the model": []}
    for name, p in (("rules only", pool), ("with the model", with_model)):
        for q in sample[:10]:
            rank_households(pool=p, request=q, top=10)
        for q in sample:
            t0 = time.perf_counter()
            rank_households(pool=p, request=q, top=10)
            timings[name].append((time.perf_counter() - t0) * 1000)
    for name, ms in timings.items():
        print(f"  {name:16s} median {statistics.median(ms):6.2f} ms   p99 {np.percentile(ms, 99):6.2f} ms")
    ratio_rank = statistics.median(timings["with the model"]) / statistics.median(timings["rules only"])
    print(f"  the model costs {ratio_rank:.1f}x the rules-only median")


if __name__ == "__main__":
    main()
