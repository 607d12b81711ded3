"""Alembic environment: runs migrations on the connection or engine handed in by ``matching.store.engine``.

Every pending migration runs inside one transaction (``schema_transaction``), on SQLite as on PostgreSQL: a
failure or a killed process leaves the store at the revision it had, with none of the new tables, never part
way.  A migration therefore must not commit by itself (no ``autocommit_block``, no ``COMMIT`` in ``op.execute``);
on SQLite, ``PRAGMA foreign_keys`` cannot change inside a transaction, so batch operations that recreate a table
must not rely on turning it off.
"""

from __future__ import annotations

from alembic import context

from matching.store.engine import make_engine, schema_transaction
from matching.store.schema import metadata

config = context.config
target_metadata = metadata


def run_migrations_offline() -> None:
    """Emit SQL without a connection (between BEGIN and COMMIT on both engines)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: object) -> None:
    # The connection is already inside its transaction: Alembic leaves it alone and the caller commits.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        transactional_ddl=True,
    )
    context.run_migrations()


def run_migrations_online() -> None:
    """Run on the connection given in the config attributes, else in a schema transaction of our own."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = config.attributes.get("engine") or make_engine(config.get_main_option("sqlalchemy.url"))
    with schema_transaction(engine) as conn:
        _run(conn)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
