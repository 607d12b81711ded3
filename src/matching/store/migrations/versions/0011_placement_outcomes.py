"""placement outcomes: what happened after a decision (issue 20)

A placement chosen by a decision started (a date), ended (a date and an SSDA903 REC reason), or never started
(why).  Append-only like the decisions (triggers refuse UPDATE and DELETE on SQLite and PostgreSQL): a correction
is a new row of the same kind, which supersedes the earlier.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 21:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TABLE = "placement_outcome"


def upgrade() -> None:
    op.create_table('placement_outcome',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False, comment='started, ended or not_started'),
    sa.Column('on_date', sa.Date(), nullable=False, comment='the day the placement started or ended, or was given up'),
    sa.Column('reason_code', sa.String(length=32), nullable=True, comment='ended: an SSDA903 REC code; not_started: why'),
    sa.Column('reason_text', sa.Text(), nullable=True),
    sa.Column('recorded_by_user_id', sa.Integer(), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['placement_decision.id'], name=op.f('fk_placement_outcome_decision_id_placement_decision')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_placement_outcome')),
    comment='What happened after a decision: the placement started, ended, or never started; append-only (a correction is a new row of the same kind, which supersedes the earlier).'
    )
    op.create_index('ix_placement_outcome_decision_id', 'placement_outcome', ['decision_id'], unique=False)
    if op.get_context().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {_TABLE}_no_{verb.lower()} BEFORE {verb} ON {_TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{_TABLE} is append-only'); END"
            )
    else:  # audit_append_only() is revision 0007's
        op.execute(
            f"CREATE TRIGGER {_TABLE}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {_TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        op.execute(f"DROP TRIGGER {_TABLE}_append_only ON {_TABLE}")
    op.drop_index("ix_placement_outcome_decision_id", table_name="placement_outcome")
    op.drop_table("placement_outcome")
