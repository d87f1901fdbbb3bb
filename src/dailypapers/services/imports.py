"""Imports: paper files (`dailypapers import`, the demo's corpus) and precomputed vectors (the demo's)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from dailypapers.core.settings import Settings
from dailypapers.ingest import importer
from dailypapers.ingest.importer import ImportSummary as ImportSummary
from dailypapers.store.db import Database
from dailypapers.store.embeddings import papers_without_vector, store_vectors


def import_paths(
    db: Database,
    settings: Settings,
    paths: Iterable[Path],
    *,
    progress: Callable[[int, int], None] | None = None,
    on_file: Callable[[Path, int], None] | None = None,
) -> ImportSummary:
    """Import paper files of any supported format (gzip or not), setting import_batch_size records
    per transaction; `on_file(path, size)` and `progress(done, total)` report bytes read."""
    return importer.import_paths(
        db, paths, batch_size=settings.import_batch_size, progress=progress, on_file=on_file
    )


def import_vectors(db: Database, model: str, items: Sequence[tuple[str, str, np.ndarray]]) -> int:
    """Store precomputed (arxiv_id, text_hash, vector) rows of `model` for the stored papers that
    have no vector of it yet, in one transaction; how many were stored."""
    with db.write() as conn:
        wanted = papers_without_vector(conn, model)
        rows = [item for item in items if item[0] in wanted]
        store_vectors(conn, model, rows, datetime.now(UTC))
    return len(rows)
