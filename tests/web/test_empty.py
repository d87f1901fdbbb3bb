"""A new, empty deployment greets its owner instead of showing an error."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dailypapers.core.settings import Settings
from dailypapers.store.db import Database
from dailypapers.web.app import create_app


def test_empty_feed_shows_how_to_fill_it(db: Database) -> None:
    with TestClient(create_app(Settings(database_url=db.url), db)) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "No papers yet" in page.text and "dailypapers import" in page.text
        as_json = client.get("/", headers={"accept": "application/json"})
        assert as_json.status_code == 404
        assert "the feed is empty" in as_json.json()["error"]["message"]
        for url in ("/.json", "/index.json"):
            assert client.get(url).status_code == 404
            assert "the feed is empty" in client.get(url).json()["error"]["message"]
        assert client.get("/papers/date/2026-06-30").status_code == 404
