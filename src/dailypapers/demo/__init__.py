"""The bundled demo corpus: real arXiv papers over consecutive feed days, with real Hub upvotes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from dailypapers.ingest.importer import ImportSummary, import_paths
from dailypapers.store.db import Database
from dailypapers.store.tables import paper_embeddings, papers

CORPUS = Path(__file__).with_name("corpus.jsonl.gz")
# The corpus's vectors under the default embedding model (scripts/build_demo_vectors.py).
VECTORS = Path(__file__).with_name("vectors.npz")


def build_demo_db(db: Database) -> ImportSummary:
    """Create or refresh the demo database: migrate, import the corpus, load its vectors (idempotent)."""
    db.migrate()
    summary = import_paths(db, [CORPUS])
    load_demo_vectors(db)
    return summary


def load_demo_vectors(db: Database) -> int:
    """Store the bundled vectors of the corpus's papers that have none yet; returns how many.

    They are the default model's (search.embed.MINILM_NAME), saved as float16: stored back as
    float32, renormalised. Each carries the hash of the text it was made from, so `dailypapers embed`
    redoes only papers whose text has changed since."""
    from dailypapers.search.embed import MINILM_NAME
    from dailypapers.search.vectors import store_vectors

    if not VECTORS.is_file():
        return 0
    with np.load(VECTORS) as data:
        if str(data["model"]) != MINILM_NAME:
            return 0
        ids, hashes = [str(i) for i in data["ids"]], [str(h) for h in data["hashes"]]
        vectors = data["vectors"].astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    now = datetime.now(UTC)
    with db.write() as conn:
        have = {
            r[0]
            for r in conn.execute(
                sa.select(paper_embeddings.c.arxiv_id).where(paper_embeddings.c.model == MINILM_NAME)
            )
        }
        known = {r[0] for r in conn.execute(sa.select(papers.c.arxiv_id))}
        rows = [
            (i, h, v) for i, h, v in zip(ids, hashes, vectors, strict=True) if i in known and i not in have
        ]
        store_vectors(conn, MINILM_NAME, rows, now)
    return len(rows)
