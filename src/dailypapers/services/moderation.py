"""Moderation in the open: moderators hide and restore comments, keep flagged ones, remove a
submission from a day, ban and unban members; the operator's ban, unban and role changes (the CLI).

Every action is one write transaction that also writes its row of the public moderation log (who,
what, which item, why; the log copies names and titles in, so an entry outlives its item), as
Lobsters' log does. A reason is required. Flags wait in the moderators' queue until a moderator
hides the comment or keeps it.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection

from dailypapers.core.markdown import comment_excerpt
from dailypapers.core.models import as_utc
from dailypapers.core.settings import Settings
from dailypapers.services.accounts import FOREVER, ROLES, USERNAME
from dailypapers.services.errors import BadRequest, Forbidden, NotFound
from dailypapers.services.runtime import Database
from dailypapers.services.schemas import Member
from dailypapers.store import accounts as accounts_q
from dailypapers.store import comments as comments_q
from dailypapers.store import moderation as store

MAX_REASON = 500
MAX_BAN_DAYS = 3650
MAX_ARXIV_ID = 32  # papers.arxiv_id
LOG_PAGE_SIZE = 50
RECENT_SUBMISSIONS = timedelta(days=7)  # how far back the queue lists member submissions
OPERATOR = "operator"  # the log's moderator name for the CLI's actions
ACTION_LABELS = {
    "hide-comment": "hid a comment",
    "restore-comment": "restored a comment",
    "keep-comment": "kept a flagged comment",
    "remove-submission": "removed a submission",
    "ban": "banned a member",
    "unban": "unbanned a member",
    "set-role": "changed a member's role",
}


class FlagView(BaseModel):
    """One open flag of a comment, as the queue shows it."""

    username: str
    reason: str  # spam, off-topic, abusive, other
    note: str
    created_at: datetime


class FlaggedComment(BaseModel):
    """A comment waiting in the queue with its open flags."""

    id: int
    arxiv_id: str
    paper_title: str
    author: str | None
    excerpt: str
    created_at: datetime
    first_flagged_at: datetime
    flag_count: int
    hidden: bool
    flags: list[FlagView]
    url: str


class HiddenComment(BaseModel):
    """A comment hidden lately, which a moderator may restore."""

    id: int
    arxiv_id: str
    paper_title: str
    author: str | None
    excerpt: str
    hidden_at: datetime
    hidden_by: str | None
    hidden_reason: str | None
    url: str


class QueueSubmission(BaseModel):
    """A recent member submission, which a moderator may remove from its day."""

    day: date
    arxiv_id: str
    title: str
    submitted_by: str
    featured_at: datetime
    url: str


class ModerationQueue(BaseModel):
    """What waits for moderators: flagged comments (the longest waiting first), and since `since`
    the comments hidden and the member submissions (newest first)."""

    flagged: list[FlaggedComment]
    hidden: list[HiddenComment]
    submissions: list[QueueSubmission]
    since: datetime


class ModerationLogEntry(BaseModel):
    """One public log entry; `url` links the item while it still exists."""

    id: int
    created_at: datetime
    moderator: str
    action: str
    action_label: str
    target_kind: str  # comment | submission | member
    target: str
    url: str | None
    reason: str


class ModerationLogPage(BaseModel):
    """A page of the public moderation log, newest first."""

    page: int
    pages: int
    page_size: int
    total: int
    entries: list[ModerationLogEntry]


class ModerationResult(BaseModel):
    """What an action did, for JSON clients: the log's action and item."""

    action: str
    target_kind: str
    target: str
    reason: str


def clean_reason(reason: str | None) -> str:
    """The reason as one line of printable text, 1 to MAX_REASON characters, else BadRequest."""
    text = "".join(ch for ch in " ".join((reason or "").split()) if ch.isprintable())
    if not text:
        raise BadRequest("Please give a reason: the moderation log shows it.")
    if len(text) > MAX_REASON:
        raise BadRequest(f"The reason is too long: at most {MAX_REASON} characters.")
    return text


def _check_moderator(moderator: Member, now: datetime) -> None:
    if not (moderator.is_moderator and moderator.can_act(now)):
        raise Forbidden("Only moderators may do this.")


def _comment_target(row: Any) -> str:
    return f"comment #{row.id} by {row.username or '[deleted account]'} on {row.arxiv_id}"


