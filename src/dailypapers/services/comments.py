"""Comments under a paper: the thread as a viewer sees it."""

from __future__ import annotations

from datetime import datetime

from dailypapers.core.markdown import render_comment
from dailypapers.core.models import as_utc
from dailypapers.core.settings import Settings
from dailypapers.services.runtime import Database
from dailypapers.services.schemas import CommentThread, CommentView, Member
from dailypapers.store import comments as comments_q


def thread(
    db: Database, settings: Settings, arxiv_id: str, viewer: Member | None, now: datetime
) -> CommentThread:
    """The comments of a paper as a tree, with what `viewer` may do with each."""
    can_act = viewer is not None and viewer.can_act(now)
    moderator = viewer is not None and viewer.is_moderator and can_act
    with db.read() as conn:
        rows = comments_q.thread_rows(conn, arxiv_id)
    views: dict[int, CommentView] = {}
    roots: list[CommentView] = []
    count = 0
    for row in rows:
        deleted = row.deleted_at is not None
        hidden = row.hidden_at is not None
        count += not (deleted or hidden)
        show_body = not deleted and (not hidden or moderator)
        view = CommentView(
            id=row.id,
            arxiv_id=row.arxiv_id,
            parent_id=row.parent_id,
            depth=row.depth,
            author=None if deleted else row.username,
            author_name=None if deleted else (row.display_name or row.username),
            body_html=str(render_comment(row.body)) if show_body else "",
            created_at=as_utc(row.created_at),
            edited_at=as_utc(row.edited_at),
            deleted=deleted,
            hidden=hidden,
            hidden_reason=row.hidden_reason if hidden else None,
            flag_count=row.flag_count if moderator else 0,
            can_reply=can_act and not deleted and row.depth < settings.comment_max_depth,
            can_moderate=moderator,
        )
        views[row.id] = view
        parent = views.get(row.parent_id) if row.parent_id is not None else None
        (parent.replies if parent is not None else roots).append(view)
    return CommentThread(
        arxiv_id=arxiv_id,
        count=count,
        comments=roots,
        can_comment=can_act,
        max_chars=settings.comment_max_chars,
    )
