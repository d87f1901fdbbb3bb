"""PostgreSQL: what hybrid search's keyword list needs to stay fast on a million papers.

- Finer statistics of the search document. ANALYZE keeps the most common lexemes of a tsvector
  column with their share of rows (pg_stats.most_common_elems), ten per unit of the column's
  statistics target. At the default target (100) the list holds 1,000 lexemes and stops at about
  2.4 % of papers on a million arXiv papers; hybrid search needs every lexeme above 0.2 % (4,248
  there, counted exactly with ts_stat), so the column's target becomes 1,000 (at 1M papers: 7,551
  lexemes, down to 0.08 %; ANALYZE samples 300,000 rows, 11.6 s).
- The title's tsvector becomes a stored generated column `papers.title_vector` (GIN-indexed,
  replacing 0005's expression index): ranking papers by their title (`title:` words, and hybrid
  search's queries of common words only) read it instead of parsing every matching title again,
  5x faster for 13,745 matching titles. Adding it rewrites the table (150 s at 1M papers).

SQLite: nothing (its hybrid search reads FTS5's own vocabulary and a titles-only FTS5 table).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SEARCH_STATISTICS_TARGET = 1000


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE papers ALTER COLUMN search_vector SET STATISTICS {SEARCH_STATISTICS_TARGET}")
    op.execute(
        "ALTER TABLE papers ADD COLUMN title_vector tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, title)) STORED"
    )
    op.execute("DROP INDEX ix_papers_title_search")
    op.execute("CREATE INDEX ix_papers_title_vector ON papers USING GIN (title_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_papers_title_vector")
    op.execute("ALTER TABLE papers DROP COLUMN title_vector")
    op.execute(
        "CREATE INDEX ix_papers_title_search ON papers USING GIN (to_tsvector('english'::regconfig, title))"
    )
    op.execute("ALTER TABLE papers ALTER COLUMN search_vector SET STATISTICS -1")
