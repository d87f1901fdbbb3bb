"""The vector indexes on both databases: faiss HNSW saved beside the database and kept up to date,
pgvector's HNSW index on PostgreSQL, the automatic choice between them, and category/date filters on
vector results (the over-fetch path and the exact fallback for narrow filters) — on the demo corpus's
5,601 real vectors and the real default embedder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from dailypapers.search import pgvector
from dailypapers.search.embed import MINILM_NAME, get_embedder
from dailypapers.search.vectors import (
    OVERFETCH,
    ExactIndex,
    HnswIndex,
    IndexConfig,
    VectorIndex,
    get_index,
    refresh_index,
)
from dailypapers.services.search import SearchOptions, search_papers, similar_papers
from dailypapers.store import embeddings
from dailypapers.store.db import Database
from dailypapers.store.embeddings import has_column, store_vectors
from dailypapers.store.tables import paper_embeddings, papers
from dailypapers.testing.postgres import skip_without_pgvector

QUERIES = [
    "hard negative mining for contrastive learning",
    "speech recognition for low-resource languages",
    "diffusion models for image generation",
    "graph neural networks",
    "reinforcement learning from human feedback",
]


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    return get_embedder("default")


def _index(db: Database, config: IndexConfig) -> VectorIndex:
    """The process's index of the demo's model, read in a transaction of the test's own."""
    with db.read() as conn:
        return get_index(db, MINILM_NAME, config, conn)


def _exact_top(db: Database, vector: np.ndarray, k: int) -> list[str]:
    with db.read() as conn:
        index = ExactIndex.load(conn, MINILM_NAME)
    return [i for i, _ in index.search(vector, k)]


