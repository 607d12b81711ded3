"""Training and evaluating the stability model on the placement history in the store.

``train`` builds the features of every past placement whose 12-month outcome is known, splits
children (never placements) into training and held-out sets, fits the calibrated classifier,
and writes a versioned artefact with its metadata, held-out predictions, reliability plot and
model card.  ``evaluate`` reloads a verified artefact and scores the same held-out placements
again from the store, beside the rules-only baseline and, on synthetic data, the generator's
true probability (the ceiling).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import itertools
import json
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit
from sqlalchemy import Connection

from matching.domain import Child, Scope, TrackRecord
from matching.eligibility.request import MatchRequest
from matching.fit_config import FitConfig, load_fit_config
from matching.ranking import fit as fitmod
from matching.ranking.pool import HouseholdPool
from matching.ranking.service import default_referral
from matching.stability import gate
from matching.stability import metrics as m
from matching.stability.artefact import LoadedModel, save_model
from matching.stability.card import model_card
from matching.stability.estimator import DEFAULT_LEARNER, LEARNERS
from matching.stability.features import (
    CATEGORICAL,
    GROUP_ATTRIBUTES,
    HistoryRows,
    Records,
    history_features,
    history_records,
)
from matching.stability.outcome_placements import RecordedPlacements, with_recorded_placements
from matching.store import queries
from matching.taxonomy import Taxonomy, load_taxonomy

#: Fewer past placements than this, or fewer of either outcome, and there is nothing to learn from.
MIN_PLACEMENTS = 300
MIN_EACH_OUTCOME = 30
TEST_SIZE = 0.25
DEFAULT_SEED = 2024
_BASELINE_FIT_ROWS = 20000
#: The held-out predictions written with each model version.
PREDICTIONS = "predictions.csv.gz"

Progress = Callable[[str], None]


class InsufficientHistoryError(ValueError):
    """The history is too small or too one-sided to learn from."""


@dataclass(frozen=True)
class Target:
    """What a model learns: which past placements it learns from and which outcome."""

    kind: str
    outcome: str
    rows: str
    #: Only placements that followed directly on one of these places (None: every placement).
    after: tuple[str, ...] | None = None
    #: The column of the history's ``meta`` holding the outcome (None: unplanned within 12 months).
    label: str | None = None

    def select(self, rows: HistoryRows) -> HistoryRows:
        """The placements this target learns from, with its outcome as the label."""
        if self.after is None and self.label is None:
            return rows
        mask = np.ones(len(rows.meta), dtype=bool)
        if self.after is not None:
            mask = rows.meta["previous_place"].isin(list(self.after)).to_numpy()
        label = rows.label if self.label is None else rows.meta[self.label].to_numpy(dtype=np.int64)
        return rows.take(mask, label[mask])


#: Residential settings a step-down starts from.
STEP_DOWN_FROM = ("K2", "R1", "S1")
STABILITY = Target(
    "stability",
    "unplanned ending (SSDA903 REASON_PLACE_CHANGE) within 12 months of the placement start",
    "every past foster placement with a household in the data",
)
STEP_DOWN = Target(
    "step_down",
    "the family placement does not end unplanned within 52 weeks of a move from residential care "
    "(the model estimates the risk that it does; success is one minus it)",
    "past foster placements that followed directly on a children's home, residential home or school",
    after=STEP_DOWN_FROM,
    label="unplanned_within_52w",
)
TARGETS = {t.kind: t for t in (STABILITY, STEP_DOWN)}


@dataclass
class History:
    """The store's history as features, with the pool and children it was built from."""

    rows: HistoryRows
    pool: HouseholdPool
    children: dict[str, Child]
    records: Records
    #: What the recorded outcomes added (None when they were not read).
    recorded: RecordedPlacements | None = None

    def from_recorded_outcomes(self) -> int:
        """Rows of the history there because of a recorded outcome (see :mod:`~matching.stability.outcome_placements`)."""
        if self.recorded is None:
            return 0
        return int(self.rows.meta["placement_id"].isin(self.recorded.from_outcomes).sum())


