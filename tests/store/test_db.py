"""The store: migrations on both databases, SQLite pragmas, and concurrent writers without lock errors."""

from __future__ import annotations

import multiprocessing
import sys
import warnings
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from dailypapers.store.db import Database, MissingDriver, normalize_url
from dailypapers.store.migrate import current_revision
from dailypapers.store.tables import feed_entries, metadata, users


def test_migrations_reach_head_and_match_the_tables(db: Database) -> None:
    assert current_revision(db.engine) == "0010"
    inspector = sa.inspect(db.engine)
    for table in metadata.sorted_tables:
        with warnings.catch_warnings():
            # SQLAlchemy does not know pgvector's type (migration 0005's `embedding vector`).
            warnings.filterwarnings("ignore", "Did not recognize type 'vector'", sa.exc.SAWarning)
            stored = {c["name"] for c in inspector.get_columns(table.name)}
        if table.name == "paper_embeddings" and db.engine.dialect.name == "postgresql":
            # pgvector's column (migration 0005) exists where the server has pgvector.
            with db.read() as conn:
                has_pgvector = bool(
                    conn.exec_driver_sql(
                        "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
                    ).first()
                )
            assert ("embedding" in stored) == has_pgvector
            stored.discard("embedding")
        if table.name == "papers" and db.engine.dialect.name == "postgresql":
            assert "search_vector" in stored  # PostgreSQL's generated search document (migration 0005)
            with (
                db.read() as conn
            ):  # its finer statistics, from which hybrid search knows common words (0006)
                assert (
                    conn.exec_driver_sql(
                        "SELECT attstattarget FROM pg_attribute WHERE attrelid = 'papers'::regclass "
                        "AND attname = 'search_vector'"
                    ).scalar()
                    == 1000
                )
            stored -= {"search_vector", "title_vector"}  # and the title's (0006)
        assert stored == {c.name for c in table.columns}, table.name
    with warnings.catch_warnings():
        # SQLite's reflection skips the expression index lower(title) (migration 0003) with a warning.
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        indexes = {i["name"] for i in inspector.get_indexes("papers")}
    assert "ix_papers_trending_score" in indexes


def test_migrate_twice_is_harmless(db: Database) -> None:
    db.migrate()
    assert current_revision(db.engine) == "0010"


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError):
        with db.write() as conn:
            conn.execute(
                feed_entries.insert(),
                {
                    "feed_date": date(2026, 1, 1),
                    "arxiv_id": "2601.00001",
                    "featured_by": "test",
                    "featured_at": datetime.now(UTC),
                },
            )


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}", busy_timeout=5)
    db.migrate()
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_postgres_urls_use_psycopg() -> None:
    assert normalize_url("postgresql://u:p@h/db").startswith("postgresql+psycopg://u:p@h/db")
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def _writer(url: str, name: str, count: int, queue) -> None:  # type: ignore[no-untyped-def]
    """A separate process doing read-then-write transactions, like the web app and the worker."""
    db = Database(url)
    errors = 0
    for i in range(count):
        try:
            with db.write() as conn:
                n = conn.scalar(sa.select(sa.func.count()).select_from(users))
                conn.execute(
                    users.insert(),
                    {"username": f"{name}-{i}", "display_name": str(n), "created_at": datetime.now(UTC)},
                )
        except Exception as exc:  # noqa: BLE001 - counted and reported by the test
            errors += 1
            queue.put(repr(exc))
    queue.put(("done", name, errors))


def test_two_processes_write_at_once_without_lock_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    Database(url).migrate()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, name, 150, queue)) for name in ("web", "worker")]
    for p in procs:
        p.start()
    results, messages = [], []
    while len(results) < 2:
        item = queue.get(timeout=120)
        (results if isinstance(item, tuple) else messages).append(item)
    for p in procs:
        p.join(timeout=30)
    assert messages == []
    assert all(errors == 0 for _, _, errors in results)
    with Database(url).read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(users)) == 300


def test_a_postgresql_url_without_its_driver_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import psycopg` fail as it does where the package is not installed.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingDriver, match=r"pip install 'dailypapers\[postgres\]'"):
        Database("postgresql://reader@127.0.0.1:1/papers")
