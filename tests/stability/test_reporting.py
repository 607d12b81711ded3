"""Reporting a reader can trust: ceilings by group, the gap in the data vs the gap the model adds, calibration
against what chance gives, and how well the features stand in for protected characteristics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from matching.cli import app
from matching.stability import metrics
from matching.stability.features import GROUP_ATTRIBUTES
from matching.stability.train import PREDICTIONS
from tests.stability.conftest import Trained


def _data(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 5, n)
    y = (rng.random(n) < p).astype(int)
    return y, p, pd.DataFrame({"sex": rng.choice(["F", "M"], n), "band": rng.choice(["a", "b", "c"], n)})


def test_a_model_equal_to_the_truth_adds_no_gap() -> None:
    y, p, groups = _data()
    results, gaps = metrics.group_results(y, p, groups, seed=1, p_true=p)
    assert all(g.ceiling_auc == g.roc_auc for g in results)
    for gap in gaps:
        assert gap["model_adds"] == {"gap": 0.0, "ci_low": 0.0, "ci_high": 0.0}
        assert gap["ceiling_gap"]["gap"] == gap["gap"]


def test_the_gap_a_model_adds_is_its_gap_less_the_datas() -> None:
    y, p_true, groups = _data(seed=2)
    rng = np.random.default_rng(3)
    worse_for_m = np.clip(np.where(groups["sex"] == "M", p_true + rng.normal(0, 0.3, len(y)), p_true), 0.001, 0.999)
    _, gaps = metrics.group_results(y, worse_for_m, groups, seed=1, p_true=p_true)
    sex = next(g for g in gaps if g["attribute"] == "sex")
    assert (sex["highest"], sex["lowest"]) == ("F", "M")
    assert sex["model_adds"]["gap"] == pytest.approx(sex["gap"] - sex["ceiling_gap"]["gap"], abs=2e-4)
    assert sex["model_adds"]["ci_low"] > 0  # the noise added for one group is the model's doing
    assert sex["ceiling_gap"]["ci_low"] < 0 < sex["ceiling_gap"]["ci_high"]  # the data treat both alike


def test_without_truth_there_is_no_ceiling() -> None:
    y, p, groups = _data()
    results, gaps = metrics.group_results(y, p, groups, seed=1)
    assert all(g.ceiling_auc is None for g in results)
    assert all("model_adds" not in g for g in gaps)


def test_a_calibrated_model_measures_about_what_chance_gives() -> None:
    y, p, _ = _data(20000)
    cal = metrics.calibration_against_chance(y, p, seed=4)
    assert cal["ratio"] is not None
    assert 0.5 < cal["ratio"] < 2
    off = metrics.calibration_against_chance(y, np.clip(p + 0.1, 0, 1), seed=4)
    assert off["ratio"] is not None
    assert off["ratio"] > 5


def test_proxy_strength_tells_a_carried_attribute_from_an_absent_one() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    group = rng.choice(["A", "B", "C", "D"], n)
    X = rng.normal(size=(n, 5))
    X[:, 0] += (group == "B") * 3 + (group == "C") * 6 + (group == "D") * 9
    half = n // 2
    carried = metrics.proxy_strength(X[:half], group[:half], X[half:], group[half:])
    assert carried["method"] == "one-vs-rest macro ROC AUC"
    assert carried["roc_auc"] is not None
    assert carried["roc_auc"] > 0.95
    noise = rng.choice(["yes", "no"], n)
    absent = metrics.proxy_strength(X[:half], noise[:half], X[half:], noise[half:])
    assert absent["method"] == "ROC AUC"
    assert absent["roc_auc"] is not None
    assert abs(absent["roc_auc"] - 0.5) < 0.06
    tiny = metrics.proxy_strength(X[:half], np.array(["x"] * half), X[half:], np.array(["x"] * half))
    assert tiny["roc_auc"] is None


def test_the_training_report_has_ceilings_gaps_chance_and_proxies(trained: Trained) -> None:
    r = trained.result.metadata["metrics"]
    measured = [g for g in r["groups"] if g["roc_auc"] is not None]
    assert measured
    assert all(g["ceiling_auc"] is not None and g["ece_chance"] is not None for g in measured)
    for gap in r["group_auc_gaps"]:
        assert gap["model_adds"]["gap"] == pytest.approx(gap["gap"] - gap["ceiling_gap"]["gap"], abs=2e-4)
        assert gap["model_adds"]["ci_low"] <= gap["model_adds"]["gap"] <= gap["model_adds"]["ci_high"]
    cal = r["calibration"]
    assert cal["n"] == r["n"]
    assert cal["ece"] == r["model"]["ece"]
    assert cal["ratio"] == pytest.approx(cal["ece"] / cal["ece_chance"], abs=0.02)
    proxies = r["proxy_strength"]
    assert set(proxies) == set(GROUP_ATTRIBUTES)
    assert proxies["age_band"]["roc_auc"] > 0.95  # age is a feature: its band is recovered
    for p in proxies.values():
        assert p["roc_auc"] is None or 0 <= p["roc_auc"] <= 1
    card = (trained.result.folder / "MODEL_CARD.md").read_text()
    for must in ("ceiling AUC", "added by the model", "by chance alone", "proxy", "can use such a proxy"):
        assert must in card


def test_group_ceilings_can_be_recomputed_from_the_written_predictions(trained: Trained) -> None:
    preds = pd.read_csv(trained.result.folder / PREDICTIONS)
    y = preds["unplanned_12m"].to_numpy()
    results, _ = metrics.group_results(y, preds["p_model"].to_numpy(), preds[["uasc"]], 11, preds["p_true"].to_numpy())
    card = {g["group"]: g for g in trained.result.metadata["metrics"]["groups"] if g["attribute"] == "uasc"}
    for g in results:
        assert g.ceiling_auc == card[g.group]["ceiling_auc"]


def test_cli_evaluate_reports_them_too(trained: Trained, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", str(trained.engine.url))
    args = ["evaluate", "--models", str(trained.models), "--out", str(tmp_path), "--truth", str(trained.folder)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    for must in ("in the data", "added by the model", "by chance alone", "proxy strength", "stability estimate shown"):
        assert must in flat
    written = json.loads((tmp_path / "evaluation.json").read_text())
    card = trained.result.metadata["metrics"]
    assert written["groups"] == card["groups"]
    assert written["group_auc_gaps"] == card["group_auc_gaps"]
    assert written["calibration"] == card["calibration"]
    assert set(written["proxy_strength"]) == set(GROUP_ATTRIBUTES)
    assert written["gate"]["shown"] is True
