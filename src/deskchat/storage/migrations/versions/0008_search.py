"""search: documents, SQLite FTS5 (external content, triggers) or a PostgreSQL tsvector with a GIN index

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='search_documents', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
    "INSERT INTO search_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO search_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
]


def upgrade() -> None:
    with op.batch_alter_table('chats') as batch:
        batch.add_column(sa.Column('indexed_seq', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('requests') as batch:
        batch.add_column(sa.Column('content_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('indexed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'search_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('ref_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_search_documents')),
        sa.UniqueConstraint('kind', 'ref_id', name='uq_search_documents_kind_ref_id'),
    )
    # what the indexer still has to do: found through partial indexes, not a scan of every chat
    op.create_index('ix_chats_unindexed', 'chats', ['id'], sqlite_where=sa.text('last_seq > indexed_seq'),
                    postgresql_where=sa.text('last_seq > indexed_seq'))
    op.create_index('ix_requests_unindexed', 'requests', ['id'],
                    sqlite_where=sa.text('indexed_at IS NULL OR indexed_at < content_changed_at'),
                    postgresql_where=sa.text('indexed_at IS NULL OR indexed_at < content_changed_at'))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE search_documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
                   "(setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')) "
                   "STORED")
        op.execute("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)")
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_search_documents_tsv")
    else:
        for name in ('search_documents_au', 'search_documents_ad', 'search_documents_ai'):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_index('ix_requests_unindexed', table_name='requests')
    op.drop_index('ix_chats_unindexed', table_name='chats')
    op.drop_table('search_documents')
    with op.batch_alter_table('requests') as batch:
        batch.drop_column('indexed_at')
        batch.drop_column('content_changed_at')
    with op.batch_alter_table('chats') as batch:
        batch.drop_column('indexed_seq')
