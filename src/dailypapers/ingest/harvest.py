"""harvest(): run one source once — fetch, parse, normalize, feature, upsert — page by page.

Every page's papers are written in the same transaction as the checkpoint that follows them, so
the database always holds a checkpoint that matches its papers: a run killed at any moment (even
kill -9, mid-transaction) resumes at the first page whose transaction did not commit, and ends
with the same papers an uninterrupted run would have stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dailypapers.core.models import PaperRecord, combine_records
from dailypapers.ingest.featuring import apply_policy
from dailypapers.ingest.http import FetchError, PoliteClient, Stopped
from dailypapers.ingest.records import RecordError, Rejected
from dailypapers.ingest.sources.base import FeedError, Page, Request, Source
from dailypapers.store.db import Database
from dailypapers.store.harvest_pages import (
    LeaseLost,
    load_checkpoint,
    note_run,
    renew_lease,
    save_checkpoint,
    store_page,
)
from dailypapers.store.papers import UpsertCounts

# A page that arrives unreadable (cut off, malformed, arXiv's empty-page hiccup) is fetched again
# this many times before the run gives up (each fetch has its own network retries).
PAGE_RETRIES = 3

# Exit statuses of `dailypapers ingest`, for cron chains.
EXIT_NEW, EXIT_NOTHING_NEW, EXIT_ERROR = 0, 1, 2


@dataclass
class HarvestResult:
    """What one run of one source did."""

    source: str
    pages: int = 0
    read: int = 0
    skipped: int = 0  # deleted records, nothing to keep
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    rejected: list[Rejected] = field(default_factory=list)
    error: str | None = None
    complete: bool = False
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when new papers arrived, 1 when none did, 2 on error."""
        if self.error:
            return EXIT_ERROR
        return EXIT_NEW if self.counts.new else EXIT_NOTHING_NEW

    def line(self) -> str:
        """One summary line."""
        c = self.counts
        state = "error" if self.error else ("complete" if self.complete else "stopped")
        text = (
            f"{self.source}: {state} — {self.pages:,} pages, read {self.read:,}, new {c.new:,}, "
            f"updated {c.updated:,}, unchanged {c.unchanged:,}, rejected {len(self.rejected):,}"
            f"{f', deleted {self.skipped:,}' if self.skipped else ''} — {self.seconds:.1f} s"
        )
        return f"{text}: {self.error}" if self.error else text


def _fetch_page(
    source: Source, client: PoliteClient, request: Request, sleep: Callable[[float], None]
) -> tuple[Page, dict[str, str]]:
    """Fetch and parse one page, fetching again when the body is unreadable."""
    for attempt in range(PAGE_RETRIES + 1):
        try:
            response = client.get(request.url, request.params, request.headers)
        except FetchError as exc:
            if exc.body and exc.status is not None and 400 <= exc.status < 500:
                # arXiv explains a bad query in an error feed (HTTP 400): report its words.
                try:
                    source.parse(exc.body, request)
                except FeedError as feed_error:
                    raise FeedError(f"{exc}: {feed_error}") from None
                except Exception:  # noqa: BLE001 - the body was just for the message
                    pass
            raise
        headers = {k.lower(): v for k, v in response.headers.items()}
        if response.status_code == 304:
            return Page(entries=[], not_modified=True), headers
        try:
            return source.parse(response.content, request), headers
        except FeedError as exc:
            if not exc.retryable or attempt == PAGE_RETRIES:
                raise
            sleep(client.backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _normalize(source: Source, page: Page, label: str, result: HarvestResult) -> list[PaperRecord]:
    records: dict[str, PaperRecord] = {}
    for position, entry in enumerate(page.entries, start=1):
        try:
            record = source.normalize(entry, page)
        except RecordError as exc:
            result.rejected.append(Rejected(f"{source.name} {label}", position, str(exc)))
            continue
        if record is None:
            result.skipped += 1
            continue
        result.read += 1
        prev = records.get(record.arxiv_id)
        records[record.arxiv_id] = record if prev is None else combine_records(prev, record)
    return list(records.values())


def harvest(
    db: Database,
    source: Source,
    client: PoliteClient,
    *,
    since: date | None = None,
    today: date | None = None,
    policy: str = "all",
    categories: Iterable[str] = (),
    should_stop: Callable[[], bool] | None = None,
    on_page: Callable[[Request, HarvestResult], None] | None = None,
    lease: tuple[str, float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> HarvestResult:
    """Run `source` once from its checkpoint (or from `since`); never raises for a remote failure:
    the result carries the error and the checkpoint stays at the last stored page.

    lease: (owner, seconds) to renew the worker's lease with every page.
    """
    started = time.perf_counter()
    result = HarvestResult(source=source.name)
    feature_categories = list(categories)
    today = today or datetime.now(UTC).date()
    client_sleep = client.sleep
    if lease is not None:
        client.sleep = _renewing(db, source.name, lease, client_sleep)
    lost = False
    try:
        state: dict[str, Any] = source.begin(load_checkpoint(db, source.name), since, today)
        save_checkpoint(db, source.name, state, datetime.now(UTC))
        while (request := source.next_request(state)) is not None:
            if should_stop is not None and should_stop():
                break
            page, headers = _fetch_page(source, client, request, sleep)
            records = apply_policy(
                _normalize(source, page, request.label, result), source.features, policy, feature_categories
            )
            new_state = source.advance(state, request, page, headers)
            # LeaseLost when another process took the source over (our lease expired): nothing stored.
            counts = store_page(db, source.name, records, new_state, datetime.now(UTC), lease)
            if counts is not None:
                result.counts.add(counts)
            state = new_state
            result.pages += 1
            if on_page is not None:
                on_page(request, result)
        else:
            save_checkpoint(db, source.name, source.finish(state), datetime.now(UTC))
            result.complete = True
    except Stopped:
        pass  # the process is stopping: the checkpoint is at the last stored page
    except LeaseLost as exc:
        result.error, lost = str(exc), True
    except (FetchError, FeedError) as exc:
        result.error = str(exc)
    finally:
        client.sleep = client_sleep
    result.seconds = time.perf_counter() - started
    if not lost:  # the row belongs to the process that took the source over
        note_run(
            db,
            source.name,
            datetime.now(UTC),
            ok=result.error is None,
            summary=result.line(),
            error=result.error,
        )
    return result


def _renewing(
    db: Database, name: str, lease: tuple[str, float], sleep: Callable[[float], None]
) -> Callable[[float], None]:
    """The client's sleep, renewing the lease first so that it outlasts the wait (a Retry-After
    can be longer than a lease)."""

    def renew_and_sleep(seconds: float) -> None:
        now = datetime.now(UTC)
        renew_lease(db, name, lease[0], now + timedelta(seconds=seconds + lease[1]), now)
        sleep(seconds)

    return renew_and_sleep
