"""/healthz and /readyz on SQLite and PostgreSQL: alive always; ready only with a reachable database
migrated to this code's head revision, else 503 saying what is wrong."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from dailypapers.core.settings import Settings
from dailypapers.store.db import Database
from dailypapers.store.migrate import current_revision, head_revision, upgrade
from dailypapers.web.app import create_app


def _client(db: Database) -> TestClient:
    return TestClient(create_app(Settings(database_url=db.url), db))


def test_a_migrated_database_is_ready(db: Database) -> None:
    client = _client(db)
    alive = client.get("/healthz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.headers["cache-control"] == "no-store"
    assert ready.json() == {
        "ready": True,
        "database": "ok",
        "revision": current_revision(db.engine),
        "expected": head_revision(),
    }
    assert head_revision() == current_revision(db.engine)


def test_a_database_behind_the_code_is_not_ready(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db.engine, "0009")
    ready = _client(db).get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["revision"] == "0009" and "dailypapers migrate" in ready.json()["database"]
    assert _client(db).get("/healthz").status_code == 200  # alive all the same
    db.dispose()


def test_an_unreachable_database_is_not_ready() -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/papers")
    ready = _client(db).get("/readyz")
    assert ready.status_code == 503 and ready.json()["database"].startswith("unreachable")
    assert ready.json()["revision"] is None
