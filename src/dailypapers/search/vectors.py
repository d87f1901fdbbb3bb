"""Paper vectors: the incremental `embed` job, and nearest-neighbour search over them.

Vectors live in `paper_embeddings` (one float32 row per paper and model, with the hash of the embedded
text and a change counter `seq`); store.embeddings holds their SQL and transactions. `embed_pending`
embeds papers that have no vector for the model yet, or whose title/abstract changed since (unchanged
text is not embedded again), a batch per transaction.

Three indexes answer the same `search(query, k, ...)`:
- `ExactIndex`: the vectors as a float32 matrix, exact cosine (matrix-vector product + partial sort);
  used while a model has at most `vector_exact_max` vectors (~5 ms at 100K on two cores).
- `HnswIndex`: faiss's HNSW graph over the same vectors, for larger corpora; built and saved next to
  the SQLite file by `dailypapers embed` (`refresh_index`), loaded by the app, and brought up to date
  from the table's newer rows (changed vectors get a new node; the old one is excluded).
- `PgVectorIndex` (search.pgvector): on PostgreSQL with pgvector the server searches.
`get_index` picks one per the setting vector_index and keeps it per process; each call costs one
indexed query (min and max of `seq`), on the caller's connection, to learn whether rows were written
(or removed) since.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dailypapers.core.settings import Settings
from dailypapers.search import pgvector
from dailypapers.search.embed import Embedder, paper_text
from dailypapers.store import embeddings
from dailypapers.store.db import Database
from dailypapers.store.tables import papers

log = logging.getLogger(__name__)


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass
class EmbedSummary:
    embedded: int = 0
    unchanged: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        rate = self.embedded / self.seconds if self.seconds > 0 else 0.0
        return (
            f"embedded {self.embedded:,}, unchanged {self.unchanged:,} — {self.seconds:.1f} s, "
            f"{rate:,.1f} papers/s"
        )


def embed_pending(
    db: Database,
    embedder: Embedder,
    *,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EmbedSummary:
    """Embed every paper whose vector for this model is missing or stale; each batch is one
    transaction, so an interrupted job loses at most one batch of work."""
    summary = EmbedSummary()
    started = time.perf_counter()
    after = ""
    while should_stop is None or not should_stop():
        rows = embeddings.pending_batch(db, embedder.name, after, batch_size)
        if not rows:
            break
        after = rows[-1].arxiv_id
        texts = {r.arxiv_id: paper_text(r.title, r.abstract) for r in rows}
        hashes = {k: text_hash(v) for k, v in texts.items()}
        todo = [r.arxiv_id for r in rows if r.text_hash != hashes[r.arxiv_id]]
        same = [r.arxiv_id for r in rows if r.text_hash == hashes[r.arxiv_id]]
        vectors = (
            embedder.embed([texts[i] for i in todo]) if todo else np.zeros((0, embedder.dim), np.float32)
        )
        # Metadata changed but not the text (`same`): the vector is only marked as current.
        embedded = [(i, hashes[i], v) for i, v in zip(todo, vectors, strict=True)]
        embeddings.save_batch(db, embedder.name, embedded, same, datetime.now(UTC))
        summary.embedded += len(todo)
        summary.unchanged += len(same)
        if progress:
            progress(len(rows))
    summary.seconds = time.perf_counter() - started
    return summary


@dataclass(frozen=True)
class IndexConfig:
    """Which vector index to use (settings vector_index, vector_exact_max, hnsw_*, vector_index_dir)."""

    kind: str = "auto"  # auto | exact | hnsw | pgvector
    exact_max: int = 100_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 256
    directory: str | None = None  # where HNSW indexes are saved; None: next to a SQLite file, else nowhere

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexConfig:
        return cls(
            settings.vector_index,
            settings.vector_exact_max,
            settings.hnsw_m,
            settings.hnsw_ef_construction,
            settings.hnsw_ef_search,
            settings.vector_index_dir,
        )


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


def _exact_hits(
    matrix: np.ndarray,
    ids: list[str],
    position: dict[str, int],
    query: np.ndarray,
    k: int,
    allowed: Iterable[str] | None,
    exclude: Iterable[str],
) -> list[tuple[str, float]]:
    """Exact cosine top k over the rows of `matrix` (row n is ids[n]; `position` maps the live ids
    to their rows), among `allowed` when given, without `exclude`."""
    q = np.asarray(query, dtype=np.float32)
    rows = (
        None
        if allowed is None
        else np.fromiter((position[i] for i in allowed if i in position), dtype=np.int64)
    )
    scores = (matrix if rows is None else matrix[rows]) @ q
    skip = {position[i] for i in exclude if i in position}
    top = _top(scores, k + len(skip))
    positions = top if rows is None else rows[top]
    return [(ids[p], float(scores[t])) for t, p in zip(top, positions, strict=True) if p not in skip][:k]


class VectorIndex(Protocol):
    """What search asks of a vector index (ExactIndex, HnswIndex, pgvector.PgVectorIndex): one model's
    vectors, their change counters, and nearest-neighbour search."""

    kind: str  # exact | hnsw | pgvector
    model: str
    seq: int  # the newest change counter taken in
    oldest: int  # the oldest change counter when it was loaded (get_index reloads when it moves)

    def __len__(self) -> int:
        """How many papers have a vector in it."""
        ...

    def update(self, conn: Connection, seq: int) -> None:
        """Take in the rows written after its seq, up to `seq`."""
        ...

    def vector_of(self, arxiv_id: str, conn: Connection | None = None) -> np.ndarray | None:
        """The paper's vector (None: it has none)."""
        ...

    def search(
        self, query: np.ndarray, k: int, *, exclude: Iterable[str] = (), conn: Connection | None = None
    ) -> list[tuple[str, float]]:
        """The k most similar papers (id, cosine), best first, without `exclude`."""
        ...

    def search_filtered(
        self, query: np.ndarray, k: int, conditions: list[Any], conn: Connection
    ) -> list[tuple[str, float]]:
        """The k most similar papers among those meeting `conditions` (on papers), read on `conn`."""
        ...


