"""A store with enough history to learn from (three synthetic authorities) and a model trained on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from matching.domain import Scope
from matching.stability.train import TrainResult, train


@dataclass(frozen=True)
class Trained:
    """The store, its generated folder (with the generator's truth) and the trained model."""

    engine: Engine
    folder: Path
    models: Path
    result: TrainResult


@pytest.fixture(scope="session")
def trained(history_store: tuple[Engine, Path], tmp_path_factory: pytest.TempPathFactory) -> Trained:
    engine, folder = history_store
    models = tmp_path_factory.mktemp("models")
    with engine.connect() as conn:
        result = train(conn, scope=Scope.everything(), out_root=models, seed=11, truth=folder)
    return Trained(engine, folder, models, result)
