"""The SQL of the RSS/Atom feeds on the caller's connection: the newest featured papers (all of them, a
category's, a search's, a member's submissions), when the papers of a period entered it, and a paper's
visible comments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from dailypapers.store.tables import comments, feed_entries, papers, users


def newest_featured(
    conn: Connection,
    conditions: Sequence[Any],
    limit: int,
    *,
    within_day: Literal["trending", "newest"] = "newest",
    submitted_by: int | None = None,
) -> list[dict[str, Any]]:
    """Papers with their newest feed entry (`feed_date`, `featured_at`), newest feed day first, within a
    day by trending score or by the time they were featured; each paper once. `conditions` on `papers`
    narrow them (a category, a search's terms); `submitted_by`: only the entries this member submitted.

    The query walks feed_entries down its (feed_date, arxiv_id) index and stops at `limit`: the feeds
    never sort the whole papers table."""
    later = feed_entries.alias("later")
    newer_entry = sa.select(later.c.id).where(
        later.c.arxiv_id == feed_entries.c.arxiv_id, later.c.feed_date > feed_entries.c.feed_date
    )
    entry_filter = []
    if submitted_by is not None:
        entry_filter.append(feed_entries.c.submitted_by == submitted_by)
        newer_entry = newer_entry.where(later.c.submitted_by == submitted_by)
    within = papers.c.trending_score.desc() if within_day == "trending" else feed_entries.c.featured_at.desc()
    query = (
        sa.select(papers, feed_entries.c.feed_date, feed_entries.c.featured_at)
        .select_from(feed_entries.join(papers, papers.c.arxiv_id == feed_entries.c.arxiv_id))
        .where(~sa.exists(newer_entry), *entry_filter, *conditions)
        .order_by(feed_entries.c.feed_date.desc(), within, papers.c.arxiv_id.desc())
        .limit(limit)
    )
    return [row._asdict() for row in conn.execute(query)]


def featured_in(conn: Connection, ids: Sequence[str], start: date, end: date) -> dict[str, datetime]:
    """When each of these papers last entered the feed between start and end (inclusive)."""
    if not ids:
        return {}
    query = (
        sa.select(feed_entries.c.arxiv_id, sa.func.max(feed_entries.c.featured_at))
        .where(feed_entries.c.arxiv_id.in_(ids), feed_entries.c.feed_date.between(start, end))
        .group_by(feed_entries.c.arxiv_id)
    )
    return {arxiv_id: featured_at for arxiv_id, featured_at in conn.execute(query)}


def last_featured_at(conn: Connection) -> datetime | None:
    """The newest time any paper entered the feed (the time of a feed that has no entry yet)."""
    return conn.scalar(sa.select(sa.func.max(feed_entries.c.featured_at)))


def visible_comments(conn: Connection, arxiv_id: str, limit: int) -> list[Row[Any]]:
    """A paper's comments neither deleted nor hidden, with their author's names (None for a deleted
    account), newest first."""
    return list(
        conn.execute(
            sa.select(comments, users.c.username, users.c.display_name)
            .select_from(comments.outerjoin(users, users.c.id == comments.c.user_id))
            .where(
                comments.c.arxiv_id == arxiv_id,
                comments.c.deleted_at.is_(None),
                comments.c.hidden_at.is_(None),
            )
            .order_by(comments.c.created_at.desc(), comments.c.id.desc())
            .limit(limit)
        ).all()
    )


def is_paper(arxiv_id: str) -> Any:
    """The condition on `papers` of one paper (a search feed whose query is an arXiv id)."""
    return papers.c.arxiv_id == arxiv_id
