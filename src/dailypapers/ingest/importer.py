"""import_paths: read files in any supported format and upsert their papers in batches."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dailypapers.core.models import PaperRecord
from dailypapers.ingest.formats import Rejected, UnreadableFile, open_binary, read_file
from dailypapers.store.db import Database
from dailypapers.store.papers import UpsertCounts, upsert_batch


@dataclass
class ImportSummary:
    """The outcome of an import: counts, rejections and files that could not be read at all."""

    read: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    rejected: list[Rejected] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def nothing_read(self) -> bool:
        """True when no file could be read at all (the only failing outcome)."""
        return self.read == 0 and not self.notes

    def line(self) -> str:
        """The one-line summary every import ends with."""
        rate = self.read / self.seconds if self.seconds > 0 else 0.0
        c = self.counts
        return (
            f"read {self.read:,}, new {c.new:,}, updated {c.updated:,}, unchanged {c.unchanged:,}, "
            f"rejected {len(self.rejected):,} — {self.seconds:.1f} s, {rate:,.0f} records/s"
        )


ProgressHook = Callable[[int, int], None]


def _merge_into(batch: dict[str, PaperRecord], rec: PaperRecord) -> None:
    """Fold a record into the batch, merging duplicates of one paper within the batch."""
    prev = batch.get(rec.arxiv_id)
    if prev is None:
        batch[rec.arxiv_id] = rec
        return
    newer = rec.version is not None and (prev.version is None or rec.version > prev.version)
    base, extra = (rec, prev) if newer else (prev, rec)
    for name in ("abstract", "comment", "journal_ref", "doi", "published_at", "updated_at", "project_url"):
        if not getattr(base, name) and getattr(extra, name):
            setattr(base, name, getattr(extra, name))
    if not base.authors:
        base.authors = extra.authors
    base.categories = list(dict.fromkeys([*base.categories, *extra.categories]))
    base.code_urls = list(dict.fromkeys([*base.code_urls, *extra.code_urls]))
    if extra.upvotes is not None:
        base.upvotes = max(base.upvotes or 0, extra.upvotes)
    seen = {d for d, _ in base.feed_entries}
    base.feed_entries += [e for e in extra.feed_entries if e[0] not in seen]
    # Feed entries keep the source that featured them; a mixed batch keeps the first source.
    batch[rec.arxiv_id] = base


def import_paths(
    db: Database,
    paths: Iterable[Path],
    *,
    batch_size: int = 2000,
    progress: ProgressHook | None = None,
    on_file: Callable[[Path, int], None] | None = None,
    now: datetime | None = None,
) -> ImportSummary:
    """Import every file; malformed records are collected as rejections and skipped."""
    summary = ImportSummary()
    started = time.perf_counter()
    for path in paths:
        path = Path(path)
        try:
            stream, raw = open_binary(path)
        except OSError as exc:
            summary.unreadable.append(f"{path}: {exc.strerror or exc}")
            continue
        with raw:
            size = path.stat().st_size
            if on_file:
                on_file(path, size)
            try:
                parsed = read_file(path, stream)
            except (UnreadableFile, OSError, EOFError) as exc:
                summary.unreadable.append(f"{path}: {exc}")
                continue
            if parsed.note:
                summary.notes.append(f"{path}: {parsed.note}")
            batch: dict[str, PaperRecord] = {}
            try:
                for item in parsed.records:
                    if isinstance(item, Rejected):
                        summary.rejected.append(item)
                        continue
                    summary.read += 1
                    _merge_into(batch, item)
                    if len(batch) >= batch_size:
                        _flush(db, batch, summary, now)
                        if progress:
                            progress(raw.tell(), size)
            except (OSError, EOFError) as exc:
                # A truncated gzip stream: keep what was read, report where it broke.
                summary.rejected.append(Rejected(str(path), 0, f"file truncated or corrupt: {exc}"))
            _flush(db, batch, summary, now)
            if progress:
                progress(size, size)
    summary.seconds = time.perf_counter() - started
    return summary


def _flush(db: Database, batch: dict[str, PaperRecord], summary: ImportSummary, now: datetime | None) -> None:
    if not batch:
        return
    with db.write() as conn:
        counts = upsert_batch(conn, list(batch.values()), now or datetime.now(timezone.utc))
    summary.counts.add(counts)
    batch.clear()
