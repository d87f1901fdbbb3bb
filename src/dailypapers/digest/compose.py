"""Composing digests: which papers a subscriber gets for a period, written once into the outbox.

The papers: those featured on the feed days after the subscriber's last digest (the first digest:
the newest feed day, or the newest week of feed days for a weekly one), up to the send time; in the
subscriber's categories (none chosen: all) with at least min_upvotes; never one already sent to them
(table sent_papers). First the max_papers most trending, then for each saved search the papers of the
same days that match its query (search.keyword, every word required) and none of its exclude words.

compose_one writes, in one transaction, the outbox row (unique per subscriber and period), the papers
it holds (sent_papers) and the subscriber's last_feed_day: a composer killed at any point leaves
either all of it or none, and a second composer of the same period adds nothing. A period whose
new feed days have no paper for the subscriber is recorded as an `empty` outbox row and sends
nothing: no empty mails.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.utils import make_msgid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from dailypapers.core.models import as_utc
from dailypapers.core.settings import Settings
from dailypapers.digest.model import DigestContent, DigestPaper, SavedSearchMatches
from dailypapers.digest.render import render_digest
from dailypapers.digest.subscriptions import links_domain, manage_url, unsubscribe_url
from dailypapers.digest.timing import DuePeriod, due_period
from dailypapers.digest.tokens import Signer
from dailypapers.search.keyword import keyword_search
from dailypapers.search.query import parse_query
from dailypapers.store.feed import UPVOTES
from dailypapers.store.tables import feed_entries, outbox, papers, saved_searches, sent_papers, subscribers

# A candidate paper's row: its columns, and its upvotes (SQLAlchemy types a row by what it selects).
PaperRow = Row[*tuple[Any, ...]]
SEARCH_LIMIT = 500  # keyword matches looked at per saved search (then kept to the period's papers)


def _paper(row: PaperRow, site_url: str) -> DigestPaper:
    return DigestPaper(
        arxiv_id=row.arxiv_id,
        title=row.title,
        authors=list(row.authors or []),
        abstract=row.abstract or "",
        categories=list(row.categories or []),
        upvotes=int(row.upvotes or 0),
        page_url=f"{site_url}/papers/{row.arxiv_id}",
        abs_url=f"https://arxiv.org/abs/{row.arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{row.arxiv_id}",
        code_url=(row.code_urls or [None])[0],
    )


def feed_window(conn: sa.Connection, sub: Row[Any], period: DuePeriod) -> tuple[date, date] | None:
    """The feed days this digest covers (first, last), or None when there is no new one."""
    last_day = period.send_at.astimezone(UTC).date()  # feed days are UTC dates
    newest = conn.scalar(
        sa.select(sa.func.max(feed_entries.c.feed_date)).where(feed_entries.c.feed_date <= last_day)
    )
    if newest is None or (sub.last_feed_day is not None and newest <= sub.last_feed_day):
        return None
    if sub.last_feed_day is not None:
        first = sub.last_feed_day + timedelta(days=1)
    else:
        first = newest - timedelta(days=6 if sub.frequency == "weekly" else 0)
    return first, newest


def _candidates(conn: sa.Connection, sub: Row[Any], first: date, last: date) -> list[PaperRow]:
    """The window's papers for this subscriber, most trending first, never-sent only."""
    in_window = sa.select(feed_entries.c.arxiv_id).where(feed_entries.c.feed_date.between(first, last))
    already = sa.select(sent_papers.c.arxiv_id).where(sent_papers.c.subscriber_id == sub.id)
    rows = conn.execute(
        sa.select(
            papers.c.arxiv_id,
            papers.c.title,
            papers.c.authors,
            papers.c.abstract,
            papers.c.categories,
            papers.c.code_urls,
            papers.c.trending_score,
            UPVOTES,
        )
        .where(
            papers.c.arxiv_id.in_(in_window), papers.c.arxiv_id.not_in(already), papers.c.withdrawn.is_(False)
        )
        .order_by(papers.c.trending_score.desc(), papers.c.arxiv_id)
    ).all()
    wanted = set(sub.categories or [])
    return [
        r
        for r in rows
        if (not wanted or wanted & set(r.categories or [])) and (r.upvotes or 0) >= sub.min_upvotes
    ]


def _search_matches(
    conn: sa.Connection, include: str, exclude: str, allowed: dict[str, PaperRow]
) -> list[PaperRow]:
    """The allowed papers that match a saved search: every include word, none of the exclude words."""
    query = parse_query(include)
    negated = [replace(t, negated=True) for t in parse_query(exclude).terms if not t.negated]
    query = replace(query, terms=[*query.terms, *negated])
    if not query.positive and not query.categories:
        return []
    hits = keyword_search(conn, query, limit=SEARCH_LIMIT, count=False).hits
    return [allowed[h.arxiv_id] for h in hits if h.arxiv_id in allowed]


