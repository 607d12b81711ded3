"""Shared fixtures: a small synthetic local authority, and the store on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, text

from matching.store.engine import make_engine, upgrade
from matching.store.importer import import_folder
from matching.synth.generator import generate

# Every random source is seeded: hypothesis draws the same examples on every run (CI included).
# `pytest --hypothesis-profile=explore` searches afresh when hunting for new failures.
settings.register_profile("default", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile("default")

#: Where the PostgreSQL test server listens (trust auth) on CI machines.
PG_ADMIN_URL = os.environ.get("MATCHING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SMALL_SEED = 7
HISTORY_SEED = 5


@pytest.fixture(autouse=True, scope="session")
def _rules_only_unless_asked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests rank on the rules alone (the shipped model is not loaded) unless they point at a model.

    Session-wide, so fixtures of any scope see it too."""
    patch = pytest.MonkeyPatch()
    patch.setenv("MATCHING_MODELS_DIR", str(tmp_path_factory.getbasetemp() / "no-models"))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def small_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One synthetic local authority written once per session (read-only: copy before changing)."""
    out = tmp_path_factory.mktemp("small_la")
    generate(out, las=1, seed=SMALL_SEED)
    return out


@pytest.fixture
def folder_copy(small_folder: Path, tmp_path: Path) -> Path:
    """A private copy of the small local authority that a test may change."""
    dest = tmp_path / "la"
    shutil.copytree(small_folder, dest)
    return dest


def _postgres_available() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:  # the reason is reported in the skip / failure message
        return f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the PostgreSQL test server; fails under CI when absent, skips locally."""
    problem = _postgres_available()
    if problem:
        message = f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({problem})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI must test the production database engine", pytrace=False)
        pytest.skip(message)
    return PG_ADMIN_URL


@pytest.fixture
def postgres_engine(postgres_server: str) -> Iterator[Engine]:
    """An engine on a fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"pm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_server.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh SQLite file."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The store on each supported engine, schema created by the migrations."""
    eng: Engine = request.getfixturevalue(f"{request.param if request.param == 'sqlite' else 'postgres'}_engine")
    upgrade(eng)
    return eng


@pytest.fixture(scope="session")
def history_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Path]]:
    """Three synthetic authorities (enough history to learn from, a few hundred children in homes), imported."""
    base = tmp_path_factory.mktemp("history")
    folder = base / "data"
    generate(folder, las=3, seed=HISTORY_SEED)
    engine = make_engine(f"sqlite:///{base / 'store.db'}")
    upgrade(engine)
    import_folder(engine, folder)
    yield engine, folder
    engine.dispose()
