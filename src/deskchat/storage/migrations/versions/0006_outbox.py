"""email and webhooks: the outbox, webhook endpoints, the request forward address

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('settings') as batch:
        batch.add_column(sa.Column('request_forward_email', sa.String(length=254), nullable=True))
    op.create_table(
        'webhooks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('events', sa.Text(), nullable=False),
        sa.Column('description', sa.String(length=500), nullable=False),
        sa.Column('secret', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks')),
    )
    op.create_table(
        'outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('event', sa.String(length=40), nullable=False),
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('webhook_id', sa.Integer(), nullable=True),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claim', sa.String(length=32), nullable=True),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], name=op.f('fk_outbox_webhook_id_webhooks'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    )
    op.create_index(op.f('ix_outbox_webhook_id'), 'outbox', ['webhook_id'])
    op.create_index('ix_outbox_status_next_attempt_at', 'outbox', ['status', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_index('ix_outbox_status_next_attempt_at', table_name='outbox')
    op.drop_index(op.f('ix_outbox_webhook_id'), table_name='outbox')
    op.drop_table('outbox')
    op.drop_table('webhooks')
    with op.batch_alter_table('settings') as batch:
        batch.drop_column('request_forward_email')
