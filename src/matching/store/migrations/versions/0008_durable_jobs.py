"""durable jobs (issue 17): placeholder, filled by the durable-jobs work

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 17:00:00.000000
"""

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
