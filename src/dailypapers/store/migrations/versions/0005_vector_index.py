"""Vector index support: a change counter on paper_embeddings, and pgvector on PostgreSQL.

- `seq`: every write of vectors stamps its rows with the next value of a per-table counter, so a
  process holding an in-memory index asks "max(seq) for this model" (an index lookup) to know whether
  anything changed, and loads only the rows after the seq it has.
- PostgreSQL: when the pgvector extension can be created here, an `embedding vector` column (no fixed
  dimension: one partial HNSW index per model is made by `dailypapers embed`, see
  dailypapers.search.pgvector). Without the extension (not installed, or no right to create it) the
  column is left out and search uses the in-process index; `dailypapers embed` adds it later once
  the extension exists.
- PostgreSQL: the weighted search document becomes a stored generated column `papers.search_vector`
  (GIN-indexed, replacing 0003's expression index): ranking reads it instead of parsing each matching
  paper's text again, which made any-word queries take seconds on 100,000 papers; and a GIN index on
  the title's tsvector (`title:` words, and hybrid search's queries of common words only).
- `maintenance`: long operations that leave the database in a special state until they end (the
  keyword-index triggers suspended by a bulk import, search.bulk), so a killed one is repaired.
- SQLite: `papers_fts_vocab`, FTS5's vocabulary of the keyword index (papers per term), from which
  hybrid search learns which words are common; and `papers_title_fts`, an FTS5 index of titles alone
  (kept by triggers like papers_fts), which it searches when every word of a query is common.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import logging

import sqlalchemy as sa
import sqlalchemy.dialects.postgresql
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

log = logging.getLogger("dailypapers.migrations")

# Frozen here as they were at this revision (a migration never imports the live code, which moves on).
# The weighted search document of PostgreSQL (dailypapers.search.keyword.PG_DOCUMENT at revision 0005).
PG_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, abstract), 'B') || "
    "setweight(jsonb_to_tsvector('simple'::regconfig, authors, '[\"string\"]'::jsonb), 'C')"
)

SQLITE_UP = [
    "CREATE VIRTUAL TABLE papers_fts_vocab USING fts5vocab(papers_fts, 'row')",
    "CREATE VIRTUAL TABLE papers_title_fts USING fts5(title, content='papers', content_rowid='rowid', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER papers_title_fts_insert AFTER INSERT ON papers BEGIN "
    "INSERT INTO papers_title_fts(rowid, title) VALUES (new.rowid, new.title); END",
    "CREATE TRIGGER papers_title_fts_delete AFTER DELETE ON papers BEGIN "
    "INSERT INTO papers_title_fts(papers_title_fts, rowid, title) VALUES ('delete', old.rowid, old.title); END",
    "CREATE TRIGGER papers_title_fts_update AFTER UPDATE OF title ON papers BEGIN "
    "INSERT INTO papers_title_fts(papers_title_fts, rowid, title) VALUES ('delete', old.rowid, old.title); "
    "INSERT INTO papers_title_fts(rowid, title) VALUES (new.rowid, new.title); END",
    "INSERT INTO papers_title_fts(papers_title_fts) VALUES ('rebuild')",
]


def _has_pgvector_column(conn: sa.Connection) -> bool:
    return bool(
        conn.exec_driver_sql(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'paper_embeddings' "
            "AND column_name = 'embedding' AND table_schema = current_schema()"
        ).first()
    )


def _ensure_pgvector(conn: sa.Connection) -> bool:
    """Create the extension and the column when the server has pgvector; False when it cannot be used
    (not installed, or this role may not create it). Never leaves the transaction failed. (What
    dailypapers.search.pgvector.ensure_pgvector did at this revision.)"""
    if _has_pgvector_column(conn):
        return True
    if not conn.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").first():
        return False
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
            conn.exec_driver_sql("ALTER TABLE paper_embeddings ADD COLUMN IF NOT EXISTS embedding vector")
    except sa.exc.DBAPIError as exc:
        log.warning("cannot enable pgvector (%s)", str(exc.orig).strip().splitlines()[0])
        return False
    return True


def upgrade() -> None:
    op.create_table(
        "maintenance",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column(
            "data", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_maintenance"),
    )
    op.add_column("paper_embeddings", sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"))
    op.create_index("ix_paper_embeddings_model_seq", "paper_embeddings", ["model", "seq"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    if bind.dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE papers ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({PG_DOCUMENT}) STORED"
        )
        op.execute("CREATE INDEX ix_papers_search_vector ON papers USING GIN (search_vector)")
        op.execute("DROP INDEX ix_papers_search")
        op.execute(
            "CREATE INDEX ix_papers_title_search ON papers USING GIN (to_tsvector('english'::regconfig, title))"
        )

        if not _ensure_pgvector(bind):
            log.warning("pgvector is not available on this server: vector search runs in the app process")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE paper_embeddings DROP COLUMN IF EXISTS embedding")
        op.execute("DROP INDEX ix_papers_title_search")
        op.execute(f"CREATE INDEX ix_papers_search ON papers USING GIN (({PG_DOCUMENT}))")
        op.execute("ALTER TABLE papers DROP COLUMN search_vector")
    else:
        for trigger in ("papers_title_fts_insert", "papers_title_fts_delete", "papers_title_fts_update"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE papers_title_fts")
        op.execute("DROP TABLE papers_fts_vocab")
    op.drop_index("ix_paper_embeddings_model_seq", "paper_embeddings")
    op.drop_column("paper_embeddings", "seq")
    op.drop_table("maintenance")
