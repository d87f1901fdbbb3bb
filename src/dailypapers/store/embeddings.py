"""paper_embeddings: the SQL of stored vectors. Which papers the embed job still has to embed, its
batch writes (stamped with a change counter `seq`), reading a model's vectors for the in-process
indexes, and pgvector's `embedding` column with its per-model HNSW index on PostgreSQL.

The functions taking a Database are one unit of work each and own their transaction; those taking a
Connection run in the caller's."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dailypapers.store.db import Database
from dailypapers.store.tables import paper_embeddings, papers

# --- pgvector's column and indexes --------------------------------------------------------------


def sql_literal(text: str) -> str:
    """A string as an SQL literal (for a partial index's predicate, which must be spelled out)."""
    return "'" + text.replace("'", "''") + "'"


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form of a vector: '[0.1,0.2,...]' (float32 precision is kept by repr)."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(vector, dtype=np.float32)) + "]"


def has_column(conn: Connection) -> bool:
    """Whether paper_embeddings has the pgvector column (i.e. pgvector is in use here)."""
    if conn.dialect.name != "postgresql":
        return False
    return bool(
        conn.exec_driver_sql(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'paper_embeddings' "
            "AND column_name = 'embedding' AND table_schema = current_schema()"
        ).first()
    )


def index_name(model: str, kind: str = "halfvec") -> str:
    """The name of a model's HNSW index: over half-precision copies (`halfvec`, pgvector ≥ 0.7) or,
    on older servers, over the vectors themselves (`vector`, the name indexes had before)."""
    prefix = "ix_paper_embeddings_hnswh_" if kind == "halfvec" else "ix_paper_embeddings_hnsw_"
    return prefix + hashlib.blake2b(model.encode(), digest_size=6).hexdigest()


def index_kind(conn: Connection) -> str:
    """`halfvec` when the server's pgvector has it (0.7+): half the index's size and memory, and at
    1M papers 8.1 instead of 9.5 ms per 100-deep search at the same recall; else `vector`."""
    return (
        "halfvec"
        if conn.exec_driver_sql("SELECT 1 FROM pg_type WHERE typname = 'halfvec'").first()
        else "vector"
    )


def ensure_index(conn: Connection, model: str, dim: int, m: int = 32, ef_construction: int = 200) -> bool:
    """Create this model's HNSW index if it is missing (m and ef_construction: the settings hnsw_m
    and hnsw_ef_construction; pgvector's own defaults, 16 and 64, gave recall@10 0.76 at 1M papers);
    True when it was created now. The build is fastest when the graph fits in maintenance_work_mem
    (about 2 GB for a million 384-dimension vectors)."""
    kind = index_kind(conn)
    name = index_name(model, kind)
    if conn.exec_driver_sql("SELECT 1 FROM pg_indexes WHERE indexname = %s", (name,)).first():
        return False
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {name} ON paper_embeddings USING hnsw "
        f"((embedding::{kind}({int(dim)})) {kind}_cosine_ops) WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
        f"WHERE model = {sql_literal(model)}"
    )
    if kind == "halfvec":  # a full-precision index built before replaces nothing now: drop it
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index_name(model, 'vector')}")
    return True


def create_vector_index(db: Database, model: str, dim: int, m: int, ef_construction: int) -> bool:
    """ensure_index in its own transaction: True when the model's HNSW index was created now."""
    with db.write() as conn:
        return ensure_index(conn, model, dim, m, ef_construction)


def fill_vector_column(db: Database, model: str, batch: int = 2000) -> int:
    """Copy stored vectors into the pgvector column where it is empty (vectors written before
    pgvector was enabled), in one transaction; returns how many rows it filled."""
    filled = 0
    with db.write() as conn:
        while True:
            rows = conn.execute(
                sa.select(paper_embeddings.c.arxiv_id, paper_embeddings.c.vector)
                .where(paper_embeddings.c.model == model, sa.text("embedding IS NULL"))
                .limit(batch)
            ).all()
            if not rows:
                return filled
            conn.execute(
                sa.text(
                    "UPDATE paper_embeddings SET embedding = CAST(:v AS vector) WHERE arxiv_id = :i AND model = :m"
                ),
                [
                    {"v": vector_literal(np.frombuffer(r.vector, dtype="<f4")), "i": r.arxiv_id, "m": model}
                    for r in rows
                ],
            )
            filled += len(rows)


