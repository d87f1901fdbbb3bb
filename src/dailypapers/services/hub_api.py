"""The Hugging Face Hub's paper API on our data: the daily list, a paper, search, the paper page as
Markdown, submitting, and (what the Hub lacks) a paper's comments, in the Hub's JSON shapes so that
huggingface_hub's HfApi(endpoint=<this site>) reads them unchanged.

The Hub's shapes carry ids that we do not have (an author's `_id`, `discussionId`, a user's `_id`):
each is `hub_id(kind, key)`, the first 24 hex digits of SHA-256("<kind>:<key>") of our own keys, so
it has the Hub's form (a 24-hex-digit ObjectId) and never changes for the same paper, author
position or member."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema
from sqlalchemy.engine import Connection

from dailypapers.core.arxiv_ids import InvalidArxivId, abs_url, parse_arxiv_id, pdf_url
from dailypapers.core.markdown import render_comment
from dailypapers.core.models import as_utc
from dailypapers.core.settings import Settings
from dailypapers.services import comments as comment_service
from dailypapers.services import search as search_service
from dailypapers.services import submissions
from dailypapers.services.errors import BadRequest, Forbidden, NotFound, TooMany
from dailypapers.services.feed import feed_period
from dailypapers.services.runtime import Database
from dailypapers.services.schemas import Member
from dailypapers.store import comments as comments_q
from dailypapers.store import hub as hub_q
from dailypapers.store import papers as papers_q
from dailypapers.store.hub import HubSort as HubSort  # the route declares its sort parameter with it

DEFAULT_LIMIT = 50  # the Hub's default page size
MAX_PAGE = 10_000  # the last page (`p`) anyone may ask for


def _hub_time(value: datetime) -> str:
    """A time as the Hub writes it: UTC with milliseconds and a Z (2026-07-01T09:30:00.000Z)."""
    t = as_utc(value)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


HubTime = Annotated[
    datetime,
    PlainSerializer(_hub_time, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "example": "2026-07-01T09:30:00.000Z"}),
]


class HubAuthor(BaseModel):
    """An author of a paper, as the Hub lists them."""

    id: str = Field(serialization_alias="_id", description="hub_id('author', '<arXiv id>:<position>')")
    name: str
    hidden: bool = False


class HubUser(BaseModel):
    """A member, in the Hub's user shape; `user` repeats the username (huggingface_hub's User reads it
    from there)."""

    id: str = Field(serialization_alias="_id", description="hub_id('user', '<member id>')")
    name: str = Field(description="the username")
    user: str = Field(description="the username")
    fullname: str = Field(description="the display name (the username when there is none)")
    avatarUrl: str
    type: Literal["user"] = "user"


class HubPaper(BaseModel):
    """A paper, as the Hub's `paper` object of a daily-papers item."""

    id: str = Field(description="the arXiv id, without version")
    authors: list[HubAuthor]
    publishedAt: HubTime | None = Field(None, description="when arXiv published its first version")
    submittedOnDailyAt: HubTime | None = Field(
        None, description="the day (00:00 UTC) of its newest entry in the daily list"
    )
    title: str
    summary: str = Field(description="the abstract (math as LaTeX)")
    upvotes: int = Field(description="upvotes imported from the Hub plus the votes of members here")
    discussionId: str = Field(description="hub_id('discussion', '<arXiv id>')")
    projectPage: str | None = None
    githubRepo: str | None = Field(None, description="the first code link (GitHub or another code host)")
    submittedOnDailyBy: HubUser | None = Field(None, description="the member who submitted it, if one did")


class HubPaperInfo(HubPaper):
    """GET /api/papers/{id}: the paper with its comment count."""

    numComments: int
    isAuthorParticipating: bool = False


class HubDailyPaper(BaseModel):
    """One item of the daily list (GET /api/daily_papers), search results too."""

    paper: HubPaper
    publishedAt: HubTime | None = Field(None, description="when the paper entered the daily list")
    title: str
    summary: str
    numComments: int
    submittedBy: HubUser | None = None
    isAuthorParticipating: bool = False


class HubSubmitted(HubDailyPaper):
    """POST /api/papers/submit: the new item; `commentError` says why the first comment was not
    posted (the paper was submitted all the same)."""

    commentError: str | None = None