def _log_comment(
    conn: Any, moderator: Member, now: datetime, action: str, row: Any, reason: str
) -> ModerationResult:
    """Log an action on a comment (`row`: the comment with its author's username)."""
    return _log(
        conn,
        moderator,
        now,
        action=action,
        target_kind="comment",
        target=_comment_target(row),
        reason=reason,
        arxiv_id=row.arxiv_id,
        comment_id=row.id,
        username=row.username,
    )


def _log(conn: Any, moderator: Member | None, now: datetime, **values: Any) -> ModerationResult:
    store.insert_log(
        conn,
        now=now,
        moderator_id=moderator.id if moderator else None,
        moderator_name=moderator.username if moderator else OPERATOR,
        **values,
    )
    return ModerationResult(
        action=values["action"],
        target_kind=values["target_kind"],
        target=values["target"][:300],
        reason=values["reason"],
    )


def _comment(conn: Any, comment_id: int) -> Any:
    row = comments_q.comment_row(conn, comment_id)
    if row is None:
        raise NotFound(f"There is no comment #{comment_id}.")
    return row


def hide_comment(
    db: Database, settings: Settings, moderator: Member, comment_id: int, reason: str, now: datetime
) -> ModerationResult:
    """Hide a comment (members see "[hidden by a moderator]"), resolve its flags, log it."""
    _check_moderator(moderator, now)
    reason = clean_reason(reason)
    with db.write() as conn:
        row = _comment(conn, comment_id)
        if row.deleted_at is not None:
            raise BadRequest("This comment was deleted by its author; there is nothing to hide.")
        if row.hidden_at is not None:
            raise BadRequest("This comment is hidden already.")
        store.set_hidden(conn, comment_id, now, moderator.id, reason)
        store.resolve_flags(conn, comment_id, moderator.id, now)
        comments_q.recount(conn, row.arxiv_id)
        return _log_comment(conn, moderator, now, "hide-comment", row, reason)


def restore_comment(
    db: Database, settings: Settings, moderator: Member, comment_id: int, reason: str, now: datetime
) -> ModerationResult:
    """Show a hidden comment again, resolve its flags, log it."""
    _check_moderator(moderator, now)
    reason = clean_reason(reason)
    with db.write() as conn:
        row = _comment(conn, comment_id)
        if row.hidden_at is None:
            raise BadRequest("This comment is not hidden.")
        store.set_hidden(conn, comment_id, None, None, None)
        store.resolve_flags(conn, comment_id, moderator.id, now)
        comments_q.recount(conn, row.arxiv_id)
        return _log_comment(conn, moderator, now, "restore-comment", row, reason)


def dismiss_flags(
    db: Database, settings: Settings, moderator: Member, comment_id: int, reason: str, now: datetime
) -> ModerationResult:
    """Keep a flagged comment as it is: its open flags are resolved, the log says "kept"."""
    _check_moderator(moderator, now)
    reason = clean_reason(reason)
    with db.write() as conn:
        row = _comment(conn, comment_id)
        if store.resolve_flags(conn, comment_id, moderator.id, now) == 0:
            raise BadRequest("This comment has no open flags.")
        return _log_comment(conn, moderator, now, "keep-comment", row, reason)


def remove_submission(
    db: Database, settings: Settings, moderator: Member, day: date, arxiv_id: str, reason: str, now: datetime
) -> ModerationResult:
    """Take a paper off a day's list (its feed entry), logged with the submitter's name."""
    _check_moderator(moderator, now)
    reason = clean_reason(reason)
    with db.write() as conn:
        # Only a printable id of an id's length is looked up (PostgreSQL refuses NUL in text).
        fits = len(arxiv_id) <= MAX_ARXIV_ID and arxiv_id.isprintable()
        entry = store.feed_entry(conn, day, arxiv_id) if fits else None
        if entry is None:
            raise NotFound(f"{arxiv_id[:MAX_ARXIV_ID]!r} is not on the list of {day.isoformat()}.")
        store.delete_feed_entry(conn, entry.id)
        by = f"submitted by {entry.username}" if entry.username else f"featured by {entry.featured_by}"
        return _log(
            conn,
            moderator,
            now,
            action="remove-submission",
            target_kind="submission",
            target=f"{entry.title} ({arxiv_id}) on {day.isoformat()}, {by}",
            reason=reason,
            arxiv_id=arxiv_id,
            username=entry.username,
        )


