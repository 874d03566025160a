"""accounts: deactivation, token use, installation id

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 00:50:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('technicians') as batch:
        batch.add_column(sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('tokens') as batch:
        batch.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_index('ix_tokens_technician_id', ['technician_id'])
    with op.batch_alter_table('settings') as batch:
        batch.add_column(sa.Column('installation_id', sa.String(length=32), nullable=True))
    # Made once, here: every process of this installation reads the same id from the database.
    op.execute(sa.text("UPDATE settings SET installation_id = :iid WHERE id = 1")
               .bindparams(iid=secrets.token_hex(8)))


def downgrade() -> None:
    with op.batch_alter_table('settings') as batch:
        batch.drop_column('installation_id')
    with op.batch_alter_table('tokens') as batch:
        batch.drop_index('ix_tokens_technician_id')
        batch.drop_column('last_used_at')
    with op.batch_alter_table('technicians') as batch:
        batch.drop_column('active')
