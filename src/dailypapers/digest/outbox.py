"""Delivering the outbox over SMTP: claim, send, record — with retries, backoff and bounces.

A sender claims due rows (queued, or `sending` whose lease ran out: a sender that died; one of this
host that died is noticed at once) by setting them `sending` with a lease, one row per transaction;
then sends over SMTP and marks the row `sent`. Each of these steps is one transaction of store.outbox,
so no transaction stays open while the SMTP server answers.
Temporary failures (4xx, timeouts, a server that is down) put the row back `queued` for
retry_base·2^(attempts-1) seconds later, up to max_attempts; permanent ones (5xx) fail it, and a 5xx
for the recipient counts a hard bounce (settings digest_max_bounces pause the subscription).

The window that remains: a sender killed after the SMTP server accepted a mail and before the `sent`
mark commits leaves the row `sending`; when its lease ends it is sent again (with the same
Message-ID, so a mail client shows it once). docs/architecture.md records how often the kill test
hits that window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, quote, urlsplit

from dailypapers.core.settings import Settings
from dailypapers.digest.mail import PermanentFailure, TemporaryFailure, build_message
from dailypapers.digest.model import Rendered
from dailypapers.store.checkpoints import lease_owner_id
from dailypapers.store.db import Database
from dailypapers.store.outbox import (
    claim_next,
    mark_bounced,
    mark_failed,
    mark_sent,
    release_dead_senders,
    retry_later,
)

LEASE = timedelta(minutes=5)


class Sender(Protocol):
    """What delivers one message (mail.SmtpSender): raises mail.TemporaryFailure or
    mail.PermanentFailure when the message is not accepted."""

    def send(self, msg: EmailMessage) -> None: ...


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0  # the subscriber left (or paused) before the mail went out
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.sent} sent, {self.retried} to retry, {self.failed} failed, {self.dropped} dropped"


def _mailto(settings: Settings, unsubscribe_url: str | None) -> str | None:
    """The mailto: unsubscribe target, its subject carrying the link's signed token."""
    if not unsubscribe_url or not settings.mail_unsubscribe_mailto:
        return None
    token = parse_qs(urlsplit(unsubscribe_url).query).get("token", [""])[0]
    return f"{settings.mail_unsubscribe_mailto}?subject={quote('unsubscribe ' + token)}"


def deliver(
    db: Database,
    settings: Settings,
    sender: Sender,
    now: Callable[[], datetime] | None = None,
    limit: int | None = None,
    owner: str | None = None,
) -> DeliveryReport:
    """Send the due mails of the outbox through `sender` (an open mail.SmtpSender)."""
    clock = now or (lambda: datetime.now(UTC))
    owner = owner or lease_owner_id()
    report = DeliveryReport()
    release_dead_senders(db)
    while limit is None or report.sent + report.failed + report.retried + report.dropped < limit:
        row = claim_next(db, owner, clock(), LEASE)
        if row is None:
            break
        if row.status == "dropped":
            report.dropped += 1
            continue
        message = build_message(
            Rendered(row.subject, row.body_text, row.body_html),
            to_addr=row.to_addr,
            from_addr=settings.mail_from,
            unsubscribe_url=row.unsubscribe_url,
            unsubscribe_mailto=_mailto(settings, row.unsubscribe_url),
            message_id=row.message_id,
            sent_at=clock(),
        )
        try:
            sender.send(message)
        except TemporaryFailure as exc:
            error = f"{exc.code or ''} {exc.message}".strip()
            if row.attempts >= settings.digest_max_attempts:
                mark_failed(db, row.id, f"gave up after {row.attempts} attempts: {error}")
                report.failed += 1
            else:
                wait = settings.digest_retry_base * 2 ** (row.attempts - 1)
                retry_later(db, row.id, error, clock() + timedelta(seconds=wait))
                report.retried += 1
            report.errors.append(f"{row.to_addr}: {error}")
            continue
        except PermanentFailure as exc:
            error = f"{exc.code or ''} {exc.message}".strip()
            if exc.bounce and row.subscriber_id is not None:  # an account's mail counts no bounce
                mark_bounced(db, row.id, row.subscriber_id, error, settings.digest_max_bounces, clock())
            else:
                mark_failed(db, row.id, error)
            report.failed += 1
            report.errors.append(f"{row.to_addr}: {error}")
            continue
        mark_sent(db, row.id, clock())
        report.sent += 1
    return report
