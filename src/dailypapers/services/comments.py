"""Comments under a paper: the thread as a viewer sees it; posting (with its rate and size limits and
the @mention mails), editing within a window, deleting (the thread keeps "[deleted]") and flagging.
Every change recounts papers.comment_count in its own transaction; authorization is checked here,
whoever calls."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import Connection

from dailypapers.core.arxiv_ids import InvalidArxivId, parse_arxiv_id
from dailypapers.core.markdown import comment_excerpt, mentions, render_comment
from dailypapers.core.models import as_utc
from dailypapers.core.settings import Settings
from dailypapers.core.text import latex_to_unicode
from dailypapers.digest.community_mail import MentionMail, render_mention_mail
from dailypapers.digest.subscriptions import links_domain
from dailypapers.services.errors import BadRequest, Forbidden, NotFound, TooMany
from dailypapers.services.runtime import Database
from dailypapers.services.schemas import CommentThread, CommentView, Member
from dailypapers.store import accounts as accounts_q
from dailypapers.store import comments as comments_q
from dailypapers.store import papers as papers_q
from dailypapers.store.tables import FLAG_REASONS

REASONS = FLAG_REASONS  # spam, off-topic, abusive, other: what a flag may say
MAX_NOTE_CHARS = 500  # a flag's optional note
MAX_MENTIONS = 10  # mention mails one comment may send


class CommentPage(BaseModel):
    """One comment with its paper, for the edit and flag pages; `body` is the Markdown source, given to
    its author only (the edit form)."""

    comment: CommentView
    paper_title: str
    body: str = ""
    edit_until: datetime | None = None  # the end of the author's edit window


class FlagView(BaseModel):
    """A member's flag on a comment, as saved."""

    comment_id: int
    arxiv_id: str
    reason: str
    note: str
    new: bool  # False: the member's earlier flag got this reason and note


def _view(row: Any, settings: Settings, viewer: Member | None, now: datetime) -> CommentView:
    """A comments row (with username, display_name) as `viewer` sees it, with what they may do."""
    can_act = viewer is not None and viewer.can_act(now)
    moderator = viewer is not None and viewer.is_moderator and can_act
    own = viewer is not None and row.user_id == viewer.id
    deleted = row.deleted_at is not None
    hidden = row.hidden_at is not None
    gone = deleted or row.username is None  # deleted, or its account is
    show_body = not deleted and (not hidden or moderator)
    return CommentView(
        id=row.id,
        arxiv_id=row.arxiv_id,
        parent_id=row.parent_id,
        depth=row.depth,
        author=None if gone else row.username,
        author_name=None if gone else (row.display_name or row.username),
        body_html=str(render_comment(row.body)) if show_body else "",
        created_at=as_utc(row.created_at),
        edited_at=as_utc(row.edited_at),
        deleted=deleted,
        hidden=hidden,
        hidden_reason=row.hidden_reason if hidden and moderator else None,
        flag_count=row.flag_count if moderator else 0,
        can_edit=can_act and own and not deleted and not hidden and now < _edit_until(settings, row),
        can_delete=can_act and own and not deleted,
        can_reply=can_act and not deleted and not hidden and row.depth < settings.comment_max_depth,
        can_flag=can_act and not own and not deleted and not hidden,
        can_moderate=moderator and not deleted,
    )


def _edit_until(settings: Settings, row: Any) -> datetime:
    created: datetime = as_utc(row.created_at)
    return created + timedelta(minutes=settings.comment_edit_minutes)


def thread(
    db: Database, settings: Settings, arxiv_id: str, viewer: Member | None, now: datetime
) -> CommentThread:
    """The comments of a paper as a tree, with what `viewer` may do with each."""
    with db.read() as conn:
        rows = comments_q.thread_rows(conn, arxiv_id)
    views: dict[int, CommentView] = {}
    roots: list[CommentView] = []
    count = 0
    for row in rows:
        count += row.deleted_at is None and row.hidden_at is None
        view = _view(row, settings, viewer, now)
        views[row.id] = view
        parent = views.get(row.parent_id) if row.parent_id is not None else None
        (parent.replies if parent is not None else roots).append(view)
    return CommentThread(
        arxiv_id=arxiv_id,
        count=count,
        comments=roots,
        can_comment=viewer is not None and viewer.can_act(now),
        max_chars=settings.comment_max_chars,
    )