# --- the embed job ------------------------------------------------------------------------------


class PendingPaper(NamedTuple):
    """A paper to look at: its text, and the hash of the text its current vector was made of."""

    arxiv_id: str
    title: str
    abstract: str
    text_hash: str | None  # None: no vector of the model yet


# The model's vectors, joined to the papers that may lack one.
_vector = paper_embeddings.alias("e")


def _pending(model: str, *columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """`columns` of the papers with no vector of `model`, or modified after their vector was made."""
    return (
        sa.select(*columns)
        .select_from(
            papers.outerjoin(
                _vector, sa.and_(_vector.c.arxiv_id == papers.c.arxiv_id, _vector.c.model == model)
            )
        )
        .where(sa.or_(_vector.c.arxiv_id.is_(None), papers.c.modified_at > _vector.c.created_at))
    )


def pending_batch(db: Database, model: str, after: str, limit: int) -> list[PendingPaper]:
    """The next `limit` papers (id > after, in id order) whose vector of `model` is missing or
    older than their last change."""
    q = (
        _pending(model, papers.c.arxiv_id, papers.c.title, papers.c.abstract, _vector.c.text_hash)
        .where(papers.c.arxiv_id > after)
        .order_by(papers.c.arxiv_id)
        .limit(limit)
    )
    with db.read() as conn:
        return [PendingPaper(*row) for row in conn.execute(q)]


def count_pending(db: Database, model: str) -> int:
    """How many papers the embed job would look at (an upper bound of what it embeds)."""
    with db.read() as conn:
        return int(conn.execute(_pending(model, sa.func.count())).scalar_one())


def papers_without_vector(conn: Connection, model: str) -> set[str]:
    """The arXiv ids of the stored papers that have no vector of `model`."""
    embedded = sa.select(paper_embeddings.c.arxiv_id).where(paper_embeddings.c.model == model)
    return {
        r[0] for r in conn.execute(sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id.not_in(embedded)))
    }


def next_seq(conn: Connection) -> int:
    """The change counter for a write of vectors: above every seq so far and at least the time in
    microseconds (so a table emptied and refilled never repeats a seq a process already saw).
    Writers are serialised (SQLite's write lock, an advisory lock on PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7351846)")
    top = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(paper_embeddings.c.seq), 0))).scalar_one())
    return max(top + 1, time.time_ns() // 1000)


def store_vectors(
    conn: Connection, model: str, items: Sequence[tuple[str, str, np.ndarray]], now: datetime | None = None
) -> None:
    """Write (arxiv_id, text_hash, vector) rows of `model`, replacing earlier ones, in the caller's
    transaction; on PostgreSQL with pgvector the vector column is filled too. The one place rows
    are written: each write is stamped with the next seq."""
    if not items:
        return
    now = now or datetime.now(UTC)
    seq = next_seq(conn)
    ids = [i for i, _, _ in items]
    for start in range(0, len(ids), 5000):
        conn.execute(
            sa.delete(paper_embeddings).where(
                paper_embeddings.c.model == model, paper_embeddings.c.arxiv_id.in_(ids[start : start + 5000])
            )
        )
    rows = [
        {
            "arxiv_id": i,
            "model": model,
            "text_hash": h,
            "dim": int(np.asarray(v).shape[-1]),
            "vector": np.asarray(v, dtype="<f4").tobytes(),
            "created_at": now,
            "seq": seq,
        }
        for i, h, v in items
    ]
    if has_column(conn):
        conn.execute(
            sa.text(
                "INSERT INTO paper_embeddings (arxiv_id, model, text_hash, dim, vector, created_at, seq, embedding) "
                "VALUES (:arxiv_id, :model, :text_hash, :dim, :vector, :created_at, :seq, CAST(:embedding AS vector))"
            ),
            [{**r, "embedding": vector_literal(v)} for r, (_, _, v) in zip(rows, items, strict=True)],
        )
    else:
        conn.execute(paper_embeddings.insert(), rows)


def save_batch(
    db: Database,
    model: str,
    embedded: Sequence[tuple[str, str, np.ndarray]],
    unchanged: Sequence[str],
    now: datetime,
) -> None:
    """One batch of the embed job, in one transaction: the new (arxiv_id, text_hash, vector) rows,
    and the papers whose metadata changed but not their text marked current (their vector stays)."""
    with db.write() as conn:
        store_vectors(conn, model, embedded, now)
        if unchanged:
            conn.execute(
                sa.update(paper_embeddings)
                .where(paper_embeddings.c.model == model, paper_embeddings.c.arxiv_id.in_(unchanged))
                .values(created_at=now)
            )


# --- reading vectors ----------------------------------------------------------------------------


def seq_range(conn: Connection, model: str) -> tuple[int, int]:
    """The oldest and newest change counters of the model's vectors ((0, 0): none), in one round
    trip that the (model, seq) index answers. When the oldest moves, rows were removed or all of the oldest
    write replaced, and an in-memory index is loaded again rather than updated."""
    # Two scalar subqueries, not min() and max() in one SELECT: SQLite answers a lone min() or max()
    # from the index, but scans every row of the model for both together.
    ends = [
        sa.select(sa.func.coalesce(f(paper_embeddings.c.seq), 0))
        .where(paper_embeddings.c.model == model)
        .scalar_subquery()
        for f in (sa.func.min, sa.func.max)
    ]
    row = conn.execute(sa.select(*ends)).one()
    return int(row[0]), int(row[1])


def current_seq(conn: Connection, model: str) -> int:
    """The newest change counter of the model's vectors (0: none)."""
    return seq_range(conn, model)[1]


