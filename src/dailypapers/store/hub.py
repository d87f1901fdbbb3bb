"""The SQL of the Hub-compatible API on the caller's connection: the entries of the daily list (a
period or every day; one per paper, its newest entry there; by submitter; newest first or trending)
and a paper's entry, each row a papers row with its upvotes, the entry's day and time and the
submitting member's names."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dailypapers.core.ranking import period_vote_multipliers
from dailypapers.store.feed import UPVOTES
from dailypapers.store.tables import feed_entries, papers, users

HubSort = Literal["publishedAt", "trending"]

_VOTES = papers.c.imported_upvotes + papers.c.vote_count
ENTRY = feed_entries.alias("entry")
NEWER = feed_entries.alias("newer")
# The columns of every row: the paper, its upvotes, its entry and the member who submitted it.
_COLUMNS = (
    papers,
    UPVOTES,
    ENTRY.c.feed_date,
    ENTRY.c.featured_at,
    users.c.id.label("submitter_id"),
    users.c.username.label("submitter"),
    users.c.display_name.label("submitter_display_name"),
)


def _newest(*conditions: Any) -> Any:
    """True for an entry with no newer entry of its paper that also meets `conditions` (so that each
    paper is listed once, at its newest entry)."""
    return ~sa.exists().where(
        NEWER.c.arxiv_id == ENTRY.c.arxiv_id, NEWER.c.feed_date > ENTRY.c.feed_date, *conditions
    )


def _period_trending(start: date, end: date, submitter: str | None) -> tuple[Any, list[Any]]:
    """The papers' first day in a week or month and the period's trending order, as the feed pages
    rank a period (core.ranking.period_trending_score as a factor on 1 + upvotes)."""
    first = sa.select(
        feed_entries.c.arxiv_id, sa.func.min(feed_entries.c.feed_date).label("first_day")
    ).where(feed_entries.c.feed_date.between(start, end))
    if submitter is not None:
        first = first.join(users, users.c.id == feed_entries.c.submitted_by).where(
            sa.func.lower(users.c.username) == submitter.lower()
        )
    first_day = first.group_by(feed_entries.c.arxiv_id).subquery("first_day")
    factors = period_vote_multipliers((end - start).days + 1)
    newness = sa.case(
        {start + timedelta(days=day): sa.literal(f, sa.Float) for day, f in enumerate(factors)},
        value=first_day.c.first_day,
    )
    order = [((1 + _VOTES) * newness).desc(), papers.c.trending_score.desc(), papers.c.arxiv_id.desc()]
    return first_day, order


def daily_entries(
    conn: Connection,
    *,
    start: date | None,
    end: date | None,
    submitter: str | None,
    sort: HubSort,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """One page of the daily list between start and end (inclusive; every day when None), each paper
    once at its newest entry there; only the entries the member `submitter` (a username, any case)
    submitted when given. publishedAt: newest day first, then the latest entry; trending: the stored
    score (one day, or every day) or the period's ranking (a week or a month)."""
    newer: list[Any] = []
    where: list[Any] = []
    if start is not None and end is not None:
        where.append(ENTRY.c.feed_date.between(start, end))
        newer.append(NEWER.c.feed_date <= end)
    joined = ENTRY.join(papers, papers.c.arxiv_id == ENTRY.c.arxiv_id)
    if submitter is None:
        joined = joined.outerjoin(users, users.c.id == ENTRY.c.submitted_by)
    else:
        joined = joined.join(users, users.c.id == ENTRY.c.submitted_by)
        where.append(sa.func.lower(users.c.username) == submitter.lower())
        newer.append(NEWER.c.submitted_by == ENTRY.c.submitted_by)
    q = sa.select(*_COLUMNS).select_from(joined).where(*where, _newest(*newer))
    if sort == "publishedAt":
        order = [ENTRY.c.feed_date.desc(), ENTRY.c.featured_at.desc(), ENTRY.c.arxiv_id.desc()]
    elif start is not None and end is not None and end > start:
        first_day, order = _period_trending(start, end, submitter)
        q = q.join(first_day, first_day.c.arxiv_id == ENTRY.c.arxiv_id)
    else:
        order = [papers.c.trending_score.desc(), papers.c.arxiv_id.desc()]
    q = q.order_by(*order).limit(limit).offset(offset)
    return [dict(row._mapping) for row in conn.execute(q)]


def paper_entries(conn: Connection, ids: list[str], day: date | None = None) -> list[dict[str, Any]]:
    """The rows of these papers (unknown ids left out, in no order), each with its newest entry of the
    daily list, or its entry of `day` when given (the entry columns are None for a paper never in
    the list)."""
    if not ids:
        return []
    on = ENTRY.c.arxiv_id == papers.c.arxiv_id
    on = sa.and_(on, ENTRY.c.feed_date == day) if day is not None else sa.and_(on, _newest())
    q = (
        sa.select(*_COLUMNS)
        .select_from(papers.outerjoin(ENTRY, on).outerjoin(users, users.c.id == ENTRY.c.submitted_by))
        .where(papers.c.arxiv_id.in_(ids))
    )
    return [dict(row._mapping) for row in conn.execute(q)]
