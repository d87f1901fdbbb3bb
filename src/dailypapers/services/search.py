"""The search service: search, similar papers and embedding, as the web pages, /api/v1 and the CLI
call them (each entry point takes the database and settings and owns its transactions)."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from dailypapers.core.settings import Settings
from dailypapers.search.embed import Embedder, embed_query_cached, get_embedder, get_embedder_cached
from dailypapers.search.keyword import (
    common_stems,
    fusion_list,
    keyword_search,
    matching_ids,
    term_conditions,
)
from dailypapers.search.query import MAX_QUERY_CHARS as MAX_QUERY_CHARS  # the web form's limit
from dailypapers.search.query import ParsedQuery, parse_query
from dailypapers.search.vectors import EmbedReport, IndexConfig, embed_and_index, get_index
from dailypapers.services.schemas import PaperCard, SearchPage
from dailypapers.store import embeddings
from dailypapers.store import feed as feed_q
from dailypapers.store.db import Database
from dailypapers.store.tables import papers

log = logging.getLogger(__name__)
MAX_PAGES = 100
MODES = ("hybrid", "keyword", "vector")
# How many results each list contributes to a fused (hybrid) ranking.
FUSION_DEPTH = 100


def _exact_title_ids(conn: sa.Connection, query: ParsedQuery) -> list[str]:
    """Papers whose title is the query itself (case-insensitive): shown first."""
    text = query.raw.strip().strip('"').strip()
    if len(text) < 8 or not query.has_text:
        return []
    rows = conn.execute(
        sa.select(papers.c.arxiv_id).where(sa.func.lower(papers.c.title) == text.lower()).limit(5)
    )
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
    embedder: Embedder | None = None
    rrf_k: float = 60.0
    keyword_weight: float = 1.0
    vector_weight: float = 1.0
    index: IndexConfig = IndexConfig()
    # When no paper has any of the words, vector results below this cosine are not shown (the
    # setting search_similarity_floor says why this value).
    similarity_floor: float = 0.35


def _vector_hits(
    db: Database,
    conn: sa.Connection,
    query: ParsedQuery,
    model: str,
    vector: np.ndarray,
    options: SearchOptions,
    depth: int,
) -> list[tuple[str, float]] | None:
    """The vector list of a query, (id, cosine) best first (None when no paper has a vector of this
    model yet). The query's constraints (fields, phrases, excluded words, categories, dates) hold: in
    the SQL of pgvector's search, or as the candidate set of an in-process index. Everything is read
    on `conn`."""
    index = get_index(db, model, options.index, conn)
    if not len(index):
        return None
    conditions = term_conditions(conn, query.constraints())
    if conditions:
        return index.search_filtered(vector, depth, conditions, conn)
    return index.search(vector, depth, conn=conn)


def _vector_list(
    db: Database, query: ParsedQuery, embedder: Embedder, options: SearchOptions, depth: int
) -> list[tuple[str, float]] | None:
    """_vector_hits on a connection of its own (the query is embedded before taking it)."""
    vector = embed_query_cached(embedder, query.meaning_text())
    with db.read() as conn:
        return _vector_hits(db, conn, query, embedder.name, vector, options, depth)


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


def search_papers(
    db: Database, raw: str, page: int = 1, page_size: int = 30, options: SearchOptions | None = None
) -> SearchPage:
    """Search: an arXiv id goes straight to that paper; otherwise keyword, vector or hybrid results
    (exact title matches first). Constraints (fields, phrases, excluded words, categories, dates)
    hold in every mode; only plain words are softened by meaning, and a note says so."""
    options = options or SearchOptions()
    query = parse_query(raw)
    page = min(max(page, 1), MAX_PAGES)
    mode = options.mode if options.embedder is not None else "keyword"
    capped = False
    total = 0
    ids: list[str] = []
    similarity: dict[str, float] = {}
    searching = not query.arxiv_id and bool(query.has_text or query.categories or query.after or query.before)
    offset = (page - 1) * page_size
    depth = offset + page_size
    fused_depth = max(FUSION_DEPTH, depth)
    # Author names and filters alone give nothing to compare by meaning: keyword search lists them.
    by_meaning = searching and mode != "keyword" and bool(query.meaning_text())
    if searching and mode == "vector" and not by_meaning:
        query.notes.append("only author names and filters: nothing to compare by meaning, keyword results")
    keyword_list: list[str] | None = None
    vector: list[tuple[str, float]] | None = None
    embedder = options.embedder if by_meaning else None  # (by_meaning implies one)
    if embedder is not None:
        # Connections: this thread never holds one while it waits for the vector list, whose thread
        # takes its own from the same pool (a request holding one while waiting for a second is how
        # a busy pool deadlocks: every request holds one, none can get the next). The keyword list
        # is made meanwhile, in its own transaction; the two mostly wait on C code that releases the
        # GIL (onnxruntime, faiss, SQLite) or on the PostgreSQL server, so hybrid costs about the
        # longer of the two. An in-memory SQLite database (one connection per thread) makes the
        # vector list here, after the keyword list.
        pending = (
            None
            if _in_memory(db)
            else _pool().submit(_vector_list, db, query, embedder, options, fused_depth)
        )
        if mode == "hybrid":
            with db.read() as conn:
                keyword_list = [h.arxiv_id for h in fusion_list(conn, query, fused_depth)]
        vector = (
            pending.result()
            if pending is not None
            else _vector_list(db, query, embedder, options, fused_depth)
        )
        if vector is None:
            query.notes.append("no paper has a vector yet (run `dailypapers embed`): keyword results only")
    with db.read() as conn:
        if query.arxiv_id:
            ids = (
                [query.arxiv_id]
                if conn.execute(
                    sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id == query.arxiv_id)
                ).first()
                else []
            )
            if not ids:
                query.notes.append(f"arXiv {query.arxiv_id} is not in this feed")
            total = len(ids)
        elif searching:
            # Exact titles lead the whole ranking (so pages stay disjoint): every page ranks from the
            # top and takes its slice.
            first = _exact_title_ids(conn, query)
            if first and query.has_constraints:
                first = [i for i in first if i in matching_ids(conn, query.constraints(), first)]
            if vector is None:
                mode = "keyword"
                ranked, total, capped = _keyword_ranking(conn, query, depth, page_size)
            else:
                ranked, similarity = _meaning_ranking(conn, query, mode, keyword_list, vector, options)
                if query.has_constraints:
                    # Both lists are made under the constraints; the fused ranking is checked once
                    # more, so that the promise holds in one place whatever list a paper came from.
                    # (One full PostgreSQL run saw 29 hybrid results of `diffusion -image` with
                    # "image"; not reproduced since: see the issue-11 note.)
                    keep = matching_ids(conn, query.constraints(), ranked)
                    ranked = [i for i in ranked if i in keep]
                total = len(ranked)
            extra = [i for i in first if i not in ranked]
            total += len(extra)
            ids = (first + [i for i in ranked if i not in first])[offset : offset + page_size]
            if (
                mode == "hybrid"
                and keyword_list
                and query.plain
                and len(matching_ids(conn, query, ids)) < len(ids)
            ):
                query.notes.append(
                    "some results lack some of the words: hybrid search adds papers close in "
                    "meaning (keyword mode requires every word)"
                )
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
        similarity={i: round(similarity[i], 4) for i in ids if i in similarity},
    )


def _keyword_ranking(
    conn: sa.Connection, query: ParsedQuery, depth: int, page_size: int
) -> tuple[list[str], int, bool]:
    """The keyword page's ranking (the top `depth`), its total and whether the total was capped:
    every word required; any of the plain words when no paper has them all."""
    # Counted up to the last reachable page: counting 100,000 matches takes seconds.
    reachable = MAX_PAGES * page_size
    result = keyword_search(conn, query, limit=depth, count=reachable)
    if result.total == 0 and len(query.plain) > 1:
        query.notes.append("no paper has all the words: papers with any of them")
        result = keyword_search(conn, query, limit=depth, match_any=True, count=reachable)
    if result.ranked_partly:
        query.notes.append(
            "many papers have all these words: those with them in the title first, then the most trending"
        )
    return [h.arxiv_id for h in result.hits], result.total, result.total_capped


def _meaning_ranking(
    conn: sa.Connection,
    query: ParsedQuery,
    mode: str,
    keyword_list: list[str] | None,
    vector: list[tuple[str, float]],
    options: SearchOptions,
) -> tuple[list[str], dict[str, float]]:
    """The vector (or hybrid: fused) ranking and the similarity of each vector result. When no paper
    has any of the words, only the papers at least options.similarity_floor close in meaning, said in
    a note (vector results of a nonsense word are noise)."""
    if not keyword_list and not keyword_search(conn, query, limit=0, match_any=True, count=1).total:
        vector = [(i, s) for i, s in vector if s >= options.similarity_floor]
        if vector:
            query.notes.append(
                f"no paper has these words: papers close in meaning (similarity ≥ "
                f"{options.similarity_floor:g})"
            )
        else:
            query.notes.append("no paper has these words, and none is close in meaning")
        return [i for i, _ in vector], dict(vector)
    if mode == "vector" or not keyword_list:
        return [i for i, _ in vector], dict(vector)
    # All words when enough papers have them, else any-word BM25 (search.keyword.fusion_list).
    fused = rrf(
        [keyword_list, [i for i, _ in vector]], [options.keyword_weight, options.vector_weight], options.rrf_k
    )
    return [i for i, _ in fused], dict(vector)


def similar_papers(
    db: Database, arxiv_id: str, embedder: Embedder | None, k: int = 10, config: IndexConfig | None = None
) -> list[PaperCard]:
    """The k papers nearest to this one (never itself); [] when it has no vector yet."""
    if embedder is None:
        return []
    # One connection for all of it: the index, pgvector's search and the cards are read on it.
    with db.read() as conn:
        index = get_index(db, embedder.name, config, conn)
        vector = index.vector_of(arxiv_id, conn)
        hits = [] if vector is None else index.search(vector, k, exclude=[arxiv_id], conn=conn)
        ids = [i for i, _ in hits]
        rows = {r["arxiv_id"]: r for r in feed_q.paper_cards(conn, ids)} if ids else {}
    return [PaperCard.from_row(rows[i]) for i in ids if i in rows]


def search_options(settings: Settings, mode: str | None = None) -> SearchOptions:
    """SearchOptions from settings (mode overridable); the embedder is loaded once per process."""
    embedder = None
    chosen = mode or settings.search_mode
    if chosen != "keyword":
        embedder = get_embedder_cached(settings.embedding_model)
    return SearchOptions(
        chosen,
        embedder,
        settings.search_rrf_k,
        settings.search_keyword_weight,
        settings.search_vector_weight,
        IndexConfig.from_settings(settings),
        settings.search_similarity_floor,
    )


def search(
    db: Database,
    settings: Settings,
    q: str,
    page: int = 1,
    mode: str | None = None,
    page_size: int | None = None,
) -> SearchPage:
    """One page of results for the query `q` as the settings rank it (mode overridable): what the
    search page, /api/v1/search and `dailypapers search` call."""
    options = search_options(settings, mode)
    return search_papers(db, q, page, page_size or settings.page_size, options)


def query_arxiv_id(q: str) -> str | None:
    """The arXiv id the query names (an id or URL), else None: the search page opens that paper."""
    return parse_query(q).arxiv_id


def similar(db: Database, settings: Settings, arxiv_id: str, k: int = 10) -> list[PaperCard]:
    """The k papers nearest to this one by the settings' embedding model ([] without a vector)."""
    embedder = get_embedder_cached(settings.embedding_model)
    return similar_papers(db, arxiv_id, embedder, k=k, config=IndexConfig.from_settings(settings))


