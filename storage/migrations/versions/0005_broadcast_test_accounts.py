"""broadcast test accounts: accounts.username, broadcasts.test_account_ids (issue 5)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('username', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_accounts_username'), ['username'], unique=False)

    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('test_account_ids', sa.JSON(), nullable=True))


def downgrade() -> None:
    # recreate='never': on SQLite a batch "move and copy" drops and recreates the table, and
    # with foreign keys on that DROP fires the ON DELETE actions of the referencing tables
    # (the outbox rows and policy questions of every account were deleted). SQLite >= 3.35
    # drops these columns natively once their index is gone.
    with op.batch_alter_table('broadcasts', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('test_account_ids')

    with op.batch_alter_table('accounts', schema=None, recreate='never') as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_username'))
        batch_op.drop_column('username')