class VectorSummary(NamedTuple):
    """What choosing a model's index needs to know about its stored vectors."""

    pgvector: bool  # the table has pgvector's column
    vectors: int  # how many papers have a vector of the model
    dim: int | None  # their length (None: no vector yet)


def summarize(conn: Connection, model: str) -> VectorSummary:
    """The model's VectorSummary, read on the caller's connection."""
    count = conn.execute(
        sa.select(sa.func.count()).select_from(paper_embeddings).where(paper_embeddings.c.model == model)
    ).scalar_one()
    dim = conn.execute(
        sa.select(paper_embeddings.c.dim).where(paper_embeddings.c.model == model).limit(1)
    ).scalar()
    return VectorSummary(has_column(conn), int(count), None if dim is None else int(dim))


def read_summary(db: Database, model: str) -> VectorSummary:
    """The model's VectorSummary, in a read transaction of its own."""
    with db.read() as conn:
        return summarize(conn, model)


def vectors_after(
    conn: Connection, model: str, seq: int, chunk: int = 20_000
) -> Iterator[tuple[list[str], np.ndarray]]:
    """The model's vectors written after `seq`, as (ids, float32 matrix) chunks in id order, read on
    the caller's connection."""
    after = ""
    while True:
        rows = conn.execute(
            sa.select(paper_embeddings.c.arxiv_id, paper_embeddings.c.vector)
            .where(
                paper_embeddings.c.model == model,
                paper_embeddings.c.seq > seq,
                paper_embeddings.c.arxiv_id > after,
            )
            .order_by(paper_embeddings.c.arxiv_id)
            .limit(chunk)
        ).all()
        if not rows:
            return
        after = rows[-1].arxiv_id
        yield (
            [r.arxiv_id for r in rows],
            np.frombuffer(b"".join(r.vector for r in rows), dtype="<f4").reshape(len(rows), -1),
        )


class VectorRead(NamedTuple):
    """A model's vectors as of one read: its newest change counter, and the rows written after the
    asked-for counter in chunks (read as they are consumed)."""

    seq: int
    chunks: Iterator[tuple[list[str], np.ndarray]]


@contextmanager
def read_vectors(db: Database, model: str, after_seq: int, chunk: int = 20_000) -> Iterator[VectorRead]:
    """The model's vectors written after `after_seq`, in one read transaction held while the caller
    consumes the chunks (a million vectors are never all in memory twice). The caller must not ask
    for another connection meanwhile."""
    with db.read() as conn:
        yield VectorRead(current_seq(conn, model), vectors_after(conn, model, after_seq, chunk))