def count_pending(db: Database, settings: Settings) -> int:
    """How many papers `embed_papers` would look at (for a progress bar's total)."""
    return embeddings.count_pending(db, get_embedder(settings.embedding_model).name)


def embed_papers(
    db: Database,
    settings: Settings,
    *,
    rebuild_index: bool = False,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EmbedReport:
    """Embed new and changed papers with the setting embedding_model, then bring the vector index up
    to date (`dailypapers embed`); ImportError when the model's packages are missing."""
    return embed_and_index(
        db,
        get_embedder(settings.embedding_model),
        IndexConfig.from_settings(settings),
        batch_size=settings.embed_batch_size,
        rebuild_index=rebuild_index,
        progress=progress,
        should_stop=should_stop,
    )


def warm_up(db: Database, settings: Settings) -> threading.Thread:
    """Load what the first search would otherwise wait for, in a background thread: the embedder,
    the vector index (a saved HNSW index, or the exact matrix) and SQLite's list of common words
    (a 4 s scan at 1M papers). Search works meanwhile; it waits only for what is not loaded yet."""

    def run() -> None:
        try:
            if db.is_sqlite:
                with db.read() as conn:
                    common_stems.get(conn)
            options = search_options(settings)
            if options.embedder is not None:
                options.embedder.embed_query("warm up")
                with db.read() as conn:
                    get_index(db, options.embedder.name, options.index, conn)
        except Exception as exc:  # noqa: BLE001 - a warm-up failure only means a slower first search
            log.warning("search warm-up failed: %s", exc)

    thread = threading.Thread(target=run, name="search-warm-up", daemon=True)
    thread.start()
    return thread
