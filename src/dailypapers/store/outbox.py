"""The transactions of mail delivery (digest/outbox.py): claim the next due row of the outbox with a
lease, then mark it sent, queued for a retry, failed or bounced; put back the rows of dead senders.

Each function is one unit of work and opens its own transaction, so a sender never holds one while it
talks to the SMTP server. On PostgreSQL a claim skips rows that another sender is claiming
(`FOR UPDATE SKIP LOCKED`), so several workers share the outbox.
"""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dailypapers.core.models import as_utc
from dailypapers.store.checkpoints import owner_gone
from dailypapers.store.db import Database
from dailypapers.store.tables import outbox, subscribers, users


def release_dead_senders(db: Database) -> int:
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


def claim_next(db: Database, owner: str, now: datetime, lease: timedelta) -> sa.Row[Any] | None:
    """Lease the next due row (queued and due, or `sending` with its lease run out: a sender that
    died) to `owner`, attempts + 1; the row as claimed, None when none is due. A row whose
    subscriber left (or paused), or whose member was deleted or banned, meanwhile comes back
    `dropped`, in the same transaction."""
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
        if _still_wanted(conn, row, now):
            claim = {"status": "sending", "lease_owner": owner, "lease_until": now + lease}
        else:
            claim = {"status": "dropped", "lease_until": None}
        conn.execute(
            outbox.update().where(outbox.c.id == row.id).values(attempts=outbox.c.attempts + 1, **claim)
        )
        return conn.execute(sa.select(outbox).where(outbox.c.id == row.id)).one()


def _still_wanted(conn: Connection, row: sa.Row[Any], now: datetime) -> bool:
    if row.user_id is not None:
        # An account's mail (confirmation, reset): not for a deleted or banned member.
        member = conn.execute(sa.select(users.c.banned_until).where(users.c.id == row.user_id)).first()
        return member is not None and (member.banned_until is None or as_utc(member.banned_until) <= now)
    status = conn.scalar(sa.select(subscribers.c.status).where(subscribers.c.id == row.subscriber_id))
    if row.kind == "confirm":
        return status is not None
    return status == "active"


def mark_sent(db: Database, outbox_id: int, now: datetime) -> None:
    """The SMTP server accepted the mail: the row is done."""
    with db.write() as conn:
        conn.execute(
            outbox.update()
            .where(outbox.c.id == outbox_id)
            .values(status="sent", sent_at=now, lease_until=None, last_error=None)
        )


def retry_later(db: Database, outbox_id: int, error: str, when: datetime) -> None:
    """A temporary failure: the row is queued again, due at `when`."""
    with db.write() as conn:
        conn.execute(
            outbox.update()
            .where(outbox.c.id == outbox_id)
            .values(status="queued", last_error=error, lease_until=None, next_attempt_at=when)
        )


def mark_failed(db: Database, outbox_id: int, error: str) -> None:
    """Give the row up (a permanent failure, or too many attempts): it is not sent again."""
    with db.write() as conn:
        _fail(conn, outbox_id, error)


def mark_bounced(
    db: Database, outbox_id: int, subscriber_id: int, error: str, max_bounces: int, now: datetime
) -> None:
    """A hard bounce, in one transaction: the row fails, the subscriber's bounces are counted, and
    their subscription is paused after max_bounces of them."""
    with db.write() as conn:
        _fail(conn, outbox_id, error)
        conn.execute(
            subscribers.update()
            .where(subscribers.c.id == subscriber_id)
            .values(bounces=subscribers.c.bounces + 1, updated_at=now)
        )
        conn.execute(
            subscribers.update()
            .where(
                subscribers.c.id == subscriber_id,
                subscribers.c.bounces >= max_bounces,
                subscribers.c.status == "active",
            )
            .values(status="paused", paused_reason=f"{max_bounces} hard bounces")
        )


def _fail(conn: Connection, outbox_id: int, error: str) -> None:
    conn.execute(
        outbox.update()
        .where(outbox.c.id == outbox_id)
        .values(status="failed", last_error=error, lease_until=None)
    )
