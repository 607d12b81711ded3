"""decisions on referrals and the recommendation snapshots they were made on (issue 20)

A snapshot is what the service showed (ranking, scores, explanations, model and weights versions, data as at),
stored once under the SHA-256 of its canonical JSON; a decision names the officer, the outcome, the reasons
and the snapshot.  Both tables are append-only (triggers refuse UPDATE and DELETE on SQLite and PostgreSQL).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 20:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_APPEND_ONLY = ("recommendation_snapshot", "placement_decision")


def upgrade() -> None:
    op.create_table('recommendation_snapshot',
    sa.Column('sha256', sa.String(length=64), nullable=False, comment='SHA-256 of the canonical JSON of the payload'),
    sa.Column('referral_id', sa.String(length=64), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False, comment='exactly what was shown: ranking, scores, explanations, versions'),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_recommendation_snapshot')),
    comment='What the service showed when a decision was made, immutable (append-only) and addressed by its hash.'
    )
    op.create_index('ix_recommendation_snapshot_referral_id', 'recommendation_snapshot', ['referral_id'], unique=False)
    op.create_table('placement_decision',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('referral_id', sa.String(length=64), nullable=False),
    sa.Column('snapshot_sha256', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False, comment='household_chosen or no_household'),
    sa.Column('household_id', sa.String(length=64), nullable=True),
    sa.Column('best_ranked_household_id', sa.String(length=64), nullable=True, comment='first in the snapshot, if any'),
    sa.Column('departs_from_ranking', sa.Boolean(), nullable=False, comment='not the best-ranked, or not ranked at all'),
    sa.Column('named_officer', sa.Text(), nullable=False, comment='the officer who decided, by name and job title'),
    sa.Column('reason_codes', sa.JSON(), nullable=False),
    sa.Column('reason_text', sa.Text(), nullable=True),
    sa.Column('accepted_warnings', sa.JSON(), nullable=False, comment='warning codes of the chosen household accepted'),
    sa.Column('recorded_by_user_id', sa.Integer(), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['snapshot_sha256'], ['recommendation_snapshot.sha256'], name=op.f('fk_placement_decision_snapshot_sha256_recommendation_snapshot')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_placement_decision')),
    comment='Decisions on referrals by a named officer, each linked to the snapshot of what was shown; append-only (a changed mind is a new decision).'
    )
    op.create_index('ix_placement_decision_referral_id', 'placement_decision', ['referral_id'], unique=False)
    if op.get_context().dialect.name == "sqlite":
        for table in _APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
    else:
        for table in _APPEND_ONLY:  # audit_append_only() is revision 0007's
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
            )


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        for table in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.drop_index("ix_placement_decision_referral_id", table_name="placement_decision")
    op.drop_table("placement_decision")
    op.drop_index("ix_recommendation_snapshot_referral_id", table_name="recommendation_snapshot")
    op.drop_table("recommendation_snapshot")
