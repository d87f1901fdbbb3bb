"""Subscriber queries for the operator's commands: one subscriber by address, every subscriber with
their saved searches, and how much mail waits in the outbox."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dailypapers.store.tables import outbox, saved_searches, subscribers


def subscriber_by_email(conn: Connection, email: str) -> sa.Row[Any] | None:
    """The subscriber row of a normalised address, or None."""
    return conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).first()


def subscribers_with_searches(conn: Connection, status: str | None = None) -> list[dict[str, Any]]:
    """Every subscriber (of `status` when given) in id order, as column → value, each with its saved
    searches under `saved_searches` (a list of {include, exclude}, in their order)."""
    q = sa.select(subscribers).order_by(subscribers.c.id)
    if status:
        q = q.where(subscribers.c.status == status)
    rows = [dict(r._mapping) for r in conn.execute(q)]
    searches: dict[int, list[dict[str, str]]] = {}
    for s in conn.execute(sa.select(saved_searches).order_by(saved_searches.c.position)):
        searches.setdefault(s.subscriber_id, []).append({"include": s.include, "exclude": s.exclude})
    for row in rows:
        row["saved_searches"] = searches.get(row["id"], [])
    return rows


def queued_mail_count(conn: Connection) -> int:
    """How many mails (digests and confirmations) wait in the outbox to be sent."""
    return conn.scalar(sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == "queued")) or 0
