"""referrals as the service's records: history, sending, carers' answers, 'will not consider' suggestions and
placement plans; outcomes read from an SSDA903 import (issue 20)

referral_history, referral_sent, carer_answer and placement_plan are append-only (triggers refuse UPDATE and
DELETE on SQLite and PostgreSQL); a suggestion's state moves once from pending.  placement_outcome gains
``source`` (recorded or ssda903) and a nullable ``recorded_by_user_id`` (an import has no signed-in user).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 23:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_APPEND_ONLY = ("referral_history", "referral_sent", "carer_answer", "placement_plan")


def _guard(table: str, sqlite: bool) -> None:
    if sqlite:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    else:  # audit_append_only() is revision 0007's
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )


def _unguard(table: str, sqlite: bool) -> None:
    if sqlite:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")


def upgrade() -> None:
    sqlite = op.get_context().dialect.name == "sqlite"
    op.create_table('referral_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('referral_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False, comment='created, updated or status'),
    sa.Column('status_from', sa.String(length=16), nullable=True),
    sa.Column('status_to', sa.String(length=16), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False, comment='names of the fields changed (never their values)'),
    sa.Column('reason_code', sa.String(length=32), nullable=True, comment='why the status changed (a code)'),
    sa.Column('changed_by_user_id', sa.Integer(), nullable=True, comment='None for an import or a system job'),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_history')),
    comment='Who created a referral, changed it or moved its status, and when; append-only.'
    )
    op.create_index('ix_referral_history_referral_id', 'referral_history', ['referral_id'], unique=False)
    op.create_table('referral_sent',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('referral_id', sa.String(length=64), nullable=False),
    sa.Column('agency_code', sa.String(length=64), nullable=False),
    sa.Column('suitable_households', sa.Integer(), nullable=False, comment='households of the service ranked when sent'),
    sa.Column('sent_by_user_id', sa.Integer(), nullable=False),
    sa.Column('sent_by', sa.String(length=64), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_code'], ['agency.agency_code'], name=op.f('fk_referral_sent_agency_code_agency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_sent')),
    comment='A referral sent to a fostering service (in-house or an agency); append-only, once per service.'
    )
    op.create_index('ix_referral_sent_referral_id', 'referral_sent', ['referral_id'], unique=False)
    op.create_index('ix_referral_sent_agency_code', 'referral_sent', ['agency_code'], unique=False)
    op.create_table('carer_answer',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('referral_id', sa.String(length=64), nullable=False),
    sa.Column('household_id', sa.String(length=64), nullable=False),
    sa.Column('agency_code', sa.String(length=64), nullable=False),
    sa.Column('answer', sa.String(length=24), nullable=False, comment='agreed (an offer), more_information or declined'),
    sa.Column('reason_code', sa.String(length=32), nullable=True, comment='declined: a reason from the list'),
    sa.Column('reason_text', sa.Text(), nullable=True),
    sa.Column('recorded_by_user_id', sa.Integer(), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.household_id'], name=op.f('fk_carer_answer_household_id_household')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carer_answer')),
    comment="A carer household's answer to a referral sent to its service (agreed to be put forward = an offer); append-only, the latest answer of a household stands."
    )
    op.create_index('ix_carer_answer_referral_id', 'carer_answer', ['referral_id'], unique=False)
    op.create_table('will_not_consider_suggestion',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('household_id', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False, comment='need or risk code to add to will_not_consider'),
    sa.Column('answer_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False, comment='pending, confirmed or rejected'),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['answer_id'], ['carer_answer.id'], name=op.f('fk_will_not_consider_suggestion_answer_id_carer_answer')),
    sa.ForeignKeyConstraint(['household_id'], ['household.household_id'], name=op.f('fk_will_not_consider_suggestion_household_id_household')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_will_not_consider_suggestion')),
    comment="A decline that names a need, offered to the fostering service as an addition to the carers' 'will not consider' list; applied only when the service confirms it."
    )
    op.create_index('ix_will_not_consider_suggestion_household_id', 'will_not_consider_suggestion', ['household_id'], unique=False)
    op.create_table('placement_plan',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False, comment='draft or agreed'),
    sa.Column('sections', sa.JSON(), nullable=False, comment="the plan's sections, as written"),
    sa.Column('edited_by_user_id', sa.Integer(), nullable=True, comment='None for the generated first draft'),
    sa.Column('edited_by', sa.String(length=64), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['placement_decision.id'], name=op.f('fk_placement_plan_decision_id_placement_decision')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_placement_plan')),
    comment='The placement plan drafted from a decision (Care Planning Regulations 2010 reg 9; Fostering NMS 15): each edit is a new version, append-only; an agreed version is final.'
    )
    op.create_index('ix_placement_plan_decision_id', 'placement_plan', ['decision_id'], unique=False)
    for table in _APPEND_ONLY:
        _guard(table, sqlite)

    # placement_outcome: an SSDA903 import records outcomes without a signed-in user.
    _unguard("placement_outcome", sqlite)
    with op.batch_alter_table("placement_outcome") as batch:
        batch.alter_column(
            "recorded_by_user_id",
            existing_type=sa.Integer(),
            nullable=True,
            comment="None when read from an SSDA903 import",
        )
        batch.add_column(
            sa.Column(
                "source",
                sa.String(length=16),
                nullable=False,
                server_default="recorded",
                comment="recorded or ssda903",
            )
        )
    _guard("placement_outcome", sqlite)


def downgrade() -> None:
    sqlite = op.get_context().dialect.name == "sqlite"
    _unguard("placement_outcome", sqlite)
    with op.batch_alter_table("placement_outcome") as batch:
        batch.drop_column("source")
        batch.alter_column("recorded_by_user_id", existing_type=sa.Integer(), nullable=False, comment=None)
    _guard("placement_outcome", sqlite)
    for table in reversed(_APPEND_ONLY):
        _unguard(table, sqlite)
    for table in ("placement_plan", "will_not_consider_suggestion", "carer_answer", "referral_sent", "referral_history"):
        for index in [i["name"] for i in sa.inspect(op.get_bind()).get_indexes(table)]:
            op.drop_index(index, table_name=table)
        op.drop_table(table)
