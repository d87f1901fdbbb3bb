"""Email digests: subscribers, their saved searches, the outbox, the papers already sent, and the
site's generated signing key (see dailypapers.digest and docs/architecture.md, "Email digests").

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "app_secrets",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_app_secrets"),
    )
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("frequency", sa.String(10), nullable=False, server_default="daily"),
        sa.Column("weekday", sa.Integer, nullable=False, server_default="0"),
        sa.Column("send_hour", sa.Integer, nullable=False, server_default="8"),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("max_papers", sa.Integer, nullable=False, server_default="10"),
        sa.Column("categories", Json, nullable=False),
        sa.Column("min_upvotes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("token_version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("bounces", sa.Integer, nullable=False, server_default="0"),
        sa.Column("paused_reason", sa.String(200), nullable=True),
        sa.Column("last_feed_day", sa.Date, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("confirmed_at", Timestamp, nullable=True),
        sa.Column("confirm_sent_at", Timestamp, nullable=True),
        sa.Column("unsubscribed_at", Timestamp, nullable=True),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscribers"),
        sa.UniqueConstraint("email", name="uq_subscribers_email"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_subscribers_user_id_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_subscribers_status", "subscribers", ["status"])
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("subscriber_id", sa.Integer, nullable=False),
        sa.Column("include", sa.Text, nullable=False),
        sa.Column("exclude", sa.Text, nullable=False, server_default=""),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_saved_searches"),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_saved_searches_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_saved_searches_subscriber_id", "saved_searches", ["subscriber_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("subscriber_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("period_key", sa.String(64), nullable=False),
        sa.Column("to_addr", sa.String(320), nullable=False),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column("unsubscribe_url", sa.Text, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", Timestamp, nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_until", Timestamp, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("sent_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint(
            "subscriber_id", "kind", "period_key", name="uq_outbox_subscriber_id_kind_period_key"
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_outbox_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "sent_papers",
        sa.Column("subscriber_id", sa.Integer, nullable=False),
        sa.Column("arxiv_id", sa.String(32), nullable=False),
        sa.Column("outbox_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("subscriber_id", "arxiv_id", name="pk_sent_papers"),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_sent_papers_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name="fk_sent_papers_outbox_id_outbox", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("sent_papers")
    op.drop_index("ix_outbox_status_next_attempt_at", "outbox")
    op.drop_table("outbox")
    op.drop_index("ix_saved_searches_subscriber_id", "saved_searches")
    op.drop_table("saved_searches")
    op.drop_index("ix_subscribers_status", "subscribers")
    op.drop_table("subscribers")
    op.drop_table("app_secrets")
