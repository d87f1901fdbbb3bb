"""The embedding job: embed the papers that arrived (or changed) since the last round, then bring the
vector index up to date. Search works without the vectors, so a failure waits for the next round."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dailypapers.core.settings import Settings
from dailypapers.jobs.scheduler import Job, Scheduler
from dailypapers.search.embed import get_embedder
from dailypapers.search.vectors import IndexConfig, embed_and_index
from dailypapers.store.db import Database

EMBED_SECONDS = 60.0  # as often as the worker looks at its sources: new papers get vectors soon


def embedding_job(db: Database, settings: Settings, log: Callable[[str], None]) -> Job:
    """The job "embed": embed pending papers with setting embedding_model, refresh the index after
    new vectors (an index failure is logged: searches use the table until the next round)."""

    def run(scheduler: Scheduler) -> datetime | None:
        report = embed_and_index(
            db,
            get_embedder(settings.embedding_model),
            IndexConfig.from_settings(settings),
            batch_size=settings.embed_batch_size,
            refresh_always=False,
            index_failure_ok=True,
            should_stop=lambda: scheduler.stopping,
        )
        if report.summary.embedded or report.summary.unchanged:
            log(f"embed: {report.summary.line()}")
        if report.index or report.index_error:
            log(f"index: {report.index or report.index_error}")
        return None

    return Job("embed", EMBED_SECONDS, run)
