"""desk operations: capacity, auto-assign, whispers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('technicians') as batch:
        batch.add_column(sa.Column('max_chats', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('open_chats', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('last_assigned_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE technicians SET open_chats = (SELECT count(*) FROM chat_participants cp "
        "JOIN chats c ON c.id = cp.chat_id WHERE cp.technician_id = technicians.id "
        "AND cp.left_at IS NULL AND c.state = 'active')")
    with op.batch_alter_table('chats') as batch:
        batch.add_column(sa.Column('first_group_id', sa.Integer(), nullable=True))
    op.execute("UPDATE chats SET first_group_id = group_id")
    with op.batch_alter_table('groups') as batch:
        batch.add_column(sa.Column('routing', sa.String(length=20), nullable=False, server_default='broadcast'))
    op.create_table(
        'whispers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('chat_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=True),
        sa.Column('author_name', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_whispers_chat_id_chats'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['author_id'], ['technicians.id'], name=op.f('fk_whispers_author_id_technicians'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_whispers')),
    )
    op.create_index(op.f('ix_whispers_chat_id'), 'whispers', ['chat_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_whispers_chat_id'), table_name='whispers')
    op.drop_table('whispers')
    with op.batch_alter_table('groups') as batch:
        batch.drop_column('routing')
    with op.batch_alter_table('chats') as batch:
        batch.drop_column('first_group_id')
    with op.batch_alter_table('technicians') as batch:
        batch.drop_column('last_assigned_at')
        batch.drop_column('open_chats')
        batch.drop_column('max_chats')
