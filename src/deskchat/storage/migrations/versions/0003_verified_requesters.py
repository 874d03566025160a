"""verified requesters: one per verified email

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('requesters') as batch:
        batch.add_column(sa.Column('verified', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index('uq_requesters_verified_email', 'requesters', [sa.text('lower(email)')], unique=True,
                    sqlite_where=sa.text('verified'), postgresql_where=sa.text('verified'))


def downgrade() -> None:
    op.drop_index('uq_requesters_verified_email', 'requesters')
    with op.batch_alter_table('requesters') as batch:
        batch.drop_column('verified')
