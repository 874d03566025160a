"""sign-ins in progress: OpenID Connect state, nonce and PKCE verifier, taken once

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sign_in_states',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_states')),
    )
    op.create_index(op.f('ix_sign_in_states_expires_at'), 'sign_in_states', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sign_in_states_expires_at'), table_name='sign_in_states')
    op.drop_table('sign_in_states')