# A filtered in-process search first takes this many times the results it needs from the index.
OVERFETCH = 10


class _InMemoryIndex:
    """What the two in-process indexes share: taking in newer rows, filtered search, and searches and
    updates taking turns (`_add` and `_search` run under the index's lock)."""

    model: str
    seq: int
    oldest = 0
    position: dict[str, int]
    _lock: threading.Lock

    def update(self, conn: Connection, seq: int) -> None:
        """Take in the rows written after this index's seq, up to `seq`."""
        self.take_in(embeddings.vectors_after(conn, self.model, self.seq), seq)

    def take_in(self, chunks: Iterable[tuple[list[str], np.ndarray]], seq: int) -> None:
        """Add (or replace) the vectors of `chunks`; the index then stands at change counter `seq`."""
        for ids, matrix in chunks:
            with self._lock:
                self._add(ids, matrix)
        self.seq = seq

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        conn: Connection | None = None,
    ) -> list[tuple[str, float]]:
        """The k most similar papers (id, cosine), best first; `allowed` limits the candidates. (`conn`
        is unused: the vectors are in memory; it is taken as PgVectorIndex.search takes it.)"""
        if not self.position or k <= 0:
            return []
        with self._lock:
            return self._search(query, k, allowed, exclude)

    def search_filtered(
        self, query: np.ndarray, k: int, conditions: list[Any], conn: Connection
    ) -> list[tuple[str, float]]:
        """The k most similar papers among those meeting `conditions` (on papers, checked in SQL on
        `conn`)."""
        # The nearest OVERFETCH×k papers, filtered in SQL: enough for a broad filter ...
        candidates = self.search(query, k * OVERFETCH)
        passing = {
            r.arxiv_id
            for r in conn.execute(
                sa.select(papers.c.arxiv_id).where(
                    papers.c.arxiv_id.in_([i for i, _ in candidates]), *conditions
                )
            )
        }
        hits = [hit for hit in candidates if hit[0] in passing]
        if len(hits) >= k or len(candidates) < k * OVERFETCH:
            return hits[:k]
        # ... a narrow one: search exactly among the papers it allows.
        allowed = [r.arxiv_id for r in conn.execute(sa.select(papers.c.arxiv_id).where(*conditions))]
        return self.search(query, k, allowed)

    def _add(self, ids: list[str], matrix: np.ndarray) -> None:
        raise NotImplementedError

    def _search(
        self, query: np.ndarray, k: int, allowed: Iterable[str] | None, exclude: Iterable[str]
    ) -> list[tuple[str, float]]:
        raise NotImplementedError


