"""The SQL of upvotes on the caller's connection: one row per member and paper in `votes`, and the
paper's count of them in papers.vote_count, changed in the same transaction as the row.

The count moves only when a row was really inserted or deleted, by `vote_count ± 1` in SQL: on
PostgreSQL the UPDATE takes the paper's row lock (concurrent votes queue on it and each adds its
own one), on SQLite every write transaction is BEGIN IMMEDIATE. The trending score is recomputed
from the new count while that lock is held.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from dailypapers.core.models import as_utc
from dailypapers.core.ranking import trending_score
from dailypapers.store.tables import papers, votes

# Stay far below SQLite's bound-parameter limit in IN (...) lookups.
_LOOKUP_CHUNK = 900


def _insert_vote(conn: Connection, user_id: int, arxiv_id: str, now: datetime) -> bool:
    """Insert the member's vote unless it exists; True when a row was inserted."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(votes)
        .values(user_id=user_id, arxiv_id=arxiv_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["user_id", "arxiv_id"])
        .returning(votes.c.user_id)
    )
    # RETURNING, not rowcount: a skipped insert returns no row on both databases.
    return conn.execute(stmt).first() is not None


_SCORE_INPUTS = (
    papers.c.imported_upvotes,
    papers.c.vote_count,
    papers.c.first_featured_at,
    papers.c.published_at,
    papers.c.created_at,
)


def _count_and_rescore(conn: Connection, arxiv_id: str, delta: int) -> tuple[int, int]:
    """vote_count += delta (the UPDATE holds the row lock until commit), then the trending score from
    the new count, as merge_records computes it; (vote_count, imported_upvotes) afterwards."""
    where = papers.c.arxiv_id == arxiv_id
    if delta:
        update = papers.update().where(where).values(vote_count=papers.c.vote_count + delta)
        row = conn.execute(update.returning(*_SCORE_INPUTS)).one()
    else:
        row = conn.execute(sa.select(*_SCORE_INPUTS).where(where)).one()
    reference = as_utc(row.first_featured_at or row.published_at or row.created_at)
    score = trending_score(row.imported_upvotes + row.vote_count, reference)
    conn.execute(papers.update().where(where).values(trending_score=score))
    return row.vote_count, row.imported_upvotes


def rescore(conn: Connection, arxiv_id: str) -> None:
    """Recompute a paper's trending score from its votes and reference time (after its first
    feature time changed, e.g. a submission)."""
    _count_and_rescore(conn, arxiv_id, 0)


def _apply(conn: Connection, user_id: int, arxiv_id: str, up: bool, now: datetime) -> tuple[int, int] | None:
    """Insert or delete the vote row, and count it when it really changed: (vote_count,
    imported_upvotes) after the change, or None when there was nothing to change."""
    # The paper's row lock first (PostgreSQL; SQLite ignores it): the vote row's foreign key would
    # otherwise take a share lock that the UPDATE below has to upgrade, and an import batch waiting
    # for the row in between would make the two wait on each other.
    conn.execute(
        sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id == arxiv_id).with_for_update(key_share=True)
    )
    if up:
        changed = _insert_vote(conn, user_id, arxiv_id, now)
    else:
        deleted = conn.execute(
            votes.delete()
            .where(votes.c.user_id == user_id, votes.c.arxiv_id == arxiv_id)
            .returning(votes.c.user_id)
        )
        changed = deleted.first() is not None
    return _count_and_rescore(conn, arxiv_id, 1 if up else -1) if changed else None


def set_vote(conn: Connection, user_id: int, arxiv_id: str, up: bool, now: datetime) -> tuple[bool, int, int]:
    """Give (`up`) or take back the member's upvote of a known paper; doing what is already done
    changes nothing. Returns (voted, vote_count, imported_upvotes) after the change."""
    counts = _apply(conn, user_id, arxiv_id, up, now)
    if counts is None:
        row = conn.execute(
            sa.select(papers.c.vote_count, papers.c.imported_upvotes).where(papers.c.arxiv_id == arxiv_id)
        ).one()
        counts = (row.vote_count, row.imported_upvotes)
    return up, *counts


def voted_ids(conn: Connection, user_id: int, ids: Iterable[str]) -> set[str]:
    """Which of these papers the member has upvoted."""
    wanted = list(dict.fromkeys(ids))
    found: set[str] = set()
    for i in range(0, len(wanted), _LOOKUP_CHUNK):
        q = sa.select(votes.c.arxiv_id).where(
            votes.c.user_id == user_id, votes.c.arxiv_id.in_(wanted[i : i + _LOOKUP_CHUNK])
        )
        found.update(conn.scalars(q))
    return found


def remove_member_votes(conn: Connection, user_id: int, now: datetime) -> int:
    """Take back every upvote of a member (account deletion): each paper's count goes down by one and
    its trending score is recomputed; the number of votes removed. `now` is the time of the change."""
    ids = sorted(conn.scalars(sa.select(votes.c.arxiv_id).where(votes.c.user_id == user_id)))
    removed = 0
    for arxiv_id in ids:  # in id order: two deletions running at once lock papers in the same order
        removed += _apply(conn, user_id, arxiv_id, False, now) is not None
    return removed


def member_votes(conn: Connection, user_id: int, limit: int, offset: int) -> list[dict[str, Any]]:
    """The member's upvotes, newest first: [{"arxiv_id", "created_at"}]."""
    q = (
        sa.select(votes.c.arxiv_id, votes.c.created_at)
        .where(votes.c.user_id == user_id)
        .order_by(votes.c.created_at.desc(), votes.c.arxiv_id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [{"arxiv_id": r.arxiv_id, "created_at": as_utc(r.created_at)} for r in conn.execute(q)]
