"""Shared fixtures: a fresh database per test on SQLite and on PostgreSQL, and test data paths."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from dailypapers.core.settings import Settings
from dailypapers.demo import build_demo_db
from dailypapers.store.db import Database
from dailypapers.store.tables import metadata
from dailypapers.testing.smtp import LoopbackSMTP

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """DAILYPAPERS_TEST_POSTGRES_URL, or a private throwaway cluster started for this session."""
    url = os.environ.get("DAILYPAPERS_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    from dailypapers.testing.postgres import throwaway_cluster

    with throwaway_cluster() as url:
        yield url


def _worker_database(server_url: str) -> str:
    """Under pytest-xdist, a database of this worker's own on the server (workers given one server by
    URL would otherwise empty each other's tables); the server's URL otherwise."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return server_url
    name = f"dailypapers_test_{worker}"
    admin = sa.create_engine(Database(server_url).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return make_url(Database(server_url).url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _postgres_db(postgres_url: str) -> Iterator[Database]:
    db = Database(_worker_database(postgres_url))
    with db.engine.begin() as conn:
        # Start from nothing, even on a reused server given by URL.
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated database: a new SQLite file, or the session's PostgreSQL emptied."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'test.db'}")
        database.migrate()
        yield database
        database.dispose()
        return
    database = request.getfixturevalue("_postgres_db")
    yield database
    with database.engine.begin() as conn:
        names = ", ".join(t.name for t in reversed(metadata.sorted_tables))
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def data() -> Path:
    """The folder of recorded real test files."""
    return DATA


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The bundled demo corpus imported into a fresh database of each kind."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}")
        build_demo_db(db)
        yield db
        db.dispose()
        return
    server = request.getfixturevalue("postgres_url")
    name = f"demo_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(Database(server).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    db = Database(make_url(Database(server).url).set(database=name).render_as_string(hide_password=False))
    build_demo_db(db)
    yield db
    db.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name}")
    admin.dispose()


@pytest.fixture
def smtp() -> Iterator[LoopbackSMTP]:
    """A real SMTP server on loopback for the test's mail."""
    with LoopbackSMTP() as server:
        yield server


@pytest.fixture
def mail_settings(db: Database, smtp: LoopbackSMTP) -> Callable[..., Settings]:
    """Settings of a site that mails through `smtp` from the test database; keyword arguments set
    the knobs a test is about."""

    def make(**overrides: Any) -> Settings:
        return Settings(
            **{
                "database_url": db.url,
                "site_url": "http://testserver",
                "smtp_host": smtp.host,
                "smtp_port": smtp.port,
                "mail_from": "Daily Papers <digest@example.org>",
                **overrides,
            }
        )

    return make


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Work units for pytest-xdist (`--dist loadgroup`, as scripts/test.sh runs it): a test file's tests
    on one database stay on one worker, so that its module fixtures (the demo database, a server) are
    made once; the route walker is split by test too, so that no single file holds up the run's end."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec else []
        group = item.nodeid.split("::")[0]
        database = next((p for p in params if p in ("sqlite", "postgresql")), None)
        if database:
            group += f"::{database}"
        if group.startswith("tests/web/test_fuzz_routes.py"):
            group += f"::{getattr(item, 'originalname', item.name)}"
        item.add_marker(pytest.mark.xdist_group(group))