def test_hnsw_is_saved_loaded_and_finds_what_exact_search_finds(
    demo_db: Database, embedder, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    config = IndexConfig(kind="hnsw", directory=str(tmp_path), hnsw_ef_search=128)
    line = refresh_index(demo_db, MINILM_NAME, config, rebuild=True)
    assert line.startswith("HNSW index built: 5,601 vectors"), line
    assert list(tmp_path.glob("hnsw-*.faiss")) and list(tmp_path.glob("hnsw-*.json"))
    assert refresh_index(demo_db, MINILM_NAME, config).startswith("HNSW index up to date")
    index = _index(demo_db, config)
    assert isinstance(index, HnswIndex) and len(index) == 5601
    recall = []
    for text in QUERIES:
        q = embedder.embed_query(text)
        truth = _exact_top(demo_db, q, 10)
        hits = index.search(q, 10)
        assert len(hits) == 10 and [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        recall.append(len({i for i, _ in hits} & set(truth)) / 10)
    assert np.mean(recall) >= 0.95, recall
    # A paper's own vector finds the paper; excluding it finds its neighbours instead.
    some = index.ids[123]
    assert index.search(index.vector_of(some), 1)[0][0] == some
    assert some not in [i for i, _ in index.search(index.vector_of(some), 10, exclude=[some])]


def test_hnsw_follows_rewritten_vectors_and_rebuilds_when_stale(
    demo_db: Database, embedder, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    config = IndexConfig(kind="hnsw", directory=str(tmp_path), hnsw_ef_search=128)
    refresh_index(demo_db, MINILM_NAME, config, rebuild=True)
    index = _index(demo_db, config)
    target, other = index.ids[10], index.ids[20]
    original, moved = index.vector_of(target), index.vector_of(other)
    try:
        with demo_db.write() as conn:
            store_vectors(conn, MINILM_NAME, [(target, "rewritten", moved)])
        after = _index(demo_db, config)
        assert len(after) == 5601 and len(after.stale) == 1  # the old node is excluded, not searched
        assert {i for i, _ in after.search(moved, 2)} == {target, other}
        assert np.allclose(after.vector_of(target), moved)
        # The saved index takes the change in too; another process would load it with the stale node.
        assert refresh_index(demo_db, MINILM_NAME, config).startswith("HNSW index updated")
        loaded = HnswIndex.load_file(tmp_path, MINILM_NAME, 128)
        assert loaded is not None and len(loaded.stale) == 1 and loaded.index.ntotal == 5602
        assert {i for i, _ in loaded.search(moved, 2)} == {target, other}
        assert refresh_index(demo_db, MINILM_NAME, config, rebuild=True).startswith("HNSW index built: 5,601")
        assert not HnswIndex.load_file(tmp_path, MINILM_NAME, 128).stale  # type: ignore[union-attr]
    finally:
        with demo_db.write() as conn:
            store_vectors(conn, MINILM_NAME, [(target, "restored", original)])


def test_a_missing_or_foreign_index_file_is_not_used(tmp_path: Path) -> None:
    assert HnswIndex.load_file(tmp_path, MINILM_NAME, 64) is None
    (tmp_path / "hnsw-whatever.faiss").write_bytes(b"not an index")
    assert HnswIndex.load_file(tmp_path, MINILM_NAME, 64) is None


def test_auto_picks_the_index_by_size_and_database(demo_db: Database, tmp_path: Path) -> None:
    small = IndexConfig(kind="auto", exact_max=10_000, directory=str(tmp_path))
    large = IndexConfig(kind="auto", exact_max=1_000, directory=str(tmp_path))
    if not demo_db.is_sqlite:
        skip_without_pgvector(demo_db)
        # PostgreSQL with pgvector (installed by scripts/test.sh): the server searches, whatever the size.
        assert _index(demo_db, small).kind == "pgvector"
        assert _index(demo_db, large).kind == "pgvector"
        return
    assert _index(demo_db, small).kind == "exact"
    # Above exact_max without a saved HNSW index (embed has not run): exact, until there is one.
    assert _index(demo_db, large).kind == "exact"
    refresh_index(demo_db, MINILM_NAME, large)
    # A new write moves seq: the process looks again and now loads the saved HNSW index.
    with demo_db.write() as conn:
        first = conn.execute(sa.select(paper_embeddings.c.arxiv_id, paper_embeddings.c.vector).limit(1)).one()
        store_vectors(conn, MINILM_NAME, [(first.arxiv_id, "same", np.frombuffer(first.vector, dtype="<f4"))])
    assert _index(demo_db, large).kind == "hnsw"


def test_pgvector_index_is_created_and_used(demo_db: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    if demo_db.is_sqlite:
        pytest.skip("pgvector is PostgreSQL's")
    skip_without_pgvector(demo_db)
    config = IndexConfig(kind="pgvector", hnsw_ef_search=200)
    assert refresh_index(demo_db, MINILM_NAME, config).startswith("pgvector: HNSW index")
    assert refresh_index(demo_db, MINILM_NAME, config) == "pgvector: HNSW index up to date"
    with demo_db.read() as conn:
        assert conn.exec_driver_sql(
            "SELECT 1 FROM pg_indexes WHERE indexname = %s", (embeddings.index_name(MINILM_NAME),)
        ).first()
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.exec_driver_sql(
                "EXPLAIN SELECT arxiv_id FROM paper_embeddings WHERE model = %s "
                "ORDER BY embedding::halfvec(384) <=> (SELECT embedding::halfvec(384) FROM paper_embeddings LIMIT 1) LIMIT 10",
                (MINILM_NAME,),
            )
        )
    assert embeddings.index_name(MINILM_NAME) in plan, plan
    index = _index(demo_db, config)
    assert index.cast == "halfvec"  # searches cast as the index was built (pgvector 0.8 here)
    recall = []
    for text in QUERIES:
        q = embedder.embed_query(text)
        hits = index.search(q, 10)
        recall.append(len({i for i, _ in hits} & set(_exact_top(demo_db, q, 10))) / 10)
    assert np.mean(recall) >= 0.9, recall


@pytest.mark.parametrize("kind", ["exact", "hnsw", "pgvector"])
def test_filters_apply_to_vector_results(demo_db: Database, embedder, kind: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if kind == "pgvector" and demo_db.is_sqlite:
        pytest.skip("pgvector is PostgreSQL's")
    if kind == "pgvector":
        skip_without_pgvector(demo_db)
    config = IndexConfig(kind=kind, directory=str(tmp_path), hnsw_ef_search=128)
    if kind == "hnsw":
        refresh_index(demo_db, MINILM_NAME, config, rebuild=True)
    options = SearchOptions("vector", embedder, index=config)
    with demo_db.read() as conn:
        counts = dict(
            conn.exec_driver_sql(
                "SELECT c, count(*) FROM (SELECT json_each.value AS c FROM papers, json_each(papers.categories)) GROUP BY c"
                if demo_db.is_sqlite
                else "SELECT c, count(*) FROM (SELECT jsonb_array_elements_text(categories::jsonb) AS c FROM papers) x GROUP BY c"
            ).all()
        )
    broad = max(counts, key=counts.__getitem__)
    narrow = min((c for c, n in counts.items() if 20 <= n <= 200), key=counts.__getitem__)
    for category in (broad, narrow):  # broad: the over-fetch path; narrow: exact among the allowed
        page = search_papers(demo_db, f"neural networks cat:{category}", page_size=50, options=options)
        assert page.papers and all(category in p.categories for p in page.papers), category
        assert len(page.papers) == min(50, counts[category])
        # The filtered list is the unfiltered ranking restricted to the category, in order.
        with demo_db.read() as conn:
            allowed = {
                r[0]
                for r in conn.execute(
                    sa.select(papers.c.arxiv_id)
                    .where(
                        sa.text("EXISTS (SELECT 1 FROM json_each(papers.categories) WHERE value = :c)")
                        if demo_db.is_sqlite
                        else sa.text("papers.categories::jsonb ? :c")
                    )
                    .params(c=category)
                )
            }
        q = embedder.embed_query("neural networks")
        with demo_db.read() as conn:
            exact = ExactIndex.load(conn, MINILM_NAME)
        truth = [i for i, _ in exact.search(q, 10, allowed)]
        found = [p.arxiv_id for p in page.papers[:10]]
        assert len(set(found) & set(truth)) >= 8, (category, found, truth)
    # Dates too: nothing outside the range.
    page = search_papers(demo_db, "language models after:2026-06-01", page_size=30, options=options)
    assert page.papers
    with demo_db.read() as conn:
        days = (
            conn.execute(
                sa.select(
                    sa.func.coalesce(papers.c.published_at, papers.c.first_featured_at, papers.c.created_at)
                ).where(papers.c.arxiv_id.in_([p.arxiv_id for p in page.papers]))
            )
            .scalars()
            .all()
        )
    assert all(str(d)[:10] >= "2026-06-01" for d in days)


def test_the_narrow_filter_takes_the_exact_path(
    demo_db: Database, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    if not demo_db.is_sqlite:
        pytest.skip("the in-process path; PostgreSQL filters in SQL")
    calls: list[bool] = []
    real = ExactIndex.search

    def spy(self, query, k, allowed=None, exclude=()):  # type: ignore[no-untyped-def]
        calls.append(allowed is not None)
        return real(self, query, k, allowed, exclude)

    monkeypatch.setattr(ExactIndex, "search", spy)
    options = SearchOptions("vector", embedder, index=IndexConfig(kind="exact"))
    search_papers(demo_db, "speech cat:cs.SD", options=options)
    assert calls == [False, True]  # over-fetch found too few cs.SD papers among the nearest 1,000
    calls.clear()
    search_papers(demo_db, "speech cat:cs.CV", options=options)
    assert calls == [False]
    assert OVERFETCH == 10


def test_similar_papers_through_every_index(demo_db: Database, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with demo_db.read() as conn:
        kinds = ["exact", "hnsw"] + (["pgvector"] if has_column(conn) else [])
    with demo_db.read() as conn:
        arxiv_id = conn.execute(
            sa.text("SELECT arxiv_id FROM papers ORDER BY arxiv_id LIMIT 1 OFFSET 77")
        ).scalar_one()
    lists = []
    for kind in kinds:
        config = IndexConfig(kind=kind, directory=str(tmp_path), hnsw_ef_search=128)
        if kind == "hnsw":
            refresh_index(demo_db, MINILM_NAME, config, rebuild=True)
        cards = similar_papers(demo_db, arxiv_id, embedder, config=config)
        assert len(cards) == 10 and arxiv_id not in [c.arxiv_id for c in cards]
        lists.append([c.arxiv_id for c in cards])
    for other in lists[1:]:
        assert len(set(other) & set(lists[0])) >= 9


def test_the_embed_command_builds_and_keeps_the_saved_index(tmp_path: Path) -> None:
    """`dailypapers embed` on a database above vector_exact_max: vectors, then the saved HNSW index;
    `similar` uses it; a second run embeds nothing and leaves the index as it is."""
    import os
    import subprocess
    import sys

    from dailypapers.ingest.importer import import_paths

    path = tmp_path / "cli.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    import_paths(db, [Path(__file__).parents[1] / "data" / "listing-cl_2025-09-18.jsonl"])
    with db.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
        some = conn.execute(sa.select(papers.c.arxiv_id).order_by(papers.c.arxiv_id).limit(1)).scalar_one()
    db.dispose()
    env = {
        **os.environ,
        "DAILYPAPERS_DATABASE_URL": f"sqlite:///{path}",
        "DAILYPAPERS_VECTOR_EXACT_MAX": "50",
        "COLUMNS": "200",
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dailypapers.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    first = cli("embed", "--no-progress")
    assert first.returncode == 0, first.stderr
    assert f"embedded {count:,}, unchanged 0" in first.stdout
    assert f"HNSW index built: {count:,} vectors" in first.stdout
    assert list((tmp_path / "cli.db.vectors").glob("hnsw-*.faiss"))
    similar = cli("similar", some)
    assert similar.returncode == 0 and similar.stdout.count("\n") >= 10, similar.stderr
    second = cli("embed", "--no-progress")
    assert "embedded 0" in second.stdout and f"HNSW index up to date ({count:,} vectors)" in second.stdout
    assert f"HNSW index built: {count:,} vectors" in cli("embed", "--no-progress", "--rebuild-index").stdout


def test_warm_up_loads_the_index_and_the_common_words(demo_db: Database) -> None:
    from dailypapers.core.settings import Settings
    from dailypapers.search import keyword
    from dailypapers.search import vectors as vectors_module
    from dailypapers.services.search import search_options, warm_up

    settings = Settings(database_url=demo_db.url, search_mode="hybrid")
    options = search_options(settings)
    vectors_module._forget(demo_db, MINILM_NAME)
    keyword.common_stems.known.clear()
    warm_up(demo_db, settings).join(timeout=300)
    assert (demo_db.url, MINILM_NAME, options.index) in vectors_module._cache
    if demo_db.is_sqlite:
        common, total = next(iter(keyword.common_stems.known.values()))[1:]
        assert total >= 5601 and common  # some stems are in more than 2,000 of the demo's papers


def test_a_full_precision_pgvector_index_is_replaced_by_a_halfvec_one(demo_db: Database) -> None:
    if demo_db.is_sqlite:
        pytest.skip("pgvector is PostgreSQL's")
    skip_without_pgvector(demo_db)
    config = IndexConfig(kind="pgvector")
    refresh_index(demo_db, MINILM_NAME, config)
    old, new = embeddings.index_name(MINILM_NAME, "vector"), embeddings.index_name(MINILM_NAME)
    with demo_db.write() as conn:  # as a database indexed before halfvec indexes were made
        conn.exec_driver_sql(f"DROP INDEX {new}")
        conn.exec_driver_sql(
            f"CREATE INDEX {old} ON paper_embeddings USING hnsw ((embedding::vector(384)) vector_cosine_ops) "
            f"WHERE model = '{MINILM_NAME}'"
        )
        assert pgvector.searched_kind(conn, MINILM_NAME) == "vector"  # searches keep using the old index
        assert embeddings.ensure_index(conn, MINILM_NAME, 384, 16, 64)
        assert pgvector.searched_kind(conn, MINILM_NAME) == "halfvec"
        names = {
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'paper_embeddings'"
            )
        }
    assert new in names and old not in names
