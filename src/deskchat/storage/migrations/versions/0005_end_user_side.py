"""the end user's side: opening hours, ratings, attachments

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('groups') as batch:
        batch.add_column(sa.Column('business_hours', sa.Text(), nullable=True))
    with op.batch_alter_table('chats') as batch:
        batch.add_column(sa.Column('rating_score', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('rating_comment', sa.Text(), nullable=True))
        batch.add_column(sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_chats_group_id_state_created_at', 'chats', ['group_id', 'state', 'created_at'])
    op.create_table(
        'attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('chat_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_attachments_chat_id_chats'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments')),
    )
    op.create_index(op.f('ix_attachments_chat_id'), 'attachments', ['chat_id'])
    op.create_table(
        'attachment_chunks',
        sa.Column('attachment_id', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['attachment_id'], ['attachments.id'],
                                name=op.f('fk_attachment_chunks_attachment_id_attachments'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('attachment_id', 'n', name=op.f('pk_attachment_chunks')),
    )
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('attachment_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('attachment_type', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('attachment_size', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_messages_attachment_id_attachments'), 'attachments',
                                 ['attachment_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_constraint(op.f('fk_messages_attachment_id_attachments'), type_='foreignkey')
        batch.drop_column('attachment_size')
        batch.drop_column('attachment_type')
        batch.drop_column('attachment_id')
    op.drop_table('attachment_chunks')
    op.drop_index(op.f('ix_attachments_chat_id'), table_name='attachments')
    op.drop_table('attachments')
    op.drop_index('ix_chats_group_id_state_created_at', table_name='chats')
    with op.batch_alter_table('chats') as batch:
        batch.drop_column('rated_at')
        batch.drop_column('rating_comment')
        batch.drop_column('rating_score')
    with op.batch_alter_table('groups') as batch:
        batch.drop_column('business_hours')
