"""cadre work: cadence columns, visit confirmation, hardship requests, fsm records (issue 4)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('fsm_records',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=200), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_fsm_records'))
    )
    op.create_table('hardship_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('cadre_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.Enum('illness', 'disaster', 'job_loss', 'school_costs', 'housing_damage', 'other', name='hardshipcategory', native_enum=False, length=24), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('photo_file_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ack_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cadre_id'], ['cadres.id'], name=op.f('fk_hardship_requests_cadre_id_cadres'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_hardship_requests_household_id_households'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hardship_requests'))
    )
    with op.batch_alter_table('hardship_requests', schema=None) as batch_op:
        batch_op.create_index('ix_hardship_ack_due', ['ack_due_at', 'acknowledged_at'], unique=False)
        batch_op.create_index('ix_hardship_cadre_open', ['cadre_id', 'resolved_at'], unique=False)
        batch_op.create_index('ix_hardship_outcome_due', ['outcome_due_at', 'resolved_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_hardship_requests_household_id'), ['household_id'], unique=False)

    with op.batch_alter_table('cadres', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leader_village_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_cadres_leader_village_id_regions'), 'regions', ['leader_village_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.String(length=64), nullable=False, server_default='import'))
        batch_op.add_column(sa.Column('completed_by', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_milestones_household_due', ['household_id', 'due_date'], unique=False)

    with op.batch_alter_table('pairings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_visit_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('next_visit_due', sa.Date(), nullable=True))
        batch_op.create_index('ix_pairings_cadre_due', ['cadre_id', 'next_visit_due'], unique=False)
        batch_op.create_index('ix_pairings_open_due', ['next_visit_due'], unique=False, sqlite_where=sa.text('end_date IS NULL'), postgresql_where=sa.text('end_date IS NULL'))

    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirm_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_visits_confirmation_due', ['confirmation', 'confirm_due_at'], unique=False)
        batch_op.create_index('ix_visits_flagged', ['flagged', 'flagged_at'], unique=False)



def downgrade() -> None:
    # recreate='never' where SQLite >= 3.35 can drop the columns natively (their indexes go
    # first): no "move and copy" of visits, pairings and milestones. cadres.leader_village_id
    # is named in a FOREIGN KEY constraint, which SQLite cannot drop in place: that table is
    # recreated, which is safe only because storage/migrations/env.py runs migrations with
    # foreign keys off on SQLite (a DROP TABLE cadres would otherwise fire ON DELETE actions).
    with op.batch_alter_table('visits', schema=None, recreate='never') as batch_op:
        batch_op.drop_index('ix_visits_flagged')
        batch_op.drop_index('ix_visits_confirmation_due')
        batch_op.drop_column('flagged_at')
        batch_op.drop_column('confirm_due_at')

    with op.batch_alter_table('pairings', schema=None, recreate='never') as batch_op:
        batch_op.drop_index('ix_pairings_open_due', sqlite_where=sa.text('end_date IS NULL'), postgresql_where=sa.text('end_date IS NULL'))
        batch_op.drop_index('ix_pairings_cadre_due')
        batch_op.drop_column('next_visit_due')
        batch_op.drop_column('last_visit_on')

    with op.batch_alter_table('milestones', schema=None, recreate='never') as batch_op:
        batch_op.drop_index('ix_milestones_household_due')
        batch_op.drop_column('completed_by')
        batch_op.drop_column('created_by')

    with op.batch_alter_table('cadres', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cadres_leader_village_id_regions'), type_='foreignkey')
        batch_op.drop_column('leader_village_id')

    with op.batch_alter_table('hardship_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hardship_requests_household_id'))
        batch_op.drop_index('ix_hardship_outcome_due')
        batch_op.drop_index('ix_hardship_cadre_open')
        batch_op.drop_index('ix_hardship_ack_due')

    op.drop_table('hardship_requests')
    op.drop_table('fsm_records')
