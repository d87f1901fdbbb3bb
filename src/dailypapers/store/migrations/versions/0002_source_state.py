"""Source checkpoints: one row per ingest source (state, schedule, worker lease).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "source_state",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", Json, nullable=False),
        sa.Column("last_run_at", Timestamp, nullable=True),
        sa.Column("last_ok_at", Timestamp, nullable=True),
        sa.Column("next_run_at", Timestamp, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_summary", sa.Text, nullable=True),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_until", Timestamp, nullable=True),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_source_state"),
    )


def downgrade() -> None:
    op.drop_table("source_state")
