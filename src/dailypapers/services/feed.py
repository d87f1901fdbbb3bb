"""The feed: the papers of a day, week or month in a sort order, the newest feed day, the date picker."""

from __future__ import annotations

import math
from datetime import date, timedelta

from dailypapers.core.periods import InvalidPeriod, Period, PeriodKind, parse_period, period_containing
from dailypapers.core.settings import Settings
from dailypapers.services.errors import BadRequest, NotFound
from dailypapers.services.schemas import FeedPage, PaperCard, PeriodLink
from dailypapers.store import feed as feed_q
from dailypapers.store.db import Database
from dailypapers.store.feed import SortOrder as SortOrder  # the pages declare their sort parameter with it


def _link(kind: PeriodKind, day: date, sort: SortOrder = "trending", page: int | None = None) -> PeriodLink:
    period = period_containing(kind, day)
    params = ([f"sort={sort}"] if sort != "trending" else []) + ([f"page={page}"] if page else [])
    query = "?" + "&".join(params) if params else ""
    label = f"page {page} of {period.label}" if page else period.label
    return PeriodLink(key=period.key, label=label, url=f"/papers/{kind}/{period.key}{query}")


def day_url(day: str, sort: SortOrder = "trending") -> str:
    """The feed page of a day given as YYYY-MM-DD (the date picker); BadRequest says what is wrong."""
    try:
        period = parse_period("date", day.strip())
    except InvalidPeriod as exc:
        raise BadRequest(str(exc)) from None
    return _link("date", period.start, sort).url


def feed_period(kind: str, key: str) -> Period:
    """The period of a feed address (`date`/`week`/`month` and its key); BadRequest says what is wrong."""
    try:
        return parse_period(kind, key)
    except InvalidPeriod as exc:
        raise BadRequest(str(exc)) from None


def latest_period(db: Database, settings: Settings) -> Period:
    """The newest feed day, as a period; NotFound when the feed is empty."""
    with db.read() as conn:
        day = feed_q.latest_feed_day(conn)
    if day is None:
        raise NotFound("the feed is empty: import papers first (dailypapers import PATH)")
    return period_containing("date", day)


def feed_page(
    db: Database,
    settings: Settings,
    period: Period,
    sort: SortOrder = "trending",
    page: int = 1,
    page_size: int | None = None,
) -> FeedPage:
    """The papers of a period, in `sort` order, one page of them (of setting page_size papers unless
    `page_size` says otherwise), with previous/next periods.

    NotFound for an empty period or a page past the end carries links to the nearest feed
    periods before and after (and to the last page), so that the error page has a way back.
    """
    page_size = page_size or settings.page_size
    with db.read() as conn:
        total = feed_q.count_in_period(conn, period.start, period.end)
        # Navigation skips empty periods (weekends, holidays): jump to the nearest feed day.
        before = feed_q.previous_feed_day(conn, period.start)
        after = feed_q.next_feed_day(conn, period.end)
        previous = _link(period.kind, before, sort) if before else None
        following = _link(period.kind, after, sort) if after else None
        nearby = {name: link for name, link in (("previous", previous), ("next", following)) if link}
        if total == 0:
            raise NotFound(f"no papers were featured in {period.label}", nearby)
        pages = max(1, math.ceil(total / page_size))
        if page > pages:
            last = _link(period.kind, period.start, sort, pages)
            raise NotFound(
                f"page {page} does not exist: {period.label} has {pages} page(s)",
                {"last_page": last, **nearby},
            )
        rows = feed_q.papers_in_period(
            conn, period.start, period.end, sort, page_size, (page - 1) * page_size
        )
        latest_day = feed_q.previous_feed_day(conn, period.end + timedelta(days=1))
        assert latest_day is not None  # the period has papers, so it has a feed day
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
        views={kind: _link(kind, latest_day, sort) for kind in ("date", "week", "month")},
        previous=previous,
        next=following,
    )
