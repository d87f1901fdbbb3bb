"""Vectors on both databases: incremental embedding, exact nearest neighbours, hybrid and vector search,
similar papers — with the real default embedder on a small real corpus."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dailypapers.core.models import PaperRecord
from dailypapers.core.settings import Settings
from dailypapers.search.embed import get_embedder
from dailypapers.search.vectors import IndexConfig, VectorIndex, embed_pending, get_index
from dailypapers.services.search import SearchOptions, rrf, search_papers, similar_papers
from dailypapers.store.db import Database
from dailypapers.store.embeddings import store_vectors
from dailypapers.store.papers import upsert_batch
from dailypapers.store.tables import paper_embeddings
from dailypapers.testing.postgres import skip_without_pgvector
from dailypapers.web.app import create_app

DATA = Path(__file__).parents[1] / "data"
NOW = datetime(2026, 7, 1, tzinfo=UTC)
CORPUS = 40


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    return get_embedder("default")


def _records() -> list[PaperRecord]:
    """The first CORPUS papers of a real listing day, with their feed day."""
    from dailypapers.ingest.formats import parse_listing

    out = []
    seen = set()
    for line in (DATA / "listing-cs_2026-06-30.jsonl").read_text().splitlines():
        rec = parse_listing(json.loads(line), datetime(2026, 6, 30).date())
        if rec.arxiv_id not in seen:
            seen.add(rec.arxiv_id)
            out.append(rec)
        if len(out) == CORPUS:
            break
    return out


@pytest.fixture
def corpus(db: Database, embedder) -> Database:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        upsert_batch(conn, _records(), NOW)
    summary = embed_pending(db, embedder, batch_size=16)
    assert summary.embedded == CORPUS and summary.unchanged == 0
    return db


def test_embedding_is_incremental(corpus: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    assert embed_pending(corpus, embedder).embedded == 0
    first = _records()[0]
    # Only the upvotes change: the text is the same, nothing is embedded again.
    with corpus.write() as conn:
        upsert_batch(
            conn, [PaperRecord(arxiv_id=first.arxiv_id, title=first.title, upvotes=7)], datetime.now(UTC)
        )
    again = embed_pending(corpus, embedder)
    assert (again.embedded, again.unchanged) == (0, 1)
    # A newer version with a new title is embedded again, and only it.
    with corpus.write() as conn:
        upsert_batch(
            conn,
            [PaperRecord(arxiv_id=first.arxiv_id, title="A completely different title", version=9)],
            datetime.now(UTC),
        )
    assert embed_pending(corpus, embedder).embedded == 1
    with corpus.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(paper_embeddings)).scalar_one() == CORPUS


def _index(db: Database, model: str, config: IndexConfig | None = None) -> VectorIndex:
    """The process's index of `model`, read in a transaction of the test's own."""
    with db.read() as conn:
        return get_index(db, model, config, conn)


def _table(db: Database, model: str) -> tuple[list[str], np.ndarray]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(paper_embeddings.c.arxiv_id, paper_embeddings.c.vector)
            .where(paper_embeddings.c.model == model)
            .order_by(paper_embeddings.c.arxiv_id)
        ).all()
    return [r.arxiv_id for r in rows], np.stack([np.frombuffer(r.vector, dtype="<f4") for r in rows])


@pytest.mark.parametrize("kind", ["exact", "hnsw", "pgvector"])
def test_every_index_agrees_with_numpy(corpus: Database, embedder, kind: str) -> None:  # type: ignore[no-untyped-def]
    if kind == "pgvector" and corpus.is_sqlite:
        pytest.skip("pgvector is PostgreSQL's")
    if kind == "pgvector":
        skip_without_pgvector(corpus)
    ids, matrix = _table(corpus, embedder.name)
    assert len(ids) == CORPUS
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-4)
    index = _index(corpus, embedder.name, IndexConfig(kind=kind))
    assert index.kind == kind and len(index) == CORPUS
    for text in ("speech recognition", "error correcting codes", "diffusion models for images"):
        q = embedder.embed_query(text)
        scores = matrix @ q
        brute = [ids[n] for n in np.argsort(-scores)[:5]]
        hits = index.search(q, 5)
        assert [i for i, _ in hits] == brute
        assert np.allclose([s for _, s in hits], np.sort(scores)[::-1][:5], atol=1e-4)
        # Excluding a paper and limiting the candidates work the same in every index.
        assert [i for i, _ in index.search(q, 4, exclude=[brute[0]])] == brute[1:5]
    assert np.allclose(index.vector_of(ids[3]), matrix[3], atol=1e-6)
    assert index.vector_of("0000.00000") is None


def test_similar_papers_exclude_the_paper_itself(corpus: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    target = _records()[3].arxiv_id
    cards = similar_papers(corpus, target, embedder, k=10)
    assert len(cards) == 10 and target not in [c.arxiv_id for c in cards]
    index = _index(corpus, embedder.name)
    cosines = [float(index.vector_of(c.arxiv_id) @ index.vector_of(target)) for c in cards]
    assert cosines == sorted(cosines, reverse=True)
    assert similar_papers(corpus, "2999.99999", embedder) == []


def test_hybrid_and_vector_search(corpus: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    records = {r.arxiv_id: r for r in _records()}
    target = _records()[5]
    # The paper's own title, as a query: first in every mode.
    for mode in ("hybrid", "vector", "keyword"):
        page = search_papers(corpus, target.title, options=SearchOptions(mode, embedder))
        assert page.mode == mode and page.papers[0].arxiv_id == target.arxiv_id
    # Vector results obey filters too.
    category = target.categories[0]
    page = search_papers(corpus, f"learning cat:{category}", options=SearchOptions("vector", embedder))
    assert page.papers and all(category in records[p.arxiv_id].categories for p in page.papers)


def test_without_vectors_search_falls_back_to_keywords(db: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        upsert_batch(conn, _records(), NOW)
    page = search_papers(db, "learning", options=SearchOptions("hybrid", embedder))
    assert page.mode == "keyword" and page.papers
    assert any("dailypapers embed" in n for n in page.notes)


def test_rrf() -> None:
    fused = rrf([["a", "b", "c"], ["c", "a", "d"]], [1.0, 1.0], k=60)
    assert [i for i, _ in fused] == ["a", "c", "b", "d"]
    assert rrf([["a"], ["b"]], [2.0, 1.0])[0][0] == "a"


def test_similar_route_and_paper_page(corpus: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(database_url=corpus.url, search_mode="hybrid")
    client = TestClient(create_app(settings, corpus))
    target = _records()[2].arxiv_id
    body = client.get(f"/papers/{target}/similar").json()
    assert body["arxiv_id"] == target and len(body["similar"]) == 10
    assert target not in [p["arxiv_id"] for p in body["similar"]]
    page = client.get(f"/papers/{target}")
    assert page.status_code == 200 and "Similar papers" in page.text
    assert client.get("/papers/2999.99999/similar").status_code == 404
    found = client.get("/api/v1/search", params={"q": "speech recognition"}).json()
    assert found["mode"] == "hybrid" and found["papers"]


def test_index_follows_written_vectors(corpus: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    before = _index(corpus, embedder.name)
    target, other = _records()[0].arxiv_id, _records()[5].arxiv_id
    moved = before.vector_of(other)
    assert moved is not None and before.search(moved, 1)[0][0] == other
    # The first paper's vector is rewritten as the sixth's: the index in this process takes it in.
    with corpus.write() as conn:
        store_vectors(conn, embedder.name, [(target, "rewritten", moved)])
    after = _index(corpus, embedder.name)
    assert len(after) == CORPUS
    assert {i for i, _ in after.search(moved, 2)} == {target, other}


def test_the_worker_embeds_what_arrived(db: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    from dailypapers.services.worker import run_worker

    with db.write() as conn:
        upsert_batch(conn, _records()[:5], NOW)
    lines: list[str] = []
    settings = Settings(database_url=db.url, worker_sources="")
    assert (
        run_worker(db, settings, once=True, log=lines.append) == 1
    )  # no source ran, so no new papers: exit status 1
    assert len(_index(db, embedder.name)) == 5
    assert any(line.startswith("embed: embedded 5") for line in lines)


def test_the_demo_ships_its_vectors(db: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    from dailypapers.demo import VECTORS, build_demo_db, load_demo_vectors

    assert VECTORS.is_file()
    build_demo_db(db)
    index = _index(db, embedder.name)
    with db.read() as conn:
        papers_count = conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one()
    assert len(index) == papers_count > 5000
    assert load_demo_vectors(db) == 0  # idempotent
    # The bundled vectors are the default model's for this text: nothing to embed again ...
    assert embed_pending(db, embedder, should_stop=lambda: False, batch_size=512).embedded == 0
    # ... and they agree with a fresh embedding (float16 storage costs < 1e-3 of cosine).
    with db.read() as conn:
        arxiv_id = conn.execute(
            sa.text("SELECT arxiv_id FROM papers ORDER BY arxiv_id LIMIT 1 OFFSET 100")
        ).scalar_one()
        title, abstract = conn.execute(
            sa.text("SELECT title, abstract FROM papers WHERE arxiv_id = :i"), {"i": arxiv_id}
        ).one()
    from dailypapers.search.embed import paper_text

    fresh = embedder.embed([paper_text(title, abstract)])[0]
    assert float(fresh @ index.vector_of(arxiv_id)) > 0.999
    assert len(similar_papers(db, arxiv_id, embedder)) == 10
