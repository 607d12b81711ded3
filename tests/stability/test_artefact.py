"""Artefacts load only when the store trusts their digests and the library versions match; anything else falls
back to the rules (tests/stability/test_trust.py tries the refusals on the shipped models, without training)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import joblib
import pytest

from matching.domain import Scope
from matching.stability.artefact import (
    ArtefactError,
    load_model,
    read_manifest,
    sha256_of,
    verify_model,
    write_manifest,
)
from matching.stability.scorer import load_scorer
from matching.stability.trust import ENV, UntrustedArtefactError
from matching.taxonomy import load_taxonomy
from tests.stability.conftest import Trained


@pytest.fixture
def models(trained: Trained, tmp_path: Path) -> Path:
    """A private copy of the trained models folder that a test may damage (the same bytes: trusted in the
    history store)."""
    dest = tmp_path / "models"
    shutil.copytree(trained.models, dest)
    return dest


def _model_file(models: Path) -> Path:
    return next(models.glob("stability/*/model.joblib"))


class _WritesAFile:
    """A pickle that writes a file when it is loaded: what a tampered artefact could do."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.target, "pwned"))


def test_a_trusted_model_loads(trained: Trained, models: Path) -> None:
    with trained.engine.connect() as conn:
        loaded = load_model(models, conn=conn)
    assert loaded.metadata["version"] == loaded.version
    assert hasattr(loaded.model, "predict_proba")


def test_a_planted_model_with_its_manifest_rewritten_is_refused_before_unpickling(
    trained: Trained, models: Path, tmp_path: Path
) -> None:
    target = tmp_path / "written-by-the-pickle"
    planted = _model_file(models)
    joblib.dump(_WritesAFile(target), planted)
    manifest = read_manifest(models)
    manifest[planted.relative_to(models).as_posix()] = sha256_of(planted)  # the MANIFEST agrees: it proves nothing
    write_manifest(models, manifest)
    with trained.engine.connect() as conn, pytest.raises(UntrustedArtefactError, match="not recorded in this store"):
        load_model(models, conn=conn)
    assert not target.exists(), "the planted pickle must never be loaded"


def test_another_scikit_learn_version_is_refused(models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meta_path = next(models.glob("stability/*/metadata.json"))
    meta = json.loads(meta_path.read_text())
    meta["libraries"]["scikit-learn"] = "0.24.2"
    meta_path.write_text(json.dumps(meta))
    # trusted by the deployment's configuration: only the version differs
    monkeypatch.setenv(ENV, f"{sha256_of(_model_file(models))} {sha256_of(meta_path)}")
    with pytest.raises(ArtefactError, match=r"made with scikit-learn 0\.24\.2"):
        verify_model(models, conn=None)


def test_no_model_at_all_is_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ArtefactError, match="matching train"):
        load_model(tmp_path, conn=None)
    with pytest.raises(ArtefactError, match="matching train --target step-down"):
        load_model(tmp_path, kind="step_down", conn=None)


def test_the_scorer_falls_back_to_rules_only_without_raising(trained: Trained, models: Path) -> None:
    os.remove(_model_file(models))
    with trained.engine.connect() as conn:
        scorer, reason = load_scorer(conn, scope=Scope.everything(), taxonomy=load_taxonomy(), root=models)
    assert scorer is None
    assert "incomplete" in reason
