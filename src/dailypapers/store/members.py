"""The SQL of member pages on the caller's connection: a member's submissions, comments and upvotes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from dailypapers.store.tables import comments, feed_entries, papers, votes


def submissions_of(conn: Connection, user_id: int, limit: int) -> list[Row[Any]]:
    """The feed entries a member submitted with the paper's title, newest day first."""
    query: sa.Select[Any] = (
        sa.select(feed_entries.c.feed_date, feed_entries.c.arxiv_id, papers.c.title)
        .select_from(feed_entries.join(papers, papers.c.arxiv_id == feed_entries.c.arxiv_id))
        .where(feed_entries.c.submitted_by == user_id)
        .order_by(feed_entries.c.feed_date.desc(), feed_entries.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).all())


def comments_of(conn: Connection, user_id: int, with_hidden: bool, limit: int) -> list[Row[Any]]:
    """A member's comments (never deleted ones; hidden ones only `with_hidden`) with the paper's
    title, newest first."""
    query: sa.Select[Any] = (
        sa.select(
            comments.c.id,
            comments.c.arxiv_id,
            comments.c.body,
            comments.c.created_at,
            comments.c.hidden_at,
            papers.c.title,
        )
        .select_from(comments.join(papers, papers.c.arxiv_id == comments.c.arxiv_id))
        .where(comments.c.user_id == user_id, comments.c.deleted_at.is_(None))
        .order_by(comments.c.created_at.desc(), comments.c.id.desc())
        .limit(limit)
    )
    if not with_hidden:
        query = query.where(comments.c.hidden_at.is_(None))
    return list(conn.execute(query).all())


def upvotes_of(conn: Connection, user_id: int, limit: int) -> list[Row[Any]]:
    """The papers a member upvoted with their titles, newest vote first."""
    query: sa.Select[Any] = (
        sa.select(votes.c.arxiv_id, votes.c.created_at, papers.c.title)
        .select_from(votes.join(papers, papers.c.arxiv_id == votes.c.arxiv_id))
        .where(votes.c.user_id == user_id)
        .order_by(votes.c.created_at.desc(), votes.c.arxiv_id)
        .limit(limit)
    )
    return list(conn.execute(query).all())
