"""The services that web pages, the JSON API and the CLI all call; none of them writes SQL."""

from __future__ import annotations

import math
from datetime import timedelta

from dailypapers.core.arxiv_ids import InvalidArxivId, parse_arxiv_id
from dailypapers.core.periods import Period, PeriodKind, period_containing
from dailypapers.schemas import FeedPage, PaperCard, PaperPublic, PeriodLink
from dailypapers.store import feed as feed_q
from dailypapers.store import papers as papers_q
from dailypapers.store.db import Database
from dailypapers.store.feed import SORT_ORDERS, SortOrder


class NotFound(LookupError):
    """The paper or feed period does not exist."""


class BadRequest(ValueError):
    """A parameter is malformed; the message says what is wrong."""


def parse_sort(value: str | None) -> SortOrder:
    """Validate a sort order name (default: trending)."""
    if value is None or value == "":
        return "trending"
    if value not in SORT_ORDERS:
        raise BadRequest(f"invalid sort {value!r}: expected one of {', '.join(SORT_ORDERS)}")
    return value  # type: ignore[return-value]


def parse_page(value: str | None) -> int:
    """Validate a 1-based page number."""
    if value is None or value == "":
        return 1
    if not value.isdigit() or not 1 <= int(value) <= 100_000:
        raise BadRequest(f"invalid page {value!r}: expected a whole number from 1")
    return int(value)


def _link(kind: PeriodKind, day) -> PeriodLink:  # type: ignore[no-untyped-def]
    period = period_containing(kind, day)
    return PeriodLink(key=period.key, label=period.label, url=f"/papers/{kind}/{period.key}")


def latest_period(db: Database) -> Period:
    """The newest feed day, as a period; NotFound when the feed is empty."""
    with db.read() as conn:
        day = feed_q.latest_feed_day(conn)
    if day is None:
        raise NotFound("the feed is empty: import papers first (dailypapers import PATH)")
    return period_containing("date", day)


def feed_page(db: Database, period: Period, sort: SortOrder, page: int, page_size: int) -> FeedPage:
    """The papers of a period, in `sort` order, one page of them, with previous/next periods."""
    with db.read() as conn:
        total = feed_q.count_in_period(conn, period.start, period.end)
        if total == 0:
            raise NotFound(f"no papers were featured in {period.label}")
        pages = max(1, math.ceil(total / page_size))
        if page > pages:
            raise NotFound(f"page {page} does not exist: {period.label} has {pages} page(s)")
        rows = feed_q.papers_in_period(conn, period.start, period.end, sort, page_size, (page - 1) * page_size)
        # Navigation skips empty periods (weekends, holidays): jump to the nearest feed day.
        latest_day = feed_q.previous_feed_day(conn, period.end + timedelta(days=1))
        before = feed_q.previous_feed_day(conn, period.start)
        after = feed_q.next_feed_day(conn, period.end)
    return FeedPage(
        kind=period.kind,
        key=period.key,
        label=period.label,
        start=period.start,
        end=period.end,
        sort=sort,
        page=page,
        page_size=page_size,
        total=total,
        pages=pages,
        papers=[PaperCard.from_row(r) for r in rows],
        views={kind: _link(kind, latest_day) for kind in ("date", "week", "month")},
        previous=_link(period.kind, before) if before else None,
        next=_link(period.kind, after) if after else None,
    )


def paper_detail(db: Database, arxiv_id: str) -> PaperPublic:
    """One paper with its feed days; BadRequest for a malformed id, NotFound for an unknown one."""
    try:
        parsed = parse_arxiv_id(arxiv_id)
    except InvalidArxivId as exc:
        raise BadRequest(str(exc)) from None
    with db.read() as conn:
        row = papers_q.get_paper_row(conn, parsed.id)
        if row is None:
            raise NotFound(f"paper {parsed.id} is not in this feed")
        days = papers_q.feed_days_of(conn, parsed.id)
    return PaperPublic.from_row(row, days)
