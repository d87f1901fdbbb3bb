"""Web fixtures: a test client of the demo corpus (demo_db, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dailypapers.core.settings import Settings
from dailypapers.store.db import Database
from dailypapers.web.app import create_app


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