class HubComment(BaseModel):
    """A comment (GET /api/papers/{id}/comments), as an anonymous reader sees it: a hidden comment
    without its text, a deleted one without author or text."""

    id: int
    parentId: int | None
    depth: int
    author: HubUser | None
    createdAt: HubTime
    editedAt: HubTime | None
    raw: str | None = Field(description="the Markdown source")
    html: str | None = Field(description="the rendered, sanitised HTML (math as MathML)")
    hidden: bool
    deleted: bool


def hub_id(kind: str, key: str) -> str:
    """A stable id in the Hub's form (24 hex digits) for one of our keys: SHA-256 of "<kind>:<key>"."""
    return hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()[:24]


def _site(settings: Settings) -> str:
    return settings.site_url.rstrip("/")


def _user(
    settings: Settings, user_id: int | None, username: str | None, display: str | None
) -> HubUser | None:
    if user_id is None or username is None:
        return None
    return HubUser(
        id=hub_id("user", str(user_id)),
        name=username,
        user=username,
        fullname=display or username,
        avatarUrl=f"{_site(settings)}/users/{username}/avatar.svg",
    )


def _paper_fields(settings: Settings, row: dict[str, Any]) -> dict[str, Any]:
    """The fields of HubPaper from a store.hub row."""
    arxiv_id = row["arxiv_id"]
    day: date | None = row["feed_date"]
    return {
        "id": arxiv_id,
        "authors": [
            HubAuthor(id=hub_id("author", f"{arxiv_id}:{i}"), name=name)
            for i, name in enumerate(row["authors"])
        ],
        "publishedAt": row["published_at"],
        "submittedOnDailyAt": datetime.combine(day, time(0), UTC) if day else None,
        "title": row["title"],
        "summary": row["abstract"],
        "upvotes": row["upvotes"],
        "discussionId": hub_id("discussion", arxiv_id),
        "projectPage": row["project_url"],
        "githubRepo": (row["code_urls"] or [None])[0],
        "submittedOnDailyBy": _user(
            settings, row["submitter_id"], row["submitter"], row["submitter_display_name"]
        ),
    }


def _item(settings: Settings, row: dict[str, Any]) -> HubDailyPaper:
    return HubDailyPaper(**_item_fields(settings, row))


def _item_fields(settings: Settings, row: dict[str, Any]) -> dict[str, Any]:
    """The fields of HubDailyPaper from a store.hub row."""
    paper = HubPaper(**_paper_fields(settings, row))
    return {
        "paper": paper,
        "publishedAt": row["featured_at"],
        "title": row["title"],
        "summary": row["abstract"],
        "numComments": row["comment_count"],
        "submittedBy": paper.submittedOnDailyBy,
    }


def _capped(settings: Settings, limit: int) -> int:
    """A page size from 1 up to the setting api_max_limit: a larger one gives that many (as the Hub
    and most APIs cap, rather than refuse, a large page); below 1 is a BadRequest."""
    if limit < 1:
        raise BadRequest("limit: at least 1")
    return min(limit, settings.api_max_limit)


def daily_papers(
    db: Database,
    settings: Settings,
    *,
    day: str | None = None,
    week: str | None = None,
    month: str | None = None,
    submitter: str | None = None,
    sort: HubSort = "publishedAt",
    page: int = 0,
    limit: int = DEFAULT_LIMIT,
) -> list[HubDailyPaper]:
    """GET /api/daily_papers: one page (`page` from 0) of the daily list of a day, ISO week or month
    (at most one; every day when none), each paper once, only those `submitter` submitted when
    given; newest entry first (publishedAt) or trending. An empty period is []. BadRequest for a
    malformed period or two of them; a limit over api_max_limit gives that many."""
    chosen = [
        (kind, key) for kind, key in (("date", day), ("week", week), ("month", month)) if key is not None
    ]
    if len(chosen) > 1:
        raise BadRequest("give at most one of date, week and month")
    limit = _capped(settings, limit)
    if not 0 <= page <= MAX_PAGE:
        raise BadRequest(f"p: from 0 to {MAX_PAGE}")
    period = feed_period(*chosen[0]) if chosen else None
    with db.read() as conn:
        rows = hub_q.daily_entries(
            conn,
            start=period.start if period else None,
            end=period.end if period else None,
            submitter=submitter,
            sort=sort,
            limit=limit,
            offset=page * limit,
        )
    return [_item(settings, row) for row in rows]


