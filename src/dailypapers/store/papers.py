"""Paper writes (the import upsert, a batch per transaction) and paper lookups."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import itemgetter
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from dailypapers.core.models import CONTENT_FIELDS, PaperRecord, as_utc, content_hash, merge_records
from dailypapers.store.db import Database
from dailypapers.store.tables import feed_entries, papers

# Stay far below SQLite's bound-parameter limit in IN (...) lookups.
_LOOKUP_CHUNK = 900

_ROW_COLUMNS = [papers.c[name] for name in (*CONTENT_FIELDS, "arxiv_id", "content_hash", "created_at")]

# The lookups are built once, the ids passed as parameters: a statement built per batch holds its
# ids in a reference cycle, which an import (fewer cycle collections) would keep for a long time.
# On PostgreSQL the rows a batch may rewrite are locked as they are read (in id order, so two batches
# never wait on each other crosswise): a vote landing between the read and the write would otherwise be
# overwritten with the count read. (SQLite's write transactions are serial: BEGIN IMMEDIATE.)
_SELECT_ROWS = (
    sa.select(*_ROW_COLUMNS)
    .where(papers.c.arxiv_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(papers.c.arxiv_id)
    .with_for_update()
)
_SELECT_DAYS = sa.select(feed_entries.c.arxiv_id, feed_entries.c.feed_date).where(
    feed_entries.c.arxiv_id.in_(sa.bindparam("ids", expanding=True))
)


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


def _chunks(items: Sequence[str], size: int = _LOOKUP_CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def upsert_batch(conn: Connection, records: Sequence[PaperRecord], now: datetime) -> UpsertCounts:
    """Merge records (unique ids) into the store inside the caller's write transaction.

    Rows whose content did not change are not written, and only missing feed entries are
    inserted, so importing the same data twice writes nothing.
    """
    stored, known_days = _load_stored(conn, [r.arxiv_id for r in records])
    plan = _plan_writes(records, stored, known_days, now)
    _write(conn, plan)
    return plan.counts


def write_batch(db: Database, records: Sequence[PaperRecord], now: datetime) -> UpsertCounts:
    """upsert_batch in a write transaction of its own: one batch of an import."""
    with db.write() as conn:
        return upsert_batch(conn, records, now)


@dataclass(slots=True)
class _WritePlan:
    """What one batch writes (row dicts keyed by column name), and the counts it reports."""

    counts: UpsertCounts
    inserts: list[dict[str, Any]]
    updates: list[dict[str, Any]]
    new_entries: list[dict[str, Any]]


def _load_stored(
    conn: Connection, ids: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, set[date]]]:
    """The stored rows of these papers, and the feed days each already has."""
    if _driver_sql_dialect(conn.dialect):
        return _load_stored_sqlite(conn, ids)
    stored: dict[str, dict[str, Any]] = {}
    known_days: dict[str, set[date]] = {}
    for chunk in _chunks(sorted(ids)):
        for row in conn.execute(_SELECT_ROWS, {"ids": chunk}):
            stored[row.arxiv_id] = row._asdict()
        for arxiv_id, feed_date in conn.execute(_SELECT_DAYS, {"ids": chunk}):
            known_days.setdefault(arxiv_id, set()).add(feed_date)
    return stored, known_days


def _plan_writes(
    records: Sequence[PaperRecord],
    stored: dict[str, dict[str, Any]],
    known_days: dict[str, set[date]],
    now: datetime,
) -> _WritePlan:
    """Merge each record into its stored row; keep the rows and feed entries that change something."""
    plan = _WritePlan(UpsertCounts(), [], [], [])
    counts = plan.counts
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
                plan.new_entries.append(
                    {
                        "feed_date": feed_date,
                        "arxiv_id": rec.arxiv_id,
                        "featured_by": rec.source,
                        "featured_at": as_utc(featured_at),
                    }
                )
        counts.feed_entries_added += added
        if old is None:
            row["arxiv_id"] = rec.arxiv_id
            row["modified_at"] = now
            plan.inserts.append(row)
            counts.new += 1
        elif row["content_hash"] != old["content_hash"]:
            row["b_arxiv_id"] = rec.arxiv_id
            row["modified_at"] = now
            plan.updates.append(row)
            counts.updated += 1
        elif added:
            counts.updated += 1
        else:
            counts.unchanged += 1
    return plan


def _write(conn: Connection, plan: _WritePlan) -> None:
    if _driver_sql_dialect(conn.dialect):
        for statement, rows in (
            (_INSERT_PAPERS, plan.inserts),
            (_UPDATE_PAPERS, plan.updates),
            (_INSERT_ENTRIES, plan.new_entries),
        ):
            if rows:
                conn.exec_driver_sql(statement.sql, _bind_rows(statement, conn.dialect, rows))
        return
    if plan.inserts:
        conn.execute(papers.insert(), plan.inserts)
    if plan.updates:
        columns: dict[str, sa.BindParameter[Any]] = {k: sa.bindparam(k) for k in _UPDATED_COLUMNS}
        stmt = papers.update().where(papers.c.arxiv_id == sa.bindparam("b_arxiv_id")).values(columns)
        conn.execute(stmt, plan.updates)
    if plan.new_entries:
        _insert_ignore(conn, feed_entries, plan.new_entries)


def _insert_ignore(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING, on SQLite and PostgreSQL alike."""
    insert = pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)
    conn.execute(insert.on_conflict_do_nothing(), rows)