def load_history(
    conn: Connection,
    *,
    scope: Scope,
    taxonomy: Taxonomy | None = None,
    cfg: FitConfig | None = None,
    open_as_lasted: bool = False,
    with_outcomes: bool = True,
) -> History:
    """Every past placement in scope with a household in scope and a known outcome, as features: the imported
    history and, unless ``with_outcomes`` is False, the placements recorded outcomes show (each counted once)."""
    taxonomy = taxonomy or load_taxonomy()
    cfg = cfg or load_fit_config()
    households = queries.all_households(conn, scope=scope, taxonomy=taxonomy)
    children = queries.all_children(conn, scope=scope)
    placements = queries.all_placements(conn, scope=scope)
    recorded = None
    if with_outcomes:
        recorded = with_recorded_placements(conn, placements, (c.child_id for c in children))
        placements = list(recorded.placements)
    records = history_records(
        queries.dated_needs(conn, scope=scope), queries.dated_risks(conn, scope=scope), children, placements
    )
    pool = HouseholdPool(households, taxonomy, cfg)
    rows = history_features(pool, children, placements, records, open_as_lasted=open_as_lasted)
    return History(rows, pool, {c.child_id: c for c in children}, records, recorded)


def check_learnable(label: np.ndarray, minimum: int = MIN_PLACEMENTS) -> None:
    """Raise :class:`InsufficientHistoryError` when there is too little, or too one-sided, history."""
    n, pos = len(label), int(np.sum(label))
    if n < minimum:
        raise InsufficientHistoryError(
            f"only {n} past placements with a known outcome to learn from; at least {minimum} are needed"
        )
    if pos < MIN_EACH_OUTCOME or n - pos < MIN_EACH_OUTCOME:
        raise InsufficientHistoryError(
            f"{pos} unplanned endings and {n - pos} placements that lasted: at least {MIN_EACH_OUTCOME} "
            "of each are needed to learn from"
        )


def data_hash(rows: HistoryRows) -> str:
    """SHA-256 of the training table (placement ids, features, outcomes)."""
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(rows.meta["placement_id"], index=False).to_numpy().tobytes())
    h.update(pd.util.hash_pandas_object(rows.features, index=False).to_numpy().tobytes())
    h.update(np.asarray(rows.label, dtype=np.int64).tobytes())
    return h.hexdigest()