def _stored(conn: Connection, text: str) -> dict[str, Any]:
    """The store.hub row of a stored paper named by any spelling of its id (a version up to the stored
    one, `arXiv:`, a URL); NotFound otherwise."""
    try:
        parsed = parse_arxiv_id(text)
    except InvalidArxivId:
        raise NotFound(f"{text[:80]!r} is not an arXiv id") from None
    rows = hub_q.paper_entries(conn, [parsed.id])
    if not rows:
        raise NotFound(f"paper {parsed.id} is not in this feed")
    row = rows[0]
    if parsed.version is not None and parsed.version > (row["version"] or 1):
        raise NotFound(f"version {parsed.version} of paper {parsed.id} is not in this feed")
    return row


def paper_info(db: Database, settings: Settings, arxiv_id: str) -> HubPaperInfo:
    """GET /api/papers/{id}: the paper with its newest entry of the daily list; NotFound for an
    unknown paper or id."""
    with db.read() as conn:
        row = _stored(conn, arxiv_id)
    return HubPaperInfo(**_paper_fields(settings, row), numComments=row["comment_count"])


def search(db: Database, settings: Settings, q: str, limit: int = DEFAULT_LIMIT) -> list[HubDailyPaper]:
    """GET /api/papers/search: the first `limit` results of our search (as the search page ranks them)
    as daily-papers items; [] for an empty query."""
    limit = _capped(settings, limit)
    found = search_service.search(db, settings, q, 1, None, limit)
    ids = [card.arxiv_id for card in found.papers]
    with db.read() as conn:
        rows = {row["arxiv_id"]: row for row in hub_q.paper_entries(conn, ids)}
    return [_item(settings, rows[i]) for i in ids if i in rows]


def _thread_order(rows: list[Any]) -> Iterator[Any]:
    """Comments (oldest first) in thread order: each top-level comment followed by its replies, depth
    first."""
    known = {row.id for row in rows}
    replies: dict[int | None, list[Any]] = {}
    for row in rows:
        parent = row.parent_id if row.parent_id in known else None
        replies.setdefault(parent, []).append(row)

    def walk(parent: int | None) -> Iterator[Any]:
        for row in replies.get(parent, []):
            yield row
            yield from walk(row.id)

    return walk(None)


def _comment(settings: Settings, row: Any) -> HubComment:
    deleted = row.deleted_at is not None
    hidden = row.hidden_at is not None
    show = not deleted and not hidden
    return HubComment(
        id=row.id,
        parentId=row.parent_id,
        depth=row.depth,
        author=None if deleted else _user(settings, row.user_id, row.username, row.display_name),
        createdAt=row.created_at,
        editedAt=row.edited_at,
        raw=row.body if show else None,
        html=str(render_comment(row.body)) if show else None,
        hidden=hidden,
        deleted=deleted,
    )


def paper_comments(db: Database, settings: Settings, arxiv_id: str) -> list[HubComment]:
    """GET /api/papers/{id}/comments: the paper's comments in thread order, as an anonymous reader sees
    them; NotFound for an unknown paper."""
    with db.read() as conn:
        row = _stored(conn, arxiv_id)
        rows = comments_q.thread_rows(conn, row["arxiv_id"])
    return [_comment(settings, r) for r in _thread_order(rows)]


# --- the paper page as Markdown ------------------------------------------------------------------------

_MD_SPECIAL = set("\\`*_[]<>#|")


def _md_text(text: str) -> str:
    """Plain text (a name) inside Markdown: its Markdown characters escaped, on one line."""
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in " ".join(text.split()))


def _md_link(text: str, url: str) -> str:
    """A Markdown link; the URL's spaces, parentheses and angle brackets %-escaped so it stays one."""
    for c, escaped in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E")):
        url = url.replace(c, escaped)
    return f"[{_md_text(text)}]({url})"


def _when(value: datetime) -> str:
    return f"{as_utc(value):%Y-%m-%d %H:%M} UTC"


