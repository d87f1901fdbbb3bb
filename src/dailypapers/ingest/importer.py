"""import_paths: read files in any supported format and upsert their papers in batches (one write
transaction each, store.papers.write_batch)."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dailypapers.core.models import PaperRecord, combine_records
from dailypapers.ingest.files import UnreadableFile, open_binary, read_file
from dailypapers.ingest.parse_worker import ParseWorker
from dailypapers.ingest.records import RecordError, Rejected
from dailypapers.store import fts
from dailypapers.store.db import Database
from dailypapers.store.papers import UpsertCounts, write_batch

# Files at least this big (on disk) are parsed in a child process while this one writes: the
# ~0.2 s it takes to start is then small next to the parsing it overlaps.
WORKER_MIN_BYTES = 4 << 20


@dataclass
class ImportSummary:
    """The outcome of an import: counts, rejections and files that could not be read at all.

    `read` counts the records parsed (rejected ones are not read). Each read record is either
    written, and counted new, updated or unchanged, or merged into another record of the same paper
    in the same batch before writing: read == new + updated + unchanged + merged.
    """

    read: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    merged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Files read fine that hold no papers by design (a Hub `no_data` answer, a weekend placeholder).
    files_without_papers: int = 0
    seconds: float = 0.0

    @property
    def nothing_read(self) -> bool:
        """True when no record was read and no file said it holds none (the only failing outcome).

        Other notes, such as the rebuilt keyword indexes of a big import, do not count as reading.
        """
        return self.read == 0 and self.files_without_papers == 0

    def line(self) -> str:
        """The one-line summary every import ends with."""
        rate = self.read / self.seconds if self.seconds > 0 else 0.0
        c = self.counts
        return (
            f"read {self.read:,}, new {c.new:,}, updated {c.updated:,}, unchanged {c.unchanged:,}, "
            f"merged {self.merged:,}, rejected {len(self.rejected):,} — {self.seconds:.1f} s, {rate:,.0f} records/s"
        )


ProgressHook = Callable[[int, int], None]


@dataclass(slots=True)
class _Batch:
    """The records of one write transaction, with what was read and rejected on the way."""

    records: list[PaperRecord]
    read: int
    rejected: list[Rejected]
    position: int  # bytes of the file consumed, for progress
    last: bool


def _batches(
    path: Path, items: Iterable[PaperRecord | Rejected], batch_size: int, position: Callable[[], int] | None
) -> Iterator[_Batch]:
    """Group a file's items into batches of distinct papers; the last batch may be empty.

    `position` tells how far into the file the items are, for progress; without it, 0.
    """
    batch: dict[str, PaperRecord] = {}
    read = 0
    rejected: list[Rejected] = []
    try:
        for item in items:
            if isinstance(item, Rejected):
                rejected.append(item)
                continue
            read += 1
            prev = batch.get(item.arxiv_id)
            batch[item.arxiv_id] = item if prev is None else combine_records(prev, item)
            if len(batch) >= batch_size:
                yield _Batch(list(batch.values()), read, rejected, position() if position else 0, last=False)
                batch, read, rejected = {}, 0, []
    except (OSError, EOFError) as exc:
        # A truncated gzip stream: keep what was read, report where it broke.
        rejected.append(Rejected(str(path), 0, f"file truncated or corrupt: {exc}"))
    yield _Batch(list(batch.values()), read, rejected, position() if position else 0, last=True)


def import_paths(
    db: Database,
    paths: Iterable[Path],
    *,
    batch_size: int = 2000,
    progress: ProgressHook | None = None,
    on_file: Callable[[Path, int], None] | None = None,
    now: datetime | None = None,
    parse_in_worker: bool | None = None,
) -> ImportSummary:
    """Import every file; malformed records are collected as rejections and skipped.

    parse_in_worker: parse JSON-lines files in a child process while this one writes; by
    default for files of WORKER_MIN_BYTES and more. The outcome is the same either way.
    A big import into SQLite suspends the keyword-index triggers and rebuilds the indexes at the end
    (store.fts); a note in the summary says so.
    """
    summary = ImportSummary()
    started = time.perf_counter()
    paths = [Path(p) for p in paths]
    # A big import into SQLite rebuilds the keyword indexes at its end instead of row by row.
    suspended = fts.should_suspend(db, paths) and fts.suspend(db)
    try:
        with _fewer_cycle_collections():
            for path in paths:
                _import_file(db, path, summary, batch_size, progress, on_file, now, parse_in_worker)
    finally:
        if suspended:
            line = fts.resume(db)
            if line:
                summary.notes.append(line)
    summary.seconds = time.perf_counter() - started
    return summary


def _import_file(
    db: Database,
    path: Path,
    summary: ImportSummary,
    batch_size: int,
    progress: ProgressHook | None,
    on_file: Callable[[Path, int], None] | None,
    now: datetime | None,
    parse_in_worker: bool | None,
) -> None:
    """Import one file into `summary`; a file that cannot be read is noted there, not raised."""
    if path.suffix == ".abs":
        _import_abs(db, path, summary, now, on_file)
        return
    try:
        stream, raw = open_binary(path)
    except OSError as exc:
        summary.unreadable.append(f"{path}: {exc.strerror or exc}")
        return
    with raw:
        size = path.stat().st_size
        if on_file:
            on_file(path, size)
        try:
            parsed = read_file(path, stream)
        except (UnreadableFile, OSError, EOFError) as exc:
            summary.unreadable.append(f"{path}: {exc}")
            return
        if parsed.note:
            summary.notes.append(f"{path}: {parsed.note}")
            summary.files_without_papers += 1
        if parse_in_worker is None:
            in_worker = size >= WORKER_MIN_BYTES and ParseWorker.available()
        else:
            in_worker = parse_in_worker
        # The child opens the file again: a pipe or a FIFO would not give it the same bytes.
        if not (parsed.lines and in_worker and path.is_file()):
            # Asked only for progress: a pipe has no position.
            batches = _batches(path, parsed.records, batch_size, raw.tell if progress else None)
            _import_batches(db, batches, summary, now, progress, size)
            return
    # The child reads the file itself, and keeps parsing while this process writes.
    with ParseWorker(path) as worker:
        batches = _batches(path, worker, batch_size, lambda: worker.position)
        _import_batches(db, batches, summary, now, progress, size)


def _import_abs(
    db: Database,
    path: Path,
    summary: ImportSummary,
    now: datetime | None,
    on_file: Callable[[Path, int], None] | None,
) -> None:
    """One arXiv .abs metadata file: one paper."""
    # Here: abs_files loads the remote sources' package (httpx, pydantic settings: 15 MiB), which
    # an import of listing or snapshot files never needs.
    from dailypapers.ingest.abs_files import parse_abs

    try:
        data = path.read_bytes()
    except OSError as exc:
        summary.unreadable.append(f"{path}: {exc.strerror or exc}")
        return
    if on_file:
        on_file(path, len(data))
    try:
        record = parse_abs(data)
    except RecordError as exc:
        summary.rejected.append(Rejected(str(path), 1, str(exc)))
        return
    summary.read += 1
    summary.counts.add(write_batch(db, [record], now or datetime.now(UTC)))


def _import_batches(
    db: Database,
    batches: Iterable[_Batch],
    summary: ImportSummary,
    now: datetime | None,
    progress: ProgressHook | None,
    size: int,
) -> None:
    for batch in batches:
        summary.read += batch.read
        # Records of one paper in the same batch were combined into one before writing.
        summary.merged += batch.read - len(batch.records)
        summary.rejected.extend(batch.rejected)
        if batch.records:
            summary.counts.add(write_batch(db, batch.records, now or datetime.now(UTC)))
        if progress:
            progress(size if batch.last else batch.position, size)


# While an import runs, the cycle collector runs only after this many net new containers.
_IMPORT_GC_THRESHOLD = 100_000
_gc_lock = threading.Lock()
_gc_imports = 0
_gc_saved_thresholds: tuple[int, ...] = ()


@contextmanager
def _fewer_cycle_collections() -> Iterator[None]:
    """Raise the cycle collector's first threshold for the import, restoring it when the last ends.

    An import keeps thousands of records in flight, so at the default threshold (700 new
    containers) the collector runs every few records and rescans all of them: about a fifth of
    the import's CPU time. The parsers and the store make no reference cycles, except a few per
    Python-literal Hub item (ast.literal_eval), which the raised threshold still collects.
    """
    global _gc_imports, _gc_saved_thresholds
    with _gc_lock:
        if _gc_imports == 0:
            _gc_saved_thresholds = gc.get_threshold()
            first, *rest = _gc_saved_thresholds
            if first:  # 0 means automatic collection is off: leave it off
                gc.set_threshold(max(first, _IMPORT_GC_THRESHOLD), *rest)
        _gc_imports += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_imports -= 1
            if _gc_imports == 0:
                gc.set_threshold(*_gc_saved_thresholds)