# --- SQLite: the import's bulk statements as driver SQL ----------------------------------------
#
# For every row of an executemany SQLAlchemy runs its parameter machinery (key lookups, type
# processors, positional reordering), and for every fetched row its result machinery; on SQLite
# that costs more than the database's own work. The import's bulk statements therefore go to the
# driver directly, and the values are converted here with the very bind and result processors
# SQLAlchemy would apply to these columns: what is stored and read back is exactly what the
# SQLAlchemy statements (still used for PostgreSQL) store and read.


def _driver_sql_dialect(dialect: sa.engine.Dialect) -> bool:
    return dialect.name == "sqlite" and dialect.paramstyle == "qmark"


Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _DriverSQL:
    """A statement with ? parameters: `keys` name the row-dict value of each ?, `columns` its column."""

    table: sa.Table
    sql: str
    keys: tuple[str, ...]
    columns: tuple[str, ...]


# Every column the merge writes; comment_count is the community's (store.comments), 0 for a new paper.
_PAPER_COLUMNS = tuple(c.name for c in papers.c if c.name != "comment_count")
_UPDATED_COLUMNS = (*CONTENT_FIELDS, "content_hash", "modified_at")
_ENTRY_COLUMNS = ("feed_date", "arxiv_id", "featured_by", "featured_at")

_INSERT_PAPERS = _DriverSQL(
    papers,
    f"INSERT INTO papers ({', '.join(_PAPER_COLUMNS)}) VALUES ({', '.join(['?'] * len(_PAPER_COLUMNS))})",
    _PAPER_COLUMNS,
    _PAPER_COLUMNS,
)
_UPDATE_PAPERS = _DriverSQL(
    papers,
    f"UPDATE papers SET {', '.join(f'{c} = ?' for c in _UPDATED_COLUMNS)} WHERE arxiv_id = ?",
    (*_UPDATED_COLUMNS, "b_arxiv_id"),
    (*_UPDATED_COLUMNS, "arxiv_id"),
)
# ON CONFLICT DO NOTHING rather than INSERT OR IGNORE: like the SQLAlchemy statement it skips only
# entries that already exist; any other constraint violation still fails the batch.
_INSERT_ENTRIES = _DriverSQL(
    feed_entries,
    f"INSERT INTO feed_entries ({', '.join(_ENTRY_COLUMNS)}) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    _ENTRY_COLUMNS,
    _ENTRY_COLUMNS,
)


def _bind_processors(statement: _DriverSQL, dialect: sa.engine.Dialect) -> list[tuple[int, Processor, bool]]:
    """(position, SQLAlchemy's bind processor, is it a date/time) for each column that has one."""
    processors: list[tuple[int, Processor, bool]] = []
    for index, name in enumerate(statement.columns):
        column_type = statement.table.c[name].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((index, process, isinstance(column_type, (sa.DateTime, sa.Date))))
    return processors


def _once_per_object(process: Processor) -> Processor:
    """`process` computed once per distinct object: the rows of a batch share date and time objects
    (the import's `now`, the cached days and midnights of the listings), and formatting is costly."""
    done: dict[int, tuple[Any, Any]] = {}

    def process_once(value: Any) -> Any:
        hit = done.get(id(value))
        if hit is None:
            # The value is kept with its result, so its id cannot be reused by another object.
            hit = done[id(value)] = (value, process(value))
        return hit[1]

    return process_once


def _bind_rows(
    statement: _DriverSQL, dialect: sa.engine.Dialect, rows: list[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    """The parameters of `statement` for each row dict, each value bound as SQLAlchemy binds it."""
    if not rows:
        return []
    # Column by column: one map() per processed column instead of a Python loop per value.
    columns: list[Iterable[Any]] = list(zip(*map(itemgetter(*statement.keys), rows)))
    for index, process, is_temporal in _bind_processors(statement, dialect):
        columns[index] = map(_once_per_object(process) if is_temporal else process, columns[index])
    return list(zip(*columns))


def _load_stored_sqlite(
    conn: Connection, ids: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, set[date]]]:
    """_load_stored as driver SQL, the values converted by SQLAlchemy's result processors."""
    dialect = conn.dialect
    names = [c.name for c in _ROW_COLUMNS]
    # The driver reports no column types on SQLite, so SQLAlchemy passes None as well.
    processors = [
        (index, process)
        for index, column in enumerate(_ROW_COLUMNS)
        if (process := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
    ]
    # (cast: the processor of a NOT NULL column never returns None)
    day_of = cast(
        "Callable[[Any], date] | None",
        feed_entries.c.feed_date.type.dialect_impl(dialect).result_processor(dialect, None),
    )
    select_rows = f"SELECT {', '.join(names)} FROM papers WHERE arxiv_id IN "
    select_days = "SELECT arxiv_id, feed_date FROM feed_entries WHERE arxiv_id IN "
    stored: dict[str, dict[str, Any]] = {}
    known_days: dict[str, set[date]] = {}
    for chunk in _chunks(ids):
        marks = f"({', '.join(['?'] * len(chunk))})"
        for raw in conn.exec_driver_sql(select_rows + marks, tuple(chunk)).fetchall():
            values = list(raw)
            for index, process in processors:
                values[index] = process(values[index])
            row = dict(zip(names, values))
            stored[row["arxiv_id"]] = row
        for arxiv_id, feed_date in conn.exec_driver_sql(select_days + marks, tuple(chunk)).fetchall():
            known_days.setdefault(arxiv_id, set()).add(day_of(feed_date) if day_of else feed_date)
    return stored, known_days


# --- lookups ------------------------------------------------------------------------------------


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