def build_content(
    conn: sa.Connection,
    sub: Row[Any],
    period: DuePeriod,
    window: tuple[date, date],
    settings: Settings,
    signer: Signer,
) -> DigestContent:
    site_url = settings.site_url.rstrip("/")
    rows = _candidates(conn, sub, *window)
    top = rows[: sub.max_papers]
    chosen = {r.arxiv_id for r in top}
    rest = {r.arxiv_id: r for r in rows if r.arxiv_id not in chosen}
    saved = []
    for search in conn.execute(
        sa.select(saved_searches)
        .where(saved_searches.c.subscriber_id == sub.id)
        .order_by(saved_searches.c.position)
    ):
        matches = _search_matches(conn, search.include, search.exclude, rest)[: sub.max_papers]
        for r in matches:
            rest.pop(r.arxiv_id, None)
        saved.append(
            SavedSearchMatches(search.include, search.exclude, [_paper(r, site_url) for r in matches])
        )
    return DigestContent(
        site_name=settings.site_name,
        site_url=site_url,
        to_addr=sub.email,
        period_label=period.label,
        frequency=sub.frequency,
        top=[_paper(r, site_url) for r in top],
        saved=saved,
        manage_url=manage_url(signer, site_url, sub),
        unsubscribe_url=unsubscribe_url(signer, site_url, sub),
    )


def compose_one(
    conn: sa.Connection, sub: Row[Any], period: DuePeriod, settings: Settings, signer: Signer, now: datetime
) -> int | None:
    """Compose this subscriber's digest of `period` into the outbox (call inside a write
    transaction); the outbox id, or None when there was nothing new or it was already composed."""
    done = conn.execute(
        sa.select(outbox.c.id).where(
            outbox.c.subscriber_id == sub.id, outbox.c.kind == "digest", outbox.c.period_key == period.key
        )
    ).first()
    if done is not None:
        return None
    window = feed_window(conn, sub, period)
    if window is None:
        return None
    content = build_content(conn, sub, period, window, settings, signer)
    rendered = render_digest(content) if not content.empty else None
    outbox_id = conn.execute(
        outbox.insert()
        .values(
            subscriber_id=sub.id,
            kind="digest",
            period_key=period.key,
            to_addr=sub.email,
            message_id=make_msgid(domain=links_domain(settings.site_url)),
            subject=rendered.subject if rendered else "",
            body_text=rendered.text if rendered else "",
            body_html=rendered.html if rendered else "",
            unsubscribe_url=content.unsubscribe_url,
            status="queued" if rendered else "empty",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .returning(outbox.c.id)
    ).scalar_one()
    ids = [p.arxiv_id for p in content.top] + [p.arxiv_id for s in content.saved for p in s.papers]
    if ids:
        conn.execute(
            sent_papers.insert(),
            [{"subscriber_id": sub.id, "arxiv_id": i, "outbox_id": outbox_id} for i in ids],
        )
    conn.execute(subscribers.update().where(subscribers.c.id == sub.id).values(last_feed_day=window[1]))
    return outbox_id


def due_digests(conn: sa.Connection, now: datetime) -> list[tuple[Row[Any], DuePeriod, bool]]:
    """The active readers whose period is due and not composed yet, with reads only: (subscriber
    row, period, whether a feed day came since their last digest)."""
    newest = conn.scalar(sa.select(sa.func.max(feed_entries.c.feed_date)))
    if newest is None:
        return []
    done = {
        (r.subscriber_id, r.period_key)
        for r in conn.execute(
            sa.select(outbox.c.subscriber_id, outbox.c.period_key).where(
                outbox.c.kind == "digest", outbox.c.created_at >= now - timedelta(days=9)
            )
        )
    }
    due = []
    for sub in conn.execute(
        sa.select(subscribers).where(subscribers.c.status == "active").order_by(subscribers.c.id)
    ):
        try:
            period = due_period(
                now, sub.frequency, sub.weekday, sub.send_hour, sub.timezone, as_utc(sub.confirmed_at)
            )
        except ValueError:  # an unknown zone (tzdata removed it): skip rather than stop every digest
            continue
        if period is not None and (sub.id, period.key) not in done:
            due.append((sub, period, sub.last_feed_day is None or newest > sub.last_feed_day))
    return due


def compose_due_digest(
    conn: sa.Connection,
    subscriber_id: int,
    period: DuePeriod,
    settings: Settings,
    signer: Signer,
    now: datetime,
) -> int | None:
    """Compose a digest that due_digests found due (call inside a write transaction); the outbox id,
    or None. The subscriber is read again (they may have left since), and when a second composer got
    there first its digest stands."""
    sub = conn.execute(sa.select(subscribers).where(subscribers.c.id == subscriber_id)).first()
    if sub is None or sub.status != "active":
        return None
    try:
        with conn.begin_nested():
            return compose_one(conn, sub, period, settings, signer, now)
    except sa.exc.IntegrityError:
        return None


def preview(
    conn: sa.Connection, sub: Row[Any], settings: Settings, signer: Signer, now: datetime
) -> DigestContent:
    """What this subscriber's next digest would hold now (nothing is recorded)."""
    period = due_period(now, sub.frequency, sub.weekday, sub.send_hour, sub.timezone, None)
    assert period is not None
    window = feed_window(conn, sub, period)
    if window is None:
        newest = conn.scalar(sa.select(sa.func.max(feed_entries.c.feed_date)))
        window = (newest, newest) if newest else (now.date(), now.date())
    return build_content(conn, sub, period, window, settings, signer)
