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
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, brier_score_loss

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
    """ROC AUC as the Mann-Whitney statistic (ties count a half): ``roc_auc_score``'s value, without its checks,
    as the bootstraps call it thousands of times."""
    y = np.asarray(y)
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


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
    #: The AUC of the true probability within this group (synthetic data only): what the data allow here.
    ceiling_auc: float | None = None


def _r(x: float) -> float | None:
    return None if np.isnan(x) else round(float(x), 4)


def _interval(values: np.ndarray | list[float]) -> tuple[float, float]:
    lo, hi = np.nanpercentile(np.asarray(values, dtype=float), [2.5, 97.5])
    return round(float(lo), 4), round(float(hi), 4)


def group_results(
    y: np.ndarray, p: np.ndarray, groups: pd.DataFrame, seed: int = 0, p_true: np.ndarray | None = None
) -> tuple[list[GroupResult], list[dict[str, object]]]:
    """Results for each group of each attribute, and each attribute's largest AUC gap with its interval.

    With ``p_true`` (the generator's true probability), each group also gets its ceiling AUC, and each
    largest gap is split into the gap that is in the data (the ceiling's gap between the same two groups)
    and the gap the model adds (its gap minus the ceiling's), each with a paired bootstrap interval.
    """
    y, p = np.asarray(y), np.asarray(p, dtype=float)
    truth = None if p_true is None or np.isnan(np.asarray(p_true, dtype=float)).any() else np.asarray(p_true, float)
    boots = _resamples(len(y), seed)
    results: list[GroupResult] = []
    gaps: list[dict[str, object]] = []
    for attribute in groups.columns:
        values = groups[attribute].astype(str).to_numpy()
        names = sorted(set(values))
        per_boot: dict[str, np.ndarray] = {}
        per_boot_true: dict[str, np.ndarray] = {}
        for name in names:
            mask = values == name
            n = int(mask.sum())
            if n < MIN_GROUP or not 0 < y[mask].sum() < n:
                results.append(GroupResult(attribute, name, n, None, None, None, None))
                continue
            picks = [idx[mask[idx]] for idx in boots]  # each resample's placements in this group
            per_boot[name] = np.array([_auc(y[sel], p[sel]) for sel in picks])
            lo, hi = _interval(per_boot[name])
            ceiling = None
            if truth is not None:
                per_boot_true[name] = np.array([_auc(y[sel], truth[sel]) for sel in picks])
                ceiling = _r(_auc(y[mask], truth[mask]))
            results.append(
                GroupResult(
                    attribute,
                    name,
                    n,
                    _r(_auc(y[mask], p[mask])),
                    _r(ece(y[mask], p[mask])),
                    lo,
                    hi,
                    _r(chance_ece(p[mask], seed)),
                    ceiling,
                )
            )
        if len(per_boot) >= 2:
            mine = {g.group: g for g in results if g.attribute == attribute and g.roc_auc is not None}
            hi_g = max(mine, key=lambda k: mine[k].roc_auc or 0)
            lo_g = min(mine, key=lambda k: mine[k].roc_auc or 0)
            gap = (mine[hi_g].roc_auc or 0) - (mine[lo_g].roc_auc or 0)
            diff = per_boot[hi_g] - per_boot[lo_g]
            row: dict[str, object] = {
                "attribute": attribute,
                "highest": hi_g,
                "lowest": lo_g,
                "gap": round(gap, 4),
                **dict(zip(("ci_low", "ci_high"), _interval(diff), strict=True)),
            }
            if truth is not None:
                in_data = (mine[hi_g].ceiling_auc or 0) - (mine[lo_g].ceiling_auc or 0)
                diff_true = per_boot_true[hi_g] - per_boot_true[lo_g]
                lo_d, hi_d = _interval(diff_true)
                lo_a, hi_a = _interval(diff - diff_true)
                row["ceiling_gap"] = {"gap": round(in_data, 4), "ci_low": lo_d, "ci_high": hi_d}
                row["model_adds"] = {"gap": round(gap - in_data, 4), "ci_low": lo_a, "ci_high": hi_a}
            gaps.append(row)
    return results, gaps


