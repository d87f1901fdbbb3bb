"""The Database: one engine per URL, SQLite pragmas, read/write transactions, migrations."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url

from dailypapers.store.fts import repair
from dailypapers.store.migrate import upgrade


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def normalize_url(url: str) -> str:
    """Map plain postgresql:// URLs to the psycopg 3 driver; leave others as they are."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class MissingDriver(ImportError):
    """A PostgreSQL URL is configured but its driver (psycopg) is not installed."""


class NestedConnection(RuntimeError):
    """A thread asked for a second pooled connection while it held one (a deadlock under load)."""


# Pool sizing: a request holds at most one connection at a time (see Database._acquire), so a busy
# pool only makes requests queue; pool_timeout bounds that wait (the app answers 503, not 500).
POOL_SIZE = 10
POOL_OVERFLOW = 20
POOL_TIMEOUT = 10.0


class Database:
    """Owns the engine. Reads go through read(); every write through write().

    A thread may hold one connection of a Database at a time: asking for a second while holding one
    raises NestedConnection. Holding one connection while waiting for another is how a pool
    deadlocks under load (every request holds one, all wait for a second that never frees), so
    the rule is enforced here rather than hoped for. Code that needs two views passes its
    connection down instead of opening another.
    """

    def __init__(
        self,
        url: str,
        *,
        busy_timeout: float = 30.0,
        pool_size: int = POOL_SIZE,
        pool_overflow: int = POOL_OVERFLOW,
        pool_timeout: float = POOL_TIMEOUT,
    ):
        self.url = normalize_url(url)
        self._held = threading.local()
        pool = {"pool_size": pool_size, "max_overflow": pool_overflow, "pool_timeout": pool_timeout}
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            db_path = make_url(self.url).database
            if db_path and db_path != ":memory:":
                Path(db_path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            in_memory = (make_url(self.url).database or ":memory:") == ":memory:"
            self.engine = sa.create_engine(
                self.url,
                **({} if in_memory else pool),
                connect_args={"timeout": busy_timeout, "check_same_thread": False},
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
            )
            _configure_sqlite(self.engine, busy_timeout)
        else:
            self.engine = _server_engine(self.url, pool)

    @contextmanager
    def _acquire(self) -> Iterator[Connection]:
        """A pooled connection, refused when this thread already holds one (see the class docstring)."""
        if getattr(self._held, "conn", False):
            raise NestedConnection(
                "this thread already holds a connection of this database: pass it down "
                "instead of opening a second one (a pool deadlock under load)"
            )
        self._held.conn = True
        try:
            with self.engine.connect() as conn:
                yield conn
        finally:
            self._held.conn = False

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (deferred: never takes SQLite's write lock)."""
        with self._acquire() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction; commits on success, rolls back on error.

        On SQLite the transaction starts with BEGIN IMMEDIATE: the writer waits for the lock
        (up to the busy timeout) before reading, so a read-then-write transaction can never fail
        half-way with "database is locked" when another process writes at the same time.
        """
        with self._acquire() as conn:
            conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest migration (and finish what a killed bulk import left)."""
        upgrade(self.engine)
        repair(self)  # a bulk import killed with the keyword-index triggers off (store.fts)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _server_engine(url: str, pool: dict[str, Any]) -> Engine:
    """The engine of a database server (PostgreSQL); MissingDriver when its driver is not installed."""
    try:
        return sa.create_engine(
            url,
            **pool,
            pool_pre_ping=True,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )
    except ModuleNotFoundError as exc:
        raise MissingDriver(
            f"the database driver {exc.name or 'for this URL'} is not installed: "
            "pip install 'dailypapers[postgres]'",
            name=exc.name,
        ) from exc


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook emit BEGIN itself (pysqlite's own BEGIN is deferred
        # and emitted lazily, which defeats BEGIN IMMEDIATE).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
