"""accounts, credentials and the access audit trail (issue 16)

User accounts (role and remit, argon2id password hash), bearer tokens and page sessions (stored as
SHA-256 hashes only), failed sign-ins for throttling, and the append-only audit trail: entries chained
by SHA-256, an index by child, and a one-row head that appends lock and verify checks.  Triggers refuse
UPDATE and DELETE on the audit entries and their index, on both engines.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
_APPEND_ONLY = ("audit_entry", "audit_child")


def upgrade() -> None:
    op.create_table('audit_entry',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False, comment='1, 2, 3, ... without gaps'),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True, comment='none for a system job'),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.Column('action', sa.String(length=200), nullable=False, comment='what was done, or the route'),
    sa.Column('detail', sa.Text(), nullable=True, comment="what it was done to, other than children (never a child's data)"),
    sa.Column('child_ids', sa.JSON(), nullable=False, comment='the children whose records were touched'),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('prev_sha256', sa.String(length=64), nullable=False),
    sa.Column('entry_sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_entry')),
    sa.UniqueConstraint('entry_sha256', name=op.f('uq_audit_entry_entry_sha256')),
    comment='Append-only audit trail of access; each entry chained to the previous by SHA-256.'
    )
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('entry_sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head')),
    comment="The audit trail's last entry (one row): appends lock it, verify checks no tail was cut."
    )
    op.create_table('sign_in_failure',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False, comment='as typed (lower case), known or not'),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failure')),
    comment='Failed sign-ins, for throttling per account and per address (older rows are pruned).'
    )
    op.create_index('ix_sign_in_failure_address_at', 'sign_in_failure', ['address', 'at'], unique=False)
    op.create_index('ix_sign_in_failure_username_at', 'sign_in_failure', ['username', 'at'], unique=False)
    op.create_table('user_account',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False, comment='lower case; how the person signs in'),
    sa.Column('display_name', sa.Text(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False, comment='matching.access.Role code'),
    sa.Column('la_codes', sa.JSON(), nullable=False, comment='remit: local authorities whose children they may see'),
    sa.Column('agency_codes', sa.JSON(), nullable=False, comment='remit: agencies whose households they may see'),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=True, comment='argon2id; none for single sign-on only accounts'),
    sa.Column('external_id', sa.String(length=255), nullable=True, comment='single sign-on subject (issuer|id)'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('external_id', name=op.f('uq_user_account_external_id')),
    sa.UniqueConstraint('username', name=op.f('uq_user_account_username')),
    comment="People who may sign in: role and remit (never a child's data)."
    )
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False, comment='the token itself is never stored'),
    sa.Column('scopes', sa.JSON(), nullable=False, comment="permission codes, a subset of the role's"),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_api_token_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_api_token_token_sha256')),
    comment='Bearer tokens for API clients, stored as SHA-256 hashes.'
    )
    op.create_index('ix_api_token_user_id', 'api_token', ['user_id'], unique=False)
    op.create_table('audit_child',
    sa.Column('child_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['seq'], ['audit_entry.seq'], name=op.f('fk_audit_child_seq_audit_entry')),
    sa.PrimaryKeyConstraint('child_id', 'seq', name=op.f('pk_audit_child')),
    comment='Index of the audit trail by child (checked against the chained entries by verify).'
    )
    op.create_table('web_session',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('session_sha256', sa.String(length=64), nullable=False, comment='the cookie value is never stored'),
    sa.Column('method', sa.String(length=16), nullable=False, comment='how they signed in: password or oidc'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_web_session_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_session')),
    sa.UniqueConstraint('session_sha256', name=op.f('uq_web_session_session_sha256')),
    comment='Signed-in sessions of the pages (server side; idle and absolute timeouts).'
    )
    op.create_index('ix_web_session_user_id', 'web_session', ['user_id'], unique=False)

    op.execute(f"INSERT INTO audit_head (id, seq, entry_sha256) VALUES (1, 0, '{GENESIS}')")
    if op.get_context().dialect.name == "sqlite":
        for table in _APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
    else:
        op.execute(
            "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in _APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
            )


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        for table in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION audit_append_only()")
    # SQLite drops a table's triggers with it
    op.drop_index("ix_web_session_user_id", table_name="web_session")
    op.drop_table("web_session")
    op.drop_table("audit_child")
    op.drop_index("ix_api_token_user_id", table_name="api_token")
    op.drop_table("api_token")
    op.drop_table("user_account")
    op.drop_index("ix_sign_in_failure_username_at", table_name="sign_in_failure")
    op.drop_index("ix_sign_in_failure_address_at", table_name="sign_in_failure")
    op.drop_table("sign_in_failure")
    op.drop_table("audit_head")
    op.drop_table("audit_entry")