def grouped_split(child_ids: pd.Series, seed: int, test_size: float = TEST_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out row positions with every child's placements on one side only."""
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train_idx, test_idx = next(splitter.split(np.zeros(len(child_ids)), groups=child_ids.to_numpy()))
    return np.sort(train_idx), np.sort(test_idx)


# --- the rules-only baseline -----------------------------------------------------------


def fit_scores_at_start(history: History, positions: np.ndarray, cfg: FitConfig | None = None) -> np.ndarray:
    """The ranking's rules-only fit score (0-100) of each past pair, as the record stood on its start date.

    The child's needs are those assessed by the start and the carers' experience that gained by then (the
    features' own), so the baseline reads no more of the present than the model does.
    """
    cfg = cfg or load_fit_config()
    pool, meta, feats = history.pool, history.rows.meta, history.rows.features
    need_ids = pool.tables.need_ids
    severity = feats[[f"severity_{n}" for n in need_ids]].to_numpy(dtype=float)
    experience = history.rows.experience
    child_ids, household_ids = meta["child_id"].to_numpy(), meta["household_id"].to_numpy()
    starts: list[date] = list(meta["start_date"])
    years = feats["experience_years"].to_numpy(dtype=float)
    ended, unplanned = feats["past_endings"].to_numpy(dtype=int), feats["past_unplanned"].to_numpy(dtype=int)
    out = np.zeros(len(positions))
    for j, r in enumerate(positions):
        sev = severity[r]
        needs = {n: int(v) for n, v in zip(need_ids, sev, strict=True) if v > 0}  # NaN: not known then
        child = dataclasses.replace(history.children[str(child_ids[r])], needs=needs)
        h = pool.households[pool.index[str(household_ids[r])]]
        on = starts[r]
        members = tuple(mm for mm in h.members if mm.kind != "foster_child" and mm.birth_month <= on)
        gained = h.experience_needs if experience is None else tuple(
            n for n, had in zip(need_ids, experience[r], strict=True) if had
        )  # fmt: skip
        then = dataclasses.replace(
            h,
            experience_needs=gained,
            experience_years=float(years[r]),
            members=members,
            foster_children=(),
            track_record=TrackRecord(int(ended[r]), int(unplanned[r])),
        )
        out[j] = fitmod.score(MatchRequest(default_referral(child, on), child, on), then, cfg, pool.taxonomy)
    return out


def baseline_probability(score_train: np.ndarray, y_train: np.ndarray) -> LogisticRegression:
    """A one-variable logistic map from fit score to probability, fitted on training placements."""
    return LogisticRegression().fit(score_train[:, None], y_train)


# --- reports -----------------------------------------------------------------------------


def evaluation_report(
    y: np.ndarray,
    p_model: np.ndarray,
    p_baseline: np.ndarray,
    p_true: np.ndarray | None,
    groups: pd.DataFrame,
    seed: int,
) -> dict[str, Any]:
    """The held-out evaluation as one JSON-ready object: model, baseline, ceiling, difference, groups, gaps."""
    report: dict[str, Any] = {
        "n": len(y),
        "unplanned_rate": round(float(np.mean(y)), 4),
        "model": m.scores(y, p_model).as_dict(),
        "baseline": m.scores(y, p_baseline).as_dict(),
        "ceiling": None,
        "model_minus_baseline_auc": m.auc_difference(y, p_model, p_baseline, seed),
        "calibration": m.calibration_against_chance(y, p_model, seed),
    }
    has_truth = p_true is not None and not np.isnan(p_true).any()
    if has_truth:
        report["ceiling"] = m.scores(y, p_true).as_dict()  # type: ignore[arg-type]
        report["model_over_ceiling_auc"] = round(report["model"]["roc_auc"] / report["ceiling"]["roc_auc"], 4)
    results, gaps = m.group_results(y, p_model, groups, seed, p_true if has_truth else None)
    report["groups"] = [dataclasses.asdict(g) for g in results]
    report["group_auc_gaps"] = gaps
    worst = [g.ece for g in results if g.ece is not None]
    report["worst_group_ece"] = round(max(worst), 4) if worst else None
    return report


def proxy_report(rows: HistoryRows, train_idx: np.ndarray, test_idx: np.ndarray, seed: int) -> dict[str, Any]:
    """How well the model's features recover each protected characteristic (see :func:`metrics.proxy_strength`):
    learned on training placements, scored on the held-out children's."""
    X = rows.features.to_numpy(dtype=float)  # noqa: N806 - scikit-learn's names
    out: dict[str, Any] = {}
    for attribute in GROUP_ATTRIBUTES:
        a = rows.meta[attribute].astype(str).to_numpy()
        out[attribute] = m.proxy_strength(X[train_idx], a[train_idx], X[test_idx], a[test_idx], seed)
    return out


def probability_bands(y: np.ndarray, p: np.ndarray, bands: int = 10) -> list[dict[str, float]]:
    """Held-out placements in bands of the estimate: range, count, observed rate and its 95% interval."""
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bands + 1)))
    out = []
    for lo, hi in itertools.pairwise(edges):
        last = hi == edges[-1]
        mask = (p >= lo) & ((p <= hi) if last else (p < hi))
        n = int(mask.sum())
        if n == 0:
            continue
        k = float(np.sum(y[mask]))
        low, high = m.wilson(k, n)
        out.append(
            {
                "p_low": round(float(lo), 4),
                "p_high": round(float(hi), 4),
                "n": n,
                "observed": round(k / n, 4),
                "ci_low": round(low, 4),
                "ci_high": round(high, 4),
            }
        )
    return out


def read_truth(path: Path | None) -> pd.DataFrame | None:
    """The generator's true probabilities (``placement_truth.csv`` or a folder holding ``truth/``), if given."""
    if path is None:
        return None
    if path.is_dir():
        path = path / "truth" / "placement_truth.csv" if (path / "truth").is_dir() else path / "placement_truth.csv"
    if not path.exists():
        raise FileNotFoundError(f"no generator truth at {path}")
    return pd.read_csv(path, usecols=["placement_id", "p_unplanned_12m"], dtype={"placement_id": str})


def _true_p(meta: pd.DataFrame, truth: pd.DataFrame | None) -> np.ndarray | None:
    if truth is None:
        return None
    merged = meta[["placement_id"]].merge(truth, on="placement_id", how="left")
    return merged["p_unplanned_12m"].to_numpy(dtype=float)


# --- which learner ------------------------------------------------------------------------

#: The pairs one scoring call is timed on (a child against a national pool).
SCORE_PAIRS = 40_000