class ExactIndex(_InMemoryIndex):
    """One model's vectors in memory, searched exactly by cosine similarity."""

    kind = "exact"

    def __init__(self, model: str, ids: list[str], matrix: np.ndarray, seq: int):
        self.model, self.ids, self.matrix, self.seq = model, ids, matrix, seq
        self.position = {arxiv_id: n for n, arxiv_id in enumerate(ids)}
        self._lock = threading.Lock()  # updates and searches take turns (rows and ids stay in step)

    @classmethod
    def load(cls, conn: Connection, model: str) -> ExactIndex:
        seq = embeddings.current_seq(conn, model)
        index = cls(model, [], np.zeros((0, 0), np.float32), 0)
        index.update(conn, seq)
        return index

    def _add(self, ids: list[str], matrix: np.ndarray) -> None:
        new = [i for i in ids if i not in self.position]
        for n, arxiv_id in enumerate(ids):
            if arxiv_id in self.position:
                self.matrix[self.position[arxiv_id]] = matrix[n]
        if new:
            rows = matrix[[n for n, i in enumerate(ids) if i not in self.position]]
            self.matrix = rows.copy() if not len(self.ids) else np.vstack([self.matrix, rows])
            for arxiv_id in new:
                self.position[arxiv_id] = len(self.ids)
                self.ids.append(arxiv_id)

    def __len__(self) -> int:
        return len(self.ids)

    def vector_of(self, arxiv_id: str, conn: Connection | None = None) -> np.ndarray | None:
        n = self.position.get(arxiv_id)
        return None if n is None else self.matrix[n]

    def _search(
        self, query: np.ndarray, k: int, allowed: Iterable[str] | None, exclude: Iterable[str]
    ) -> list[tuple[str, float]]:
        return _exact_hits(self.matrix, self.ids, self.position, query, k, allowed, exclude)


class HnswIndex(_InMemoryIndex):
    """faiss's HNSW graph (inner product on unit vectors = cosine) over one model's vectors.

    Node n is ids[n]; a vector written again gets a new node and its old one is marked stale
    (excluded from every search) until the next rebuild."""

    kind = "hnsw"

    def __init__(self, model: str, ids: list[str], index: Any, seq: int, stale: set[int], ef_search: int):
        self.model, self.ids, self.index, self.seq, self.stale, self.ef_search = (
            model,
            ids,
            index,
            seq,
            stale,
            ef_search,
        )
        self.position = {arxiv_id: n for n, arxiv_id in enumerate(ids) if n not in stale}
        self._selector: Any = None
        # faiss may move its storage while adding: searches and updates of one index take turns.
        self._lock = threading.Lock()

    @staticmethod
    def _faiss() -> Any:
        import faiss  # here: loading faiss takes a while, and only HNSW indexes need it

        return faiss

    @classmethod
    def build(
        cls, chunks: Iterable[tuple[list[str], np.ndarray]], model: str, config: IndexConfig, seq: int
    ) -> HnswIndex:
        """The graph over all of a model's vectors (`chunks`, which stand at change counter `seq`)."""
        faiss = cls._faiss()
        started = time.perf_counter()
        index, ids = None, []
        for chunk_ids, matrix in chunks:
            if index is None:
                index = faiss.IndexHNSWFlat(matrix.shape[1], config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = config.hnsw_ef_construction
            index.add(np.ascontiguousarray(matrix))
            ids += chunk_ids
        if index is None:
            raise ValueError(f"no vectors of {model} to index")
        log.info(
            "built HNSW index of %s: %d vectors in %.1f s", model, len(ids), time.perf_counter() - started
        )
        return cls(model, ids, index, seq, set(), config.hnsw_ef_search)

    def _add(self, ids: list[str], matrix: np.ndarray) -> None:
        for arxiv_id in ids:
            old = self.position.get(arxiv_id)
            if old is not None:
                self.stale.add(old)
            self.position[arxiv_id] = len(self.ids)
            self.ids.append(arxiv_id)
        self.index.add(np.ascontiguousarray(matrix))
        self._selector = None

    def __len__(self) -> int:
        return len(self.position)

    def _vectors(self) -> np.ndarray:
        faiss = self._faiss()
        n, d = self.index.ntotal, self.index.d
        return faiss.rev_swig_ptr(faiss.downcast_index(self.index.storage).get_xb(), n * d).reshape(n, d)

    def vector_of(self, arxiv_id: str, conn: Connection | None = None) -> np.ndarray | None:
        with self._lock:
            n = self.position.get(arxiv_id)
            return None if n is None else self._vectors()[n].copy()

    def _search(
        self, query: np.ndarray, k: int, allowed: Iterable[str] | None, exclude: Iterable[str]
    ) -> list[tuple[str, float]]:
        if allowed is not None:  # a filtered candidate set: exact over it
            return _exact_hits(self._vectors(), self.ids, self.position, query, k, allowed, exclude)
        q = np.asarray(query, dtype=np.float32)
        skip = {self.position[i] for i in exclude if i in self.position}
        faiss = self._faiss()
        want = k + len(skip)
        params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, want))
        if self.stale:
            if self._selector is None:
                self._selector = faiss.IDSelectorNot(
                    faiss.IDSelectorBatch(np.fromiter(self.stale, dtype=np.int64))
                )
            params.sel = self._selector
        scores, labels = self.index.search(q[None, :], want, params=params)
        hits = [
            (self.ids[n], float(s))
            for s, n in zip(scores[0], labels[0], strict=True)
            if n >= 0 and n not in skip
        ]
        return hits[:k]

    def save(self, folder: Path) -> None:
        """Write the index, its ids and seq (atomically: readers see the old files or the new)."""
        faiss = self._faiss()
        folder.mkdir(parents=True, exist_ok=True)
        base = folder / _file_stem(self.model)
        tmp = base.with_suffix(f".tmp{os.getpid()}")
        with self._lock:
            faiss.write_index(self.index, str(tmp.with_suffix(".faiss")))
            meta = {"model": self.model, "seq": self.seq, "stale": sorted(self.stale), "ids": list(self.ids)}
        tmp.with_suffix(".json").write_text(json.dumps(meta))
        os.replace(tmp.with_suffix(".faiss"), base.with_suffix(".faiss"))
        os.replace(tmp.with_suffix(".json"), base.with_suffix(".json"))

    @classmethod
    def load_file(cls, folder: Path, model: str, ef_search: int) -> HnswIndex | None:
        base = folder / _file_stem(model)
        try:
            meta = json.loads(base.with_suffix(".json").read_text())
            index = cls._faiss().read_index(str(base.with_suffix(".faiss")))
        except (OSError, ValueError, RuntimeError):
            return None
        if meta.get("model") != model or index.ntotal != len(meta["ids"]):
            return None
        return cls(model, meta["ids"], index, int(meta["seq"]), set(meta["stale"]), ef_search)


