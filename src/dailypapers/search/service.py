"""search_papers: what the search page, /api/v1/search and `dailypapers search` call."""

from __future__ import annotations

import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dailypapers.schemas import PaperCard, SearchPage
from dailypapers.search.keyword import filter_conditions, fusion_list, keyword_search
from dailypapers.search.query import ParsedQuery, parse_query
from dailypapers.store import feed as feed_q
from dailypapers.store.db import Database
from dailypapers.search.vectors import IndexConfig, get_index
from dailypapers.store.tables import papers

log = logging.getLogger(__name__)
MAX_PAGES = 100
MODES = ("hybrid", "keyword", "vector")
# How many results each list contributes to a fused (hybrid) ranking.
FUSION_DEPTH = 100
# A filtered vector search first takes this many times the results it needs from the index.
OVERFETCH = 10


def _exact_title_ids(conn: sa.Connection, query: ParsedQuery) -> list[str]:
    """Papers whose title is the query itself (case-insensitive): shown first."""
    text = query.raw.strip().strip('"').strip()
    if len(text) < 8 or not query.has_text:
        return []
    rows = conn.execute(sa.select(papers.c.arxiv_id).where(sa.func.lower(papers.c.title) == text.lower()).limit(5))
    return [r.arxiv_id for r in rows]


def rrf(lists: list[list[str]], weights: list[float], k: float = 60.0) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion: each id scores Σ weight_i / (k + rank_i) over the lists it is in
    (ranks from 1); best first, ties by first appearance."""
    scores: dict[str, float] = {}
    for ids, weight in zip(lists, weights, strict=True):
        for rank, arxiv_id in enumerate(ids, start=1):
            scores[arxiv_id] = scores.get(arxiv_id, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


@dataclass
class SearchOptions:
    """How search ranks: the mode, the embedder (None: keyword only) and the fusion parameters."""

    mode: str = "keyword"
    embedder: Any = None
    rrf_k: float = 60.0
    keyword_weight: float = 1.0
    vector_weight: float = 1.0
    index: IndexConfig = IndexConfig()


def _vector_ids(db: Database, conn: sa.Connection, query: ParsedQuery, options: SearchOptions,
                depth: int) -> list[str] | None:  # fmt: skip
    """The vector list of a query (None when no paper has a vector of this model yet). Category and
    date filters apply: in the SQL of pgvector's search, or as the candidate set of an in-process index."""
    index = get_index(db, options.embedder.name, options.index)
    if not len(index):
        return None
    vector = embed_query_cached(options.embedder, query.plain_text())
    conditions = filter_conditions(conn, query)
    if index.kind == "pgvector":
        return [i for i, _ in index.search(vector, depth, conditions=conditions)]
    if not conditions:
        return [i for i, _ in index.search(vector, depth)]
    # The nearest OVERFETCH×depth papers, filtered in SQL: enough for a broad filter ...
    candidates = [i for i, _ in index.search(vector, depth * OVERFETCH)]
    passing = {r.arxiv_id for r in conn.execute(
        sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id.in_(candidates), *conditions))}  # fmt: skip
    hits = [i for i in candidates if i in passing]
    if len(hits) >= depth or len(candidates) < depth * OVERFETCH:
        return hits[:depth]
    # ... a narrow one: search exactly among the papers it allows.
    allowed = [r.arxiv_id for r in conn.execute(sa.select(papers.c.arxiv_id).where(*conditions))]
    return [i for i, _ in index.search(vector, depth, allowed)]


def _vector_list(db: Database, query: ParsedQuery, options: SearchOptions, depth: int) -> list[str] | None:
    with db.read() as conn:
        return _vector_ids(db, conn, query, options, depth)


def _in_memory(db: Database) -> bool:
    return db.is_sqlite and (sa.engine.make_url(db.url).database or ":memory:") == ":memory:"


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The threads that make hybrid search's vector lists (created on first use)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=VECTOR_THREADS, thread_name_prefix="search-vectors")
        return _executor


# At most this many vector lists are made at once per process (more searches wait for a thread).
VECTOR_THREADS = 16
_query_vectors: dict[tuple[str, str], Any] = {}


def embed_query_cached(embedder: Any, text: str) -> Any:
    """The query's vector; the last 512 queries' are kept (the next page of a search, the same
    query from many readers)."""
    key = (embedder.name, text)
    vector = _query_vectors.get(key)
    if vector is None:
        vector = embedder.embed_query(text)
        if len(_query_vectors) >= 512:
            _query_vectors.pop(next(iter(_query_vectors)))
        _query_vectors[key] = vector
    return vector


