"""Artefacts load only when their hash and library versions match; anything else falls back to the rules."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import joblib
import pytest

from matching.domain import Scope
from matching.stability.artefact import ArtefactError, load_model, read_manifest, sha256_of, write_manifest
from matching.stability.scorer import load_scorer
from matching.taxonomy import load_taxonomy
from tests.stability.conftest import Trained


@pytest.fixture
def models(trained: Trained, tmp_path: Path) -> Path:
    """A private copy of the trained models folder that a test may damage."""
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


def test_a_verified_model_loads(models: Path) -> None:
    loaded = load_model(models)
    assert loaded.metadata["version"] == loaded.version
    assert hasattr(loaded.model, "predict_proba")


def test_a_changed_model_file_is_refused_before_unpickling(models: Path, tmp_path: Path) -> None:
    target = tmp_path / "written-by-the-pickle"
    joblib.dump(_WritesAFile(target), _model_file(models))
    with pytest.raises(ArtefactError, match="does not match its SHA-256"):
        load_model(models)
    assert not target.exists(), "the tampered pickle must never be loaded"


def test_an_unrecorded_model_is_refused(models: Path) -> None:
    manifest = read_manifest(models)
    rel = _model_file(models).relative_to(models).as_posix()
    del manifest[rel]
    write_manifest(models, manifest)
    with pytest.raises(ArtefactError, match="not in"):
        load_model(models)


def test_another_scikit_learn_version_is_refused(models: Path) -> None:
    meta_path = next(models.glob("stability/*/metadata.json"))
    meta = json.loads(meta_path.read_text())
    meta["libraries"]["scikit-learn"] = "0.24.2"
    meta_path.write_text(json.dumps(meta))
    manifest = read_manifest(models)
    manifest[meta_path.relative_to(models).as_posix()] = sha256_of(meta_path)  # re-signed: only the version differs
    write_manifest(models, manifest)
    with pytest.raises(ArtefactError, match=r"made with scikit-learn 0\.24\.2"):
        load_model(models)


def test_no_model_at_all_is_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ArtefactError, match="matching train"):
        load_model(tmp_path)


def test_the_scorer_falls_back_to_rules_only_without_raising(trained: Trained, models: Path) -> None:
    os.remove(_model_file(models))
    with trained.engine.connect() as conn:
        scorer, reason = load_scorer(conn, scope=Scope.everything(), taxonomy=load_taxonomy(), root=models)
    assert scorer is None
    assert "incomplete" in reason