def _ban_allowed(moderator: Member, target: Any) -> None:
    """Moderators ban members; admins ban moderators too; nobody bans an admin or themselves here."""
    if target.id == moderator.id:
        raise Forbidden("You cannot ban or unban yourself.")
    if target.role == "admin":
        raise Forbidden("Admins cannot be banned from the site; the operator can change their role first.")
    if target.role == "moderator" and moderator.role != "admin":
        raise Forbidden("Only admins can ban or unban moderators.")


def _named(conn: Any, username: str) -> Any:
    row = accounts_q.member_by_username(conn, username) if USERNAME.match(username.strip()) else None
    if row is None:
        raise NotFound(f"no member is called {username!r}")
    return row


def _ban_until(days: int | None, now: datetime) -> datetime:
    if days is not None and not 0 <= days <= MAX_BAN_DAYS:
        raise BadRequest(f"A ban lasts 1 to {MAX_BAN_DAYS} days, or 0 (or nothing) for good.")
    return now + timedelta(days=days) if days else FOREVER


def _until_words(until: datetime) -> str:
    return "for good" if until >= FOREVER else f"until {until:%Y-%m-%d %H:%M} UTC"


def _write_ban(
    conn: Any, moderator: Member | None, row: Any, reason: str, until: datetime, now: datetime
) -> Member:
    accounts_q.update_member(conn, row.id, now, banned_until=until, ban_reason=reason)
    accounts_q.delete_member_sessions(conn, row.id)
    _log(
        conn,
        moderator,
        now,
        action="ban",
        target_kind="member",
        target=f"{row.username} ({_until_words(until)})",
        reason=reason,
        username=row.username,
    )
    return Member.from_row(accounts_q.member_by_id(conn, row.id))


def _write_unban(conn: Any, moderator: Member | None, row: Any, reason: str, now: datetime) -> Member:
    accounts_q.update_member(conn, row.id, now, banned_until=None, ban_reason=None)
    _log(
        conn,
        moderator,
        now,
        action="unban",
        target_kind="member",
        target=row.username,
        reason=reason,
        username=row.username,
    )
    return Member.from_row(accounts_q.member_by_id(conn, row.id))


def ban_member(
    db: Database,
    settings: Settings,
    moderator: Member,
    username: str,
    reason: str,
    days: int | None,
    now: datetime,
) -> Member:
    """Ban a member for `days` (None or 0: for good); every session of theirs ends at once."""
    _check_moderator(moderator, now)
    reason = clean_reason(reason)
    until = _ban_until(days, now)
    with db.write() as conn:
        row = _named(conn, username)
        _ban_allowed(moderator, row)
        return _write_ban(conn, moderator, row, reason, until, now)


def unban_member(
    db: Database, settings: Settings, moderator: Member, username: str, reason: str, now: datetime
) -> Member:
    """Lift a member's ban."""
    _check_moderator(moderator, now)
    reason = clean_reason(reason)
    with db.write() as conn:
        row = _named(conn, username)
        _ban_allowed(moderator, row)
        if row.banned_until is None or as_utc(row.banned_until) <= now:
            raise BadRequest(f"{row.username} is not banned.")
        return _write_unban(conn, moderator, row, reason, now)


def operator_ban(db: Database, username: str, reason: str, until: datetime | None, now: datetime) -> Member:
    """The operator (CLI) bans anyone until `until` (None: for good); logged as "operator"."""
    reason = clean_reason(reason)
    with db.write() as conn:
        return _write_ban(conn, None, _named(conn, username), reason, until or FOREVER, now)


def operator_unban(db: Database, username: str, reason: str, now: datetime) -> Member:
    """The operator (CLI) lifts a ban; logged as "operator"."""
    reason = clean_reason(reason)
    with db.write() as conn:
        return _write_unban(conn, None, _named(conn, username), reason, now)


def operator_set_role(db: Database, username: str, role: str, now: datetime) -> Member:
    """The operator (CLI) gives a member a role (member, moderator, admin); logged as "operator"."""
    if role not in ROLES:
        raise BadRequest(f"role: one of {', '.join(ROLES)}")
    with db.write() as conn:
        row = _named(conn, username)
        accounts_q.update_member(conn, row.id, now, role=role)
        _log(
            conn,
            None,
            now,
            action="set-role",
            target_kind="member",
            target=row.username,
            reason=f"role {row.role} → {role}",
            username=row.username,
        )
        return Member.from_row(accounts_q.member_by_id(conn, row.id))


