"""The SQL of moderation on the caller's connection: hiding comments and resolving their flags,
removing feed entries, the queue of flagged comments and recent submissions, and the public log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from dailypapers.store.comments import recount_flags
from dailypapers.store.tables import comment_flags, comments, feed_entries, moderation_log, papers, users


def set_hidden(
    conn: Connection, comment_id: int, hidden_at: datetime | None, hidden_by: int | None, reason: str | None
) -> None:
    """Hide a comment (a time, who, why) or show it again (all None)."""
    conn.execute(
        comments.update()
        .where(comments.c.id == comment_id)
        .values(hidden_at=hidden_at, hidden_by=hidden_by, hidden_reason=reason)
    )


def resolve_flags(conn: Connection, comment_id: int, moderator_id: int | None, now: datetime) -> int:
    """Mark a comment's open flags resolved by a moderator and recount its open flags (a flag given
    meanwhile stays open and counted); how many were resolved."""
    resolved = conn.execute(
        comment_flags.update()
        .where(comment_flags.c.comment_id == comment_id, comment_flags.c.resolved_at.is_(None))
        .values(resolved_at=now, resolved_by=moderator_id)
    ).rowcount
    recount_flags(conn, comment_id)
    return int(resolved)


def insert_log(
    conn: Connection,
    *,
    now: datetime,
    moderator_id: int | None,
    moderator_name: str,
    action: str,
    target_kind: str,
    target: str,
    reason: str,
    arxiv_id: str | None = None,
    comment_id: int | None = None,
    username: str | None = None,
) -> None:
    """One row of the public moderation log."""
    conn.execute(
        moderation_log.insert().values(
            created_at=now,
            moderator_id=moderator_id,
            moderator_name=moderator_name,
            action=action,
            target_kind=target_kind,
            target=target[:300],
            reason=reason,
            arxiv_id=arxiv_id,
            comment_id=comment_id,
            username=username,
        )
    )


def feed_entry(conn: Connection, day: date, arxiv_id: str) -> Row[Any] | None:
    """A feed entry of a day with its paper's title and its submitter's username (None: not a
    member's submission, or the account is gone)."""
    return conn.execute(
        sa.select(feed_entries, papers.c.title, users.c.username)
        .select_from(
            feed_entries.join(papers, papers.c.arxiv_id == feed_entries.c.arxiv_id).outerjoin(
                users, users.c.id == feed_entries.c.submitted_by
            )
        )
        .where(feed_entries.c.feed_date == day, feed_entries.c.arxiv_id == arxiv_id)
    ).first()


def delete_feed_entry(conn: Connection, entry_id: int) -> None:
    """Take an entry off its day's list."""
    conn.execute(feed_entries.delete().where(feed_entries.c.id == entry_id))


def flagged_comments(conn: Connection) -> list[Row[Any]]:
    """Comments with open flags, with their author's username, paper title and first open flag's
    time (`first_flagged_at`), the longest waiting first."""
    first = (
        sa.select(
            comment_flags.c.comment_id,
            sa.func.min(comment_flags.c.created_at).label("first_flagged_at"),
            sa.func.count().label("open_flags"),
        )
        .where(comment_flags.c.resolved_at.is_(None))
        .group_by(comment_flags.c.comment_id)
        .subquery()
    )
    return list(
        conn.execute(
            sa.select(
                comments,
                users.c.username,
                papers.c.title,
                first.c.first_flagged_at,
                first.c.open_flags,
            )
            .select_from(
                comments.join(first, first.c.comment_id == comments.c.id)
                .join(papers, papers.c.arxiv_id == comments.c.arxiv_id)
                .outerjoin(users, users.c.id == comments.c.user_id)
            )
            .order_by(first.c.first_flagged_at, comments.c.id)
        ).all()
    )


def open_flags(conn: Connection, comment_ids: list[int]) -> list[Row[Any]]:
    """The open flags of these comments with the flagger's username, oldest first."""
    if not comment_ids:
        return []
    return list(
        conn.execute(
            sa.select(comment_flags, users.c.username)
            .select_from(comment_flags.join(users, users.c.id == comment_flags.c.user_id))
            .where(comment_flags.c.comment_id.in_(comment_ids), comment_flags.c.resolved_at.is_(None))
            .order_by(comment_flags.c.created_at, comment_flags.c.user_id)
        ).all()
    )


def recently_hidden(conn: Connection, since: datetime) -> list[Row[Any]]:
    """Comments hidden since `since` (and still hidden), newest first, with author, hiding
    moderator and paper title."""
    hider = users.alias("hider")
    return list(
        conn.execute(
            sa.select(comments, users.c.username, hider.c.username.label("hidden_by_name"), papers.c.title)
            .select_from(
                comments.join(papers, papers.c.arxiv_id == comments.c.arxiv_id)
                .outerjoin(users, users.c.id == comments.c.user_id)
                .outerjoin(hider, hider.c.id == comments.c.hidden_by)
            )
            .where(comments.c.hidden_at >= since)
            .order_by(comments.c.hidden_at.desc(), comments.c.id.desc())
        ).all()
    )


def recent_submissions(conn: Connection, since: datetime) -> list[Row[Any]]:
    """Member submissions featured since `since`, newest first, with title and submitter."""
    return list(
        conn.execute(
            sa.select(feed_entries, papers.c.title, users.c.username)
            .select_from(
                feed_entries.join(papers, papers.c.arxiv_id == feed_entries.c.arxiv_id).join(
                    users, users.c.id == feed_entries.c.submitted_by
                )
            )
            .where(feed_entries.c.featured_at >= since)
            .order_by(feed_entries.c.featured_at.desc(), feed_entries.c.id.desc())
        ).all()
    )


def log_count(conn: Connection) -> int:
    """How many rows the moderation log has."""
    return int(conn.scalar(sa.select(sa.func.count()).select_from(moderation_log)) or 0)


def log_rows(conn: Connection, offset: int, limit: int) -> list[Row[Any]]:
    """A page of the moderation log, newest first."""
    return list(
        conn.execute(
            sa.select(moderation_log)
            .order_by(moderation_log.c.created_at.desc(), moderation_log.c.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
    )


def live_comment_ids(conn: Connection, ids: list[int]) -> set[int]:
    """Those of `ids` whose comment still exists and is not deleted (a link to it still shows it)."""
    if not ids:
        return set()
    found = conn.execute(
        sa.select(comments.c.id).where(comments.c.id.in_(ids), comments.c.deleted_at.is_(None))
    ).scalars()
    return set(found)


def live_paper_ids(conn: Connection, ids: list[str]) -> set[str]:
    """Those of `ids` whose paper is stored."""
    if not ids:
        return set()
    return set(conn.execute(sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id.in_(ids))).scalars())


def live_usernames(conn: Connection, names: list[str]) -> set[str]:
    """Those of `names` (compared without case) that still name an account, lower-cased."""
    if not names:
        return set()
    lowered = sorted({name.lower() for name in names})
    found = conn.execute(
        sa.select(sa.func.lower(users.c.username)).where(sa.func.lower(users.c.username).in_(lowered))
    ).scalars()
    return set(found)
