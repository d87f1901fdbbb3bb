"""Submit a paper: a member puts an arXiv paper on today's (UTC) feed, "Submitted by <member>".

A paper the database does not know is fetched from the arXiv API (`id_list`, through the polite
client, configured from settings as `dailypapers ingest arxiv-api` is) and merged into the store
as any import is. The rules are settings (by default a week and five a day): the paper at most
submit_max_age_days old, submit_daily_cap submissions per member and UTC day (moderators and
admins have none), accounts at least submit_min_account_days old, and no duplicate: a paper
already on today's feed, or featured within the age window, is refused with a link to its entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from pydantic import BaseModel
from sqlalchemy.engine import Connection

from dailypapers.core.models import PaperRecord, as_utc
from dailypapers.core.settings import Settings
from dailypapers.ingest.http import FetchError, PoliteClient
from dailypapers.ingest.records import RecordError
from dailypapers.ingest.sources import build_source
from dailypapers.ingest.sources.base import FeedError, Request, Source
from dailypapers.services.errors import BadRequest, Forbidden, NotFound, TooMany
from dailypapers.services.runtime import Database
from dailypapers.services.schemas import Member
from dailypapers.services.votes import paper_id
from dailypapers.store import papers as papers_q
from dailypapers.store import submissions as submissions_q

# A member waits for the answer: one retry at most, and no long waits, whatever the harvest allows.
FETCH_RETRIES = 1
FETCH_MAX_WAIT = 10.0

# Fetch: the arXiv record of a versionless id, or None when arXiv has no such paper.
Fetch = Callable[[str], PaperRecord | None]


class Submission(BaseModel):
    """A paper put on a day's feed by a member."""

    arxiv_id: str
    title: str
    feed_date: date
    submitted_by: str  # username
    featured_at: datetime
    fetched: bool  # the paper was new here and was fetched from arXiv
    url: str  # the paper page


class AlreadyFeatured(BadRequest):
    """The paper is on the feed already (today, or within the age window): `url` is its entry."""

    def __init__(self, message: str, arxiv_id: str) -> None:
        super().__init__(message)
        self.arxiv_id = arxiv_id
        self.url = f"/papers/{arxiv_id}"


class ArxivUnavailable(RuntimeError):
    """arXiv could not be asked or gave no usable answer; the message says what happened, in words."""


@lru_cache(maxsize=4)
def _client(
    contact: str, timeout: float, retries: int, max_wait: float, backoff: float, interval: float, host: str
) -> PoliteClient:
    # One client per configuration, shared by every submission: the interval between two requests
    # to arXiv holds across members.
    return PoliteClient(
        contact=contact,
        timeout=timeout,
        retries=retries,
        max_wait=max_wait,
        backoff_base=backoff,
        intervals={host: interval},
        default_interval=interval,
    )


def arxiv_fetch(settings: Settings) -> Fetch:
    """The arXiv API fetch of one paper by id, through the polite client (settings' arxiv_api_url,
    contact, timeout, request interval; few retries, since a member is waiting)."""
    client = _client(
        settings.contact_email,
        settings.http_timeout,
        min(settings.http_retries, FETCH_RETRIES),
        min(settings.http_max_wait, FETCH_MAX_WAIT),
        settings.http_backoff,
        settings.arxiv_request_interval,
        urlsplit(settings.arxiv_api_url).netloc,
    )

    def fetch(arxiv_id: str) -> PaperRecord | None:
        source = build_source("arxiv-api", settings, ids=[arxiv_id])
        state = source.begin(None, None, date.today())
        request = source.next_request(state)
        assert request is not None  # an id list always has a first request
        try:
            response = client.get(request.url, request.params, request.headers)
            page = source.parse(response.content, request)
            records = [source.normalize(entry, page) for entry in page.entries]
        except FetchError as exc:
            raise ArxivUnavailable(_fetch_error_words(source, request, exc)) from None
        except (FeedError, RecordError) as exc:
            raise ArxivUnavailable(
                f"arXiv's answer could not be read ({exc}); please try again later."
            ) from None
        return next((r for r in records if r is not None and r.arxiv_id == arxiv_id), None)

    return fetch


def _fetch_error_words(source: Source, request: Request, exc: FetchError) -> str:
    """arXiv's own explanation when its error feed came back (HTTP 400), else the failure in words."""
    if exc.body and exc.status is not None and 400 <= exc.status < 500:
        try:
            source.parse(exc.body, request)
        except FeedError as feed_error:
            return f"arXiv refused the request: {feed_error}"
        except Exception:  # noqa: BLE001 - the body was only read for its message
            pass
    return f"arXiv could not be reached ({exc}); please try again in a few minutes."


