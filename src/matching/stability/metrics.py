"""How good a probability is: discrimination, calibration, results by group, with intervals.

Everything takes outcomes ``y`` (1: an unplanned ending within 12 months) and probabilities
``p``; bootstrap intervals resample placements with a seeded generator, so a report can be
recomputed exactly from the written predictions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

ECE_BINS = 10
BOOTSTRAP = 200
#: Groups smaller than this are reported with their size but no metrics (too few to say).
MIN_GROUP = 30


@dataclass(frozen=True)
class Scores:
    """Discrimination and calibration of one set of probabilities."""

    roc_auc: float
    pr_auc: float
    brier: float
    ece: float

    def as_dict(self) -> dict[str, float]:
        """The scores as a plain mapping (rounded for reports)."""
        return {k: round(v, 4) for k, v in asdict(self).items()}


def ece(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: the count-weighted mean |observed rate - mean prediction| over equal-width bins."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if len(y) == 0:
        return float("nan")
    which = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, weights=y, minlength=bins) - np.bincount(which, weights=p, minlength=bins))
    return float(gap.sum() / count.sum())


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def scores(y: np.ndarray, p: np.ndarray) -> Scores:
    """ROC AUC, PR AUC, Brier score and ECE."""
    y, p = np.asarray(y), np.asarray(p, dtype=float)
    both = 0 < y.sum() < len(y)
    return Scores(
        roc_auc=_auc(y, p),
        pr_auc=float(average_precision_score(y, p)) if both else float("nan"),
        brier=float(brier_score_loss(y, p)),
        ece=ece(y, p),
    )


def _resamples(n: int, seed: int, rounds: int = BOOTSTRAP) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(rounds, n))


def auc_difference(y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, seed: int = 0) -> dict[str, float]:
    """AUC of ``p_a`` minus AUC of ``p_b`` on the same placements, with a 95% paired bootstrap interval."""
    y = np.asarray(y)
    diffs = []
    for idx in _resamples(len(y), seed):
        diffs.append(_auc(y[idx], p_a[idx]) - _auc(y[idx], p_b[idx]))
    lo, hi = np.nanpercentile(diffs, [2.5, 97.5])
    return {"difference": round(_auc(y, p_a) - _auc(y, p_b), 4), "ci_low": round(lo, 4), "ci_high": round(hi, 4)}


@dataclass(frozen=True)
class GroupResult:
    """One group's size, AUC (with a 95% bootstrap interval) and calibration error."""

    attribute: str
    group: str
    n: int
    roc_auc: float | None
    ece: float | None
    ci_low: float | None
    ci_high: float | None
    #: The ECE a perfectly calibrated model would show on this many placements by chance alone.
    ece_chance: float | None = None


def _r(x: float) -> float | None:
    return None if np.isnan(x) else round(float(x), 4)


def group_results(
    y: np.ndarray, p: np.ndarray, groups: pd.DataFrame, seed: int = 0
) -> tuple[list[GroupResult], list[dict[str, object]]]:
    """Results for each group of each attribute, and each attribute's largest AUC gap with its interval."""
    y, p = np.asarray(y), np.asarray(p, dtype=float)
    boots = _resamples(len(y), seed)
    results: list[GroupResult] = []
    gaps: list[dict[str, object]] = []
    for attribute in groups.columns:
        values = groups[attribute].astype(str).to_numpy()
        names = sorted(set(values))
        per_boot: dict[str, list[float]] = {}
        for name in names:
            mask = values == name
            n = int(mask.sum())
            if n < MIN_GROUP or not 0 < y[mask].sum() < n:
                results.append(GroupResult(attribute, name, n, None, None, None, None))
                continue
            aucs = [_auc(y[idx][mask[idx]], p[idx][mask[idx]]) for idx in boots]
            per_boot[name] = aucs
            lo, hi = np.nanpercentile(aucs, [2.5, 97.5])
            chance = _chance_ece(p[mask], seed)
            results.append(
                GroupResult(
                    attribute,
                    name,
                    n,
                    _r(_auc(y[mask], p[mask])),
                    _r(ece(y[mask], p[mask])),
                    _r(lo),
                    _r(hi),
                    _r(chance),
                )
            )
        if len(per_boot) >= 2:
            point = {g.group: g.roc_auc for g in results if g.attribute == attribute and g.roc_auc is not None}
            hi_g, lo_g = max(point, key=lambda k: point[k] or 0), min(point, key=lambda k: point[k] or 0)
            diff = np.array(per_boot[hi_g]) - np.array(per_boot[lo_g])
            lo, hi = np.nanpercentile(diff, [2.5, 97.5])
            gaps.append(
                {
                    "attribute": attribute,
                    "highest": hi_g,
                    "lowest": lo_g,
                    "gap": round((point[hi_g] or 0) - (point[lo_g] or 0), 4),
                    "ci_low": round(float(lo), 4),
                    "ci_high": round(float(hi), 4),
                }
            )
    return results, gaps


def _chance_ece(p: np.ndarray, seed: int, rounds: int = 100) -> float:
    """Mean ECE of outcomes drawn from ``p`` itself: the calibration error of a perfect model at this size."""
    rng = np.random.default_rng(seed)
    return float(np.mean([ece((rng.random(len(p)) < p).astype(float), p) for _ in range(rounds)]))


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per equal-width bin: placements, mean prediction, observed rate."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore"):
        mean_p = np.bincount(which, weights=p, minlength=bins) / count
        rate = np.bincount(which, weights=y, minlength=bins) / count
    return pd.DataFrame({"bin_low": np.arange(bins) / bins, "n": count, "mean_predicted": mean_p, "observed": rate})


def reliability_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> None:
    """A reliability diagram (observed rate against mean prediction per bin) of each named curve, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5.0), dpi=110)
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="perfectly calibrated")
    for (name, (y, p)), marker in zip(curves.items(), "osd^v", strict=False):
        t = reliability_table(y, p)
        t = t[t.n >= 20]
        ax.plot(t.mean_predicted, t.observed, marker=marker, label=f"{name} (ECE {ece(y, p):.3f})")
    ax.set_xlabel("predicted probability of an unplanned ending within 12 months")
    ax.set_ylabel("observed rate (held-out placements)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Reliability on held-out placements")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def wilson(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n <= 0:
        return 0.0, 1.0
    phat = successes / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))
