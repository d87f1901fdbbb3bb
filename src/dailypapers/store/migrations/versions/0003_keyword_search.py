"""Keyword search indexes: SQLite FTS5 over papers (kept by triggers), a PostgreSQL GIN index on a
weighted tsvector expression, and lower(title) for exact-title matches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Keep in step with dailypapers.search.keyword (PG_DOCUMENT, FTS5 layout).
PG_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, abstract), 'B') || "
    "setweight(jsonb_to_tsvector('simple'::regconfig, authors, '[\"string\"]'::jsonb), 'C')"
)

SQLITE_UP = [
    # External content: the text lives once, in papers; FTS5 keeps only the index (rowid = papers.rowid).
    "CREATE VIRTUAL TABLE papers_fts USING fts5(title, abstract, authors, content='papers', "
    "content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN "
    "INSERT INTO papers_fts(rowid, title, abstract, authors) VALUES (new.rowid, new.title, new.abstract, new.authors); END",
    "CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN "
    "INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors) "
    "VALUES ('delete', old.rowid, old.title, old.abstract, old.authors); END",
    "CREATE TRIGGER papers_fts_update AFTER UPDATE OF title, abstract, authors ON papers BEGIN "
    "INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors) "
    "VALUES ('delete', old.rowid, old.title, old.abstract, old.authors); "
    "INSERT INTO papers_fts(rowid, title, abstract, authors) VALUES (new.rowid, new.title, new.abstract, new.authors); END",
    "INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    op.execute("CREATE INDEX ix_papers_title_lower ON papers (lower(title))")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_papers_search ON papers USING GIN (({PG_DOCUMENT}))")
    else:
        for statement in SQLITE_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_papers_search")
    else:
        for trigger in ("papers_fts_insert", "papers_fts_delete", "papers_fts_update"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE papers_fts")
    op.execute("DROP INDEX ix_papers_title_lower")
