"""The SQL of comments on the caller's connection: the thread of a paper, one comment, posting,
editing and deleting, flags (comments.flag_count counts the open ones), the members a mention mails,
and the paper's visible comment count (papers.comment_count), recounted in the transaction of every
change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Row

from dailypapers.core.models import as_utc
from dailypapers.store.tables import comment_flags, comments, papers, users


def _lock_paper(conn: Connection, arxiv_id: str) -> None:
    """The paper's row lock until the transaction ends (PostgreSQL; SQLite ignores it)."""
    conn.execute(
        sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id == arxiv_id).with_for_update(key_share=True)
    )


def recount(conn: Connection, arxiv_id: str) -> int:
    """Set papers.comment_count to the paper's comments neither deleted nor hidden; the count.

    The paper's row is locked before the count (PostgreSQL; SQLite's writers are serial already): in
    READ COMMITTED a count inside the UPDATE would not see a comment committed by a transaction that
    held the lock meanwhile, and two concurrent comments would both write the same number. The count
    runs as its own statement after the lock, so its snapshot includes every earlier writer."""
    _lock_paper(conn, arxiv_id)
    count: int = conn.execute(
        sa.select(sa.func.count())
        .select_from(comments)
        .where(
            comments.c.arxiv_id == arxiv_id,
            comments.c.deleted_at.is_(None),
            comments.c.hidden_at.is_(None),
        )
    ).scalar_one()
    conn.execute(papers.update().where(papers.c.arxiv_id == arxiv_id).values(comment_count=count))
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


def comment_row(conn: Connection, comment_id: int) -> Row[Any] | None:
    """One comment with its author's names (None when there is no such comment)."""
    return conn.execute(
        sa.select(comments, users.c.username, users.c.display_name)
        .select_from(comments.outerjoin(users, users.c.id == comments.c.user_id))
        .where(comments.c.id == comment_id)
    ).first()


def insert_comment(
    conn: Connection,
    *,
    arxiv_id: str,
    user_id: int,
    parent_id: int | None,
    depth: int,
    body: str,
    now: datetime,
) -> int:
    """A new comment; its id. The paper's row is locked first (see recount, which follows in the same
    transaction): taken before the comment's foreign key takes its share lock, it never has to be
    upgraded while an import batch waits for the row."""
    _lock_paper(conn, arxiv_id)
    row = conn.execute(
        comments.insert()
        .values(
            arxiv_id=arxiv_id, user_id=user_id, parent_id=parent_id, depth=depth, body=body, created_at=now
        )
        .returning(comments.c.id)
    ).one()
    return int(row.id)


def posted_since(conn: Connection, user_id: int, since: datetime) -> tuple[int, datetime | None]:
    """How many comments a member posted after `since` (deleted ones too), and the oldest's time:
    the per-member rate limit."""
    row = conn.execute(
        sa.select(sa.func.count(), sa.func.min(comments.c.created_at)).where(
            comments.c.user_id == user_id, comments.c.created_at > since
        )
    ).one()
    return int(row[0]), as_utc(row[1])  # SQLite's MIN() gives a naive UTC datetime back


def update_body(conn: Connection, comment_id: int, body: str, now: datetime) -> None:
    """A comment's new text, marked edited at `now`."""
    conn.execute(comments.update().where(comments.c.id == comment_id).values(body=body, edited_at=now))


def mark_deleted(conn: Connection, comment_id: int, now: datetime) -> None:
    """Empty a comment and mark it deleted: the thread keeps its place ("[deleted]") and its replies."""
    conn.execute(
        comments.update()
        .where(comments.c.id == comment_id, comments.c.deleted_at.is_(None))
        .values(body="", deleted_at=now)
    )


def delete_member_comments(conn: Connection, user_id: int, now: datetime) -> int:
    """Empty and mark deleted every comment of a member (account deletion), recounting the papers they
    were on; how many comments were deleted."""
    arxiv_ids = list(
        conn.execute(
            sa.select(comments.c.arxiv_id)
            .where(comments.c.user_id == user_id, comments.c.deleted_at.is_(None))
            .distinct()
        ).scalars()
    )
    result = conn.execute(
        comments.update()
        .where(comments.c.user_id == user_id, comments.c.deleted_at.is_(None))
        .values(body="", deleted_at=now)
    )
    for arxiv_id in sorted(arxiv_ids):
        recount(conn, arxiv_id)
    return int(result.rowcount or 0)


def save_flag(conn: Connection, comment_id: int, user_id: int, reason: str, note: str, now: datetime) -> bool:
    """A member's flag on a comment, or a new reason and note for the flag they gave already (which
    keeps its state: a flag a moderator resolved stays resolved); True when the flag is new."""
    updated = conn.execute(
        comment_flags.update()
        .where(comment_flags.c.comment_id == comment_id, comment_flags.c.user_id == user_id)
        .values(reason=reason, note=note)
    ).rowcount
    if updated:
        return False
    conn.execute(
        _insert(conn, comment_flags)
        .values(comment_id=comment_id, user_id=user_id, reason=reason, note=note, created_at=now)
        .on_conflict_do_update(
            index_elements=[comment_flags.c.comment_id, comment_flags.c.user_id],
            set_={"reason": reason, "note": note},
        )
    )
    return True


def recount_flags(conn: Connection, comment_id: int) -> int:
    """Set comments.flag_count to the comment's unresolved flags; the count (the comment's row locked
    first, for the reason recount gives)."""
    conn.execute(sa.select(comments.c.id).where(comments.c.id == comment_id).with_for_update(key_share=True))
    count: int = conn.execute(
        sa.select(sa.func.count())
        .select_from(comment_flags)
        .where(comment_flags.c.comment_id == comment_id, comment_flags.c.resolved_at.is_(None))
    ).scalar_one()
    conn.execute(comments.update().where(comments.c.id == comment_id).values(flag_count=count))
    return count


def mention_recipients(conn: Connection, usernames: Sequence[str], now: datetime) -> list[Row[Any]]:
    """The members among `usernames` (any case) who take mention mails: notify_mentions on, a
    confirmed address, not banned at `now`."""
    if not usernames:
        return []
    return list(
        conn.execute(
            sa.select(users)
            .where(
                sa.func.lower(users.c.username).in_([name.lower() for name in usernames]),
                users.c.notify_mentions.is_(True),
                users.c.email.is_not(None),
                users.c.email_confirmed_at.is_not(None),
                sa.or_(users.c.banned_until.is_(None), users.c.banned_until <= now),
            )
            .order_by(users.c.id)
        ).all()
    )


def _insert(conn: Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which has ON CONFLICT on both databases."""
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)
