"""Remote sources: run_source (one run of one source under its lease, the one implementation behind
`dailypapers ingest` and the worker) and the worker's sources job.

The worker runs each source of setting worker_sources every worker_interval seconds, or
worker_retry_interval after a failed run. The schedule lives in the database
(source_state.next_run_at), so a restarted worker keeps it. Before running a source the worker takes
its lease (renewed with every page), so several workers sharing one PostgreSQL database never run
the same source at once; the lease of a killed worker ends when it expires, or at once when the
killed process was on the same host. A stop ends a run after the page in progress is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from dailypapers.core.settings import Settings
from dailypapers.ingest.harvest import EXIT_ERROR, EXIT_NEW, EXIT_NOTHING_NEW, HarvestResult, harvest
from dailypapers.ingest.http import PoliteClient, Stopped
from dailypapers.ingest.sources import build_source
from dailypapers.ingest.sources.base import Request, Source
from dailypapers.jobs.scheduler import Clock, Job, Scheduler, utc_now
from dailypapers.store.checkpoints import (
    acquire_lease,
    lease_owner_id,
    next_run_at,
    release_lease,
    schedule_next,
)
from dailypapers.store.db import Database

log = logging.getLogger(__name__)

LEASE_SECONDS = 600.0
LOOK_SECONDS = 60.0  # the longest wait between two looks at the sources' schedule
MAX_REJECTIONS_LOGGED = 20


def run_source(
    db: Database,
    settings: Settings,
    source: Source,
    client: PoliteClient,
    *,
    owner: str,
    since: date | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_page: Callable[[Request, HarvestResult], None] | None = None,
    now: Clock = utc_now,
) -> HarvestResult | None:
    """Run `source` once: take its lease (None when another live process holds it), harvest from its
    checkpoint (or `since`), give the lease back and schedule its next run, unless stopped on purpose
    (then it is due again at once)."""
    taken = now()
    with db.write() as conn:
        # Two runs of one source at once would interleave their checkpoints.
        if not acquire_lease(conn, source.name, owner, taken + timedelta(seconds=LEASE_SECONDS), taken):
            return None
    try:
        result = harvest(
            db,
            source,
            client,
            since=since,
            policy=settings.feature_policy,
            categories=settings.feature_category_list(),
            should_stop=should_stop,
            on_page=on_page,
            lease=(owner, LEASE_SECONDS),
        )
    except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
        log.exception("%s: unexpected %s: %s", source.name, type(exc).__name__, exc)
        result = HarvestResult(source=source.name, error=f"unexpected {type(exc).__name__}: {exc}")
    finally:
        with db.write() as conn:
            release_lease(conn, source.name, owner)
    if should_stop is not None and should_stop():
        return result
    wait = settings.worker_retry_interval if result.error else settings.worker_interval
    done = now()
    with db.write() as conn:
        schedule_next(conn, source.name, done + timedelta(seconds=wait), done)
    return result


class SourcesJob:
    """The worker's job over the sources of setting worker_sources: each one that is due runs; the
    outcome of every finished run makes the worker's exit status."""

    def __init__(
        self, db: Database, settings: Settings, client: PoliteClient, log: Callable[[str], None]
    ) -> None:
        self.db = db
        self.settings = settings
        self.client = client
        self.log = log
        self.owner = lease_owner_id()
        kinds = [k.strip() for k in settings.worker_sources.split(",") if k.strip()]
        self.sources = [build_source(kind, settings) for kind in kinds]
        self.failed = False
        self.new = False

    def job(self) -> Job:
        """This job for the scheduler, named "sources"."""
        return Job("sources", LOOK_SECONDS, self.run)

    def exit_status(self) -> int:
        """2 if a run failed, else 0 if new papers arrived, else 1 (for cron chains)."""
        if self.failed:
            return EXIT_ERROR
        return EXIT_NEW if self.new else EXIT_NOTHING_NEW

    def run(self, scheduler: Scheduler) -> datetime | None:
        """Run every due source; returns when the next one is due (None: not known)."""

        def sleep(seconds: float) -> None:
            # The client's waits (intervals, backoff, Retry-After), cut short by a stop.
            if scheduler.pause(seconds):
                raise Stopped("worker stopping")

        self.client.sleep = sleep
        for source in self.sources:
            if scheduler.stopping:
                break
            self._run_if_due(source, scheduler)
        return self._next_due(scheduler.now())

    def _run_if_due(self, source: Source, scheduler: Scheduler) -> None:
        with self.db.read() as conn:
            due = next_run_at(conn, source.name)
        if due is not None and due > scheduler.now():
            return
        result = run_source(
            self.db,
            self.settings,
            source,
            self.client,
            owner=self.owner,
            should_stop=lambda: scheduler.stopping,
            now=scheduler.now,
        )
        if result is None:  # another process runs it
            return
        if scheduler.stopping:  # interrupted on purpose: resumes at the next start, not an error
            self.log(f"{source.name}: stopped after {result.pages} pages; the next start resumes there")
            return
        self.failed = self.failed or result.error is not None
        self.new = self.new or result.counts.new > 0
        self.log(result.line())
        for rejected in result.rejected[:MAX_REJECTIONS_LOGGED]:
            self.log(f"  rejected {rejected}")

    def _next_due(self, now: datetime) -> datetime | None:
        """The earliest scheduled run still ahead (a run due already but leased elsewhere is not)."""
        with self.db.read() as conn:
            dues = [next_run_at(conn, source.name) for source in self.sources]
        return min((due for due in dues if due is not None and due > now), default=None)
