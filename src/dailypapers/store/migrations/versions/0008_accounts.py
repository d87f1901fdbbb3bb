"""Accounts: users gain an email, a password hash, roles member|moderator|admin (reader → member,
curator → moderator), bans and a token version; server-side sessions; sign-in attempts (throttling);
the outbox carries account mails (user_id) beside the subscribers' mails.

SQLite cannot change a CHECK constraint or a column's nullability in place: batch mode copies the table
and drops the old one. With foreign keys on, that drop deletes its rows first and fires the children's
ON DELETE actions (votes and sent_papers would be deleted, subscribers.user_id set to NULL), so on
SQLite those rows are kept in temporary tables and put back after the copies.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)

NEW_ROLES = "UPDATE users SET role = CASE role WHEN 'reader' THEN 'member' WHEN 'curator' THEN 'moderator' ELSE role END"
OLD_ROLES = "UPDATE users SET role = CASE role WHEN 'member' THEN 'reader' WHEN 'moderator' THEN 'curator' ELSE role END"


def _keep_children() -> None:
    """SQLite: copy the rows the table copies below would delete or change (see the docstring)."""
    op.execute("CREATE TEMP TABLE keep_votes AS SELECT user_id, arxiv_id, created_at FROM votes")
    op.execute(
        "CREATE TEMP TABLE keep_subscriber_users AS SELECT id, user_id FROM subscribers "
        "WHERE user_id IS NOT NULL"
    )
    op.execute(
        "CREATE TEMP TABLE keep_sent_papers AS SELECT subscriber_id, arxiv_id, outbox_id FROM sent_papers"
    )


def _restore_children() -> None:
    op.execute("DELETE FROM votes")
    op.execute(
        "INSERT INTO votes (user_id, arxiv_id, created_at) SELECT user_id, arxiv_id, created_at FROM keep_votes"
    )
    op.execute(
        "UPDATE subscribers SET user_id = (SELECT k.user_id FROM keep_subscriber_users k "
        "WHERE k.id = subscribers.id) WHERE id IN (SELECT id FROM keep_subscriber_users)"
    )
    op.execute("DELETE FROM sent_papers")
    op.execute(
        "INSERT INTO sent_papers (subscriber_id, arxiv_id, outbox_id) "
        "SELECT subscriber_id, arxiv_id, outbox_id FROM keep_sent_papers"
    )
    for name in ("keep_votes", "keep_subscriber_users", "keep_sent_papers"):
        op.execute(f"DROP TABLE {name}")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _keep_children()
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("ck_users_role", type_="check")
        batch.alter_column("role", existing_type=sa.String(16), server_default="member")
        batch.add_column(sa.Column("email", sa.String(320), nullable=True))
        batch.add_column(sa.Column("email_confirmed_at", Timestamp, nullable=True))
        batch.add_column(sa.Column("password_hash", sa.String(255), nullable=True))
        batch.add_column(sa.Column("banned_until", Timestamp, nullable=True))
        batch.add_column(sa.Column("ban_reason", sa.Text, nullable=True))
        batch.add_column(sa.Column("token_version", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("updated_at", Timestamp, nullable=True))
        batch.create_unique_constraint("uq_users_email", ["email"])
    op.execute(NEW_ROLES)
    op.execute("UPDATE users SET updated_at = created_at")
    with op.batch_alter_table("users") as batch:
        batch.create_check_constraint("ck_users_role", "role IN ('member', 'moderator', 'admin')")

    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("subscriber_id", existing_type=sa.Integer, nullable=True)
        batch.add_column(sa.Column("user_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_outbox_user_id_users", "users", ["user_id"], ["id"], ondelete="CASCADE")
        batch.create_check_constraint(
            "ck_outbox_recipient", "subscriber_id IS NOT NULL OR user_id IS NOT NULL"
        )
    op.create_index("ix_outbox_user_id", "outbox", ["user_id"])
    if sqlite:
        _restore_children()
    # Usernames are unique whatever their case ("Alice" is "alice"); made after the table copies,
    # which could not carry an expression index over.
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)

    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("last_seen_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("user_agent", sa.String(300), nullable=True),
        sa.Column("client_address", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_sessions_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "sign_in_attempts",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("first_failure_at", Timestamp, nullable=False),
        sa.Column("blocked_until", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_sign_in_attempts"),
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("uq_users_username_lower", "users")  # first: the table copies cannot reflect it
    op.drop_table("sign_in_attempts")
    op.drop_index("ix_sessions_user_id", "sessions")
    op.drop_table("sessions")
    op.execute("DELETE FROM outbox WHERE subscriber_id IS NULL")
    if sqlite:
        _keep_children()
    op.drop_index("ix_outbox_user_id", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("ck_outbox_recipient", type_="check")
        batch.drop_constraint("fk_outbox_user_id_users", type_="foreignkey")
        batch.drop_column("user_id")
        batch.alter_column("subscriber_id", existing_type=sa.Integer, nullable=False)
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("ck_users_role", type_="check")
        batch.drop_constraint("uq_users_email", type_="unique")
        for column in (
            "email",
            "email_confirmed_at",
            "password_hash",
            "banned_until",
            "ban_reason",
            "token_version",
            "updated_at",
        ):
            batch.drop_column(column)
        batch.alter_column("role", existing_type=sa.String(16), server_default="reader")
    op.execute(OLD_ROLES)
    with op.batch_alter_table("users") as batch:
        batch.create_check_constraint("ck_users_role", "role IN ('reader', 'curator', 'admin')")
    if sqlite:
        _restore_children()
