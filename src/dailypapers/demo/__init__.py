"""The bundled demo corpus: real arXiv papers over consecutive feed days, with real Hub upvotes."""

from __future__ import annotations

from pathlib import Path

from dailypapers.ingest.importer import ImportSummary, import_paths
from dailypapers.store.db import Database

CORPUS = Path(__file__).with_name("corpus.jsonl.gz")


def build_demo_db(db: Database) -> ImportSummary:
    """Create or refresh the demo database: migrate, then import the corpus (idempotent)."""
    db.migrate()
    return import_paths(db, [CORPUS])
