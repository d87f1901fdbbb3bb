"""Web fixtures: the demo corpus loaded once per module into SQLite and into its own PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from dailypapers.demo import build_demo_db
from dailypapers.settings import Settings
from dailypapers.store.db import Database
from dailypapers.web.app import create_app


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The bundled demo corpus imported into a fresh database of each kind."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path_factory.mktemp('web') / 'demo.db'}")
        build_demo_db(db)
        yield db
        db.dispose()
        return
    server = request.getfixturevalue("postgres_url")
    name = f"web_{uuid.uuid4().hex[:8]}"
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


@pytest.fixture(scope="module")
def client(demo_db: Database) -> Iterator[TestClient]:
    """A test client of the app serving the demo database."""
    app = create_app(Settings(database_url=demo_db.url, page_size=30), demo_db)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def corpus_path() -> Path:
    """The bundled demo corpus file."""
    from dailypapers.demo import CORPUS

    return CORPUS