def _comment_markdown(settings: Settings, row: Any) -> list[str]:
    """One comment: a heading (number, author, time, the comment it answers) and its Markdown source
    quoted, so that nothing in it can pass for the page's own structure."""
    view = _comment(settings, row)
    author = "\\[deleted\\]" if view.deleted or view.author is None else _md_text(view.author.name)
    head = f"### #{view.id} · {author} · {_when(view.createdAt)}"
    if view.editedAt is not None and not view.deleted:
        head += " (edited)"
    if view.parentId is not None:
        head += f" · reply to #{view.parentId}"
    body = "\\[deleted\\]" if view.deleted else "\\[hidden\\]" if view.hidden else view.raw or ""
    return [head, "", *("> " + line if line else ">" for line in body.splitlines()), ""]


def paper_markdown(db: Database, settings: Settings, arxiv_id: str) -> str:
    """GET /papers/{id}.md: the paper page as Markdown (title, authors, links, upvotes, feed days,
    submitter, the abstract with its math as LaTeX, the comments); NotFound for an unknown paper."""
    with db.read() as conn:
        row = _stored(conn, arxiv_id)
        days = papers_q.feed_days_of(conn, row["arxiv_id"])
        comments = list(_thread_order(comments_q.thread_rows(conn, row["arxiv_id"])))
    site = _site(settings)
    paper_id, version = row["arxiv_id"], row["version"]
    lines = [f"# {' '.join(row['title'].split())}", ""]
    if row["authors"]:
        lines += ["**Authors:** " + ", ".join(_md_text(name) for name in row["authors"]), ""]
    lines.append(
        "- arXiv: "
        + _md_link(f"arXiv:{paper_id}" + (f"v{version}" if version else ""), abs_url(paper_id, version))
    )
    lines.append("- PDF: " + _md_link(pdf_url(paper_id, version), pdf_url(paper_id, version)))
    lines += ["- Code: " + _md_link(url, url) for url in row["code_urls"]]
    if row["project_url"]:
        lines.append("- Project page: " + _md_link(row["project_url"], row["project_url"]))
    lines.append("- On this site: " + _md_link(f"{site}/papers/{paper_id}", f"{site}/papers/{paper_id}"))
    lines.append("")
    if row["published_at"] is not None:
        lines.append(f"Published on arXiv: {as_utc(row['published_at']):%Y-%m-%d}  ")
    lines.append(
        f"Upvotes: {row['upvotes']} ({row['imported_upvotes']} on Hugging Face, {row['vote_count']} here)  "
    )
    if days:
        links = ", ".join(_md_link(d.isoformat(), f"{site}/papers/date/{d.isoformat()}") for d in days)
        lines.append(f"In the daily list: {links}  ")
    if row["submitter"]:
        lines.append("Submitted by: " + _md_link(row["submitter"], f"{site}/users/{row['submitter']}") + "  ")
    lines += ["", "## Abstract", "", row["abstract"] or "(no abstract)", ""]
    lines += [f"## Comments ({row['comment_count']})", ""]
    for comment in comments:
        lines += _comment_markdown(settings, comment)
    return "\n".join(lines).rstrip() + "\n"


# --- submitting ----------------------------------------------------------------------------------------


def submit_paper(
    db: Database,
    settings: Settings,
    member: Member,
    paper: str,
    comment: str,
    now: datetime,
    fetch: submissions.Fetch | None = None,
) -> HubSubmitted:
    """POST /api/papers/submit: put the paper (an arXiv id or URL) on today's list as the member's
    submission (services.submissions.submit_paper, with its refusals), then post `comment` as its
    first comment when given; the new item, with commentError when the comment was refused."""
    if len(comment) > settings.comment_max_chars:
        raise BadRequest(f"comment: at most {settings.comment_max_chars:,} characters")
    done = submissions.submit_paper(db, settings, member, paper, now, fetch)
    error = None
    if comment.strip():
        try:
            comment_service.post_comment(db, settings, member, done.arxiv_id, comment, None, now)
        except (BadRequest, Forbidden, NotFound, TooMany) as exc:
            error = str(exc)
    with db.read() as conn:
        row = hub_q.paper_entries(conn, [done.arxiv_id], done.feed_date)[0]
    return HubSubmitted(**_item_fields(settings, row), commentError=error)
