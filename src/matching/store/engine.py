"""Opening the store: SQLite by default, PostgreSQL through ``DATABASE_URL``; schema by Alembic."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
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


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (see :func:`database_url`) with the SQLite pragmas set on connect."""
    resolved = database_url(url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(resolved, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(resolved, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    cfg = Config()
    # Alembic's options go through configparser interpolation: a literal % (in a path or a
    # password) must be doubled, or every command fails with "invalid interpolation syntax".
    cfg.set_main_option("script_location", str(_HERE / "migrations").replace("%", "%%"))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (creates it on an empty database)."""
    try:
        command.upgrade(alembic_config(engine), "head")
    except Exception as exc:
        raise StoreError(
            f"cannot bring the database at {engine.url.render_as_string(hide_password=True)} up to "
            f"date: {exc.__class__.__name__}: {exc}"
        ) from exc


def open_store(url: str | None = None) -> Engine:
    """Engine for the store in force, schema brought up to date."""
    engine = make_engine(url)
    upgrade(engine)
    return engine
