"""Paper writes (the import upsert) and paper lookups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dailypapers.core.models import CONTENT_FIELDS, PaperRecord, content_hash, merge_records
from dailypapers.store.tables import feed_entries, papers

# Stay far below SQLite's bound-parameter limit in IN (...) lookups.
_LOOKUP_CHUNK = 900

_ROW_COLUMNS = [papers.c[name] for name in (*CONTENT_FIELDS, "arxiv_id", "content_hash", "created_at")]


@dataclass(slots=True)
class UpsertCounts:
    """What one upsert did: papers created, changed, left as they were; feed entries added."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    feed_entries_added: int = 0

    def add(self, other: UpsertCounts) -> None:
        """Accumulate another batch's counts."""
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.feed_entries_added += other.feed_entries_added


def _chunks(items: Sequence[str], size: int = _LOOKUP_CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _insert_ignore(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING, on SQLite and PostgreSQL alike."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).on_conflict_do_nothing(), rows)


def upsert_batch(conn: Connection, records: Sequence[PaperRecord], now: datetime) -> UpsertCounts:
    """Merge records (unique ids) into the store inside the caller's write transaction.

    Rows whose content did not change are not written, and only missing feed entries are
    inserted, so importing the same data twice writes nothing.
    """
    counts = UpsertCounts()
    ids = [r.arxiv_id for r in records]
    stored: dict[str, dict[str, Any]] = {}
    known_days: dict[str, set[date]] = {}
    for chunk in _chunks(ids):
        for row in conn.execute(sa.select(*_ROW_COLUMNS).where(papers.c.arxiv_id.in_(chunk))):
            stored[row.arxiv_id] = row._asdict()
        q = sa.select(feed_entries.c.arxiv_id, feed_entries.c.feed_date).where(
            feed_entries.c.arxiv_id.in_(chunk)
        )
        for arxiv_id, feed_date in conn.execute(q):
            known_days.setdefault(arxiv_id, set()).add(feed_date)

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    new_entries: list[dict[str, Any]] = []
    for rec in records:
        old = stored.get(rec.arxiv_id)
        row = merge_records(old, rec, now)
        row["content_hash"] = content_hash(row)
        days = known_days.get(rec.arxiv_id, set())
        added = 0
        for feed_date, featured_at in rec.feed_entries:
            if feed_date not in days:
                days.add(feed_date)
                added += 1
                new_entries.append(
                    {
                        "feed_date": feed_date,
                        "arxiv_id": rec.arxiv_id,
                        "featured_by": rec.source,
                        "featured_at": featured_at,
                    }
                )
        counts.feed_entries_added += added
        if old is None:
            row["arxiv_id"] = rec.arxiv_id
            row["modified_at"] = now
            inserts.append(row)
            counts.new += 1
        elif row["content_hash"] != old["content_hash"]:
            row["b_arxiv_id"] = rec.arxiv_id
            row["modified_at"] = now
            updates.append(row)
            counts.updated += 1
        elif added:
            counts.updated += 1
        else:
            counts.unchanged += 1

    if inserts:
        conn.execute(papers.insert(), inserts)
    if updates:
        columns = {k: sa.bindparam(k) for k in (*CONTENT_FIELDS, "content_hash", "modified_at")}
        stmt = papers.update().where(papers.c.arxiv_id == sa.bindparam("b_arxiv_id")).values(columns)
        conn.execute(stmt, updates)
    if new_entries:
        _insert_ignore(conn, feed_entries, new_entries)
    return counts


def get_paper_row(conn: Connection, arxiv_id: str) -> dict[str, Any] | None:
    """One stored paper as a dict, or None."""
    row = conn.execute(sa.select(papers).where(papers.c.arxiv_id == arxiv_id)).first()
    return row._asdict() if row else None


def feed_days_of(conn: Connection, arxiv_id: str) -> list[date]:
    """The feed days a paper appeared on, oldest first."""
    q = (
        sa.select(feed_entries.c.feed_date)
        .where(feed_entries.c.arxiv_id == arxiv_id)
        .order_by(feed_entries.c.feed_date)
    )
    return list(conn.scalars(q))


def count_papers(conn: Connection) -> int:
    """Number of stored papers."""
    return conn.scalar(sa.select(sa.func.count()).select_from(papers)) or 0
