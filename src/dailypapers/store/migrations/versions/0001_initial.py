"""Initial schema: papers, feed entries, users, votes.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("arxiv_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False, server_default=""),
        sa.Column("authors", Json, nullable=False),
        sa.Column("categories", Json, nullable=False),
        sa.Column("primary_category", sa.String(32), nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("journal_ref", sa.Text, nullable=True),
        sa.Column("doi", sa.String(255), nullable=True),
        sa.Column("published_at", Timestamp, nullable=True),
        sa.Column("updated_at", Timestamp, nullable=True),
        sa.Column("code_urls", Json, nullable=False),
        sa.Column("project_url", sa.Text, nullable=True),
        sa.Column("withdrawn", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("imported_upvotes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("vote_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("first_featured_at", Timestamp, nullable=True),
        sa.Column("trending_score", sa.Float, nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("modified_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("arxiv_id", name="pk_papers"),
    )
    op.create_index("ix_papers_primary_category", "papers", ["primary_category"])
    op.create_index("ix_papers_trending_score", "papers", ["trending_score"])

    op.create_table(
        "feed_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("feed_date", sa.Date, nullable=False),
        sa.Column("arxiv_id", sa.String(32), nullable=False),
        sa.Column("featured_by", sa.String(64), nullable=False),
        sa.Column("featured_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["arxiv_id"], ["papers.arxiv_id"], name="fk_feed_entries_arxiv_id_papers", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("feed_date", "arxiv_id", name="uq_feed_entries_feed_date_arxiv_id"),
    )
    op.create_index("ix_feed_entries_arxiv_id", "feed_entries", ["arxiv_id"])

    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("role", sa.String(16), nullable=False, server_default="reader"),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.CheckConstraint("role IN ('reader', 'curator', 'admin')", name="ck_users_role"),
    )

    op.create_table(
        "votes",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("arxiv_id", sa.String(32), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_votes_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["arxiv_id"], ["papers.arxiv_id"], name="fk_votes_arxiv_id_papers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "arxiv_id", name="pk_votes"),
    )
    op.create_index("ix_votes_arxiv_id", "votes", ["arxiv_id"])


def downgrade() -> None:
    op.drop_table("votes")
    op.drop_table("users")
    op.drop_table("feed_entries")
    op.drop_table("papers")
