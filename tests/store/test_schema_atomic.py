"""Creating and migrating the store's schema is all or nothing on SQLite and PostgreSQL (issue 17, item 5).

A failure or a killed process at any moment of a store's first open leaves a store that opens: it has the
tables of the revision its ``alembic_version`` names (none when it names none), and the next open finishes the
job.  A store left half-created by earlier versions stops with one readable line saying what to do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, inspect, text

from matching.store import schema
from matching.store.engine import StoreError, alembic_config, make_engine, upgrade

HEAD = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_current_head()


class InjectedError(RuntimeError):
    """The failure a test injects between two statements of a migration."""


def state(engine: Engine) -> tuple[str | None, set[str]]:
    """The store's revision (None when it has none) and its tables (the version table aside)."""
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
        tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
    assert len(heads) <= 1
    return (heads[0] if heads else None), tables


@pytest.fixture(scope="module")
def tables_at(tmp_path_factory: pytest.TempPathFactory) -> dict[str | None, set[str]]:
    """The tables a store has at each revision, built one revision at a time."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('revisions') / 'store.db'}")
    cfg = alembic_config(engine)
    out: dict[str | None, set[str]] = {None: set()}
    for rev in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions())):
        command.upgrade(cfg, rev.revision)
        found, tables = state(engine)
        assert found == rev.revision
        out[rev.revision] = tables
    engine.dispose()
    return out


def assert_whole(engine: Engine, tables_at: dict[str | None, set[str]]) -> str | None:
    """The store has exactly the tables of its revision; return the revision."""
    rev, tables = state(engine)
    assert tables == tables_at[rev], f"at revision {rev}: {sorted(tables ^ tables_at[rev])} half there"
    return rev


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bare(request: pytest.FixtureRequest) -> Engine:
    """An empty database on each engine, no schema yet."""
    eng: Engine = request.getfixturevalue(f"{request.param if request.param == 'sqlite' else 'postgres'}_engine")
    return eng


@contextmanager
def failing(engine: Engine, *, at: int = 0, containing: str = "") -> Iterator[list[int]]:
    """Make the ``at``-th statement from now (or each one ``containing`` a text) raise; yield the count seen."""
    seen = [0]

    def _fail(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen[0] += 1
        if seen[0] == at or (containing and containing in statement):
            raise InjectedError(f"statement {seen[0]}")

    event.listen(engine, "before_cursor_execute", _fail)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _fail)


def test_a_failure_at_any_statement_of_the_first_creation_leaves_an_empty_store(
    bare: Engine, tables_at: dict[str | None, set[str]]
) -> None:
    step = 3 if bare.dialect.name == "sqlite" else 11  # every third statement (PostgreSQL: every eleventh)
    k, failed = 1, 0
    while True:
        with failing(bare, at=k) as seen:
            cause = None
            try:
                upgrade(bare)
            except StoreError as exc:
                cause = exc.__cause__
        if cause is not None:
            assert isinstance(cause, InjectedError), cause
            failed += 1
        if seen[0] < k:  # the whole creation ran without reaching statement k
            break
        assert state(bare) == (None, set()), f"a failure at statement {k} left part of the schema"
        k += step
    assert failed > 8
    assert assert_whole(bare, tables_at) == HEAD


def test_a_failure_midway_through_migrations_leaves_the_previous_revision(
    bare: Engine, tables_at: dict[str | None, set[str]]
) -> None:
    cfg = alembic_config(bare)
    command.upgrade(cfg, "0005")
    with bare.begin() as conn:
        conn.execute(
            schema.local_authority.insert().values(
                la_code="E1", name="A", region="R", centre_easting=1, centre_northing=2
            )
        )
    # 0006 rebuilds child_need (a copy, a drop and a rename); 0007 makes tables, then triggers.
    for needle in ("INSERT INTO _alembic_tmp_child_need", "ALTER TABLE _alembic_tmp_child_need", "CREATE TRIGGER"):
        with failing(bare, containing=needle), pytest.raises(StoreError, match="InjectedError"):
            upgrade(bare)
        assert assert_whole(bare, tables_at) == "0005", needle
        with bare.connect() as conn:
            assert conn.execute(text("SELECT la_code FROM local_authority")).scalars().all() == ["E1"]
    upgrade(bare)
    assert assert_whole(bare, tables_at) == HEAD


_KILLABLE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sqlalchemy import event
    from matching.store.engine import make_engine, upgrade
    url, needle, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    engine = make_engine(url)
    def pause(*_args):
        marker.write_text("paused")
        time.sleep(120)
    if needle == "COMMIT":
        event.listen(engine, "commit", pause)  # every change made, not yet committed
    else:
        def after(_conn, _cursor, statement, *_rest):
            if needle in statement:
                pause()
        event.listen(engine, "after_cursor_execute", after)
    upgrade(engine)
    """
)