def _utc_day_bounds(now: datetime) -> tuple[date, datetime, datetime]:
    day = now.date()
    start = datetime.combine(day, time(0), tzinfo=now.tzinfo)
    return day, start, start + timedelta(days=1)


def _check_member(settings: Settings, member: Member, now: datetime) -> None:
    if not member.can_act(now):
        raise Forbidden("Only confirmed members who are not banned may submit papers.")
    days = settings.submit_min_account_days
    if days and not member.is_moderator and member.created_at + timedelta(days=days) > now:
        raise Forbidden(f"Accounts may submit papers once they are {days} days old.")


def _check_age(settings: Settings, arxiv_id: str, published_at: datetime | None, now: datetime) -> None:
    limit = settings.submit_max_age_days
    if limit and published_at is not None and as_utc(published_at) < now - timedelta(days=limit):
        raise BadRequest(
            f"arXiv:{arxiv_id} was first published on {as_utc(published_at):%Y-%m-%d}: "
            f"papers may be submitted up to {limit} days after they appear on arXiv."
        )


def submit_paper(
    db: Database, settings: Settings, member: Member, text: str, now: datetime, fetch: Fetch | None = None
) -> Submission:
    """Put the paper named by `text` (an arXiv id or URL) on today's feed as the member's submission.

    Raises Forbidden (may not submit), BadRequest (not an id, too old), AlreadyFeatured (a link to
    the entry), TooMany (the daily cap), NotFound (arXiv has no such paper) or ArxivUnavailable.
    `fetch` asks arXiv for an unknown paper (default: arxiv_fetch(settings)).
    """
    now = as_utc(now)
    _check_member(settings, member, now)
    arxiv_id = paper_id(text)
    day, day_start, day_end = _utc_day_bounds(now)
    window = day - timedelta(days=settings.submit_max_age_days) if settings.submit_max_age_days else date.min
    with db.read() as conn:
        _check_cap(conn, settings, member, day_start, day_end, now)
        row = papers_q.get_paper_row(conn, arxiv_id)
        _check_duplicate(conn, arxiv_id, day, window)
    record = None
    if row is None:
        record = (fetch or arxiv_fetch(settings))(arxiv_id)
        if record is None:
            raise NotFound(f"arXiv has no paper {arxiv_id}: check the id.")
        _check_age(settings, arxiv_id, record.published_at, now)
    else:
        _check_age(settings, arxiv_id, row["published_at"], now)
    with db.write() as conn:
        submissions_q.lock_member(conn, member.id)
        _check_cap(conn, settings, member, day_start, day_end, now)
        _check_duplicate(conn, arxiv_id, day, window)
        if record is not None:
            papers_q.upsert_batch(conn, [record], now)
        if not submissions_q.add_submission(conn, arxiv_id, day, member.username, member.id, now):
            raise AlreadyFeatured(f"arXiv:{arxiv_id} is already on today's feed.", arxiv_id)
        stored = papers_q.get_paper_row(conn, arxiv_id)
    assert stored is not None  # merged or known above, in this transaction
    return Submission(
        arxiv_id=arxiv_id,
        title=stored["title"],
        feed_date=day,
        submitted_by=member.username,
        featured_at=now,
        fetched=record is not None,
        url=f"/papers/{arxiv_id}",
    )


def _check_cap(
    conn: Connection, settings: Settings, member: Member, start: datetime, end: datetime, now: datetime
) -> None:
    cap = settings.submit_daily_cap
    if member.is_moderator or submissions_q.submissions_between(conn, member.id, start, end) < cap:
        return
    wait = int((end - now).total_seconds()) + 1
    raise TooMany(
        f"You have submitted {cap} papers today, the most a member may (the count starts again at "
        f"midnight UTC).",
        wait,
    )


def _check_duplicate(conn: Connection, arxiv_id: str, day: date, window: date) -> None:
    featured = submissions_q.latest_feed_day_since(conn, arxiv_id, window)
    if featured is None:
        return
    when = "today" if featured == day else f"on {featured:%Y-%m-%d}"
    raise AlreadyFeatured(f"arXiv:{arxiv_id} was already featured {when}: see its entry.", arxiv_id)