def paper_row(conn: Connection, arxiv_id: str) -> dict[str, Any]:
    """The papers row of any spelling of a stored paper's id; NotFound otherwise."""
    try:
        parsed = parse_arxiv_id(arxiv_id)
    except InvalidArxivId:
        raise NotFound(f"{arxiv_id[:80]!r} is not an arXiv id") from None
    row = papers_q.get_paper_row(conn, parsed.id)
    if row is None:
        raise NotFound(f"paper {parsed.id} is not in this feed")
    return row


def _checked_body(settings: Settings, body: str) -> str:
    """The comment's text without trailing whitespace or NUL characters (PostgreSQL text cannot hold
    them); BadRequest when empty or too long."""
    text = body.replace("\r\n", "\n").replace("\x00", "").rstrip()
    if not text.strip():
        raise BadRequest("The comment is empty: write something first.")
    if len(text) > settings.comment_max_chars:
        raise BadRequest(
            f"The comment is too long: {len(text):,} characters, at most {settings.comment_max_chars:,}."
        )
    return text


def _may_act(member: Member, now: datetime) -> None:
    if member.banned_at(now):
        raise Forbidden(f"Your account is banned: {member.ban_reason or 'no reason given'}.")
    if not member.can_act(now):
        raise Forbidden("Please confirm your address first: open the link in the mail we sent you.")


def _check_rate(conn: Connection, settings: Settings, member: Member, now: datetime) -> None:
    """TooMany when the member posted comment_rate_limit comments within the window before `now`."""
    window = timedelta(seconds=settings.comment_rate_window_seconds)
    posted, oldest = comments_q.posted_since(conn, member.id, now - window)
    if posted >= settings.comment_rate_limit and oldest is not None:
        wait = (as_utc(oldest) + window - now).total_seconds()
        minutes = max(1, round(wait / 60))
        raise TooMany(
            f"You have posted {posted} comments in the last {window.total_seconds() / 60:g} minutes, "
            f"the most allowed: please wait about {minutes} minute{'s' if minutes != 1 else ''}.",
            retry_after=math.ceil(wait),
        )


def post_comment(
    db: Database,
    settings: Settings,
    member: Member,
    arxiv_id: str,
    body: str,
    parent_id: int | None,
    now: datetime,
) -> CommentView:
    """Post a comment (or a reply to `parent_id`) on a paper as `member`; the paper's count and the
    mention mails change in the same transaction. Forbidden, NotFound, BadRequest or TooMany."""
    _may_act(member, now)
    with db.write() as conn:
        paper = paper_row(conn, arxiv_id)
        text = _checked_body(settings, body)
        depth = 0
        if parent_id is not None:
            parent = comments_q.comment_row(conn, parent_id)
            if parent is None or parent.arxiv_id != paper["arxiv_id"]:
                raise NotFound(f"comment {parent_id} is not on paper {paper['arxiv_id']}")
            if parent.deleted_at is not None:
                raise BadRequest("That comment was deleted: reply to the thread instead.")
            if parent.hidden_at is not None:
                raise BadRequest("That comment was hidden by a moderator: it takes no replies.")
            depth = parent.depth + 1
            if depth > settings.comment_max_depth:
                raise BadRequest(
                    f"This thread is as deep as it may go ({settings.comment_max_depth} replies): "
                    "reply further up instead."
                )
        _check_rate(conn, settings, member, now)
        comment_id = comments_q.insert_comment(
            conn,
            arxiv_id=paper["arxiv_id"],
            user_id=member.id,
            parent_id=parent_id,
            depth=depth,
            body=text,
            now=now,
        )
        comments_q.recount(conn, paper["arxiv_id"])
        _mention_mails(conn, settings, member, paper, comment_id, text, set(), now)
        row = comments_q.comment_row(conn, comment_id)
    return _view(row, settings, member, now)


def _mention_mails(
    conn: Connection,
    settings: Settings,
    author: Member,
    paper: dict[str, Any],
    comment_id: int,
    text: str,
    already: set[str],
    now: datetime,
) -> int:
    """Queue a mail to each member `text` mentions (but not in `already`, lower-case names) who wants
    them, other than the author: at most MAX_MENTIONS; how many were queued."""
    names = [name for name in mentions(text) if name.lower() not in already][:MAX_MENTIONS]
    site = settings.site_url.rstrip("/")
    queued = 0
    for row in comments_q.mention_recipients(conn, names, now):
        if row.id == author.id:
            continue
        rendered = render_mention_mail(
            MentionMail(
                site_name=settings.site_name,
                site_url=site,
                to_addr=row.email,
                author=author.name,
                paper_title=latex_to_unicode(paper["title"]),
                excerpt=comment_excerpt(text, 600),
                comment_url=f"{site}/papers/{paper['arxiv_id']}#c{comment_id}",
                account_url=f"{site}/account",
            )
        )
        accounts_q.queue_member_mail(
            conn,
            user_id=row.id,
            kind="mention",
            to_addr=row.email,
            message_id=make_msgid(domain=links_domain(settings.site_url)),
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            now=now,
        )
        queued += 1
    return queued


