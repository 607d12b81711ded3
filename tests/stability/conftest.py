"""A store with enough history to learn from (three synthetic authorities) and a model trained on it; the same
store with its outcomes made pure noise, and a model trained on that.  Each model is trusted in the store it was
trained from, as `matching train` does (the service loads nothing else)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

from matching.access import Actor
from matching.domain import Scope
from matching.stability.train import TrainResult, train
from matching.stability.trust import trust
from matching.store.engine import make_engine


@dataclass(frozen=True)
class Trained:
    """The store, its generated folder (with the generator's truth) and the trained model."""

    engine: Engine
    folder: Path
    models: Path
    result: TrainResult


def trust_models(engine: Engine, root: Path) -> None:
    """Trust every artefact under the models folder ``root`` in the store behind ``engine``."""
    with engine.begin() as conn:
        for model in sorted(root.glob("*/*/model.joblib")):
            trust(conn, model.parent, actor=Actor.system("tests"), note="trained by the tests")


@pytest.fixture(scope="session")
def trained(history_store: tuple[Engine, Path], tmp_path_factory: pytest.TempPathFactory) -> Trained:
    engine, folder = history_store
    models = tmp_path_factory.mktemp("models")
    with engine.connect() as conn:
        result = train(conn, scope=Scope.everything(), out_root=models, seed=11, truth=folder)
    trust_models(engine, models)
    return Trained(engine, folder, models, result)


#: Share of ended placements given an unplanned ending in the noise store (about the real rate).
NOISE_UNPLANNED = 0.3


def scramble_outcomes(db: Path, seed: int = 0) -> None:
    """Make every recorded outcome in a SQLite store pure noise, independent of everything the features read.

    An outcome is "ended unplanned within 12 (or 52 weeks of) months": every ended placement is cut to
    at most 300 days (so the length of a placement says nothing), and its ending reason is drawn at random,
    unplanned (CREQB) with probability :data:`NOISE_UNPLANNED`, otherwise planned (CARPL).  A model
    trained on this store can only fit noise, so its advantage over the rules-only score is zero.
    """
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT placement_id FROM placement WHERE end_date IS NOT NULL "
                                               "ORDER BY placement_id"))]  # fmt: skip
        unplanned = np.random.default_rng(seed).random(len(ids)) < NOISE_UNPLANNED
        conn.execute(
            text(
                "UPDATE placement SET end_date = min(end_date, date(start_date, '+300 days')) WHERE end_date IS NOT NULL"
            )
        )
        for reason, flag in (("CREQB", True), ("CARPL", False)):
            conn.execute(
                text("UPDATE placement SET end_reason = :r, unplanned = :u WHERE placement_id = :i"),
                [{"r": reason, "u": flag, "i": i} for i, u in zip(ids, unplanned, strict=True) if u == flag],
            )
    engine.dispose()


@pytest.fixture(scope="session")
def noise_trained(history_store: tuple[Engine, Path], tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The history store with its outcomes replaced by noise, and a stability model honestly trained on it."""
    engine, folder = history_store
    base = tmp_path_factory.mktemp("noise")
    db = base / "store.db"
    source, copy = sqlite3.connect(str(engine.url.database)), sqlite3.connect(db)
    source.backup(copy)  # a consistent copy of the SQLite store
    source.close()
    copy.close()
    scramble_outcomes(db)
    noisy = make_engine(f"sqlite:///{db}")
    models = base / "models"
    with noisy.connect() as conn:
        result = train(conn, scope=Scope.everything(), out_root=models, seed=11)
    trust_models(noisy, models)
    return Trained(noisy, folder, models, result)
