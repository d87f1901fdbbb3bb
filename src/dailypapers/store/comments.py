"""The SQL of comments on the caller's connection: the thread of a paper, and the paper's visible
comment count (papers.comment_count), recounted in the transaction of every change."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from dailypapers.store.tables import comments, papers, users


def recount(conn: Connection, arxiv_id: str) -> int:
    """Set papers.comment_count to the paper's comments neither deleted nor hidden; the count."""
    visible = (
        sa.select(sa.func.count())
        .select_from(comments)
        .where(
            comments.c.arxiv_id == arxiv_id,
            comments.c.deleted_at.is_(None),
            comments.c.hidden_at.is_(None),
        )
        .scalar_subquery()
    )
    conn.execute(papers.update().where(papers.c.arxiv_id == arxiv_id).values(comment_count=visible))
    count: int = conn.execute(
        sa.select(papers.c.comment_count).where(papers.c.arxiv_id == arxiv_id)
    ).scalar_one()
    return count


def thread_rows(conn: Connection, arxiv_id: str) -> list[Row[Any]]:
    """Every comment of a paper with its author's names, oldest first."""
    return list(
        conn.execute(
            sa.select(comments, users.c.username, users.c.display_name)
            .select_from(comments.outerjoin(users, users.c.id == comments.c.user_id))
            .where(comments.c.arxiv_id == arxiv_id)
            .order_by(comments.c.created_at, comments.c.id)
        ).all()
    )
