"""Opening the store: SQLite by default, PostgreSQL through ``DATABASE_URL``; schema by Alembic."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select, table, text
from sqlalchemy.engine import make_url

from matching.paths import DEFAULT_SQLITE_PATH

_HERE = Path(__file__).resolve().parent


class StoreError(RuntimeError):
    """The store cannot be opened or brought up to date."""


def database_url(url: str | None = None) -> str:
    """The database URL in force: the argument, else ``DATABASE_URL``, else the embedded SQLite file."""
    raw = url or os.environ.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"
    parsed = make_url(raw)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Durable and consistent on every connection: WAL, fsync on commit, enforced foreign keys.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _json_deserializer(text: str | bytes) -> Any:
    # orjson reads the JSON columns (lists of codes on every child, referral and household row) several times
    # faster than the standard library: reading England's waiting children and households with room decodes
    # about 155,000 of them.  What orjson refuses and the standard library writes (NaN, Infinity, a lone
    # surrogate) is read by the standard library, as before.
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (see :func:`database_url`) with the SQLite pragmas set on connect."""
    resolved = database_url(url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            resolved, connect_args={"check_same_thread": False}, json_deserializer=_json_deserializer
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(resolved, pool_pre_ping=True, json_deserializer=_json_deserializer)


def pool_of_its_own(engine: Engine) -> Engine:
    """An engine on the same store with a connection pool of its own (the same engine for an in-memory SQLite
    store, which another engine would not see).  For work that must never wait behind connections held by the
    requests it serves, such as signing a request in while that request already holds one."""
    if engine.url.get_backend_name() == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return engine
    return make_engine(engine.url.render_as_string(hide_password=False))


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    cfg = Config()
    # Alembic's options go through configparser interpolation: a literal % (in a path or a
    # password) must be doubled, or every command fails with "invalid interpolation syntax".
    cfg.set_main_option("script_location", str(_HERE / "migrations").replace("%", "%%"))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


#: PostgreSQL advisory lock taken for the length of a schema change (a constant of our own; locks are per database).
_PG_SCHEMA_LOCK = 0x706D_5F73_6368_656D  # "pm_schem"


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside one transaction that holds the schema's write lock: every change made on it commits
    together when the block ends, or none does (an error rolls it back; a killed process leaves nothing of it).

    SQLite: pysqlite begins a transaction of its own only before INSERT, UPDATE, DELETE and REPLACE, so each
    CREATE TABLE or ALTER TABLE would otherwise commit by itself.  This connection alone follows SQLAlchemy's
    pysqlite recipe for transactional DDL: the driver's implicit transactions are off (``isolation_level`` None,
    restored when the connection goes back to the pool, so imports and the audit trail keep the driver's usual
    behaviour) and ``BEGIN IMMEDIATE`` is emitted explicitly.  IMMEDIATE takes the write lock at once, so two
    processes opening a new store together change the schema one after the other.

    PostgreSQL: DDL is transactional; a transaction-scoped advisory lock serialises two processes' schema changes.
    """
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            conn.execution_options(isolation_level="AUTOCOMMIT")  # no implicit BEGIN/COMMIT from the driver
        with conn.begin():
            if sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
            yield conn


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _refuse_half_created(conn: Connection, engine: Engine) -> None:
    """Stop with one readable line on a store that has some of its tables but no schema version.

    Earlier versions created a new SQLite store one table at a time (each CREATE TABLE committed by itself): a
    process stopped during its first open left tables without an ``alembic_version`` row, and every later open
    failed on ``CREATE TABLE``.  Such a store is reported, never repaired here: dropping tables is the user's call."""
    if MigrationContext.configure(conn).get_current_heads():
        return
    from matching.store.schema import metadata  # the store's own tables: others sharing the database are no sign

    present = sorted(set(inspect(conn).get_table_names()) & set(metadata.tables))
    if not present:
        return
    rows = sum(conn.execute(select(func.count()).select_from(table(name))).scalar_one() for name in present)
    if engine.dialect.name == "sqlite":
        remedy = f"delete {engine.url.database} (and its -wal and -shm files, if any) and run the command again"
    else:
        remedy = "drop the database and create it again (or drop those tables), then run the command again"
    held = (
        "Its tables hold no rows, so nothing is lost"
        if rows == 0
        else f"Its tables hold {rows:,} rows: keep a copy, then import the data again into a new store"
    )
    raise StoreError(
        f"the store at {_where(engine)} was left half-created: it has {len(present)} of the store's tables but no "
        f"schema version (no alembic_version row), because the process creating it was stopped part way (earlier "
        f"versions of placement-matching created a new store one table at a time). {held}; to rebuild it, {remedy}"
    )


def _one_line(exc: BaseException) -> str:
    # SQLAlchemy's messages go on with the SQL and its parameters (which may hold a child's data): the first line only.
    first = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {first[0] if first else ''}"


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (creates it on an empty database), all pending migrations in one
    transaction: a failure or a killed process leaves the store as it was before, never part way.

    A store already at the newest migration is only read (no lock is taken, so an import running elsewhere does
    not hold up the open)."""
    cfg = alembic_config(engine)
    try:
        heads = set(ScriptDirectory.from_config(cfg).get_heads())
        with engine.connect() as conn:
            if set(MigrationContext.configure(conn).get_current_heads()) == heads:
                return
        with schema_transaction(engine) as conn:
            _refuse_half_created(conn, engine)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot bring the database at {_where(engine)} up to date: {_one_line(exc)}") from exc


def open_store(url: str | None = None) -> Engine:
    """Engine for the store in force, schema brought up to date."""
    engine = make_engine(url)
    upgrade(engine)
    return engine
