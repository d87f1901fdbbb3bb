"""Feed queries: the papers of a period in a sort order, and the neighbouring feed days."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dailypapers.core.ranking import period_vote_multipliers
from dailypapers.store.tables import feed_entries, papers, users

SortOrder = Literal["trending", "upvotes", "newest"]
SORT_ORDERS: tuple[SortOrder, ...] = ("trending", "upvotes", "newest")

_VOTES = papers.c.imported_upvotes + papers.c.vote_count
# A paper's upvotes (imported + votes here), as the column `upvotes` of a select.
UPVOTES = _VOTES.label("upvotes")


def _with_submitters(
    conn: Connection, rows: list[dict[str, Any]], start: date | None = None, end: date | None = None
) -> list[dict[str, Any]]:
    """Each row with `submitted_by`: the username of the member who submitted the paper to its newest
    feed day between start and end (any day when not given), or None. One query for the rows of a
    page, after the page is chosen (a correlated subquery in the page's query made PostgreSQL
    evaluate it for every paper of a month before sorting)."""
    names: dict[str, str] = {}
    ids = [row["arxiv_id"] for row in rows]
    if ids:
        q = (
            sa.select(feed_entries.c.arxiv_id, users.c.username)
            .join(users, users.c.id == feed_entries.c.submitted_by)
            .where(feed_entries.c.arxiv_id.in_(ids))
            .order_by(feed_entries.c.feed_date)
        )
        if start is not None and end is not None:
            q = q.where(feed_entries.c.feed_date.between(start, end))
        names = {arxiv_id: username for arxiv_id, username in conn.execute(q)}  # the newest day wins
    for row in rows:
        row["submitted_by"] = names.get(row["arxiv_id"])
    return rows


def _order(sort: SortOrder) -> list[Any]:
    # Every order ends with arxiv_id so ties come out the same way on every page and database.
    if sort == "upvotes":
        return [UPVOTES.desc(), papers.c.trending_score.desc(), papers.c.arxiv_id.desc()]
    if sort == "newest":
        return [papers.c.first_featured_at.desc(), papers.c.arxiv_id.desc()]
    return [papers.c.trending_score.desc(), papers.c.arxiv_id.desc()]


def _in_period(start: date, end: date):
    return sa.select(feed_entries.c.arxiv_id).where(feed_entries.c.feed_date.between(start, end))


def _period_trending_order(start: date, end: date) -> tuple[Any, list[Any]]:
    """The papers of a week or month with their first feed day in it, and the period's trending
    order (core.ranking.period_trending_score, as the equivalent factor on 1 + upvotes)."""
    first_day = (
        sa.select(feed_entries.c.arxiv_id, sa.func.min(feed_entries.c.feed_date).label("first_day"))
        .where(feed_entries.c.feed_date.between(start, end))
        .group_by(feed_entries.c.arxiv_id)
        .subquery()
    )
    multipliers = period_vote_multipliers((end - start).days + 1)
    newness = sa.case(
        {start + timedelta(days=day): sa.literal(factor, sa.Float) for day, factor in enumerate(multipliers)},
        value=first_day.c.first_day,
    )
    score = (1 + _VOTES) * newness
    # Equal scores (same votes, same first day): the time of day the paper entered the feed
    # (the stored daily score), then the arXiv id, as on a day.
    order = [score.desc(), papers.c.trending_score.desc(), papers.c.arxiv_id.desc()]
    return first_day, order


def papers_in_period(
    conn: Connection, start: date, end: date, sort: SortOrder, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Papers featured between start and end (inclusive), each once, in the given order.

    "trending" over more than one day is the period's own ranking (core.ranking.period_trending_score);
    on a single day it is the stored daily score.
    """
    if sort == "trending" and end > start:
        first_day, order = _period_trending_order(start, end)
        q = sa.select(papers, UPVOTES).join(first_day, first_day.c.arxiv_id == papers.c.arxiv_id)
    else:
        q = sa.select(papers, UPVOTES).where(papers.c.arxiv_id.in_(_in_period(start, end)))
        order = _order(sort)
    q = q.order_by(*order).limit(limit).offset(offset)
    return _with_submitters(conn, [row._asdict() for row in conn.execute(q)], start, end)


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
    """The rows (with `upvotes`, and `submitted_by` of the newest feed day) of these papers, for
    cards; unknown ids are left out."""
    rows = conn.execute(sa.select(papers, UPVOTES).where(papers.c.arxiv_id.in_(ids)))
    return _with_submitters(conn, [dict(r._mapping) for r in rows])


def submitter_of(conn: Connection, arxiv_id: str) -> str | None:
    """The username of the member who submitted the paper to its newest feed day, if one did."""
    rows = _with_submitters(conn, [{"arxiv_id": arxiv_id}])
    submitted_by: str | None = rows[0]["submitted_by"]
    return submitted_by
