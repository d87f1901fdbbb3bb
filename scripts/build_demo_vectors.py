"""Embed the bundled demo corpus with the default embedder and save the vectors next to it
(src/dailypapers/demo/vectors.npz): ids, the hash of each embedded text, float16 vectors.

A developer tool: `dailypapers demo` loads the file so the demo's paper pages show similar papers
without embedding 5,601 abstracts at start (minutes on two cores). Rerun after changing the corpus
or the default model: `python scripts/build_demo_vectors.py`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from dailypapers.demo import CORPUS, VECTORS
from dailypapers.ingest.importer import import_paths
from dailypapers.search.embed import get_embedder
from dailypapers.search.vectors import embed_pending
from dailypapers.store.db import Database
from dailypapers.store.tables import paper_embeddings


def main() -> None:
    embedder = get_embedder("default")
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'demo.db'}")
        db.migrate()
        import_paths(db, [CORPUS])
        started = time.perf_counter()
        summary = embed_pending(db, embedder, batch_size=64)
        print(f"{embedder.name}: {summary.line()} ({time.perf_counter() - started:.0f} s)")
        with db.read() as conn:
            rows = conn.execute(
                sa.select(
                    paper_embeddings.c.arxiv_id, paper_embeddings.c.text_hash, paper_embeddings.c.vector
                )
                .where(paper_embeddings.c.model == embedder.name)
                .order_by(paper_embeddings.c.arxiv_id)
            ).all()
        db.dispose()
    vectors = np.stack([np.frombuffer(r.vector, dtype="<f4") for r in rows]).astype(np.float16)
    np.savez_compressed(
        VECTORS,
        model=np.array(embedder.name),
        ids=np.array([r.arxiv_id for r in rows]),
        hashes=np.array([r.text_hash for r in rows]),
        vectors=vectors,
    )
    print(f"wrote {VECTORS} ({VECTORS.stat().st_size / 1e6:.1f} MB, {len(rows):,} vectors)")


if __name__ == "__main__":
    main()
