"""child needs keep their dated history

A need may be rated again at a later assessment: the primary key (child_id, need) becomes a history
keyed by (child_id, need, assessed_on).  The date stays optional in the contract, so the table has
no primary key; the contract checks the key and an index on child_id serves the lookups.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 14:00:00.000000
"""

from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


_NEW = "The child's assessed needs, with their history: one row per need domain and assessment date. The latest rating of each need (by `assessed_on`) is the one in force; a rating of 0 records that a need rated before has gone. Undated ratings count as older than any dated one and are never read as in force on a past date."
_OLD = "The child's assessed needs profile: one row per need domain rated above 0."


def upgrade() -> None:
    with op.batch_alter_table("child_need", recreate="always") as batch:
        batch.drop_constraint("pk_child_need", type_="primary")
    op.create_index("ix_child_need_child_id", "child_need", ["child_id"])
    if op.get_context().dialect.name != "sqlite":  # SQLite keeps no table comments
        op.create_table_comment("child_need", _NEW, existing_comment=_OLD)


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        op.create_table_comment("child_need", _OLD, existing_comment=_NEW)
    op.drop_index("ix_child_need_child_id", table_name="child_need")
    with op.batch_alter_table("child_need", recreate="always") as batch:
        batch.create_primary_key("pk_child_need", ["child_id", "need"])
