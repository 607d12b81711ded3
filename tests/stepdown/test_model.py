"""The learned step-down estimate: trained like the stability model, shown beside the rules, never instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from matching.domain import Scope
from matching.stability.artefact import load_model
from matching.stability.train import STEP_DOWN, InsufficientHistoryError, train
from matching.stepdown.assess import assess_cohort


@pytest.fixture(scope="module")
def step_down_models(history_store: tuple[Engine, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    engine, folder = history_store
    root = tmp_path_factory.mktemp("sd-models")
    with engine.connect() as conn:
        train(conn, scope=Scope.everything(), out_root=root, seed=3, truth=folder, target=STEP_DOWN, min_placements=40)
        train(conn, scope=Scope.everything(), out_root=root, seed=3, truth=folder)
    return root


def test_too_few_step_downs_are_refused_by_default(history_store: tuple[Engine, Path], tmp_path: Path) -> None:
    engine, _ = history_store
    with engine.connect() as conn, pytest.raises(InsufficientHistoryError, match="at least 300"):
        train(conn, scope=Scope.everything(), out_root=tmp_path, target=STEP_DOWN)


def test_it_learns_only_from_moves_out_of_residential_care(step_down_models: Path) -> None:
    loaded = load_model(step_down_models, kind="step_down")
    meta = loaded.metadata
    assert meta["kind"] == "step_down"
    assert "residential" in meta["learns_from"]
    assert meta["training_data"]["placements"] < 1000
    card = (loaded.folder / "MODEL_CARD.md").read_text()
    assert "step-down success estimate" in card
    assert "never instead" in card.replace("\n", " ")
    assert meta["metrics"]["baseline"]["roc_auc"] is not None


def test_ready_children_see_the_estimate_beside_each_family_and_the_stage_does_not_change(
    history_store: tuple[Engine, Path], step_down_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = history_store
    with engine.connect() as conn:
        rules_only = assess_cohort(conn, scope=Scope.everything())
    monkeypatch.setenv("MATCHING_MODELS_DIR", str(step_down_models))
    with engine.connect() as conn:
        with_model = assess_cohort(conn, scope=Scope.everything())
    assert with_model.model_note.startswith("step-down model")
    assert [(a.child_id, a.stage) for a in with_model.children] == [(a.child_id, a.stage) for a in rules_only.children]
    shown = [c for a in with_model.children for c in a.candidates if c.kind == "foster"]
    assert shown
    assert all(c.p_success is not None and 0 < c.p_success < 1 for c in shown)
    assert all(c.p_success is None for a in rules_only.children for c in a.candidates)
