"""Public shapes returned by the services and served as JSON, named by purpose."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from dailypapers.core.arxiv_ids import abs_url, pdf_url
from dailypapers.core.models import as_utc
from dailypapers.core.text import excerpt, short_authors


class PaperCard(BaseModel):
    """A paper as listed on a feed page."""

    arxiv_id: str
    title: str
    authors: list[str]
    authors_short: str
    categories: list[str]
    upvotes: int  # upvotes_imported + upvotes_local
    upvotes_local: int = 0  # votes of members of this site
    upvotes_imported: int = 0  # upvotes imported from the Hugging Face Hub
    comment_count: int = 0  # visible comments
    submitted_by: str | None = None  # username of the member who submitted it to the day shown
    excerpt: str
    code_url: str | None
    withdrawn: bool
    trending_score: float
    first_featured_at: datetime | None
    url: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PaperCard:
        """Build a card from a papers row (with an `upvotes` column, and `submitted_by` when the
        query looked it up)."""
        return cls(
            arxiv_id=row["arxiv_id"],
            title=row["title"],
            authors=row["authors"],
            authors_short=short_authors(row["authors"]),
            categories=row["categories"],
            upvotes=row["upvotes"],
            upvotes_local=row["vote_count"],
            upvotes_imported=row["imported_upvotes"],
            comment_count=row["comment_count"],
            submitted_by=row.get("submitted_by"),
            excerpt=excerpt(row["abstract"]),
            code_url=(row["code_urls"] or [None])[0],
            withdrawn=row["withdrawn"],
            trending_score=row["trending_score"],
            first_featured_at=as_utc(row["first_featured_at"]),
            url=f"/papers/{row['arxiv_id']}",
        )


class PeriodLink(BaseModel):
    """A link to a neighbouring feed period."""

    key: str
    label: str
    url: str


class FeedPage(BaseModel):
    """One page of a feed period: the papers and the navigation around them."""

    kind: str
    key: str
    label: str
    start: date
    end: date
    sort: str
    page: int
    page_size: int
    total: int
    pages: int
    papers: list[PaperCard]
    # The same feed as a day (its newest feed day), a week and a month.
    views: dict[str, PeriodLink]
    previous: PeriodLink | None
    next: PeriodLink | None


class PaperPublic(BaseModel):
    """Everything the paper page shows."""

    arxiv_id: str
    version: int | None
    title: str
    authors: list[str]
    abstract: str
    categories: list[str]
    primary_category: str | None
    comment: str | None
    journal_ref: str | None
    doi: str | None
    published_at: datetime | None
    updated_at: datetime | None
    feed_days: list[date]
    upvotes: int  # upvotes_imported + upvotes_local
    upvotes_local: int = 0  # votes of members of this site
    upvotes_imported: int = 0  # upvotes imported from the Hugging Face Hub
    comment_count: int = 0  # visible comments
    submitted_by: str | None = None  # username of the member who submitted it to its latest feed day
    withdrawn: bool
    abs_url: str
    pdf_url: str
    code_urls: list[str]
    project_url: str | None
    trending_score: float

    @classmethod
    def from_row(
        cls, row: dict[str, Any], feed_days: list[date], submitted_by: str | None = None
    ) -> PaperPublic:
        """Build the public paper from a papers row, its feed days and its submitter."""
        return cls(
            arxiv_id=row["arxiv_id"],
            version=row["version"],
            title=row["title"],
            authors=row["authors"],
            abstract=row["abstract"],
            categories=row["categories"],
            primary_category=row["primary_category"],
            comment=row["comment"],
            journal_ref=row["journal_ref"],
            doi=row["doi"],
            published_at=as_utc(row["published_at"]),
            updated_at=as_utc(row["updated_at"]),
            feed_days=feed_days,
            upvotes=row["imported_upvotes"] + row["vote_count"],
            upvotes_local=row["vote_count"],
            upvotes_imported=row["imported_upvotes"],
            comment_count=row["comment_count"],
            submitted_by=submitted_by,
            withdrawn=row["withdrawn"],
            abs_url=abs_url(row["arxiv_id"], row["version"]),
            pdf_url=pdf_url(row["arxiv_id"], row["version"]),
            code_urls=row["code_urls"],
            project_url=row["project_url"],
            trending_score=row["trending_score"],
        )


class SearchPage(BaseModel):
    """One page of search results."""

    query: str
    mode: str
    notes: list[str]
    matched_terms: list[str]
    categories: list[str]
    after: date | None
    before: date | None
    total: int
    total_capped: bool = False  # more than `total` papers match (counted up to the last reachable page)
    page: int
    page_size: int
    pages: int
    papers: list[PaperCard]
    # The cosine similarity to the query of the papers on this page that the vector list found
    # (vector and hybrid modes), by arXiv id.
    similarity: dict[str, float] = {}


class Member(BaseModel):
    """A member as pages and the CLI show them (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: str  # member, moderator or admin
    email: str | None
    email_confirmed: bool
    banned_until: datetime | None
    ban_reason: str | None = None
    created_at: datetime
    public_votes: bool = False  # upvotes listed on the member page
    notify_mentions: bool = True  # a mail when someone @mentions the member
    pending_email: str | None = None  # an address change waiting for its confirmation

    @property
    def name(self) -> str:
        """What pages call the member: the display name, else the username."""
        return self.display_name or self.username

    @property
    def is_moderator(self) -> bool:
        """Moderators and admins moderate."""
        return self.role in ("moderator", "admin")

    def banned_at(self, now: datetime) -> bool:
        """Banned at `now`."""
        return self.banned_until is not None and self.banned_until > now

    def can_act(self, now: datetime) -> bool:
        """May vote, submit, comment and flag: a confirmed address and no ban at `now`."""
        return self.email_confirmed and not self.banned_at(now)

    @classmethod
    def from_row(cls, row: Any) -> Member:
        """Build a member from a users row."""
        return cls(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            role=row.role,
            email=row.email,
            email_confirmed=row.email_confirmed_at is not None,
            banned_until=as_utc(row.banned_until),  # SQLite gives naive UTC datetimes back
            ban_reason=row.ban_reason,
            created_at=as_utc(row.created_at),
            public_votes=bool(getattr(row, "public_votes", False)),
            notify_mentions=bool(getattr(row, "notify_mentions", True)),
            pending_email=getattr(row, "pending_email", None),
        )


# --- community ---------------------------------------------------------------------------------------


class CommentView(BaseModel):
    """One comment as the thread shows it. A deleted comment keeps its place ("[deleted]": no author,
    no body); a hidden one shows "[hidden by a moderator]" to members, its body to moderators."""

    id: int
    arxiv_id: str
    parent_id: int | None
    depth: int
    author: str | None  # username; None when deleted or the account is gone
    author_name: str | None  # display name or username
    body_html: str  # sanitised HTML (core.markdown.render_comment); "" when deleted or hidden
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    hidden: bool
    hidden_reason: str | None = None
    flag_count: int = 0  # shown to moderators
    # What the viewing member may do with it.
    can_edit: bool = False
    can_delete: bool = False
    can_reply: bool = False
    can_flag: bool = False
    can_moderate: bool = False
    replies: list[CommentView] = []


class CommentThread(BaseModel):
    """The comments of a paper, as a tree (top-level comments oldest first, replies under their parent)."""

    arxiv_id: str
    count: int  # visible comments (papers.comment_count)
    comments: list[CommentView]
    can_comment: bool  # the viewer may post (signed in, confirmed, not banned)
    max_chars: int
