"""Community: submissions (feed_entries.submitted_by), comments with replies, flags, the public
moderation log, a comment count on papers, and the members' preferences (public upvotes, mention
mails), a pending address change and an OpenID Connect identity.

Only columns are added to existing tables (no table copy on SQLite): a column with a foreign key is
added as `ALTER TABLE ... ADD COLUMN ... REFERENCES`, which SQLite allows for a column whose default
is NULL.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
FLAG_REASONS = "reason IN ('spam', 'off-topic', 'abusive', 'other')"


def _add_reference(table: str, column: str, target: str, ondelete: str) -> None:
    """A nullable integer column referencing `target`(id), on both databases."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id) ON DELETE {ondelete}"
        )
    else:
        op.add_column(table, sa.Column(column, sa.Integer, nullable=True))
        op.create_foreign_key(
            f"fk_{table}_{column}_{target}", table, target, [column], ["id"], ondelete=ondelete
        )


def upgrade() -> None:
    # Members: preferences, a pending address change, an OpenID Connect identity.
    op.add_column("users", sa.Column("public_votes", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("users", sa.Column("notify_mentions", sa.Boolean, nullable=False, server_default=sa.true()))
    op.add_column("users", sa.Column("pending_email", sa.String(320), nullable=True))
    op.add_column("users", sa.Column("oidc_issuer", sa.String(300), nullable=True))
    op.add_column("users", sa.Column("oidc_subject", sa.String(300), nullable=True))
    op.create_index(
        "uq_users_oidc_issuer_oidc_subject", "users", ["oidc_issuer", "oidc_subject"], unique=True
    )

    # Papers: visible comments, kept with each comment written, hidden or deleted.
    op.add_column("papers", sa.Column("comment_count", sa.Integer, nullable=False, server_default="0"))

    # Submissions: the member who put a paper on a day's list (NULL for imports and sources).
    _add_reference("feed_entries", "submitted_by", "users", "SET NULL")
    op.create_index("ix_feed_entries_submitted_by", "feed_entries", ["submitted_by"])

    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("arxiv_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("parent_id", sa.Integer, nullable=True),
        sa.Column("depth", sa.Integer, nullable=False, server_default="0"),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("edited_at", Timestamp, nullable=True),
        sa.Column("deleted_at", Timestamp, nullable=True),
        sa.Column("hidden_at", Timestamp, nullable=True),
        sa.Column("hidden_by", sa.Integer, nullable=True),
        sa.Column("hidden_reason", sa.Text, nullable=True),
        sa.Column("flag_count", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_comments"),
        sa.ForeignKeyConstraint(
            ["arxiv_id"], ["papers.arxiv_id"], name="fk_comments_arxiv_id_papers", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_comments_user_id_users", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["comments.id"], name="fk_comments_parent_id_comments", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["hidden_by"], ["users.id"], name="fk_comments_hidden_by_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_comments_arxiv_id_created_at", "comments", ["arxiv_id", "created_at"])
    op.create_index("ix_comments_user_id_created_at", "comments", ["user_id", "created_at"])
    op.create_index("ix_comments_parent_id", "comments", ["parent_id"])

    op.create_table(
        "comment_flags",
        sa.Column("comment_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("resolved_at", Timestamp, nullable=True),
        sa.Column("resolved_by", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("comment_id", "user_id", name="pk_comment_flags"),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name="fk_comment_flags_comment_id_comments", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_comment_flags_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name="fk_comment_flags_resolved_by_users", ondelete="SET NULL"
        ),
        sa.CheckConstraint(FLAG_REASONS, name="ck_comment_flags_reason"),
    )
    op.create_index("ix_comment_flags_resolved_at", "comment_flags", ["resolved_at"])

    op.create_table(
        "moderation_log",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("moderator_id", sa.Integer, nullable=True),
        sa.Column("moderator_name", sa.String(64), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target_kind", sa.String(20), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("arxiv_id", sa.String(32), nullable=True),
        sa.Column("comment_id", sa.Integer, nullable=True),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_moderation_log"),
        sa.ForeignKeyConstraint(
            ["moderator_id"], ["users.id"], name="fk_moderation_log_moderator_id_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_moderation_log_created_at", "moderation_log", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_moderation_log_created_at", "moderation_log")
    op.drop_table("moderation_log")
    op.drop_index("ix_comment_flags_resolved_at", "comment_flags")
    op.drop_table("comment_flags")
    for name in (
        "ix_comments_parent_id",
        "ix_comments_user_id_created_at",
        "ix_comments_arxiv_id_created_at",
    ):
        op.drop_index(name, "comments")
    op.drop_table("comments")
    op.drop_index("ix_feed_entries_submitted_by", "feed_entries")
    op.drop_index("uq_users_oidc_issuer_oidc_subject", "users")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops a plain column in place; a REFERENCES column needs the table copy.
        with op.batch_alter_table("feed_entries") as batch:
            batch.drop_column("submitted_by")
    else:
        op.drop_constraint("fk_feed_entries_submitted_by_users", "feed_entries", type_="foreignkey")
        op.drop_column("feed_entries", "submitted_by")
    op.drop_column("papers", "comment_count")
    for column in ("oidc_subject", "oidc_issuer", "pending_email", "notify_mentions", "public_votes"):
        op.drop_column("users", column)
