"""Which stored papers still lack a vector of a model (loading precomputed vectors fills only those)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dailypapers.store.tables import paper_embeddings, papers


def papers_without_vector(conn: Connection, model: str) -> set[str]:
    """The arXiv ids of the stored papers that have no vector of `model`."""
    embedded = sa.select(paper_embeddings.c.arxiv_id).where(paper_embeddings.c.model == model)
    return {
        r[0] for r in conn.execute(sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id.not_in(embedded)))
    }
