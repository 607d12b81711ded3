"""trusted model artefacts (issue 17)

The digests of model artefacts this store trusts to be unpickled (``matching train`` and
``matching models trust`` record them, ``matching models revoke`` withdraws them), so that a
model is never loaded on the word of a MANIFEST kept beside it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 17:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('trusted_model_artefact',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False, comment='stability or step_down'),
    sa.Column('version', sa.String(length=100), nullable=False),
    sa.Column('model_sha256', sa.String(length=64), nullable=False, comment='SHA-256 of model.joblib, the file unpickled'),
    sa.Column('metadata_sha256', sa.String(length=64), nullable=False, comment='SHA-256 of metadata.json'),
    sa.Column('trusted_by', sa.String(length=64), nullable=False),
    sa.Column('trusted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True, comment='how: trained from this store, or trusted from a folder'),
    sa.Column('revoked_by', sa.String(length=64), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True, comment='once set, never cleared'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trusted_model_artefact')),
    comment='Model artefacts this store trusts to be unpickled, by digest: recorded by `matching train` and `matching models trust`, never read from the models folder itself.'
    )
    op.create_index('ix_trusted_model_artefact_model_sha256', 'trusted_model_artefact', ['model_sha256'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_trusted_model_artefact_model_sha256', table_name='trusted_model_artefact')
    op.drop_table('trusted_model_artefact')
