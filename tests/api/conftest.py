"""An API client over a store holding the small synthetic local authority."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.settings import Settings
from matching.store.engine import make_engine, upgrade
from matching.store.importer import import_folder


@pytest.fixture(scope="session")
def loaded_sqlite(small_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('api') / 'store.db'}")
    upgrade(engine)
    import_folder(engine, small_folder)
    yield engine
    engine.dispose()


@pytest.fixture
def client(loaded_sqlite: Engine) -> TestClient:
    return TestClient(create_app(Settings(), engine=loaded_sqlite))


@pytest.fixture
def scoped_client(loaded_sqlite: Engine) -> TestClient:
    """A deployment whose remit is another authority and the in-house service only."""
    return TestClient(create_app(Settings(scope_las="L999", scope_agencies="LA-L001"), engine=loaded_sqlite))
