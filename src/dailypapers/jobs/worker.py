"""`dailypapers worker`: run the configured sources on their schedules, beside the web server, and
send the email digests (compose the due ones, deliver the outbox) every digest_interval seconds.

Each source (setting worker_sources) runs every worker_interval seconds, or worker_retry_interval
after a failed run. The schedule lives in the database (source_state.next_run_at), so a restarted
worker keeps it. Before running a source the worker takes its lease (renewed with every page), so
several workers sharing one PostgreSQL database never run the same source at once; the lease of a
killed worker ends when it expires, or at once when the killed process was on the same host.
SIGTERM or Ctrl-C stops the worker after the page in progress is stored.
"""

from __future__ import annotations

import signal
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from dailypapers.core.settings import Settings
from dailypapers.ingest.harvest import EXIT_ERROR, EXIT_NEW, EXIT_NOTHING_NEW, HarvestResult, harvest
from dailypapers.ingest.http import PoliteClient, Stopped
from dailypapers.ingest.sources import build_client, build_source
from dailypapers.ingest.sources.base import Source
from dailypapers.store.checkpoints import (
    acquire_lease,
    lease_owner_id,
    next_run_at,
    release_lease,
    schedule_next,
)
from dailypapers.store.db import Database

LEASE_SECONDS = 600.0
IDLE_CHECK_SECONDS = 60.0  # the longest sleep between two looks at the schedule


class Worker:
    """The scheduling loop; `stop()` (or SIGTERM) ends it after the current page."""

    def __init__(self, db: Database, settings: Settings, log: Callable[[str], None] = print):
        self.db = db
        self.settings = settings
        self.log = log
        self.owner = lease_owner_id()
        kinds = [k.strip() for k in settings.worker_sources.split(",") if k.strip()]
        self.sources = [build_source(kind, settings) for kind in kinds]
        self._stop = threading.Event()
        self._digests_due_at: datetime | None = None

    def stop(self) -> None:
        """Ask the loop to end after the page in progress."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the worker gracefully; a second one stops it at once."""

        def handler(signum: int, frame: FrameType | None) -> None:
            if self._stop.is_set():
                raise KeyboardInterrupt
            self.log(f"{signal.Signals(signum).name}: stopping after the page in progress")
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def _sleep(self, seconds: float) -> None:
        """The client's waits (intervals, backoff, Retry-After), cut short by stop()."""
        if self._stop.wait(seconds):
            raise Stopped("worker stopping")

    def run(self, once: bool = False) -> int:
        """Run until stopped (or, with once, run every due source once); returns an exit status:
        2 if a run failed, else 0 if new papers arrived, else 1."""
        results: list[HarvestResult] = []
        with build_client(self.settings) as client:
            client.sleep = self._sleep
            while not self.stopping:
                wake_at = datetime.now(UTC) + timedelta(seconds=IDLE_CHECK_SECONDS)
                for source in self.sources:
                    if self.stopping:
                        break
                    when = self._run_source(source, client, results)
                    if when is not None:
                        wake_at = min(wake_at, when)
                if self.settings.worker_embed and not self.stopping:
                    self._embed()
                if not self.stopping:
                    wake_at = min(wake_at, self._digests())
                if once:
                    break
                self._stop.wait(max(0.0, (wake_at - datetime.now(UTC)).total_seconds()))
        if any(r.error for r in results):
            return EXIT_ERROR
        return EXIT_NEW if any(r.counts.new for r in results) else EXIT_NOTHING_NEW

    def _digests(self) -> datetime:
        """Compose due digests and send the outbox, every digest_interval seconds; never fatal.
        Returns when to look again."""
        now = datetime.now(UTC)
        if self._digests_due_at is not None and now < self._digests_due_at:
            return self._digests_due_at
        self._digests_due_at = now + timedelta(seconds=self.settings.digest_interval)
        try:
            from dailypapers.jobs.digests import run_digests

            made, report = run_digests(self.db, self.settings)
        except Exception as exc:  # noqa: BLE001 - the outbox keeps the mails; retried next round
            self.log(f"digests: {type(exc).__name__}: {exc}")
            return self._digests_due_at
        if made or report.sent or report.failed or report.retried:
            self.log(f"digests: {made} composed; {report.line()}")
        for line in report.errors[:20]:
            self.log(f"  mail {line}")
        return self._digests_due_at

    def _embed(self) -> None:
        """Embed the papers that arrived (or changed) since the last round; never fatal."""
        from dailypapers.search.vectors import IndexConfig, embed_pending, refresh_index

        try:
            from dailypapers.search.embed import get_embedder

            embedder = get_embedder(self.settings.embedding_model)
            summary = embed_pending(
                self.db,
                embedder,
                batch_size=self.settings.embed_batch_size,
                should_stop=lambda: self.stopping,
            )
        except Exception as exc:  # noqa: BLE001 - search works without vectors; retried next round
            self.log(f"embed: {type(exc).__name__}: {exc}")
            return
        if summary.embedded or summary.unchanged:
            self.log(f"embed: {summary.line()}")
        if summary.embedded and not self.stopping:
            try:
                self.log(
                    f"index: {refresh_index(self.db, embedder.name, IndexConfig.from_settings(self.settings))}"
                )
            except Exception as exc:  # noqa: BLE001 - searches use the table until the next round
                self.log(f"index: {type(exc).__name__}: {exc}")

    def _run_source(
        self, source: Source, client: PoliteClient, results: list[HarvestResult]
    ) -> datetime | None:
        """Run one source if it is due and free; returns when it is due next (None: unknown)."""
        now = datetime.now(UTC)
        with self.db.read() as conn:
            due = next_run_at(conn, source.name)
        if due is not None and due > now:
            return due
        with self.db.write() as conn:
            if not acquire_lease(conn, source.name, self.owner, now + timedelta(seconds=LEASE_SECONDS), now):
                return None
        try:
            result = harvest(
                self.db,
                source,
                client,
                policy=self.settings.feature_policy,
                categories=self.settings.feature_category_list(),
                should_stop=lambda: self.stopping,
                lease=(self.owner, LEASE_SECONDS),
            )
        except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
            self.log(f"{source.name}: unexpected {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            result = HarvestResult(source=source.name, error=f"unexpected {type(exc).__name__}: {exc}")
        finally:
            with self.db.write() as conn:
                release_lease(conn, source.name, self.owner)
        if self.stopping:  # interrupted on purpose: resumes at the next start, not an error
            self.log(f"{source.name}: stopped after {result.pages} pages; the next start resumes there")
            return None
        results.append(result)
        self.log(result.line())
        for rejected in result.rejected[:20]:
            self.log(f"  rejected {rejected}")
        wait = self.settings.worker_retry_interval if result.error else self.settings.worker_interval
        when = datetime.now(UTC) + timedelta(seconds=wait)
        with self.db.write() as conn:
            schedule_next(conn, source.name, when, datetime.now(UTC))
        return when