def _file_stem(model: str) -> str:
    return "hnsw-" + hashlib.blake2b(model.encode(), digest_size=8).hexdigest()


def index_folder(db: Database, config: IndexConfig) -> Path | None:
    """Where HNSW indexes of this database are saved: the setting, else `<sqlite file>.vectors/`."""
    if config.directory:
        return Path(config.directory).expanduser()
    if db.is_sqlite:
        path = sa.engine.make_url(db.url).database
        if path and path != ":memory:":
            return Path(path).expanduser().resolve().with_name(Path(path).name + ".vectors")
    return None


def _choose(stored: embeddings.VectorSummary, config: IndexConfig) -> str:
    """Which index answers for a model: the configured one, or by what is stored (auto)."""
    if config.kind != "auto":
        if config.kind == "pgvector" and not stored.pgvector:
            raise ValueError("vector_index = pgvector, but this database has no pgvector column")
        return config.kind
    if stored.pgvector:
        return "pgvector"
    return "hnsw" if stored.vectors > config.exact_max else "exact"


def refresh_index(db: Database, model: str, config: IndexConfig | None = None, rebuild: bool = False) -> str:
    """After vectors were written: bring the saved HNSW index up to date (build it the first time,
    rebuild when a fifth of its nodes are stale or asked to), or create pgvector's index. What
    `dailypapers embed` and the worker call; returns a line saying what it did."""
    config = config or IndexConfig()
    stored = embeddings.read_summary(db, model)
    kind = _choose(stored, config)
    if stored.dim is None:
        return "no vectors yet"
    if kind == "pgvector":
        filled = embeddings.fill_vector_column(db, model)
        started = time.perf_counter()
        made = embeddings.create_vector_index(
            db, model, stored.dim, config.hnsw_m, config.hnsw_ef_construction
        )
        took = time.perf_counter() - started
        return (
            f"pgvector: HNSW index created in {took:.1f} s" if made else "pgvector: HNSW index up to date"
        ) + (f" ({filled:,} vectors copied into it)" if filled else "")
    folder = index_folder(db, config)
    if kind != "hnsw" or folder is None:
        return f"{kind} index (nothing to save)"
    started = time.perf_counter()
    index = None if rebuild else HnswIndex.load_file(folder, model, config.hnsw_ef_search)
    if index is not None and len(index.stale) * 5 > index.index.ntotal:
        index = None
    # A build reads every vector (in bigger chunks); an update only those written since the saved seq.
    after, chunk = (0, 50_000) if index is None else (index.seq, 20_000)
    with embeddings.read_vectors(db, model, after, chunk) as stored_vectors:
        if index is None:
            index = HnswIndex.build(stored_vectors.chunks, model, config, stored_vectors.seq)
            what = "built"
        elif index.seq == stored_vectors.seq:
            return f"HNSW index up to date ({len(index):,} vectors)"
        else:
            index.take_in(stored_vectors.chunks, stored_vectors.seq)
            what = "updated"
    index.save(folder)
    _forget(db, model)
    return f"HNSW index {what}: {len(index):,} vectors in {time.perf_counter() - started:.1f} s ({folder})"


