"""The learner is chosen by measurement: each can be trained, and they are compared on the same split."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks
from typer.testing import CliRunner

from matching.cli import app
from matching.stability.artefact import load_model
from matching.stability.card import model_card
from matching.stability.estimator import DEFAULT_LEARNER, LEARNERS, LogisticStabilityClassifier
from matching.stability.train import SCORE_PAIRS, compare_learners
from tests.stability.conftest import Trained


@parametrize_with_checks([LogisticStabilityClassifier(cv=3)])
def test_logistic_estimator_contract(estimator, check):
    check(estimator)


def _data(seed: int, n: int = 3000) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    X[rng.random(n) < 0.2, 2] = np.nan  # missing values are imputed, with an indicator column
    p = 1 / (1 + np.exp(-(X[:, 0] - 0.5 * X[:, 1] - 1.0)))
    y = (rng.random(n) < p).astype(int)
    return pd.DataFrame(X, columns=list("abcd")), y, rng.integers(0, n // 3, n)


def test_logistic_chooses_its_penalty_by_grouped_inner_cross_validation_and_is_deterministic() -> None:
    X, y, g = _data(1)
    a = LogisticStabilityClassifier(random_state=2).fit(X, y, groups=g)
    b = LogisticStabilityClassifier(random_state=2).fit(X, y, groups=g)
    assert set(a.cv_log_loss_) == {0.01, 0.1, 1.0}
    assert min(a.cv_log_loss_, key=lambda c: a.cv_log_loss_[c]) == a.C_
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    assert np.allclose(a.predict_unplanned(X.to_numpy()), a.predict_proba(X)[:, 1])
    fixed = LogisticStabilityClassifier(C=0.5).fit(X, y)
    assert fixed.C_ == 0.5
    assert fixed.cv_log_loss_ == {}


def test_a_feature_unknown_in_training_changes_nothing_when_scoring() -> None:
    X, y, g = _data(2)
    X["d"] = np.nan
    model = LogisticStabilityClassifier(C=1.0).fit(X, y, groups=g)
    filled = X.assign(d=5.0)
    assert np.array_equal(model.predict_proba(X), model.predict_proba(filled))


def test_the_default_learner_is_the_shipped_boosting() -> None:
    assert DEFAULT_LEARNER == "boosting"
    assert set(LEARNERS) == {"boosting", "logistic", "boosting_large"}
    shipped = LEARNERS["boosting"].make(0, ())
    assert (shipped.max_iter, shipped.max_leaf_nodes) == (20, 15)
    large = LEARNERS["boosting_large"].make(0, ())
    assert large.max_iter > shipped.max_iter
    assert large.max_leaf_nodes > shipped.max_leaf_nodes


def test_compare_learners_scores_each_on_the_same_split() -> None:
    X, y, g = _data(3, 4000)
    train_idx, test_idx = np.flatnonzero(g % 4 != 0), np.flatnonzero(g % 4 == 0)
    p_base = 1 / (1 + np.exp(-(X["a"].to_numpy()[test_idx] - 1.0)))  # a baseline that knows one feature
    out = compare_learners(X, y, g, train_idx, test_idx, p_base, seed=5, learners=["boosting", "logistic"])
    assert out["n_test"] == len(test_idx)
    assert [r["learner"] for r in out["learners"]] == ["boosting", "logistic"]
    for row in out["learners"]:
        assert 0.5 < row["roc_auc"] <= 1
        assert row["calibration"]["ece_chance"] > 0
        assert row["minus_baseline_auc"]["ci_low"] <= row["minus_baseline_auc"]["difference"]
        assert row["fit_seconds"] > 0
        assert row[f"score_{SCORE_PAIRS}_pairs_ms"] > 0
    v = out["verdict"]
    assert v["best_auc"] == max(out["learners"], key=lambda r: r["roc_auc"])["learner"]
    assert v["lead_shown"] == (v["lead"]["ci_low"] > 0)


def test_the_card_says_why_this_learner(trained: Trained) -> None:
    meta = copy.deepcopy(trained.result.metadata)
    assert "not compared in this training run" in model_card(meta)
    row = {
        "learner": "boosting",
        "roc_auc": 0.7,
        "brier": 0.19,
        "calibration": {"ece": 0.04, "ece_chance": 0.035, "ratio": 1.14, "n": 500},
        "minus_baseline_auc": {"difference": 0.1, "ci_low": 0.05, "ci_high": 0.15},
        "fit_seconds": 2.0,
        f"score_{SCORE_PAIRS}_pairs_ms": 20.0,
    }
    meta["learner_comparison"] = {
        "n_test": 500,
        "score_pairs": SCORE_PAIRS,
        "score_time_is": "the model alone",
        "learners": [row, {**row, "learner": "logistic", "roc_auc": 0.69}],
        "verdict": {
            "best_auc": "boosting",
            "runner_up": "logistic",
            "lead": {"difference": 0.01, "ci_low": -0.01, "ci_high": 0.03},
            "lead_shown": False,
        },
    }
    card = model_card(meta)
    assert "## Why this learner" in card
    assert "| boosting (used) | 0.700 |" in card
    assert "a lead not shown to be above zero" in card
    assert "measurement favours" not in card
    meta["learner_comparison"]["learners"][1]["roc_auc"] = 0.75
    meta["learner_comparison"]["verdict"] = {
        "best_auc": "logistic",
        "runner_up": "boosting",
        "lead": {"difference": 0.05, "ci_low": 0.02, "ci_high": 0.08},
        "lead_shown": True,
    }
    card = model_card(meta)
    assert "a lead shown to be above zero" in card
    assert "measurement favours the logistic learner: `matching train --learner logistic`" in card


def test_cli_trains_the_logistic_learner(trained: Trained, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", str(trained.engine.url))
    runner = CliRunner()
    bad = runner.invoke(app, ["train", "--out", str(tmp_path), "--learner", "forest"])
    assert bad.exit_code == 1
    assert "boosting-large" in bad.output
    done = runner.invoke(app, ["train", "--out", str(tmp_path), "--seed", "11", "--learner", "logistic"])
    assert done.exit_code == 0, done.output
    assert "logistic learner" in done.output
    with trained.engine.connect() as conn:  # `matching train` trusted it in the store it trained from
        meta = load_model(tmp_path, conn=conn).metadata
    assert meta["estimator"]["class"] == "LogisticStabilityClassifier"
    assert meta["estimator"]["learner"] == "logistic"
    assert meta["estimator"]["C"] in (0.01, 0.1, 1.0)
    assert meta["split"] == trained.result.metadata["split"]  # the same children held out as the shipped learner
    assert meta["version"] != trained.result.version