def chance_ece(p: np.ndarray, seed: int = 0, rounds: int = 100) -> float:
    """Mean ECE of outcomes drawn from ``p`` itself: the calibration error of a perfect model at this size."""
    p = np.asarray(p, dtype=float)
    rng = np.random.default_rng(seed)
    return float(np.mean([ece((rng.random(len(p)) < p).astype(float), p) for _ in range(rounds)]))


def calibration_against_chance(y: np.ndarray, p: np.ndarray, seed: int = 0) -> dict[str, float | None]:
    """The measured ECE beside the ECE a perfectly calibrated model would show at this size, and their ratio.

    A ratio near 1 says the measured error is what chance alone gives on this many placements; well
    above 1 is miscalibration.
    """
    measured, chance = ece(y, p), chance_ece(p, seed)
    return {
        "ece": _r(measured),
        "ece_chance": _r(chance),
        "ratio": None if not chance > 0 else round(measured / chance, 2),
        "n": len(np.asarray(y)),
    }


def proxy_strength(
    X_train: np.ndarray,  # noqa: N803 - scikit-learn's names
    a_train: np.ndarray,
    X_test: np.ndarray,  # noqa: N803
    a_test: np.ndarray,
    seed: int = 0,
    max_rows: int = 20_000,
) -> dict[str, object]:
    """How well the features recover a protected characteristic the model is not given.

    A quick gradient-boosting classifier learns the characteristic ``a`` from the feature matrix on
    training rows (at most ``max_rows``) and is scored on held-out rows (other children): ROC AUC for
    two groups, one-vs-rest macro ROC AUC over the groups with both outcomes for more.  0.5: the features
    say nothing of it; 1.0: they reveal it exactly.  Groups smaller than :data:`MIN_GROUP` in either part
    are left out (too few to say).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    a_train, a_test = np.asarray(a_train).astype(str), np.asarray(a_test).astype(str)
    names, counts = np.unique(a_train, return_counts=True)
    test_counts = {k: int(v) for k, v in zip(*np.unique(a_test, return_counts=True), strict=True)}
    kept = [str(k) for k, c in zip(names, counts, strict=True) if c >= MIN_GROUP and test_counts.get(k, 0) >= MIN_GROUP]
    if len(kept) < 2:
        return {"roc_auc": None, "groups": kept, "per_group": {}, "n_test": 0}
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(np.isin(a_train, kept))
    if len(rows) > max_rows:
        rows = np.sort(rng.choice(rows, size=max_rows, replace=False))
    test = np.flatnonzero(np.isin(a_test, kept))
    clf = HistGradientBoostingClassifier(max_iter=60, learning_rate=0.2, max_leaf_nodes=15, early_stopping=False,
                                         random_state=seed)  # fmt: skip
    fit_x = np.asarray(X_train, dtype=float)[rows]
    blank = np.isnan(fit_x).all(axis=0)  # a feature unknown in every row (left out of training) says nothing
    clf.fit(fit_x[:, ~blank], a_train[rows])
    proba = clf.predict_proba(np.asarray(X_test, dtype=float)[test][:, ~blank])
    truth = a_test[test]
    classes = [str(c) for c in clf.classes_]
    per_group: dict[str, float] = {}
    for j, name in enumerate(classes):
        hit = (truth == name).astype(int)
        if 0 < hit.sum() < len(hit):
            per_group[name] = round(_auc(hit, proba[:, j]), 4)
    if len(classes) == 2:
        value = per_group.get(classes[1])
        method = "ROC AUC"
    else:
        value = round(float(np.mean(list(per_group.values()))), 4) if per_group else None
        method = "one-vs-rest macro ROC AUC"
    return {"roc_auc": value, "method": method, "groups": kept, "per_group": per_group, "n_test": len(test)}


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
