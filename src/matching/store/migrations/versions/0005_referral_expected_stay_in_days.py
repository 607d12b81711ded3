"""referral expected stay in days

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:55:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('referral') as batch:
        batch.add_column(sa.Column('expected_duration_days', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('referral') as batch:
        batch.drop_column('expected_duration_days')
