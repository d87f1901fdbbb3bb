"""The schema. Change it only together with a new migration in migrations/versions/."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)

papers = sa.Table(
    "papers",
    metadata,
    sa.Column("arxiv_id", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False, server_default=""),
    sa.Column("authors", Json, nullable=False),
    sa.Column("categories", Json, nullable=False),
    sa.Column("primary_category", sa.String(32), nullable=True, index=True),
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
    sa.Column("trending_score", sa.Float, nullable=False, index=True),
    # Visible comments (not deleted, not hidden), kept by store.comments (migration 0009).
    sa.Column("comment_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("content_hash", sa.String(32), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("modified_at", Timestamp, nullable=False),
)

feed_entries = sa.Table(
    "feed_entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("feed_date", sa.Date, nullable=False),
    sa.Column(
        "arxiv_id",
        sa.String(32),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("featured_by", sa.String(64), nullable=False),
    sa.Column("featured_at", Timestamp, nullable=False),
    # The member who submitted the paper to this day (migration 0009); NULL for imports and sources.
    sa.Column(
        "submitted_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    ),
    sa.UniqueConstraint("feed_date", "arxiv_id"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("role", sa.String(16), nullable=False, server_default="member"),
    sa.Column("created_at", Timestamp, nullable=False),
    # Accounts (migration 0008; store.accounts): the address is normalised (services.accounts), and
    # confirmed before the account can act; password_hash is argon2id (core.passwords).
    sa.Column("email", sa.String(320), nullable=True, unique=True),
    sa.Column("email_confirmed_at", Timestamp, nullable=True),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("banned_until", Timestamp, nullable=True),
    sa.Column("ban_reason", sa.Text, nullable=True),
    # Part of every signed account link (confirm, reset): raising it invalidates the links mailed.
    sa.Column("token_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column(
        "updated_at", Timestamp, nullable=True
    ),  # NULL: a row inserted without it (not by store.accounts)
    # Community (migration 0009): upvotes shown on the member page, mention mails, an address change
    # waiting for its confirmation, and the OpenID Connect identity the member signs in with.
    sa.Column("public_votes", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("notify_mentions", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("pending_email", sa.String(320), nullable=True),
    sa.Column("oidc_issuer", sa.String(300), nullable=True),
    sa.Column("oidc_subject", sa.String(300), nullable=True),
    sa.CheckConstraint("role IN ('member', 'moderator', 'admin')", name="role"),
    sa.Index("uq_users_oidc_issuer_oidc_subject", "oidc_issuer", "oidc_subject", unique=True),
)
# Usernames are unique whatever their case.
sa.Index("uq_users_username_lower", sa.func.lower(users.c.username), unique=True)

# Server-side sessions: `id` is the SHA-256 (hex) of the random token in the cookie, never the token.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_seen_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Column("user_agent", sa.String(300), nullable=True),
    sa.Column("client_address", sa.String(64), nullable=True),
)

# Failed sign-ins, one row per key ("account:<login>" or "address:<client address>"): failures since
# first_failure_at; past the free attempts each failure blocks the key until blocked_until.
sign_in_attempts = sa.Table(
    "sign_in_attempts",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("first_failure_at", Timestamp, nullable=False),
    sa.Column("blocked_until", Timestamp, nullable=True),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "arxiv_id",
        sa.String(32),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    sa.Column("created_at", Timestamp, nullable=False),
)

# One row per configured source (ingest/sources): its checkpoint, schedule and worker lease.
source_state = sa.Table(
    "source_state",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("state", Json, nullable=False),
    sa.Column("last_run_at", Timestamp, nullable=True),
    sa.Column("last_ok_at", Timestamp, nullable=True),
    sa.Column("next_run_at", Timestamp, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_summary", sa.Text, nullable=True),
    sa.Column("lease_owner", sa.String(200), nullable=True),
    sa.Column("lease_until", Timestamp, nullable=True),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# One vector per paper and embedding model; `text_hash` is the hash of the embedded text, so a paper
# whose title and abstract did not change is not embedded again.
paper_embeddings = sa.Table(
    "paper_embeddings",
    metadata,
    sa.Column(
        "arxiv_id", sa.String(32), sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("text_hash", sa.String(32), nullable=False),
    sa.Column("dim", sa.Integer, nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float32, little-endian, L2-normalised
    sa.Column("created_at", Timestamp, nullable=False),
    # Change counter (migration 0005): each write of vectors stamps its rows with max(seq) + 1.
    # PostgreSQL with pgvector also has `embedding vector` (not in this table object: see store.embeddings).
    sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("ix_paper_embeddings_model_seq", "model", "seq"),
)

# Long operations that leave the database in a special state until they finish, one row each
# (search.bulk: the keyword-index triggers suspended during a bulk import, and how to restore them).
maintenance = sa.Table(
    "maintenance",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
)

# --- email digests (migration 0007; dailypapers.digest) -------------------------------------------

# A random key made once when the setting secret_key is unset, shared by every process of a site.
app_secrets = sa.Table(
    "app_secrets",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

# One row per address. status: pending (awaiting confirmation), active, paused, unsubscribed.
# token_version is part of every signed link: raising it invalidates the links already mailed.
subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),  # normalised, lower-case domain
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("frequency", sa.String(10), nullable=False, server_default="daily"),  # daily | weekly
    sa.Column("weekday", sa.Integer, nullable=False, server_default="0"),  # weekly: 0 = Monday
    sa.Column("send_hour", sa.Integer, nullable=False, server_default="8"),  # local hour, 0-23
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),  # IANA name
    sa.Column("max_papers", sa.Integer, nullable=False, server_default="10"),
    sa.Column("categories", Json, nullable=False),  # arXiv categories; [] = every category
    sa.Column("min_upvotes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("token_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("bounces", sa.Integer, nullable=False, server_default="0"),
    sa.Column("paused_reason", sa.String(200), nullable=True),
    sa.Column("last_feed_day", sa.Date, nullable=True),  # the newest feed day a digest covered
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("confirmed_at", Timestamp, nullable=True),
    sa.Column("confirm_sent_at", Timestamp, nullable=True),
    sa.Column("unsubscribed_at", Timestamp, nullable=True),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index("ix_subscribers_status", "status"),
)

# Saved searches of a subscriber: a query in the search language (include) and words that exclude.
saved_searches = sa.Table(
    "saved_searches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("include", sa.Text, nullable=False),
    sa.Column("exclude", sa.Text, nullable=False, server_default=""),
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_saved_searches_subscriber_id", "subscriber_id"),
)

# The outbox: every mail, composed once. (subscriber_id, kind, period_key) is unique, so a retried or
# restarted composer can never make a second digest of a period. status: queued, sending (leased by a
# sender until lease_until), sent, failed. A mail goes to a subscriber (digests and their
# confirmations) or to an account (user_id, migration 0008: account confirmations and resets).
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=True
    ),
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    ),
    sa.Column("kind", sa.String(20), nullable=False),  # digest | confirm | account-confirm | ...
    sa.Column(
        "period_key", sa.String(64), nullable=False
    ),  # digest: D2026-11-30 / W2026-48; confirm: a stamp
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
    sa.UniqueConstraint("subscriber_id", "kind", "period_key"),
    sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    sa.CheckConstraint("subscriber_id IS NOT NULL OR user_id IS NOT NULL", name="recipient"),
)

# Papers already put in a digest for a subscriber: never sent to them twice.
sent_papers = sa.Table(
    "sent_papers",
    metadata,
    sa.Column(
        "subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("arxiv_id", sa.String(32), primary_key=True),
    sa.Column("outbox_id", sa.Integer, sa.ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False),
)


# --- community (migration 0009) ---------------------------------------------------------------------

# Comments under a paper. A reply has its parent and depth = parent's + 1. A deleted comment keeps its
# row (body emptied) so the thread keeps "[deleted]"; a hidden one is kept for moderators.
comments = sa.Table(
    "comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "arxiv_id", sa.String(32), sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("comments.id", ondelete="CASCADE"), nullable=True),
    sa.Column("depth", sa.Integer, nullable=False, server_default="0"),
    sa.Column("body", sa.Text, nullable=False),  # Markdown source, rendered by core.markdown
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("edited_at", Timestamp, nullable=True),
    sa.Column("deleted_at", Timestamp, nullable=True),
    sa.Column("hidden_at", Timestamp, nullable=True),
    sa.Column("hidden_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("hidden_reason", sa.Text, nullable=True),
    sa.Column("flag_count", sa.Integer, nullable=False, server_default="0"),  # open flags
    sa.Index("ix_comments_arxiv_id_created_at", "arxiv_id", "created_at"),
    sa.Index("ix_comments_user_id_created_at", "user_id", "created_at"),
    sa.Index("ix_comments_parent_id", "parent_id"),
)

FLAG_REASONS = ("spam", "off-topic", "abusive", "other")

# One flag per member and comment; resolved when a moderator hides or keeps the comment.
comment_flags = sa.Table(
    "comment_flags",
    metadata,
    sa.Column("comment_id", sa.Integer, sa.ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("reason", sa.String(20), nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("resolved_at", Timestamp, nullable=True, index=True),
    sa.Column("resolved_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.CheckConstraint("reason IN ('spam', 'off-topic', 'abusive', 'other')", name="reason"),
)

# The public moderation log: who did what to which item, and why. Names and ids are copied in, so
# an entry outlives the comment, the submission or the account it is about.
moderation_log = sa.Table(
    "moderation_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", Timestamp, nullable=False, index=True),
    sa.Column("moderator_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("moderator_name", sa.String(64), nullable=False),
    sa.Column(
        "action", sa.String(40), nullable=False
    ),  # hide-comment, restore-comment, remove-submission, ban, unban, ...
    sa.Column("target_kind", sa.String(20), nullable=False),  # comment | submission | member
    sa.Column("target", sa.String(300), nullable=False),  # what the log page shows
    sa.Column("arxiv_id", sa.String(32), nullable=True),
    sa.Column("comment_id", sa.Integer, nullable=True),
    sa.Column("username", sa.String(64), nullable=True),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
)

# Personal API tokens: `token_hash` is the SHA-256 (hex) of the secret, never the secret, which the
# member sees once; `prefix` (its first characters) names it on the account page. `scope` read or write
# (write includes read); a revoked token keeps its row (revoked_at) for the account page's history.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("scope", sa.String(10), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_used_at", Timestamp, nullable=True),
    sa.Column("revoked_at", Timestamp, nullable=True),
    sa.CheckConstraint("scope IN ('read', 'write')", name="scope"),
)