def _own_comment(conn: Connection, member: Member, comment_id: int, doing: str) -> Any:
    """The member's own comment row; NotFound or Forbidden (moderators hide, they never change words)."""
    row = comments_q.comment_row(conn, comment_id)
    if row is None:
        raise NotFound(f"comment {comment_id} does not exist")
    if row.user_id != member.id:
        raise Forbidden(f"Only its author may {doing} a comment.")
    return row


def edit_comment(
    db: Database, settings: Settings, member: Member, comment_id: int, body: str, now: datetime
) -> CommentView:
    """The author's new text for their comment, within comment_edit_minutes of posting (then marked
    edited); members newly mentioned get a mail."""
    _may_act(member, now)
    text = _checked_body(settings, body)
    with db.write() as conn:
        row = _own_comment(conn, member, comment_id, "edit")
        if row.deleted_at is not None:
            raise BadRequest("This comment was deleted.")
        if row.hidden_at is not None:
            raise BadRequest("This comment was hidden by a moderator: it can no longer be edited.")
        if now >= _edit_until(settings, row):
            raise BadRequest(
                f"Comments may be edited for {settings.comment_edit_minutes} minutes after posting; "
                "this one can no longer be changed (you may delete it)."
            )
        if text != row.body:
            comments_q.update_body(conn, comment_id, text, now)
            before = {name.lower() for name in mentions(row.body)}
            paper = paper_row(conn, row.arxiv_id)
            _mention_mails(conn, settings, member, paper, comment_id, text, before, now)
        row = comments_q.comment_row(conn, comment_id)
    return _view(row, settings, member, now)


def delete_comment(
    db: Database, settings: Settings, member: Member, comment_id: int, now: datetime
) -> CommentView:
    """The author deletes their comment: its text is emptied, the thread keeps "[deleted]" and its
    replies, the paper's count drops. Deleting it again changes nothing."""
    _may_act(member, now)
    with db.write() as conn:
        row = _own_comment(conn, member, comment_id, "delete")
        if row.deleted_at is None:
            comments_q.mark_deleted(conn, comment_id, now)
            comments_q.recount(conn, row.arxiv_id)
        row = comments_q.comment_row(conn, comment_id)
    return _view(row, settings, member, now)


def flag_comment(
    db: Database, settings: Settings, member: Member, comment_id: int, reason: str, note: str, now: datetime
) -> FlagView:
    """The member flags someone else's comment for the moderators' queue with one of REASONS and an
    optional note; a second flag replaces the reason and note of the first."""
    _may_act(member, now)
    if reason not in REASONS:
        raise BadRequest(f"Choose a reason: {', '.join(REASONS)}.")
    note = note.replace("\x00", "").strip()
    if len(note) > MAX_NOTE_CHARS:
        raise BadRequest(f"The note is too long: {len(note)} characters, at most {MAX_NOTE_CHARS}.")
    with db.write() as conn:
        row = comments_q.comment_row(conn, comment_id)
        if row is None:
            raise NotFound(f"comment {comment_id} does not exist")
        if row.user_id == member.id:
            raise Forbidden("You cannot flag your own comment (you may edit or delete it).")
        if row.deleted_at is not None:
            raise BadRequest("This comment was deleted.")
        if row.hidden_at is not None:
            raise BadRequest("This comment is already hidden by a moderator.")
        new = comments_q.save_flag(conn, comment_id, member.id, reason, note, now)
        comments_q.recount_flags(conn, comment_id)
    return FlagView(comment_id=comment_id, arxiv_id=row.arxiv_id, reason=reason, note=note, new=new)


def comment_page(
    db: Database, settings: Settings, viewer: Member, comment_id: int, now: datetime
) -> CommentPage:
    """A comment with its paper's title, as `viewer` sees it (the Markdown source when it is theirs);
    NotFound when there is no such comment."""
    with db.read() as conn:
        row = comments_q.comment_row(conn, comment_id)
        if row is None:
            raise NotFound(f"comment {comment_id} does not exist")
        paper = paper_row(conn, row.arxiv_id)
    own = row.user_id == viewer.id and row.deleted_at is None
    return CommentPage(
        comment=_view(row, settings, viewer, now),
        paper_title=latex_to_unicode(paper["title"]),
        body=row.body if own else "",
        edit_until=_edit_until(settings, row) if own else None,
    )