def search_papers(db: Database, raw: str, page: int = 1, page_size: int = 30,
                  options: SearchOptions | None = None) -> SearchPage:  # fmt: skip
    """Search: an arXiv id goes straight to that paper; otherwise keyword, vector or hybrid results
    (exact title matches first)."""
    options = options or SearchOptions()
    query = parse_query(raw)
    page = min(max(page, 1), MAX_PAGES)
    mode = options.mode if options.embedder is not None else "keyword"
    ids: list[str]
    capped = False
    with db.read() as conn:
        if query.arxiv_id:
            ids = [query.arxiv_id] if conn.execute(
                sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id == query.arxiv_id)
            ).first() else []  # fmt: skip
            if not ids:
                query.notes.append(f"arXiv {query.arxiv_id} is not in this feed")
            total = len(ids)
        elif not query.has_text and not query.categories and not query.after and not query.before:
            ids, total = [], 0
        else:
            # Exact titles lead the whole ranking (so pages stay disjoint): every page ranks from the
            # top and takes its slice.
            first = _exact_title_ids(conn, query)
            offset = (page - 1) * page_size
            depth = offset + page_size
            vector, keyword_list = None, None
            if mode != "keyword" and query.has_text:
                # The two lists are independent: the vector list (embedding the query, the index)
                # runs in another thread on its own connection while this one makes the keyword list;
                # both mostly wait on C code that releases the GIL (onnxruntime, faiss, SQLite) or on
                # the PostgreSQL server, so hybrid costs about the longer of the two, not their sum.
                # (An in-memory SQLite database is one connection per thread: no second thread there.)
                pending = None if _in_memory(db) else _pool().submit(_vector_list, db, query, options,
                                                                     max(FUSION_DEPTH, depth))  # fmt: skip
                if mode == "hybrid":
                    keyword_list = [h.arxiv_id for h in fusion_list(conn, query, max(FUSION_DEPTH, depth))]
                if pending is not None:
                    vector = pending.result()
                else:
                    vector = _vector_ids(db, conn, query, options, max(FUSION_DEPTH, depth))
                if vector is None:
                    query.notes.append("no paper has a vector yet (run `dailypapers embed`): keyword results only")
            if vector is None:
                mode = "keyword"
                # Counted up to the last reachable page: counting 100,000 matches takes seconds.
                reachable = MAX_PAGES * page_size
                result = keyword_search(conn, query, limit=depth, count=reachable)
                if result.total == 0 and len(query.positive) > 1:
                    query.notes.append("no paper has all the words: papers with any of them")
                    result = keyword_search(conn, query, limit=depth, match_any=True, count=reachable)
                if result.ranked_partly:
                    query.notes.append("many papers have all these words: those with them in the title first, "
                                       "then the most trending")  # fmt: skip
                ranked, total, capped = [h.arxiv_id for h in result.hits], result.total, result.total_capped
            elif mode == "vector":
                ranked, total = vector, len(vector)
            else:
                # All words when enough papers have them, else any-word BM25 (search.keyword.fusion_list).
                assert keyword_list is not None
                ranked = [i for i, _ in rrf([keyword_list, vector], [options.keyword_weight, options.vector_weight],
                                            options.rrf_k)]  # fmt: skip
                total = len(ranked)
            extra = [i for i in first if i not in ranked]
            total += len(extra)
            ids = (first + [i for i in ranked if i not in first])[offset : offset + page_size]
        rows = {r["arxiv_id"]: r for r in feed_q.paper_cards(conn, ids)} if ids else {}
    return SearchPage(
        query=query.raw,
        mode=mode,
        notes=query.notes,
        matched_terms=query.highlight_words(),
        categories=query.categories,
        after=query.after,
        before=query.before,
        total=total,
        total_capped=capped,
        page=page,
        page_size=page_size,
        pages=max(1, min(MAX_PAGES, math.ceil(total / page_size))),
        papers=[PaperCard.from_row(rows[i]) for i in ids if i in rows],
    )


def similar_papers(db: Database, arxiv_id: str, embedder: Any, k: int = 10,
                   config: IndexConfig | None = None) -> list[PaperCard]:  # fmt: skip
    """The k papers nearest to this one (never itself); [] when it has no vector yet."""
    if embedder is None:
        return []
    index = get_index(db, embedder.name, config)
    vector = index.vector_of(arxiv_id)
    if vector is None:
        return []
    ids = [i for i, _ in index.search(vector, k, exclude=[arxiv_id])]
    with db.read() as conn:
        rows = {r["arxiv_id"]: r for r in feed_q.paper_cards(conn, ids)}
    return [PaperCard.from_row(rows[i]) for i in ids if i in rows]


_embedders: dict[str, Any] = {}


def search_options(settings: Any, mode: str | None = None) -> SearchOptions:
    """SearchOptions from settings (mode overridable); the embedder is loaded once per process."""
    embedder = None
    chosen = mode or settings.search_mode
    if chosen != "keyword":
        embedder = get_embedder_cached(settings.embedding_model)
    return SearchOptions(chosen, embedder, settings.search_rrf_k, settings.search_keyword_weight,
                         settings.search_vector_weight, IndexConfig.from_settings(settings))  # fmt: skip


def get_embedder_cached(name: str) -> Any:
    """The embedder `name`, created on first use (its model loads lazily on first embed); None when
    it cannot be created here (an optional dependency missing): search then uses keywords only."""
    if name not in _embedders:
        try:
            from dailypapers.search.embed import get_embedder

            _embedders[name] = get_embedder(name)
        except (ImportError, ValueError, OSError) as exc:
            log.warning("embedding model %r unavailable (%s): keyword search only", name, exc)
            _embedders[name] = None
    return _embedders[name]


def warm_up(db: Database, settings: Any) -> threading.Thread:
    """Load what the first search would otherwise wait for, in a background thread: the embedder,
    the vector index (a saved HNSW index, or the exact matrix) and SQLite's list of common words
    (a 4 s scan at 1M papers). Search works meanwhile; it waits only for what is not loaded yet."""

    def run() -> None:
        from dailypapers.search.keyword import _common_stems

        try:
            if db.is_sqlite:
                with db.read() as conn:
                    _common_stems.get(conn)
            options = search_options(settings)
            if options.embedder is not None:
                options.embedder.embed_query("warm up")
                get_index(db, options.embedder.name, options.index)
        except Exception as exc:  # noqa: BLE001 - a warm-up failure only means a slower first search
            log.warning("search warm-up failed: %s", exc)

    thread = threading.Thread(target=run, name="search-warm-up", daemon=True)
    thread.start()
    return thread
