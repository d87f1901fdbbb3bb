"""The services that web pages, the JSON API and the CLI all call; none of them writes SQL."""

from __future__ import annotations

import math
from datetime import date, timedelta

from dailypapers.core.arxiv_ids import InvalidArxivId, parse_arxiv_id
from dailypapers.core.periods import InvalidPeriod, Period, PeriodKind, parse_period, period_containing
from dailypapers.services.schemas import FeedPage, PaperCard, PaperPublic, PeriodLink
from dailypapers.store import feed as feed_q
from dailypapers.store import papers as papers_q
from dailypapers.store.db import Database
from dailypapers.store.feed import SortOrder


class NotFound(LookupError):
    """The paper or feed period does not exist; `links` say where to go instead (name → link)."""

    def __init__(self, message: str, links: dict[str, PeriodLink] | None = None) -> None:
        super().__init__(message)
        self.links = links or {}


class BadRequest(ValueError):
    """A parameter is malformed; the message says what is wrong."""


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


def latest_period(db: Database) -> Period:
    """The newest feed day, as a period; NotFound when the feed is empty."""
    with db.read() as conn:
        day = feed_q.latest_feed_day(conn)
    if day is None:
        raise NotFound("the feed is empty: import papers first (dailypapers import PATH)")
    return period_containing("date", day)


def feed_page(db: Database, period: Period, sort: SortOrder, page: int, page_size: int) -> FeedPage:
    """The papers of a period, in `sort` order, one page of them, with previous/next periods.

    NotFound for an empty period or a page past the end carries links to the nearest feed
    periods before and after (and to the last page), so that the error page has a way back.
    """
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


def paper_detail(db: Database, arxiv_id: str) -> PaperPublic:
    """One paper with its feed days; BadRequest for a malformed id, NotFound for an unknown one or
    for a version newer than the stored one (a paper stored without a number is known as v1)."""
    try:
        parsed = parse_arxiv_id(arxiv_id)
    except InvalidArxivId as exc:
        raise BadRequest(str(exc)) from None
    with db.read() as conn:
        row = papers_q.get_paper_row(conn, parsed.id)
        if row is None:
            raise NotFound(f"paper {parsed.id} is not in this feed")
        stored = row["version"]
        if parsed.version is not None and parsed.version > (stored or 1):
            held = (
                f"its newest version here is v{stored}" if stored else "it is held without a version number"
            )
            link = PeriodLink(key=parsed.id, label=f"arXiv:{parsed.id}", url=f"/papers/{parsed.id}")
            raise NotFound(
                f"version {parsed.version} of paper {parsed.id} is not in this feed: {held}", {"paper": link}
            )
        days = papers_q.feed_days_of(conn, parsed.id)
    return PaperPublic.from_row(row, days)
