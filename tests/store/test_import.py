"""Importing into the store: all or nothing, idempotent, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, inspect, select, text

from matching.contract.validate import ContractError
from matching.store import schema
from matching.store.importer import import_folder
from matching.store.queries import count_rows


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every domain table's rows, ordered by primary key (the audit trail excluded)."""
    out = {}
    with engine.connect() as conn:
        for table in schema.TABLES.values():
            pk = list(table.primary_key.columns) or list(table.columns)  # a dated history has no key
            out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*pk))]
    return out


def edit(folder: Path, name: str, fn: Any) -> None:
    frame = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
    fn(frame)
    frame = frame[frame.iloc[:, 0].notna()]  # rows whose first column was set to None are dropped
    frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")


def test_import_writes_every_row(engine: Engine, small_folder: Path) -> None:
    result = import_folder(engine, small_folder)
    with engine.connect() as conn:
        counts = count_rows(conn)
    for name, n in result.rows.items():
        assert counts[schema.TABLE_NAMES[name]] == n
    assert counts["child"] == 500
    assert counts["import_run"] == 1


def test_reimporting_the_same_files_changes_nothing(engine: Engine, small_folder: Path) -> None:
    import_folder(engine, small_folder)
    before = dump(engine)
    import_folder(engine, small_folder)
    assert dump(engine) == before
    with engine.connect() as conn:
        assert count_rows(conn)["import_run"] == 2  # the audit trail records both


def test_corrected_file_updates_in_place_and_replaces_details(engine: Engine, folder_copy: Path) -> None:
    import_folder(engine, folder_copy)
    child_id = pd.read_csv(folder_copy / "child_needs.csv", dtype=str)["child_id"].iloc[0]

    def bump(frame: pd.DataFrame) -> None:
        frame.loc[0, "experience_years"] = "33.3"

    def drop_needs(frame: pd.DataFrame) -> None:
        extra = frame.index[frame["child_id"] == child_id][1:]
        frame.loc[extra, "child_id"] = None

    edit(folder_copy, "households", bump)
    edit(folder_copy, "child_needs", drop_needs)
    import_folder(engine, folder_copy)
    with engine.connect() as conn:
        years = (
            conn.execute(select(schema.household.c.experience_years).order_by(schema.household.c.household_id))
            .scalars()
            .first()
        )
        needs = conn.execute(select(schema.child_need).where(schema.child_need.c.child_id == child_id)).all()
        assert count_rows(conn)["child"] == 500
    assert years == pytest.approx(33.3)
    assert len(needs) == 1


def test_bad_folder_imports_nothing(engine: Engine, folder_copy: Path) -> None:
    edit(folder_copy, "placements", lambda f: f.__setitem__("end_reason", f["end_reason"].replace("CARPL", "NOPE")))
    with pytest.raises(ContractError) as info:
        import_folder(engine, folder_copy)
    assert info.value.report.problems
    assert all(p.file == "placements.csv" for p in info.value.report.problems)
    with engine.connect() as conn:
        assert sum(count_rows(conn).values()) == 0


def test_bad_folder_leaves_the_previous_import_untouched(engine: Engine, folder_copy: Path) -> None:
    import_folder(engine, folder_copy)
    before = dump(engine)
    edit(folder_copy, "children", lambda f: f.__setitem__("sex", "Q"))
    with pytest.raises(ContractError):
        import_folder(engine, folder_copy)
    assert dump(engine) == before


_KILLABLE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from matching.store.engine import make_engine
    from matching.store.importer import import_folder
    url, folder, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    def pause(name):
        if name == "children":
            marker.write_text("children written")
            time.sleep(120)
    import_folder(make_engine(url), folder, after_table=pause)
    """
)


@pytest.mark.slow
def test_killed_import_leaves_exactly_the_previous_state(engine: Engine, folder_copy: Path, tmp_path: Path) -> None:
    import_folder(engine, folder_copy)
    before = dump(engine)
    edit(folder_copy, "households", lambda f: f.__setitem__("experience_years", "1.5"))
    edit(folder_copy, "children", lambda f: f.__setitem__("religion", "other"))
    marker = tmp_path / "marker"
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE, url, str(folder_copy), str(marker)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the import process ended before reaching the pause"
            assert time.monotonic() < deadline, "the import never reached the children table"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    if engine.dialect.name == "postgresql":
        # The server notices the dead client and rolls back; wait until its backend has gone.
        with engine.connect() as conn:
            for _ in range(100):
                busy = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
                if busy == 0:
                    break
                time.sleep(0.1)
    assert dump(engine) == before


def test_migrations_build_exactly_the_declared_schema(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
        tables = set(inspect(conn).get_table_names())
    assert diff == []
    assert {t.name for t in schema.metadata.sorted_tables} <= tables


def test_sqlite_connections_are_durable_and_enforce_foreign_keys(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


@pytest.mark.postgres
def test_sqlite_and_postgresql_hold_identical_data(
    sqlite_engine: Engine, postgres_engine: Engine, small_folder: Path
) -> None:
    for eng in (sqlite_engine, postgres_engine):
        from matching.store.engine import upgrade

        upgrade(eng)
        import_folder(eng, small_folder)
    lite, pg = dump(sqlite_engine), dump(postgres_engine)
    assert lite.keys() == pg.keys()
    for table in lite:
        assert lite[table] == pg[table], table
