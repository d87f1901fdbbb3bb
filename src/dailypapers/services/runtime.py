"""What a running process is built from: its Database (made here and nowhere else) and the
scheduler the web app may wake."""

from __future__ import annotations

from typing import Protocol

from dailypapers.core.settings import Settings
from dailypapers.store.db import Database as Database  # the type web/ and cli/ annotate with


class Wakeable(Protocol):
    """An in-process job scheduler (the demo's): `wake(name)` runs that job soon instead of at its
    next turn, e.g. "outbox" once a request has queued a mail."""

    def wake(self, name: str) -> None: ...


def open_database(settings: Settings, url: str | None = None) -> Database:
    """The database at `url` (default: setting database_url) with the settings' SQLite busy timeout;
    every process opens its database here."""
    return Database(url or settings.database_url, busy_timeout=settings.sqlite_busy_timeout)
