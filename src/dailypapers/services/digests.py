"""The operator's digest commands: preview a reader's next digest, see who is due, send the due
digests, unsubscribe from an inbound mail, and list or export the subscribers."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime

from dailypapers.core.settings import Settings
from dailypapers.digest import compose
from dailypapers.digest import subscriptions as subs
from dailypapers.digest.outbox import DeliveryReport as DeliveryReport
from dailypapers.digest.render import render_digest
from dailypapers.jobs.digests import run_digests
from dailypapers.services.errors import BadRequest, NotFound
from dailypapers.services.subscriptions import signer
from dailypapers.store import subscribers as subscribers_q
from dailypapers.store.db import Database

# The subject of a reply to the List-Unsubscribe mailto: address carries the manage token.
INBOUND_TOKEN = re.compile(r"unsubscribe[\s:-]+([A-Za-z0-9_.-]+)")


@dataclass(frozen=True)
class DigestPreview:
    """A reader's next digest as it would be sent now; `empty`: nothing new, so none would be."""

    subject: str
    text: str
    html: str
    empty: bool


@dataclass(frozen=True)
class DueDigest:
    """A digest due now: its reader, period and how many papers it would hold (None: no new feed day)."""

    email: str
    period_key: str
    papers: int | None
    empty: bool


@dataclass(frozen=True)
class DuePlan:
    """What `digest send --due` would do now: the due digests and the mails queued in the outbox."""

    digests: list[DueDigest]
    queued: int


@dataclass(frozen=True)
class SavedSearch:
    include: str
    exclude: str


@dataclass(frozen=True)
class SubscriberRecord:
    """One subscriber with their preferences, as listed and exported (values as stored)."""

    email: str
    status: str
    frequency: str
    weekday: int
    send_hour: int
    timezone: str
    max_papers: int
    categories: list[str]
    min_upvotes: int
    saved_searches: list[SavedSearch]
    bounces: int
    paused_reason: str | None
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None


def preview(db: Database, settings: Settings, email: str, now: datetime) -> DigestPreview:
    """Render a subscriber's next digest as it would be at `now`, recording nothing; BadRequest for
    an invalid address, NotFound when no one subscribed with it."""
    try:
        address = subs.normalize_email(email)
    except subs.InvalidEmail as exc:
        raise BadRequest(str(exc)) from None
    sign = signer(db, settings)  # before the read: it may read the key from the database itself
    with db.read() as conn:
        sub = subscribers_q.subscriber_by_email(conn, address)
        if sub is None:
            raise NotFound(f"no subscriber {address}")
        content = compose.preview(conn, sub, settings, sign, now)
    rendered = render_digest(content)
    return DigestPreview(rendered.subject, rendered.text, rendered.html, content.empty)


def due_digests(db: Database, settings: Settings, now: datetime) -> DuePlan:
    """Whose digest is due at `now` and how many papers each would hold (a dry run: reads only)."""
    sign = signer(db, settings)
    digests = []
    with db.read() as conn:
        for sub, period, fresh in compose.due_digests(conn, now):
            window = compose.feed_window(conn, sub, period) if fresh else None
            if window is None:
                digests.append(DueDigest(sub.email, period.key, None, True))
                continue
            content = compose.build_content(conn, sub, period, window, settings, sign)
            count = len(content.top) + sum(len(s.papers) for s in content.saved)
            digests.append(DueDigest(sub.email, period.key, count, content.empty))
        queued = subscribers_q.queued_mail_count(conn)
    return DuePlan(digests, queued)


def send_due(db: Database, settings: Settings, now: datetime | None = None) -> tuple[int, DeliveryReport]:
    """Compose the digests due at `now` (default: the real time) and send the outbox over SMTP, as the
    worker does; the number of digests composed and the delivery report."""
    return run_digests(db, settings, now=(lambda: now) if now is not None else None)


def unsubscribe_by_mail(db: Database, settings: Settings, subject: str, now: datetime) -> str:
    """Unsubscribe the reader whose signed token the subject of an inbound mail carries; their
    address. BadRequest when the subject has no token, InvalidToken when it is not valid."""
    found = INBOUND_TOKEN.search(subject)
    if not found:
        raise BadRequest("no unsubscribe token in the subject")
    sign = signer(db, settings)
    with db.write() as conn:
        sub = subs.from_manage_token(conn, sign, found.group(1))
        subs.unsubscribe(conn, sub, now)
    return str(sub.email)


def subscribers(db: Database, settings: Settings, status: str | None = None) -> list[SubscriberRecord]:
    """Every subscriber (of `status` when given) with their preferences and saved searches."""
    with db.read() as conn:
        rows = subscribers_q.subscribers_with_searches(conn, status)
    return [
        SubscriberRecord(
            **{f.name: row[f.name] for f in fields(SubscriberRecord) if f.name != "saved_searches"},
            saved_searches=[SavedSearch(**s) for s in row["saved_searches"]],
        )
        for row in rows
    ]
