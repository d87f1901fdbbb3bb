"""The SQL of accounts: members (table users), their sessions, sign-in failures and account mails in
the outbox, and the read-only queries of a member's data export. Every function runs on the caller's
connection: services.accounts owns the transactions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Row

from dailypapers.store.tables import (
    comment_flags,
    comments,
    feed_entries,
    moderation_log,
    outbox,
    saved_searches,
    sessions,
    sign_in_attempts,
    subscribers,
    users,
    votes,
)


def _insert(conn: Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING on both databases."""
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def member_by_id(conn: Connection, user_id: int) -> Row[Any] | None:
    """The users row of an id."""
    return conn.execute(sa.select(users).where(users.c.id == user_id)).first()


def member_by_username(conn: Connection, username: str) -> Row[Any] | None:
    """The users row of a username, whatever its case."""
    return conn.execute(
        sa.select(users).where(sa.func.lower(users.c.username) == username.strip().lower())
    ).first()


def member_by_email(conn: Connection, email: str) -> Row[Any] | None:
    """The users row of a normalised address."""
    return conn.execute(sa.select(users).where(users.c.email == email)).first()


def insert_member(
    conn: Connection,
    *,
    username: str,
    email: str | None,
    password_hash: str | None,
    role: str,
    now: datetime,
    confirmed_at: datetime | None = None,
) -> int | None:
    """A new member; None when the username (any case) or the address is taken, also by a
    concurrent sign-up (the unique indexes decide, not an earlier read)."""
    row = conn.execute(
        _insert(conn, users)
        .values(
            username=username,
            email=email,
            password_hash=password_hash,
            role=role,
            email_confirmed_at=confirmed_at,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(users.c.id)
    ).first()
    return None if row is None else int(row.id)


def update_member(conn: Connection, user_id: int, now: datetime, **values: Any) -> None:
    """Change columns of a member (and its updated_at)."""
    conn.execute(users.update().where(users.c.id == user_id).values(updated_at=now, **values))


def list_members(conn: Connection) -> list[Row[Any]]:
    """Every member, by username."""
    return list(conn.execute(sa.select(users).order_by(sa.func.lower(users.c.username))))


def queue_member_mail(
    conn: Connection,
    *,
    user_id: int,
    kind: str,
    to_addr: str,
    message_id: str,
    subject: str,
    body_text: str,
    body_html: str,
    now: datetime,
) -> None:
    """Put an account mail in the outbox (digest.outbox delivers it like a digest's confirmation)."""
    conn.execute(
        outbox.insert().values(
            user_id=user_id,
            kind=kind,
            period_key=f"{kind}-{now:%Y%m%dT%H%M%S%f}",
            to_addr=to_addr,
            message_id=message_id,
            subject=subject,
            body_text=body_text,
            body_html=body_html,
            unsubscribe_url=None,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def last_member_mail_at(conn: Connection, user_id: int, kind: str) -> datetime | None:
    """When the newest mail of this kind was queued for a member (the mail throttle)."""
    value: datetime | None = conn.scalar(
        sa.select(sa.func.max(outbox.c.created_at)).where(outbox.c.user_id == user_id, outbox.c.kind == kind)
    )
    return value


def insert_session(
    conn: Connection,
    *,
    session_id: str,
    user_id: int,
    now: datetime,
    expires_at: datetime,
    user_agent: str | None,
    client_address: str | None,
) -> None:
    """A new session; `session_id` is the hash of the cookie's token."""
    conn.execute(
        sessions.insert().values(
            id=session_id,
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            user_agent=user_agent,
            client_address=client_address,
        )
    )


def session_by_id(conn: Connection, session_id: str) -> Row[Any] | None:
    """A session row (by the hash of its token)."""
    return conn.execute(sa.select(sessions).where(sessions.c.id == session_id)).first()


def touch_session(conn: Connection, session_id: str, now: datetime, expires_at: datetime) -> None:
    """The session was used: it lives until `expires_at` (sliding expiry)."""
    conn.execute(
        sessions.update().where(sessions.c.id == session_id).values(last_seen_at=now, expires_at=expires_at)
    )


def delete_session(conn: Connection, session_id: str) -> None:
    """End one session."""
    conn.execute(sessions.delete().where(sessions.c.id == session_id))


def delete_member_sessions(conn: Connection, user_id: int) -> int:
    """End every session of a member; how many there were."""
    return conn.execute(sessions.delete().where(sessions.c.user_id == user_id)).rowcount


def attempts_of(conn: Connection, keys: list[str]) -> list[Row[Any]]:
    """The sign-in failure rows of these keys (those that have one)."""
    return list(conn.execute(sa.select(sign_in_attempts).where(sign_in_attempts.c.key.in_(keys))))


def locked_attempt(conn: Connection, key: str, now: datetime) -> Row[Any]:
    """The failure row of a key, made when missing and locked for this transaction on PostgreSQL
    (SQLite's write transaction holds the whole database already)."""
    conn.execute(
        _insert(conn, sign_in_attempts)
        .values(key=key, failures=0, first_failure_at=now, blocked_until=None)
        .on_conflict_do_nothing()
    )
    return conn.execute(
        sa.select(sign_in_attempts).where(sign_in_attempts.c.key == key).with_for_update()
    ).one()


def save_attempt(
    conn: Connection, key: str, failures: int, first_failure_at: datetime, blocked_until: datetime | None
) -> None:
    """Store a key's failure count, window start and block."""
    conn.execute(
        sign_in_attempts.update()
        .where(sign_in_attempts.c.key == key)
        .values(failures=failures, first_failure_at=first_failure_at, blocked_until=blocked_until)
    )


def clear_attempts(conn: Connection, key: str) -> None:
    """Forget a key's failures (a successful sign-in of that account)."""
    conn.execute(sign_in_attempts.delete().where(sign_in_attempts.c.key == key))


def member_by_oidc(conn: Connection, issuer: str, subject: str) -> Row[Any] | None:
    """The users row linked to an OpenID Connect identity (issuer, subject)."""
    return conn.execute(
        sa.select(users).where(users.c.oidc_issuer == issuer, users.c.oidc_subject == subject)
    ).first()


def delete_member(conn: Connection, user_id: int) -> None:
    """Delete a users row; its sessions, votes, flags and outbox rows go with it (ON DELETE CASCADE),
    its comments and submissions stay without a name (SET NULL)."""
    conn.execute(users.delete().where(users.c.id == user_id))


# --- a member's data export (read-only) -------------------------------------------------------------


def export_sessions(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """The member's sessions: when made and last used, and the browser (never their ids)."""
    rows = conn.execute(
        sa.select(sessions.c.created_at, sessions.c.last_seen_at, sessions.c.user_agent)
        .where(sessions.c.user_id == user_id)
        .order_by(sessions.c.created_at)
    )
    return [dict(r._mapping) for r in rows]


def export_votes(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """The papers the member upvoted, and when."""
    rows = conn.execute(
        sa.select(votes.c.arxiv_id, votes.c.created_at)
        .where(votes.c.user_id == user_id)
        .order_by(votes.c.created_at, votes.c.arxiv_id)
    )
    return [dict(r._mapping) for r in rows]


def export_comments(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """The member's comments: source, times and state (deleted, hidden and why)."""
    rows = conn.execute(
        sa.select(
            comments.c.id,
            comments.c.arxiv_id,
            comments.c.parent_id,
            comments.c.body,
            comments.c.created_at,
            comments.c.edited_at,
            comments.c.deleted_at,
            comments.c.hidden_at,
            comments.c.hidden_reason,
        )
        .where(comments.c.user_id == user_id)
        .order_by(comments.c.created_at, comments.c.id)
    )
    return [dict(r._mapping) for r in rows]


def export_submissions(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """The papers the member submitted, with their feed day."""
    rows = conn.execute(
        sa.select(feed_entries.c.feed_date, feed_entries.c.arxiv_id, feed_entries.c.featured_at)
        .where(feed_entries.c.submitted_by == user_id)
        .order_by(feed_entries.c.feed_date, feed_entries.c.arxiv_id)
    )
    return [dict(r._mapping) for r in rows]


def export_flags(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """The flags the member raised."""
    rows = conn.execute(
        sa.select(
            comment_flags.c.comment_id,
            comment_flags.c.reason,
            comment_flags.c.note,
            comment_flags.c.created_at,
            comment_flags.c.resolved_at,
        )
        .where(comment_flags.c.user_id == user_id)
        .order_by(comment_flags.c.created_at, comment_flags.c.comment_id)
    )
    return [dict(r._mapping) for r in rows]


def member_subscriber(conn: Connection, user_id: int, email: str | None) -> Row[Any] | None:
    """The digest subscriber of a member: the one linked to it, else the one of its address."""
    linked = conn.execute(
        sa.select(subscribers).where(subscribers.c.user_id == user_id).order_by(subscribers.c.id)
    ).first()
    if linked is not None or not email:
        return linked
    return conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).first()


def export_saved_searches(conn: Connection, subscriber_id: int) -> list[dict[str, Any]]:
    """The saved searches of a subscriber."""
    rows = conn.execute(
        sa.select(saved_searches.c.include, saved_searches.c.exclude)
        .where(saved_searches.c.subscriber_id == subscriber_id)
        .order_by(saved_searches.c.position)
    )
    return [dict(r._mapping) for r in rows]


def export_moderation(conn: Connection, username: str, user_id: int) -> list[dict[str, Any]]:
    """The moderation log entries about the member: by its name, or about one of its comments."""
    own_comments = sa.select(comments.c.id).where(comments.c.user_id == user_id)
    rows = conn.execute(
        sa.select(
            moderation_log.c.created_at,
            moderation_log.c.moderator_name,
            moderation_log.c.action,
            moderation_log.c.target_kind,
            moderation_log.c.target,
            moderation_log.c.arxiv_id,
            moderation_log.c.comment_id,
            moderation_log.c.reason,
        )
        .where(
            sa.or_(
                sa.func.lower(moderation_log.c.username) == username.lower(),
                moderation_log.c.comment_id.in_(own_comments),
            )
        )
        .order_by(moderation_log.c.created_at, moderation_log.c.id)
    )
    return [dict(r._mapping) for r in rows]