@dataclass
class EmbedReport:
    """What one embedding round did: the model, the papers embedded, and the index refresh's line
    (None when the index was not refreshed; `index_error` when refreshing it failed)."""

    model: str
    summary: EmbedSummary
    index: str | None = None
    index_error: str | None = None


def embed_and_index(
    db: Database,
    embedder: Embedder,
    config: IndexConfig,
    *,
    batch_size: int = 64,
    rebuild_index: bool = False,
    refresh_always: bool = True,
    index_failure_ok: bool = False,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EmbedReport:
    """Embed the pending papers, then bring the vector index up to date: what `dailypapers embed`
    (refresh_always) and the worker (only after new vectors; an index failure is reported, not
    raised, as searches use the table until the next round) run."""
    summary = embed_pending(db, embedder, batch_size=batch_size, progress=progress, should_stop=should_stop)
    report = EmbedReport(embedder.name, summary)
    stopped = should_stop is not None and should_stop()
    if stopped or not (refresh_always or summary.embedded):
        return report
    try:
        report.index = refresh_index(db, embedder.name, config, rebuild=rebuild_index)
    except Exception as exc:
        if not index_failure_ok:
            raise
        report.index_error = f"{type(exc).__name__}: {exc}"
    return report


_cache: dict[tuple[str, str, IndexConfig], VectorIndex] = {}
_cache_lock = threading.Lock()


def _forget(db: Database, model: str) -> None:
    with _cache_lock:
        for key in [key for key in _cache if key[:2] == (db.url, model)]:
            del _cache[key]


def get_index(db: Database, model: str, config: IndexConfig | None, conn: Connection) -> VectorIndex:
    """The process's index of `model` (config None: the defaults), brought up to date when rows were
    written since it was loaded; read on the caller's `conn`."""
    config = config or IndexConfig()
    with _cache_lock:
        index = _cache.get((db.url, model, config))
        oldest, seq = embeddings.seq_range(conn, model)
        if index is not None and index.oldest != oldest:
            index = None  # rows removed (or the table refilled): load it again
        if index is not None and index.seq == seq:
            return index
        if index is not None and (
            index.kind != "exact" or len(index) + 1000 <= config.exact_max or config.kind != "auto"
        ):
            index.update(conn, seq)
            return index
        stored = embeddings.summarize(conn, model)
        kind = _choose(stored, config)
        if kind == "pgvector":
            index = pgvector.PgVectorIndex(db, model, stored.dim or 0, config.hnsw_ef_search)
            index.update(conn, seq)
        elif kind == "hnsw":
            folder = index_folder(db, config)
            index = HnswIndex.load_file(folder, model, config.hnsw_ef_search) if folder else None
            if index is None:
                if folder is not None and config.kind == "auto":
                    log.warning(
                        "no saved HNSW index of %s yet (run `dailypapers embed`): exact search for now", model
                    )
                    index = ExactIndex.load(conn, model)
                else:
                    vectors = embeddings.vectors_after(conn, model, 0, chunk=50_000)
                    index = HnswIndex.build(vectors, model, config, seq)
            else:
                index.update(conn, seq)
        else:
            index = ExactIndex.load(conn, model)
        index.oldest = oldest
        _cache[(db.url, model, config)] = index
    return index
