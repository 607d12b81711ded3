"""Running many futures (locally or on a Dask cluster), summarising them with their Monte Carlo error,
finding the bottlenecks, and comparing a what-if with the baseline on the same random futures.

Futures are seeded one by one from the scenario's seed (``SeedSequence.spawn``), so a run is the same
whatever the number of workers. Local runs use a Dask ``LocalCluster`` of worker processes (all cores by
default); given a scheduler address, the same code runs on that cluster. Dask retries a task whose
worker is lost; results are only written once every future is in, so a cancelled run leaves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matching import codes
from matching.sufficiency.model import Inputs
from matching.sufficiency.simulate import REASONS, simulate
from matching.taxonomy import load_taxonomy

Progress = Callable[[int, int], None]
HEADLINES = (
    "demand", "entries", "moves", "step_down", "step_down_placed", "placed", "unmet", "residential",
    "siblings_separated", "cost",
)  # fmt: skip


def _chunk(inp: Inputs, seeds: Sequence[np.random.SeedSequence]) -> list[dict[str, Any]]:
    return [simulate(inp, s) for s in seeds]


def _keep(inp: Inputs) -> Inputs:
    return inp


def futures_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """One independent seed per future, from the scenario's seed (future ``i`` is spawn key ``(i,)``; each
    month and kind of draw within it has its own stream below that, see ``simulate``)."""
    return list(np.random.SeedSequence(seed).spawn(n))


def run_futures(
    inp: Inputs,
    seed: int,
    simulations: int,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    chunk_size: int | None = None,
) -> list[dict[str, Any]]:
    """Every future's outcomes, in seed order. ``workers=0`` runs in this process (no Dask)."""
    seeds = futures_seeds(seed, simulations)
    if scheduler is None and workers == 0:
        out = []
        for i, s in enumerate(seeds):
            out.append(simulate(inp, s))
            if progress:
                progress(i + 1, simulations)
        return out
    from dask.distributed import Client, LocalCluster, as_completed

    n_workers = workers or os.cpu_count() or 1
    size = chunk_size or max(1, simulations // (8 * n_workers))
    chunks = [seeds[i : i + size] for i in range(0, simulations, size)]
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        # A task (not scattered data) holds the inputs, so the scheduler can recompute them if the
        # worker holding them is lost: a lost worker costs a retry, never the run.
        shared = client.submit(_keep, inp, pure=False, retries=3)
        futures = client.map(_chunk, [shared] * len(chunks), chunks, retries=3, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[list[dict[str, Any]] | None] = [None] * len(chunks)
        done = 0
        for fut in as_completed(futures):
            results[index[fut.key]] = fut.result()
            done += len(chunks[index[fut.key]])
            if progress:
                progress(done, simulations)
        return [r for part in results if part is not None for r in part]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@dataclass(frozen=True)
class Estimate:
    """A headline figure over the futures: mean, Monte Carlo standard error, 90% interval of the futures."""

    mean: float
    mc_error: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        """JSON-ready mapping."""
        return {k: round(v, 3) for k, v in self.__dict__.items()}


def estimate(values: np.ndarray) -> Estimate:
    """Mean, its Monte Carlo standard error, and the 5th-95th percentile of the futures."""
    v = np.asarray(values, dtype=float)
    se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0
    lo, hi = np.percentile(v, [5, 95])
    return Estimate(float(v.mean()), se, float(lo), float(hi))


def summarise(inp: Inputs, futures: list[dict[str, Any]]) -> dict[str, Any]:
    """Headline estimates, unmet demand by band, area and need, reasons, the bottlenecks, monthly series."""
    get = lambda key: np.array([f[key] for f in futures], dtype=float)  # noqa: E731
    n = len(futures)
    total_unmet = max(1e-9, get("unmet").sum())
    miles = get("miles").sum() / max(1.0, get("miles_n").sum())
    by_need = np.sum([f["unmet_by_need"] for f in futures], axis=0) / n
    reasons = np.sum([f["unmet_reason"] for f in futures], axis=0)
    return {
        "futures": n,
        "headline": {k: estimate(get(k)).as_dict() for k in HEADLINES},
        "weekly_cost": {"foster": inp.weekly_foster, "residential": inp.weekly_residential},
        "mean_distance_miles": round(float(miles), 1),
        "unmet_by_age_band": _named(codes.AGE_BAND_NAMES, np.mean([f["unmet_by_band"] for f in futures], axis=0)),
        "unmet_by_la": _named(inp.la_codes, np.mean([f["unmet_by_la"] for f in futures], axis=0)),
        "unmet_by_need": {inp.need_ids[j]: round(float(v), 2) for j, v in enumerate(by_need) if v > 0},
        "unmet_reasons": {r: round(float(reasons[i] / total_unmet), 3) for i, r in enumerate(REASONS)},
        "bottlenecks": bottlenecks(inp, futures),
        "monthly": {
            k: np.round(np.mean([f[f"monthly_{k}"] for f in futures], axis=0), 2).tolist()
            for k in ("demand", "vacancies", "unmet")
        },
    }  # fmt: skip


def _named(names: Sequence[str], values: np.ndarray) -> dict[str, float]:
    return {n: round(float(v), 2) for n, v in zip(names, np.asarray(values).ravel(), strict=True)}


def _skills_text(share: float, band: str, need: str) -> str:
    """A skills bottleneck in plain words, with the need and its best course as the taxonomy spells them."""
    taxonomy = load_taxonomy()
    known = taxonomy.needs.get(need)
    label = known.label.lower() if known is not None else need.replace("_", " ")
    course = ""
    if known is not None and known.courses:
        best = taxonomy.best_course(need)
        course = f" ('{taxonomy.courses[best].label}' meets it best)" if best in taxonomy.courses else ""
    return (
        f"{share:.0%} of unmatched {band} year olds need skills in {label} that no eligible household in reach "
        f"covers: recruit or train for it{course}"
    )


def bottlenecks(inp: Inputs, futures: list[dict[str, Any]], top: int = 8) -> list[dict[str, Any]]:
    """What accounts for unmet demand, ranked: skills by age band and need, approval terms, places."""
    unmet_band = np.sum([f["unmet_by_band"] for f in futures], axis=0)
    gaps = np.sum([f["skills_gap_band"] for f in futures], axis=0)
    reasons = np.sum([f["unmet_reason"] for f in futures], axis=0)
    total = max(1e-9, float(np.sum([f["unmet"] for f in futures])))
    rows: list[dict[str, Any]] = []
    for b, band in enumerate(codes.AGE_BAND_NAMES):
        if unmet_band[b] <= 0:
            continue
        for j in np.argsort(-gaps[b])[:3]:
            share = gaps[b, j] / unmet_band[b]
            if share < 0.05:
                continue
            need = inp.need_ids[j]
            rows.append(
                {
                    "kind": "skills",
                    "age_band": band,
                    "need": need,
                    "share_of_unmet_in_band": round(float(share), 3),
                    "share_of_all_unmet": round(float(gaps[b, j] / total), 3),
                    "text": _skills_text(share, band, need),
                }
            )
    for i, reason in enumerate(REASONS):
        if reason == "skills" or reasons[i] <= 0:
            continue
        text = (
            "no household approved for their age, group size or needs within reach: review approval terms"
            if reason == "approval_terms"
            else "suitable households exist but have no free place when needed: more places"
        )
        rows.append({"kind": reason, "share_of_all_unmet": round(float(reasons[i] / total), 3),
                     "text": f"{reasons[i] / total:.0%} of unmet demand: {text}"})  # fmt: skip
    rows.sort(key=lambda r: -r["share_of_all_unmet"])
    return rows[:top]


def compare(base: list[dict[str, Any]], what_if: list[dict[str, Any]]) -> dict[str, Any]:
    """The what-if minus the baseline, future by future on the same random streams (common random numbers):
    each measure's baseline and what-if means, and the paired difference's mean, its standard error over
    the futures (``mc_error``), a 95% interval for the mean difference, and the 90% range of the futures'
    differences (``low``, ``high``); and ``unmet_by_month``, the children not placed so far at the end of each
    month: both means and the 90% range of the paired difference."""
    if len(base) != len(what_if):
        raise ValueError("a what-if is compared with its baseline future by future: the counts differ")
    out = {}
    for key in HEADLINES:
        b = np.array([f[key] for f in base], dtype=float)
        w = np.array([f[key] for f in what_if], dtype=float)
        e = estimate(w - b)
        out[key] = {
            "baseline": round(float(b.mean()), 3),
            "what_if": round(float(w.mean()), 3),
            **e.as_dict(),
            "ci95": [round(e.mean - 1.96 * e.mc_error, 3), round(e.mean + 1.96 * e.mc_error, 3)],
        }
    # Children not placed so far, month by month (counted from the start): both averages, and the range of the
    # paired difference over the middle 90% of futures (for a chart of the what-if against its baseline).
    b_so_far = np.cumsum([f["monthly_unmet"] for f in base], axis=1)
    w_so_far = np.cumsum([f["monthly_unmet"] for f in what_if], axis=1)
    low, high = np.percentile(w_so_far - b_so_far, [5, 95], axis=0)
    out["unmet_by_month"] = {
        "baseline": np.round(b_so_far.mean(axis=0), 3).tolist(),
        "what_if": np.round(w_so_far.mean(axis=0), 3).tolist(),
        "low": np.round(low, 3).tolist(),
        "high": np.round(high, 3).tolist(),
    }
    return out
