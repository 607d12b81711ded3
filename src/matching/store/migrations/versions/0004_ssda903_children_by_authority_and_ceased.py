"""SSDA903 children identified by (authority, CHILD); children who ceased to be looked after

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:00:00

``ssda903_child`` maps an authority's SSDA903 CHILD to the store's child, so two authorities'
returns that share CHILD ids never meet. Children already imported from a 903 return (their
placements carry ``-903-`` ids) are mapped to themselves under the authority they are stored
with. ``child.ceased`` and ``child.reason_ceased`` record a child who ceased to be looked after.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ssda903_child',
    sa.Column('la_code', sa.String(length=64), nullable=False),
    sa.Column('child', sa.String(length=64), nullable=False, comment='SSDA903 CHILD, unique only within its authority'),
    sa.Column('child_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['child_id'], ['child.child_id'], name=op.f('fk_ssda903_child_child_id_child')),
    sa.ForeignKeyConstraint(['la_code'], ['local_authority.la_code'], name=op.f('fk_ssda903_child_la_code_local_authority')),
    sa.PrimaryKeyConstraint('la_code', 'child', name=op.f('pk_ssda903_child')),
    sa.UniqueConstraint('child_id', name=op.f('uq_ssda903_child_child_id')),
    comment='Which store child an authority\'s SSDA903 CHILD is: a child from a 903 return is identified by (authority, CHILD), so two authorities\' children never meet.'
    )
    with op.batch_alter_table('child') as batch_op:
        batch_op.add_column(sa.Column('ceased', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('reason_ceased', sa.String(length=64), nullable=True))
    op.execute(
        "INSERT INTO ssda903_child (la_code, child, child_id) "
        "SELECT c.la_code, c.child_id, c.child_id FROM child c WHERE EXISTS "
        "(SELECT 1 FROM placement p WHERE p.child_id = c.child_id AND p.placement_id LIKE '%-903-%')"
    )


def downgrade() -> None:
    op.drop_table('ssda903_child')
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of child would break the tables that refer to it
    op.drop_column('child', 'reason_ceased')
    op.drop_column('child', 'ceased')
