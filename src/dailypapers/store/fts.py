"""Bulk imports into SQLite without the keyword-index triggers.

The FTS5 triggers keep `papers_fts` and `papers_title_fts` in step row by row: on a million papers
that makes an import five times slower than the rebuild of both indexes at its end. A big import
(`should_suspend`) therefore drops the triggers, imports, then rebuilds the indexes from `papers`
and creates the triggers again (`resume`). While the triggers are off, the trigger SQL and the
importing process are recorded in the `maintenance` table, in the same transaction that drops them:
an import killed half-way is repaired by the next `Database.migrate()` (every command runs it) once
its process is gone, and an import that fails or is interrupted resumes them itself. Searches during a
bulk import do not see the papers it adds until it ends. PostgreSQL's indexes are maintained by the
server: no change there.
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dailypapers.store.checkpoints import lease_owner_id, owner_gone
from dailypapers.store.tables import maintenance, papers

log = logging.getLogger(__name__)


class Transactions(Protocol):
    """What trigger maintenance needs of a database: store.db.Database is one. (A protocol, because
    Database.migrate() runs `repair`: store.db imports this module, not the other way round.)"""

    is_sqlite: bool

    def read(self) -> AbstractContextManager[Connection]:
        """A read transaction."""
        ...

    def write(self) -> AbstractContextManager[Connection]:
        """A write transaction."""
        ...


MARKER = "keyword-index-triggers"
TRIGGERS = (
    "papers_fts_insert",
    "papers_fts_delete",
    "papers_fts_update",
    "papers_title_fts_insert",
    "papers_title_fts_delete",
    "papers_title_fts_update",
)
# An import is "bulk" when it brings at least this many records (estimated from the file sizes) and at
# least as many as the database holds: below that, keeping the indexes row by row costs less.
BULK_MIN_RECORDS = 20_000
BYTES_PER_RECORD = 1_500  # a listing or Kaggle JSON line is 1-2 KB; gzip shrinks it about 3.5 times


def estimated_records(paths: list[Path]) -> int:
    total = 0.0
    for path in paths:
        try:
            size = path.stat().st_size
        except OSError:
            continue
        total += size * (3.5 if path.suffix == ".gz" else 1.0) / BYTES_PER_RECORD
    return int(total)


def should_suspend(db: Transactions, paths: list[Path]) -> bool:
    """Whether importing `paths` is worth suspending the triggers (SQLite only)."""
    if not db.is_sqlite:
        return False
    expected = estimated_records(paths)
    if expected < BULK_MIN_RECORDS:
        return False
    with db.read() as conn:
        have = (
            conn.execute(sa.select(sa.func.max(sa.literal_column("rowid"))).select_from(papers)).scalar() or 0
        )
    return expected >= have


def suspend(db: Transactions) -> bool:
    """Drop the keyword-index triggers, recording how to restore them; False when they are already
    suspended (another bulk import runs, or a killed one awaits repair) or do not exist."""
    with db.write() as conn:
        if conn.execute(sa.select(maintenance.c.name).where(maintenance.c.name == MARKER)).first():
            return False
        found: dict[str, str] = dict(
            conn.exec_driver_sql(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({','.join('?' * len(TRIGGERS))})",
                TRIGGERS,
            ).all()
        )
        if set(found) != set(TRIGGERS):
            return False
        conn.execute(
            maintenance.insert().values(
                name=MARKER, owner=lease_owner_id(), data={"triggers": found}, started_at=datetime.now(UTC)
            )
        )
        for name in TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
    return True


def resume(db: Transactions) -> str | None:
    """Rebuild both keyword indexes from `papers` and create the triggers again, in one transaction;
    returns a line saying so (None when nothing was suspended)."""
    started = time.perf_counter()
    with db.write() as conn:
        row = conn.execute(sa.select(maintenance.c.data).where(maintenance.c.name == MARKER)).first()
        if row is None:
            return None
        conn.exec_driver_sql("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
        conn.exec_driver_sql("INSERT INTO papers_title_fts(papers_title_fts) VALUES ('rebuild')")
        triggers: dict[str, Any] = row.data["triggers"]
        for name in TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
            conn.exec_driver_sql(triggers[name])
        conn.execute(sa.delete(maintenance).where(maintenance.c.name == MARKER))
    return f"keyword indexes rebuilt in {time.perf_counter() - started:.1f} s"


def repair(db: Transactions) -> str | None:
    """After a bulk import was killed: restore the triggers once its process is gone (same host)."""
    if not db.is_sqlite:
        return None
    with db.read() as conn:
        row = conn.execute(sa.select(maintenance.c.owner).where(maintenance.c.name == MARKER)).first()
    if row is None or not owner_gone(row.owner):
        return None
    line = resume(db)
    log.warning("repaired the keyword indexes after an interrupted bulk import (%s)", line)
    return line
