"""pgvector on PostgreSQL: vectors in an `embedding vector` column, searched by the server.

The column has no fixed dimension (models differ); each model gets a partial HNSW index on the
expression `embedding::halfvec(dim)` for its own rows (pgvector's documented way to index several
dimensions in one column; half precision halves the index — 1M MiniLM vectors: ~1 GB instead of ~2 —
at the same recall; a server without halfvec, pgvector < 0.7, gets `embedding::vector(dim)`). `dailypapers embed` creates it once the model has vectors; creating it on
a table that already holds a million vectors takes minutes, after that rows are added to it as they
are written. Search orders by cosine distance to the query with that same expression, with the
category/date conditions in the WHERE clause and pgvector 0.8's iterative index scan, so filtered
queries still return k rows. The column's writes and the index's DDL are in store.embeddings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from time import monotonic
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dailypapers.store.db import Database
from dailypapers.store.embeddings import index_kind, index_name, sql_literal, vector_literal
from dailypapers.store.tables import paper_embeddings, papers

log = logging.getLogger(__name__)
CAST_RECHECK = 60.0  # seconds between two looks at which index (halfvec or vector) searches should use


def searched_kind(conn: Connection, model: str) -> str:
    """The cast searches must use to reach this model's index (halfvec unless only a vector index exists)."""
    if conn.exec_driver_sql(
        "SELECT 1 FROM pg_indexes WHERE indexname = %s", (index_name(model, "vector"),)
    ).first():
        if not conn.exec_driver_sql(
            "SELECT 1 FROM pg_indexes WHERE indexname = %s", (index_name(model),)
        ).first():
            return "vector"
    return index_kind(conn)


class _Vector(sa.types.UserDefinedType[Any]):
    """pgvector's `vector(dim)` or `halfvec(dim)` type, for CAST in queries."""

    cache_ok = True

    def __init__(self, dim: int, kind: str = "vector"):
        self.dim, self.kind = dim, kind

    def get_col_spec(self, **kw: Any) -> str:
        return f"{self.kind}({self.dim})"


class PgVectorIndex:
    """One model's vectors, searched by PostgreSQL (HNSW when its index exists, else exactly)."""

    kind = "pgvector"
    oldest = 0

    def __init__(self, db: Database, model: str, dim: int, ef_search: int):
        self.db, self.model, self.dim, self.ef_search = db, model, dim, ef_search
        self.seq, self.count = -1, 0
        self.cast = "vector"  # what searches cast to, to use the index (see searched_kind)
        self.cast_checked = 0.0  # monotonic time of that look: an index built since is found within a minute

    def update(self, conn: Connection, seq: int) -> None:
        """Rows were written (seq moved): recount them (the server's index needs nothing from us)."""
        self.count = int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(paper_embeddings)
                .where(paper_embeddings.c.model == self.model)
            ).scalar_one()
        )
        self.cast, self.cast_checked = searched_kind(conn, self.model), monotonic()
        self.seq = seq

    def __len__(self) -> int:
        return self.count

    def _connection(self, conn: Connection | None) -> AbstractContextManager[Connection]:
        # The caller's connection when it holds one: a second from the same pool, asked for while
        # holding one, is how a busy pool deadlocks (store.db refuses it).
        return nullcontext(conn) if conn is not None else self.db.read()

    def vector_of(self, arxiv_id: str, conn: Connection | None = None) -> np.ndarray | None:
        """The stored vector of a paper (None: it has none); on `conn` when given."""
        with self._connection(conn) as conn:
            blob = conn.execute(
                sa.select(paper_embeddings.c.vector).where(
                    paper_embeddings.c.model == self.model, paper_embeddings.c.arxiv_id == arxiv_id
                )
            ).scalar()
        return None if blob is None else np.frombuffer(blob, dtype="<f4")

    def search_filtered(
        self, query: np.ndarray, k: int, conditions: list[Any], conn: Connection
    ) -> list[tuple[str, float]]:
        """The k papers nearest to `query` among those meeting `conditions`: in the SQL of the search."""
        return self.search(query, k, conditions=conditions, conn=conn)

    def search(
        self,
        query: np.ndarray,
        k: int,
        conditions: list[Any] | None = None,
        exclude: Iterable[str] = (),
        conn: Connection | None = None,
    ) -> list[tuple[str, float]]:
        """The k papers nearest to `query` (id, cosine), best first, among those meeting `conditions`
        (on papers); on `conn` when given."""
        if k <= 0 or not self.count:
            return []
        exclude = list(exclude)
        dim = int(self.dim)
        with self._connection(conn) as conn:
            if monotonic() - self.cast_checked > CAST_RECHECK:  # an index built (or replaced) since
                self.cast, self.cast_checked = searched_kind(conn, self.model), monotonic()
            query_vector = sa.cast(
                sa.bindparam("q", vector_literal(query), type_=sa.Text), _Vector(dim, self.cast)
            )
            distance = sa.literal_column(f"paper_embeddings.embedding::{self.cast}({dim})").op(
                "<=>", return_type=sa.Float
            )(query_vector)
            q = (
                sa.select(paper_embeddings.c.arxiv_id, (1 - distance).label("score"))
                .where(sa.text(f"paper_embeddings.model = {sql_literal(self.model)}"))
                .order_by(distance)
                .limit(k)
            )
            if conditions:
                q = q.join(papers, papers.c.arxiv_id == paper_embeddings.c.arxiv_id).where(*conditions)
            if exclude:
                q = q.where(paper_embeddings.c.arxiv_id.not_in(exclude))
            conn.exec_driver_sql(f"SET LOCAL hnsw.ef_search = {max(int(self.ef_search), k)}")
            if conditions or exclude:
                conn.exec_driver_sql("SET LOCAL hnsw.iterative_scan = relaxed_order")
            rows = conn.execute(q).all()
        # relaxed_order may return rows slightly out of order, and halfvec distances are rounded:
        # sort by the returned score.
        return sorted(((r.arxiv_id, float(r.score)) for r in rows), key=lambda item: -item[1])
