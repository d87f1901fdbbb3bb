"""Feed queries: the papers of a period in a sort order, and the neighbouring feed days."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dailypapers.store.tables import feed_entries, papers

SortOrder = Literal["trending", "upvotes", "newest"]
SORT_ORDERS: tuple[SortOrder, ...] = ("trending", "upvotes", "newest")

_UPVOTES = (papers.c.imported_upvotes + papers.c.vote_count).label("upvotes")


def _order(sort: SortOrder) -> list[Any]:
    # Every order ends with arxiv_id so ties come out the same way on every page and database.
    if sort == "upvotes":
        return [_UPVOTES.desc(), papers.c.trending_score.desc(), papers.c.arxiv_id.desc()]
    if sort == "newest":
        return [papers.c.first_featured_at.desc(), papers.c.arxiv_id.desc()]
    return [papers.c.trending_score.desc(), papers.c.arxiv_id.desc()]


def _in_period(start: date, end: date):
    return sa.select(feed_entries.c.arxiv_id).where(feed_entries.c.feed_date.between(start, end))


def papers_in_period(
    conn: Connection, start: date, end: date, sort: SortOrder, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Papers featured between start and end (inclusive), each once, in the given order."""
    q = (
        sa.select(papers, _UPVOTES)
        .where(papers.c.arxiv_id.in_(_in_period(start, end)))
        .order_by(*_order(sort))
        .limit(limit)
        .offset(offset)
    )
    return [row._asdict() for row in conn.execute(q)]


def count_in_period(conn: Connection, start: date, end: date) -> int:
    """Number of distinct papers featured between start and end."""
    q = sa.select(sa.func.count(sa.distinct(feed_entries.c.arxiv_id))).where(
        feed_entries.c.feed_date.between(start, end)
    )
    return conn.scalar(q) or 0


def latest_feed_day(conn: Connection) -> date | None:
    """The newest day that has feed entries."""
    return conn.scalar(sa.select(sa.func.max(feed_entries.c.feed_date)))


def previous_feed_day(conn: Connection, before: date) -> date | None:
    """The newest feed day strictly before `before`."""
    q = sa.select(sa.func.max(feed_entries.c.feed_date)).where(feed_entries.c.feed_date < before)
    return conn.scalar(q)


def next_feed_day(conn: Connection, after: date) -> date | None:
    """The oldest feed day strictly after `after`."""
    q = sa.select(sa.func.min(feed_entries.c.feed_date)).where(feed_entries.c.feed_date > after)
    return conn.scalar(q)


def paper_cards(conn: Connection, ids: list[str]) -> list[dict[str, Any]]:
    """The rows (with `upvotes`) of these papers, for cards; unknown ids are left out."""
    rows = conn.execute(sa.select(papers, _UPVOTES).where(papers.c.arxiv_id.in_(ids)))
    return [dict(r._mapping) for r in rows]
