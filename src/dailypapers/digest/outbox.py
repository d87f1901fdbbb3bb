"""Delivering the outbox over SMTP: claim, send, record — with retries, backoff and bounces.

A sender claims due rows (queued, or `sending` whose lease ran out: a sender that died; one of this
host that died is noticed at once) by setting them `sending` with a lease, one row per transaction; then sends over SMTP and marks the row `sent`.
Temporary failures (4xx, timeouts, a server that is down) put the row back `queued` for
retry_base·2^(attempts-1) seconds later, up to max_attempts; permanent ones (5xx) fail it, and a 5xx
for the recipient counts a hard bounce (settings digest_max_bounces pause the subscription).

The window that remains: a sender killed after the SMTP server accepted a mail and before the `sent`
mark commits leaves the row `sending`; when its lease ends it is sent again (with the same
Message-ID, so a mail client shows it once). docs/architecture.md records how often the kill test
hits that window.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlsplit

import sqlalchemy as sa

from dailypapers.core.settings import Settings
from dailypapers.digest.mail import PermanentFailure, TemporaryFailure, build_message
from dailypapers.digest.model import Rendered
from dailypapers.digest.subscriptions import record_bounce
from dailypapers.store.checkpoints import lease_owner_id, owner_gone
from dailypapers.store.db import Database
from dailypapers.store.tables import outbox, subscribers

LEASE = timedelta(minutes=5)


class Sender(Protocol):
    """What delivers one message (mail.SmtpSender): raises mail.TemporaryFailure or
    mail.PermanentFailure when the message is not accepted."""

    def send(self, msg: EmailMessage) -> None: ...


def release_dead(db: Database) -> int:
    """Put back the rows leased by senders of this host that died (kill -9, a crash), without
    waiting for their leases to end; returns how many."""
    prefix = f"{socket.gethostname()}:"
    with db.write() as conn:
        owners = {
            r[0]
            for r in conn.execute(
                sa.select(outbox.c.lease_owner)
                .where(outbox.c.status == "sending", outbox.c.lease_owner.startswith(prefix))
                .distinct()
            )
        }
        dead = [o for o in owners if o and owner_gone(o)]
        if not dead:
            return 0
        return conn.execute(
            outbox.update()
            .where(outbox.c.status == "sending", outbox.c.lease_owner.in_(dead))
            .values(status="queued", lease_owner=None, lease_until=None)
        ).rowcount


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0  # the subscriber left (or paused) before the mail went out
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.sent} sent, {self.retried} to retry, {self.failed} failed, {self.dropped} dropped"


def _claim(db: Database, owner: str, now: datetime, lease: timedelta) -> sa.Row[Any] | None:
    """Lease the next due row to this sender; None when there is none. A row whose subscriber left
    (or paused) meanwhile comes back `dropped`, in the same transaction."""
    with db.write() as conn:
        due = sa.or_(
            sa.and_(outbox.c.status == "queued", outbox.c.next_attempt_at <= now),
            sa.and_(outbox.c.status == "sending", outbox.c.lease_until < now),
        )
        q = sa.select(outbox).where(due).order_by(outbox.c.next_attempt_at, outbox.c.id).limit(1)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        row = conn.execute(q).first()
        if row is None:
            return None
        if _still_wanted(conn, row):
            claim = {"status": "sending", "lease_owner": owner, "lease_until": now + lease}
        else:
            claim = {"status": "dropped", "lease_until": None}
        conn.execute(
            outbox.update().where(outbox.c.id == row.id).values(attempts=outbox.c.attempts + 1, **claim)
        )
        return conn.execute(sa.select(outbox).where(outbox.c.id == row.id)).one()


def _still_wanted(conn: sa.Connection, row: sa.Row[Any]) -> bool:
    status = conn.scalar(sa.select(subscribers.c.status).where(subscribers.c.id == row.subscriber_id))
    if row.kind == "confirm":
        return status is not None
    return status == "active"


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
    release_dead(db)
    while limit is None or report.sent + report.failed + report.retried + report.dropped < limit:
        row = _claim(db, owner, clock(), LEASE)
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
            with db.write() as conn:
                if row.attempts >= settings.digest_max_attempts:
                    conn.execute(
                        outbox.update()
                        .where(outbox.c.id == row.id)
                        .values(
                            status="failed",
                            last_error=f"gave up after {row.attempts} attempts: {error}",
                            lease_until=None,
                        )
                    )
                    report.failed += 1
                else:
                    wait = settings.digest_retry_base * 2 ** (row.attempts - 1)
                    conn.execute(
                        outbox.update()
                        .where(outbox.c.id == row.id)
                        .values(
                            status="queued",
                            last_error=error,
                            lease_until=None,
                            next_attempt_at=clock() + timedelta(seconds=wait),
                        )
                    )
                    report.retried += 1
            report.errors.append(f"{row.to_addr}: {error}")
            continue
        except PermanentFailure as exc:
            error = f"{exc.code or ''} {exc.message}".strip()
            with db.write() as conn:
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id == row.id)
                    .values(status="failed", last_error=error, lease_until=None)
                )
                if exc.bounce:
                    record_bounce(conn, row.subscriber_id, settings.digest_max_bounces, clock())
            report.failed += 1
            report.errors.append(f"{row.to_addr}: {error}")
            continue
        with db.write() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == row.id)
                .values(status="sent", sent_at=clock(), lease_until=None, last_error=None)
            )
        report.sent += 1
    return report
