"""policy questions, answer feedback and questions forwarded to cadres (issue #3)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('policy_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('question', sa.String(length=1000), nullable=False),
    sa.Column('section_number', sa.Integer(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('answered', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_policy_questions_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_questions'))
    )
    with op.batch_alter_table('policy_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_questions_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_questions_created_at'), ['created_at'], unique=False)

    op.create_table('policy_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('question', sa.String(length=1000), nullable=False),
    sa.Column('section_number', sa.Integer(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_policy_feedback_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['question_id'], ['policy_questions.id'], name=op.f('fk_policy_feedback_question_id_policy_questions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_feedback')),
    sa.UniqueConstraint('question_id', name=op.f('uq_policy_feedback_question_id'))
    )
    with op.batch_alter_table('policy_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_feedback_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_feedback_created_at'), ['created_at'], unique=False)

    op.create_table('cadre_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('cadre_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('policy_question_id', sa.Integer(), nullable=True),
    sa.Column('question', sa.String(length=1000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_by_account_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_cadre_questions_account_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['answered_by_account_id'], ['accounts.id'], name=op.f('fk_cadre_questions_answered_by_account_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['cadre_id'], ['cadres.id'], name=op.f('fk_cadre_questions_cadre_id_cadres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_cadre_questions_household_id_households'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_question_id'], ['policy_questions.id'], name=op.f('fk_cadre_questions_policy_question_id_policy_questions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadre_questions')),
    sa.UniqueConstraint('policy_question_id', name=op.f('uq_cadre_questions_policy_question_id'))
    )
    with op.batch_alter_table('cadre_questions', schema=None) as batch_op:
        batch_op.create_index('ix_cadre_questions_cadre_open', ['cadre_id', 'answered_at'], unique=False)
        batch_op.create_index('ix_cadre_questions_household', ['household_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cadre_questions', schema=None) as batch_op:
        batch_op.drop_index('ix_cadre_questions_household')
        batch_op.drop_index('ix_cadre_questions_cadre_open')

    op.drop_table('cadre_questions')
    with op.batch_alter_table('policy_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_feedback_created_at'))
        batch_op.drop_index(batch_op.f('ix_policy_feedback_account_id'))

    op.drop_table('policy_feedback')
    with op.batch_alter_table('policy_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_questions_created_at'))
        batch_op.drop_index(batch_op.f('ix_policy_questions_account_id'))

    op.drop_table('policy_questions')