def score_time_ms(model: Any, X: np.ndarray, pairs: int = SCORE_PAIRS, repeats: int = 5) -> float:  # noqa: N803
    """Median milliseconds for the model alone to score ``pairs`` rows (held-out rows repeated to that many)."""
    block = np.ascontiguousarray(X[np.resize(np.arange(len(X)), pairs)], dtype=np.float64)
    model.predict_unplanned(block)  # warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict_unplanned(block)
        times.append((time.perf_counter() - started) * 1000)
    return round(float(np.median(times)), 2)


def compare_learners(
    X: pd.DataFrame,  # noqa: N803 - scikit-learn's names
    y: np.ndarray,
    child_ids: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    p_base: np.ndarray,
    seed: int,
    *,
    learners: Sequence[str] | None = None,
    fitted: dict[str, tuple[Any, float]] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every learner fitted on the same split and scored on the same held-out children.

    For each: held-out ROC AUC, ECE beside the ECE chance gives at this size, Brier score, ROC AUC minus
    the rules-only baseline's with its 95% paired bootstrap interval, fit time and the time the model
    takes to score :data:`SCORE_PAIRS` pairs.  ``fitted`` holds learners already fitted on this split
    (model, fit seconds).  The verdict names the learner with the best held-out ROC AUC and says whether
    its lead over the next is shown (a paired interval above zero).
    """
    say = progress or (lambda _msg: None)
    names = list(learners or LEARNERS)
    cat = tuple(list(X.columns).index(c) for c in CATEGORICAL)
    y_test = y[test_idx]
    X_test = X.iloc[test_idx].to_numpy(dtype=np.float64)  # noqa: N806
    rows: list[dict[str, Any]] = []
    preds: dict[str, np.ndarray] = {}
    for name in names:
        if fitted and name in fitted:
            model, seconds = fitted[name]
        else:
            say(f"fitting the {name} learner")
            model = LEARNERS[name].make(seed, cat)
            started = time.perf_counter()
            model.fit(X.iloc[train_idx], y[train_idx], groups=child_ids[train_idx])
            seconds = time.perf_counter() - started
        p = model.predict_unplanned(X_test)
        preds[name] = p
        sc = m.scores(y_test, p).as_dict()
        rows.append(
            {
                "learner": name,
                "description": LEARNERS[name].description,
                "roc_auc": sc["roc_auc"],
                "brier": sc["brier"],
                "calibration": m.calibration_against_chance(y_test, p, seed),
                "minus_baseline_auc": m.auc_difference(y_test, p, p_base, seed),
                "fit_seconds": round(seconds, 2),
                f"score_{SCORE_PAIRS}_pairs_ms": score_time_ms(model, X_test),
            }
        )
    ranked = sorted(rows, key=lambda r: -r["roc_auc"])
    best = ranked[0]["learner"]
    verdict: dict[str, Any] = {"best_auc": best}
    if len(ranked) > 1:
        runner_up = ranked[1]["learner"]
        lead = m.auc_difference(y_test, preds[best], preds[runner_up], seed)
        verdict |= {"runner_up": runner_up, "lead": lead, "lead_shown": bool(lead["ci_low"] > 0)}
    return {
        "n_test": len(test_idx),
        "score_pairs": SCORE_PAIRS,
        "score_time_is": "the model alone on a prepared feature matrix (building the features is not included)",
        "learners": rows,
        "verdict": verdict,
    }


# --- training ----------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What training wrote and measured."""

    version: str
    folder: Path
    metadata: dict[str, Any]


def _gzip(content: bytes) -> bytes:
    """Gzip with a fixed timestamp, so the same predictions give the same bytes."""
    return gzip.compress(content, mtime=0)


def _png(path_writer: Callable[[Path], None]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "plot.png"
        path_writer(out)
        return out.read_bytes()


def train(
    conn: Connection,
    *,
    scope: Scope,
    out_root: Path,
    seed: int = DEFAULT_SEED,
    truth: Path | None = None,
    open_as_lasted: bool = False,
    source: str = "store",
    progress: Progress | None = None,
    target: Target = STABILITY,
    min_placements: int = MIN_PLACEMENTS,
    learner: str = DEFAULT_LEARNER,
    compare: bool = False,
) -> TrainResult:
    """Fit a model of ``target`` on the history in scope and write a versioned, hashed artefact.

    ``learner`` names one of :data:`~matching.stability.estimator.LEARNERS`; with ``compare`` every
    learner is also fitted on the same split and the comparison is written into the metadata and card.
    """
    if learner not in LEARNERS:
        raise ValueError(f"learner {learner!r} is not one of {', '.join(LEARNERS)}")
    say = progress or (lambda _msg: None)
    say("reading the placement history")
    history = load_history(conn, scope=scope, open_as_lasted=open_as_lasted)
    history.rows = target.select(history.rows)
    rows = history.rows
    check_learnable(rows.label, min_placements)
    train_idx, test_idx = grouped_split(rows.meta["child_id"], seed)
    check_learnable(rows.label[train_idx], min_placements * 3 // 4)
    X, y = rows.features, rows.label  # noqa: N806 - scikit-learn's names
    cat = tuple(list(X.columns).index(c) for c in CATEGORICAL)
    model = LEARNERS[learner].make(seed, cat)
    say(f"fitting the {learner} learner on {len(train_idx):,} placements ({len(test_idx):,} held out)")
    child_ids = rows.meta["child_id"].to_numpy()
    started = time.perf_counter()
    model.fit(X.iloc[train_idx], y[train_idx], groups=child_ids[train_idx])
    fit_seconds = time.perf_counter() - started
    say("scoring the held-out placements and the rules-only baseline")
    p_model = model.predict_proba(X.iloc[test_idx])[:, 1]
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(train_idx, size=min(len(train_idx), _BASELINE_FIT_ROWS), replace=False))
    base_map = baseline_probability(fit_scores_at_start(history, fit_rows), y[fit_rows])
    test_scores = fit_scores_at_start(history, test_idx)
    p_base = base_map.predict_proba(test_scores[:, None])[:, 1]
    p_true = _true_p(rows.meta.iloc[test_idx], read_truth(truth))
    groups = rows.meta.iloc[test_idx][list(GROUP_ATTRIBUTES)].reset_index(drop=True)
    report = evaluation_report(y[test_idx], p_model, p_base, p_true, groups, seed)
    say("measuring how well the features recover each protected characteristic")
    report["proxy_strength"] = proxy_report(rows, train_idx, test_idx, seed)
    comparison = None
    if compare:
        say("fitting the other learners on the same split")
        started = time.perf_counter()
        comparison = compare_learners(
            X, y, child_ids, train_idx, test_idx, p_base, seed, fitted={learner: (model, fit_seconds)}, progress=say
        )
        comparison["seconds"] = round(time.perf_counter() - started, 1)  # so a benchmark can time training alone
    digest = data_hash(rows)
    params = hashlib.sha256(json.dumps(_params(model), sort_keys=True).encode()).hexdigest()[:6]
    version = f"{source_date(rows)}-{digest[:10]}-s{seed}-p{params}"  # the data, the seed and the settings
    predictions = rows.meta.iloc[test_idx].reset_index(drop=True).assign(
        unplanned_12m=y[test_idx], p_model=np.round(p_model, 6), fit_score=np.round(test_scores, 4),
        p_baseline=np.round(p_base, 6),
    )  # fmt: skip
    if p_true is not None:
        predictions["p_true"] = p_true
    metadata: dict[str, Any] = {
        "kind": target.kind,
        "version": version,
        "target": target.outcome,
        "learns_from": target.rows,
        "training_data": {
            "source": source,
            "sha256": digest,
            "placements": len(y),
            "children": int(rows.meta["child_id"].nunique()),
            "unplanned_rate": round(float(np.mean(y)), 4),
            "first_start": str(min(rows.meta["start_date"])),
            "last_start": str(max(rows.meta["start_date"])),
            "open_placements": "counted as lasted after 12 months" if open_as_lasted else "left out",
            "from_recorded_outcomes": history.from_recorded_outcomes(),
            "recorded_outcomes_already_imported": 0 if history.recorded is None else history.recorded.already_imported,
        },
        "split": {
            "method": "GroupShuffleSplit by child",
            "test_size": TEST_SIZE,
            "seed": seed,
            "train": len(train_idx),
            "test": len(test_idx),
        },
        "seed": seed,
        "estimator": {
            "class": type(model).__name__,
            "learner": learner,
            "description": LEARNERS[learner].description,
            "params": _params(model),
            "iterations": int(model.n_iter_),
            **_penalty(model),
            "fit_seconds": round(fit_seconds, 2),
        },
        "features": list(X.columns),
        "categorical": list(CATEGORICAL),
        "group_attributes": list(GROUP_ATTRIBUTES),
        "baseline": {
            "description": "the ranking's rules-only fit score at the start date, mapped to a probability by a "
            "one-variable logistic regression fitted on training placements",
            "intercept": float(base_map.intercept_[0]),
            "coef": float(base_map.coef_[0, 0]),
        },
        "metrics": report,
        "bands": probability_bands(y[test_idx], p_model),
        "libraries": _libraries(),
    }
    if comparison is not None:
        metadata["learner_comparison"] = comparison
    metadata["gate"] = gate.decide(metadata).as_dict()
    curves = {"model": (y[test_idx], p_model), "rules-only baseline": (y[test_idx], p_base)}
    if p_true is not None:
        curves["true probability (ceiling)"] = (y[test_idx], p_true)
    files = {
        "predictions.csv.gz": _gzip(predictions.to_csv(index=False).encode()),
        "reliability.png": _png(lambda path: m.reliability_plot(curves, path)),
        "MODEL_CARD.md": model_card(metadata).encode(),
    }
    say("writing the artefact")
    folder = save_model(out_root, version, model, metadata, files, kind=target.kind)
    return TrainResult(version, folder, metadata)


def source_date(rows: HistoryRows) -> str:
    """The latest placement start in the data (YYYYMMDD), naming the version by the data, not the clock."""
    return str(max(rows.meta["start_date"])).replace("-", "")


def _penalty(model: Any) -> dict[str, Any]:
    """A logistic learner's penalty C and the inner cross-validation's log loss at each C tried."""
    if not hasattr(model, "C_"):
        return {}
    return {"C": model.C_, "inner_cv_log_loss": {str(c): round(v, 5) for c, v in model.cv_log_loss_.items()}}


def _params(model: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.get_params().items()}


def _libraries() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
    }


# --- evaluation --------------------------------------------------------------------------


def evaluate(
    conn: Connection,
    *,
    scope: Scope,
    loaded: LoadedModel,
    out_dir: Path,
    truth: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Score the artefact's held-out placements again from the store; write ``evaluation.json`` and the plot."""
    say = progress or (lambda _msg: None)
    say("reading the placement history")
    history = load_history(
        conn, scope=scope, open_as_lasted="lasted" in loaded.metadata["training_data"]["open_placements"]
    )
    history.rows = TARGETS[loaded.metadata.get("kind", "stability")].select(history.rows)
    rows = history.rows
    held = pd.read_csv(loaded.folder / PREDICTIONS, usecols=["placement_id"], dtype=str)["placement_id"]
    positions = np.flatnonzero(rows.meta["placement_id"].isin(set(held)).to_numpy())
    if len(positions) == 0:
        raise InsufficientHistoryError("none of the model's held-out placements are in this store")
    if list(rows.features.columns) != loaded.metadata["features"]:
        raise ValueError("the store's features differ from the model's: retrain with `matching train`")
    say(f"scoring {len(positions):,} held-out placements")
    y = rows.label[positions]
    p_model = loaded.model.predict_proba(rows.features.iloc[positions])[:, 1]
    b = loaded.metadata["baseline"]
    fit_scores = fit_scores_at_start(history, positions)
    p_base = 1 / (1 + np.exp(-(b["intercept"] + b["coef"] * fit_scores)))
    p_true = _true_p(rows.meta.iloc[positions], read_truth(truth))
    groups = rows.meta.iloc[positions][list(GROUP_ATTRIBUTES)].reset_index(drop=True)
    seed = int(loaded.metadata["seed"])
    report = evaluation_report(y, p_model, p_base, p_true, groups, seed)
    say("measuring how well the features recover each protected characteristic")
    others = np.setdiff1d(np.arange(len(rows.label)), positions)
    report["proxy_strength"] = proxy_report(rows, others, positions, seed)
    report["gate"] = gate.decide({"kind": loaded.metadata.get("kind", "stability"), "metrics": report}).as_dict()
    report["version"] = loaded.version
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    curves = {"model": (y, p_model), "rules-only baseline": (y, p_base)}
    if p_true is not None:
        curves["true probability (ceiling)"] = (y, p_true)
    m.reliability_plot(curves, out_dir / "reliability.png")
    pd.DataFrame({"placement_id": rows.meta["placement_id"].iloc[positions], "unplanned_12m": y, "p_model": p_model,
                  "p_baseline": p_base}).to_csv(out_dir / "predictions.csv", index=False)  # fmt: skip
    return report
