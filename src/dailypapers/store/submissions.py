"""The SQL of submissions on the caller's connection: a member's paper joins a day's feed as a feed
entry with `submitted_by`, and the rules' lookups (the member's submissions of a day, the paper's
feed days)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from dailypapers.store.tables import feed_entries, papers, users
from dailypapers.store.votes import rescore


def lock_member(conn: Connection, user_id: int) -> None:
    """Hold the member's row until the transaction ends (PostgreSQL; SQLite's write transaction
    already excludes every other writer): two submissions of one member count one after the other."""
    conn.execute(sa.select(users.c.id).where(users.c.id == user_id).with_for_update())


def submissions_between(conn: Connection, user_id: int, start: datetime, end: datetime) -> int:
    """How many papers the member submitted with start <= featured_at < end."""
    q = sa.select(sa.func.count()).where(
        feed_entries.c.submitted_by == user_id,
        feed_entries.c.featured_at >= start,
        feed_entries.c.featured_at < end,
    )
    return conn.scalar(q) or 0


def latest_feed_day_since(conn: Connection, arxiv_id: str, since: date) -> date | None:
    """The paper's newest feed day on or after `since`, if it has one."""
    q = sa.select(sa.func.max(feed_entries.c.feed_date)).where(
        feed_entries.c.arxiv_id == arxiv_id, feed_entries.c.feed_date >= since
    )
    return conn.scalar(q)


def add_submission(
    conn: Connection, arxiv_id: str, day: date, username: str, user_id: int, now: datetime
) -> bool:
    """Put a known paper on `day`'s feed as the member's submission (featured_by "user:<name>"); the
    paper's first feature time is set if it had none, and its trending score recomputed. False
    (nothing written) when the paper is already on that day."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(feed_entries)
        .values(
            feed_date=day,
            arxiv_id=arxiv_id,
            featured_by=f"user:{username}"[:64],
            featured_at=now,
            submitted_by=user_id,
        )
        .on_conflict_do_nothing(index_elements=["feed_date", "arxiv_id"])
        .returning(feed_entries.c.id)
    )
    if conn.execute(stmt).first() is None:
        return False
    conn.execute(
        papers.update()
        .where(papers.c.arxiv_id == arxiv_id, papers.c.first_featured_at.is_(None))
        .values(first_featured_at=now)
    )
    rescore(conn, arxiv_id)
    return True
