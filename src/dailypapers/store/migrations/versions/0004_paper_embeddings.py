"""Paper embeddings: one float32 vector per paper and model, with the hash of the embedded text.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "paper_embeddings",
        sa.Column("arxiv_id", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("text_hash", sa.String(32), nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["arxiv_id"], ["papers.arxiv_id"], name="fk_paper_embeddings_arxiv_id_papers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("arxiv_id", "model", name="pk_paper_embeddings"),
    )


def downgrade() -> None:
    op.drop_table("paper_embeddings")
