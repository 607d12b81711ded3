"""durable jobs (issue 17)

Allocation and sufficiency jobs in the store instead of one process's memory: who started them, over
which area, with what parameters, their state and progress, the result and when it expires.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 17:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job',
    sa.Column('id', sa.String(length=32), nullable=False, comment="random hex: what the API calls the job's id"),
    sa.Column('kind', sa.String(length=32), nullable=False, comment='allocation or sufficiency'),
    sa.Column('owner_id', sa.Integer(), nullable=False, comment='who started it'),
    sa.Column('owner_username', sa.String(length=64), nullable=False),
    sa.Column('area', sa.JSON(), nullable=False, comment='the authorities it covers: readable while they are in remit'),
    sa.Column('parameters', sa.JSON(), nullable=False, comment='what to run (the request, the scope it was allowed)'),
    sa.Column('direct', sa.Boolean(), nullable=False, comment='an answer a request is waiting for (not kept)'),
    sa.Column('state', sa.String(length=16), nullable=False, comment='queued, running, done, failed, cancelled, interrupted'),
    sa.Column('progress', sa.Integer(), nullable=False, comment='percent'),
    sa.Column('stage', sa.String(length=200), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True, comment='when done; deleted with the job when it expires'),
    sa.Column('error', sa.Text(), nullable=True, comment='why it failed, in plain words (never the input)'),
    sa.Column('runner', sa.String(length=200), nullable=True, comment='the process running it (host:pid:token)'),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True, comment='its runner was last alive'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True, comment='deleted after this (set when it ends)'),
    sa.ForeignKeyConstraint(['owner_id'], ['user_account.id'], name=op.f('fk_job_owner_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
    comment='Long work behind the API (allocation and sufficiency jobs): queued, run, and kept until they expire.'
    )
    op.create_index('ix_job_expires_at', 'job', ['expires_at'], unique=False)
    op.create_index('ix_job_owner_id_state', 'job', ['owner_id', 'state'], unique=False)
    op.create_index('ix_job_state_created_at', 'job', ['state', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_job_state_created_at', table_name='job')
    op.drop_index('ix_job_owner_id_state', table_name='job')
    op.drop_index('ix_job_expires_at', table_name='job')
    op.drop_table('job')