def queue(db: Database, settings: Settings, moderator: Member, now: datetime) -> ModerationQueue:
    """The moderators' queue: comments with open flags (the longest waiting first, with every flag's
    reason, note and flagger), and the comments hidden and member submissions of the last seven days."""
    _check_moderator(moderator, now)
    since = now - RECENT_SUBMISSIONS
    with db.read() as conn:
        rows = store.flagged_comments(conn)
        flags = store.open_flags(conn, [row.id for row in rows])
        hidden = store.recently_hidden(conn, since)
        submissions = store.recent_submissions(conn, since)
    by_comment: dict[int, list[FlagView]] = {}
    for flag in flags:
        by_comment.setdefault(flag.comment_id, []).append(
            FlagView(
                username=flag.username, reason=flag.reason, note=flag.note, created_at=as_utc(flag.created_at)
            )
        )
    flagged = [
        FlaggedComment(
            id=row.id,
            arxiv_id=row.arxiv_id,
            paper_title=row.title,
            author=row.username,
            excerpt="" if row.deleted_at is not None else comment_excerpt(row.body),
            created_at=as_utc(row.created_at),
            first_flagged_at=as_utc(row.first_flagged_at),
            flag_count=row.open_flags,
            hidden=row.hidden_at is not None,
            flags=by_comment.get(row.id, []),
            url=f"/papers/{row.arxiv_id}#c{row.id}",
        )
        for row in rows
    ]
    return ModerationQueue(
        flagged=flagged,
        hidden=[
            HiddenComment(
                id=row.id,
                arxiv_id=row.arxiv_id,
                paper_title=row.title,
                author=row.username,
                excerpt=comment_excerpt(row.body),
                hidden_at=as_utc(row.hidden_at),
                hidden_by=row.hidden_by_name,
                hidden_reason=row.hidden_reason,
                url=f"/papers/{row.arxiv_id}#c{row.id}",
            )
            for row in hidden
        ],
        submissions=[
            QueueSubmission(
                day=entry.feed_date,
                arxiv_id=entry.arxiv_id,
                title=entry.title,
                submitted_by=entry.username,
                featured_at=as_utc(entry.featured_at),
                url=f"/papers/{entry.arxiv_id}",
            )
            for entry in submissions
        ],
        since=since,
    )


def _entry_url(row: Any, comments: set[int], papers: set[str], names: set[str]) -> str | None:
    if row.target_kind == "comment" and row.comment_id in comments:
        return f"/papers/{row.arxiv_id}#c{row.comment_id}"
    if row.target_kind == "submission" and row.arxiv_id in papers:
        return f"/papers/{row.arxiv_id}"
    if row.target_kind == "member" and row.username and row.username.lower() in names:
        return f"/users/{row.username}"
    return None


def log_entries(conn: Connection, rows: list[Any]) -> list[ModerationLogEntry]:
    """moderation_log rows as public entries, each linking its item while the item still exists
    (read on the caller's connection: the log page's and the API's)."""
    comments = store.live_comment_ids(conn, [r.comment_id for r in rows if r.comment_id is not None])
    papers = store.live_paper_ids(conn, [r.arxiv_id for r in rows if r.arxiv_id])
    names = store.live_usernames(conn, [r.username for r in rows if r.username])
    return [
        ModerationLogEntry(
            id=row.id,
            created_at=as_utc(row.created_at),
            moderator=row.moderator_name,
            action=row.action,
            action_label=ACTION_LABELS.get(row.action, row.action),
            target_kind=row.target_kind,
            target=row.target,
            url=_entry_url(row, comments, papers, names),
            reason=row.reason,
        )
        for row in rows
    ]


def log(db: Database, page: int = 1) -> ModerationLogPage:
    """A page of the public moderation log (LOG_PAGE_SIZE entries), newest first; NotFound past
    the last page."""
    if page < 1:
        raise BadRequest("page: at least 1")
    with db.read() as conn:
        total = store.log_count(conn)
        pages = max(1, math.ceil(total / LOG_PAGE_SIZE))
        if page > pages:
            raise NotFound(f"The moderation log has {pages} page{'s' if pages != 1 else ''}.")
        rows = store.log_rows(conn, (page - 1) * LOG_PAGE_SIZE, LOG_PAGE_SIZE)
        entries = log_entries(conn, rows)
    return ModerationLogPage(page=page, pages=pages, page_size=LOG_PAGE_SIZE, total=total, entries=entries)
