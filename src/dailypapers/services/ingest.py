"""`dailypapers ingest` and `dailypapers sources`: one run of a remote source, and every source's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dailypapers.core.settings import Settings
from dailypapers.ingest.harvest import EXIT_ERROR, HarvestResult
from dailypapers.ingest.sources import build_client, build_source
from dailypapers.ingest.sources.base import Request
from dailypapers.jobs import sources
from dailypapers.store.checkpoints import get_status, lease_owner_id
from dailypapers.store.db import Database


class IngestRefused(Exception):
    """The run did not start: an unknown source or option, or another process runs the source."""

    exit_code = EXIT_ERROR


def run_source(
    db: Database,
    settings: Settings,
    kind: str,
    *,
    categories: list[str] | None = None,
    ids: list[str] | None = None,
    oai_set: str | None = None,
    granularity: str = "date",
    since: date | None = None,
    on_page: Callable[[Request, HarvestResult], None] | None = None,
) -> HarvestResult:
    """Run the source `kind` once from its checkpoint (or from `since`), configured from settings and
    the command line's options, under its lease like the worker's runs; IngestRefused when it
    cannot start."""
    try:
        source = build_source(
            kind, settings, categories=categories, ids=ids, oai_set=oai_set, granularity=granularity
        )
    except ValueError as exc:
        raise IngestRefused(str(exc)) from None
    with build_client(settings) as client:
        result = sources.run_source(
            db, settings, source, client, owner=lease_owner_id(), since=since, on_page=on_page
        )
    if result is None:
        raise IngestRefused(f"{source.name} is being run by another process (a worker?); try later")
    return result


@dataclass(frozen=True)
class SourceStatus:
    """One source's row: its checkpoint, its last run, its next scheduled run and its lease."""

    name: str
    checkpoint: dict[str, Any]
    last_run_at: datetime | None
    last_ok_at: datetime | None
    next_run_at: datetime | None
    last_summary: str | None
    last_error: str | None
    lease_owner: str | None


def source_status(db: Database) -> list[SourceStatus]:
    """Every source that ran (or holds a schedule), by name."""
    with db.read() as conn:
        rows = get_status(conn)
    return [
        SourceStatus(
            name=row["name"],
            checkpoint=row["state"],
            last_run_at=row["last_run_at"],
            last_ok_at=row["last_ok_at"],
            next_run_at=row["next_run_at"],
            last_summary=row["last_summary"],
            last_error=row["last_error"],
            lease_owner=row["lease_owner"],
        )
        for row in rows
    ]
