"""Training: grouped split, determinism, honest reports that can be recomputed, refusal of thin history."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from matching.domain import Scope
from matching.stability import metrics
from matching.stability.artefact import load_model, read_manifest, sha256_of
from matching.stability.train import (
    PREDICTIONS,
    InsufficientHistoryError,
    check_learnable,
    evaluate,
    grouped_split,
    train,
)
from tests.stability.conftest import Trained


@given(
    st.lists(st.integers(0, 40), min_size=20, max_size=300),
    st.integers(0, 2**31 - 1),
)
def test_grouped_split_never_puts_a_child_on_both_sides(children: list[int], seed: int) -> None:
    ids = pd.Series([f"C{c}" for c in children])
    if ids.nunique() < 2:
        return
    train_idx, test_idx = grouped_split(ids, seed)
    assert set(ids.iloc[train_idx]).isdisjoint(set(ids.iloc[test_idx]))
    assert sorted([*train_idx, *test_idx]) == list(range(len(ids)))


def test_the_artefact_is_complete_and_recorded(trained: Trained) -> None:
    folder = trained.result.folder
    for name in ("model.joblib", "metadata.json", "MODEL_CARD.md", PREDICTIONS, "reliability.png"):
        assert (folder / name).stat().st_size > 0
    manifest = read_manifest(trained.models)
    for path in folder.iterdir():
        assert manifest[path.relative_to(trained.models).as_posix()] == sha256_of(path)
    meta = trained.result.metadata
    assert meta["seed"] == 11
    assert meta["libraries"]["scikit-learn"]
    assert len(meta["training_data"]["sha256"]) == 64
    card = (folder / "MODEL_CARD.md").read_text()
    for must in ("Never an automatic decision", "Results by group", "What Works", "ceiling", "baseline"):
        assert must in card


def test_metrics_recomputed_from_the_written_predictions_match_the_card(trained: Trained) -> None:
    preds = pd.read_csv(trained.result.folder / PREDICTIONS)
    r = trained.result.metadata["metrics"]
    y = preds["unplanned_12m"].to_numpy()
    for key, column in (("model", "p_model"), ("baseline", "p_baseline"), ("ceiling", "p_true")):
        again = metrics.scores(y, preds[column].to_numpy()).as_dict()
        for name, value in again.items():
            assert value == pytest.approx(r[key][name], abs=2e-4), (key, name)
    groups, _ = metrics.group_results(y, preds["p_model"].to_numpy(), preds[["sex"]], 11)
    card_sex = {g["group"]: g for g in r["groups"] if g["attribute"] == "sex"}
    for g in groups:
        assert g.n == card_sex[g.group]["n"]
        assert g.roc_auc == card_sex[g.group]["roc_auc"]


def test_the_model_beats_the_rules_and_is_calibrated_on_held_out_children(trained: Trained) -> None:
    r = trained.result.metadata["metrics"]
    assert r["model"]["roc_auc"] > r["baseline"]["roc_auc"]
    assert r["model_minus_baseline_auc"]["ci_low"] > 0
    assert r["model"]["roc_auc"] <= r["ceiling"]["roc_auc"] + 0.02  # the truth is the ceiling
    assert r["model"]["ece"] < 0.08  # about 500 held-out placements: chance alone gives ~0.03
    attributes = {g["attribute"] for g in r["groups"]}
    assert attributes == {"sex", "ethnicity_group", "age_band", "disability", "uasc"}


def test_same_seed_same_model(trained: Trained, tmp_path: Path) -> None:
    with trained.engine.connect() as conn:
        again = train(conn, scope=Scope.everything(), out_root=tmp_path, seed=11, truth=trained.folder)
    assert again.version == trained.result.version
    assert again.metadata["metrics"] == trained.result.metadata["metrics"]
    a = pd.read_csv(again.folder / PREDICTIONS)["p_model"]
    b = pd.read_csv(trained.result.folder / PREDICTIONS)["p_model"]
    assert a.equals(b)


def test_evaluate_scores_the_held_out_placements_again(trained: Trained, tmp_path: Path) -> None:
    with trained.engine.connect() as conn:
        loaded = load_model(trained.models, conn=conn)
        report = evaluate(conn, scope=Scope.everything(), loaded=loaded, out_dir=tmp_path, truth=trained.folder)
    card = trained.result.metadata["metrics"]
    assert report["model"] == card["model"]
    assert report["baseline"] == card["baseline"]
    assert json.loads((tmp_path / "evaluation.json").read_text())["ceiling"] == card["ceiling"]
    assert (tmp_path / "reliability.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([0, 1] * 100), "only 200 past placements"),
        (np.zeros(1000, dtype=int), "0 unplanned endings"),
        (np.array([1] * 990 + [0] * 10), "10 placements that lasted"),
    ],
)
def test_thin_or_one_sided_history_is_refused(labels: np.ndarray, message: str) -> None:
    with pytest.raises(InsufficientHistoryError, match=message):
        check_learnable(labels)


def test_training_on_an_authority_without_history_says_so(history_store: tuple[Engine, Path], tmp_path: Path) -> None:
    engine, _ = history_store
    with engine.connect() as conn, pytest.raises(InsufficientHistoryError, match="past placements"):
        train(conn, scope=Scope(la_codes=frozenset({"L999"})), out_root=tmp_path)
    assert not (tmp_path / "MANIFEST").exists()


def test_an_authority_can_retrain_on_its_own_history(trained: Trained, tmp_path: Path) -> None:
    with trained.engine.connect() as conn:
        own = train(conn, scope=Scope(la_codes=frozenset({"L001"})), out_root=tmp_path, seed=3)
    td = own.metadata["training_data"]
    assert td["placements"] < trained.result.metadata["training_data"]["placements"]
    preds = pd.read_csv(own.folder / PREDICTIONS)
    assert preds["child_id"].str.startswith("L001-").all()