@pytest.mark.parametrize(
    "moment",
    [
        "CREATE TABLE import_run",  # the first table of the first migration
        "CREATE TABLE ssda903_child",  # migration 0004 of 9
        "COMMIT",  # every migration applied and stamped, the commit not yet made
    ],
)
def test_a_process_killed_during_the_first_open_leaves_a_store_that_opens(
    bare: Engine, tables_at: dict[str | None, set[str]], moment: str, tmp_path: Path
) -> None:
    url = bare.url.render_as_string(hide_password=False)
    marker = tmp_path / "paused"
    proc = subprocess.Popen([sys.executable, "-c", _KILLABLE, url, moment, str(marker)], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, f"the first open ended before reaching {moment!r}"
            assert time.monotonic() < deadline, f"the first open never reached {moment!r}"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert assert_whole(bare, tables_at) is None  # all pending migrations are one transaction
    upgrade(bare)  # the store opens and the next open finishes the creation
    assert assert_whole(bare, tables_at) == HEAD


def test_stores_opened_together_are_created_once(bare: Engine, tables_at: dict[str | None, set[str]]) -> None:
    url = bare.url.render_as_string(hide_password=False)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        engine = make_engine(url)
        try:
            start.wait()
            upgrade(engine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert assert_whole(bare, tables_at) == HEAD


@pytest.fixture
def half_created(tmp_path: Path) -> Path:
    """A SQLite store as the old code left it when killed during its first open: tables, an empty version table."""
    path = tmp_path / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        for name in ("import_run", "local_authority", "agency"):
            schema.metadata.tables[name].create(conn)
    engine.dispose()
    return path


def test_a_half_created_store_is_named_in_one_line_with_what_to_do(half_created: Path) -> None:
    engine = make_engine(f"sqlite:///{half_created}")
    with pytest.raises(StoreError) as caught:
        upgrade(engine)
    message = str(caught.value)
    assert "\n" not in message
    assert "half-created" in message
    assert "3 of the store's tables" in message
    assert "alembic_version" in message
    assert "hold no rows, so nothing is lost" in message
    assert f"delete {half_created}" in message
    with engine.begin() as conn:
        conn.execute(
            schema.local_authority.insert().values(
                la_code="E1", name="A", region="R", centre_easting=1, centre_northing=2
            )
        )
    with pytest.raises(StoreError, match="hold 1 rows: keep a copy"):
        upgrade(engine)
    assert state(engine)[1] == {"import_run", "local_authority", "agency"}  # left as it was
    engine.dispose()


def test_the_cli_reports_a_half_created_store_on_one_line(half_created: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "DATABASE_URL": f"sqlite:///{half_created}"}
    env.pop("MATCHING_DEBUG", None)
    r = subprocess.run(
        [sys.executable, "-m", "matching.cli", "stats"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "half-created" in lines[0]
    assert "Traceback" not in r.stderr


def test_only_the_migration_connection_leaves_the_drivers_transactions(sqlite_engine: Engine) -> None:
    """Imports and the audit trail keep pysqlite's own transaction handling (a BEGIN before the first write)."""
    upgrade(sqlite_engine)
    with sqlite_engine.connect() as conn:
        assert conn.connection.dbapi_connection.isolation_level == ""  # type: ignore[union-attr]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
