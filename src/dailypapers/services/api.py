"""API v1's use cases (web/api_v1.py calls them): its cursor-paged lists (a feed period, search, a
member's submissions, the moderation log), the compositions of other services it answers with, and the
models of its answers, each with an example for /openapi.json.

A cursor is opaque to clients: URL-safe base64 of a small JSON object that names the list it continues
(its kind and scope: which feed and order, which query, which member), the offset of the next item and
the key of the last item given (the anchor). The next page starts right after the anchor, looked for
up to a page either side of the offset, so a list whose order shifted between two requests (a vote, a
new submission, a new log entry) neither repeats nor skips the items that kept their place, as keyset
pagination would; where the anchor is gone, the offset holds. Search's fused ranking has no key to
anchor on (its scores exist only per request): its cursor is the offset of a page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError

from dailypapers.core.periods import Period, PeriodKind, period_containing
from dailypapers.core.settings import Settings
from dailypapers.digest import subscriptions as digest_subs
from dailypapers.services import comments as comment_service
from dailypapers.services import feed as feed_service
from dailypapers.services import papers as paper_service
from dailypapers.services import search as search_service
from dailypapers.services import submissions as submission_service
from dailypapers.services import subscriptions as subscription_service
from dailypapers.services.errors import BadRequest, Forbidden, NotFound, TooMany
from dailypapers.services.feed import SortOrder
from dailypapers.services.members import MemberPage, MemberSubmission, valid_username
from dailypapers.services.moderation import ModerationLogEntry, log_entries
from dailypapers.services.runtime import Database
from dailypapers.services.schemas import (
    CommentThread,
    CommentView,
    Member,
    PaperCard,
    PaperPublic,
    PeriodLink,
    SearchPage,
)
from dailypapers.services.submissions import Submission
from dailypapers.services.subscriptions import Signer
from dailypapers.services.votes import VoteState
from dailypapers.store import accounts as accounts_q
from dailypapers.store import feed as feed_q
from dailypapers.store import members as members_q
from dailypapers.store import moderation as moderation_q

T = TypeVar("T")
DEFAULT_LIMIT = 50  # items per page when `limit` is not given (search: the setting page_size)
MAX_CURSOR_CHARS = 400  # a cursor is about 120 characters
MAX_OFFSET = 10_000_000  # far past any list's end
# A comment's bound in a request: the setting comment_max_chars's default, whose longest comment fits the
# 64 KiB a request may have even with every character escaped (\uXXXX); the service applies the setting.
MAX_COMMENT_CHARS = 10_000
MAX_ARXIV_CHARS = 300  # an arXiv id or URL, as the submit form takes it
MALFORMED = "cursor: this is not a cursor of this API; pass the next_cursor of an earlier answer unchanged"
FOREIGN = (
    "cursor: it continues another list (another feed, order, query or member); use it with the request "
    "that gave it, or start again without a cursor"
)


# --- cursors -----------------------------------------------------------------------------------------


class _CursorData(BaseModel):
    """A cursor's JSON: version, kind of list, its scope, offset, anchor (the last key given) and the
    page size of an offset cursor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]
    k: str = Field(max_length=20)
    s: tuple[str, ...] = Field(max_length=4)
    o: int = Field(ge=0, le=MAX_OFFSET)
    a: str | None = Field(None, max_length=100)
    n: int | None = Field(None, ge=1, le=1000)


@dataclass(frozen=True)
class Position:
    """Where a cursor stands in which list."""

    kind: str  # feed, search, submissions, log
    scope: tuple[str, ...]  # which feed and order, which query, which member
    offset: int  # of the next item
    anchor: str | None = None  # the key of the last item given
    size: int | None = None  # the page size (offset cursors)


def encode_cursor(position: Position) -> str:
    """The opaque, URL-safe text of a position."""
    data = _CursorData(
        v=1, k=position.kind, s=position.scope, o=position.offset, a=position.anchor, n=position.size
    )
    raw = json.dumps(data.model_dump(exclude_none=True), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Position:
    """The position of a cursor; BadRequest for anything this API did not make."""
    if len(text) > MAX_CURSOR_CHARS:
        raise BadRequest(MALFORMED)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = _CursorData.model_validate(json.loads(raw))
    except (binascii.Error, ValueError):  # ValidationError and JSON/Unicode errors are ValueErrors
        raise BadRequest(MALFORMED) from None
    return Position(data.k, data.s, data.o, data.a, data.n)


def _continued(cursor: str | None, kind: str, scope: tuple[str, ...]) -> Position | None:
    """The position of the request's cursor in the list (kind, scope); BadRequest for a cursor of
    another list."""
    if cursor is None:
        return None
    position = decode_cursor(cursor)
    if position.kind != kind or position.scope != scope:
        raise BadRequest(FOREIGN)
    return position


def page_limit(settings: Settings, limit: int | None, default: int = DEFAULT_LIMIT) -> int:
    """The page size asked for (default `default`), at most settings.api_max_limit: a larger limit
    gives that many, as a client cannot know the setting."""
    return min(default if limit is None else limit, settings.api_max_limit)


# --- examples ----------------------------------------------------------------------------------------
# Realistic values from the demo corpus; tests/web/test_api_v1.py checks that each validates.

CARD_EXAMPLE: dict[str, Any] = {
    "arxiv_id": "2606.31315",
    "title": "BlockPilot: Instance-Adaptive Policy Learning for Diffusion-based Speculative Decoding",
    "authors": ["Hao Zhang", "Yiming Hu", "Yong Wang", "Mingqiao Mo", "Xin Xiao", "Xiangxiang Chu"],
    "authors_short": "Hao Zhang, Yiming Hu, Yong Wang +3 authors",
    "categories": ["cs.CL"],
    "upvotes": 66,
    "upvotes_local": 2,
    "upvotes_imported": 64,
    "comment_count": 1,
    "submitted_by": None,
    "excerpt": "Speculative decoding accelerates inference by using a lightweight draft model to generate "
    "candidate tokens in parallel, and are then verified by the target model…",
    "code_url": None,
    "withdrawn": False,
    "trending_score": 918.0223678130285,
    "first_featured_at": "2026-07-01T00:00:00Z",
    "url": "/papers/2606.31315",
}
CURSOR_EXAMPLE = encode_cursor(Position("feed", ("date", "2026-07-01", "trending"), 50, "2606.30999"))
COMMENT_EXAMPLE: dict[str, Any] = {
    "id": 17,
    "arxiv_id": "2606.31315",
    "parent_id": None,
    "depth": 0,
    "author": "ada",
    "author_name": "Ada L.",
    "body_html": "<p>The block size result in Table 3 is the interesting part: <em>why</em> 5.92?</p>",
    "created_at": "2026-07-01T12:00:00Z",
    "edited_at": None,
    "deleted": False,
    "hidden": False,
    "hidden_reason": None,
    "flag_count": 0,
    "can_edit": True,
    "can_delete": True,
    "can_reply": True,
    "can_flag": False,
    "can_moderate": False,
    "replies": [],
}
DIGEST_EXAMPLE: dict[str, Any] = {
    "frequency": "weekly",
    "weekday": 0,
    "send_hour": 8,
    "timezone": "Europe/Berlin",
    "max_papers": 10,
    "categories": ["cs.CL", "cs.LG"],
    "min_upvotes": 5,
    "paused": False,
    "searches": [{"include": "contrastive learning", "exclude": "medical"}],
}


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


# --- answers -----------------------------------------------------------------------------------------


class FeedItems(BaseModel):
    """A page of a feed period (a day, ISO week or month) in a sort order, with the cursor of the next."""

    model_config = _examples(
        {
            "kind": "date",
            "key": "2026-07-01",
            "label": "Wed, Jul 1, 2026",
            "start": "2026-07-01",
            "end": "2026-07-01",
            "sort": "trending",
            "total": 301,
            "items": [CARD_EXAMPLE],
            "next_cursor": CURSOR_EXAMPLE,
            "previous": {
                "key": "2026-06-30",
                "label": "Tue, Jun 30, 2026",
                "url": "/api/v1/feeds/date/2026-06-30",
            },
            "next": None,
        }
    )

    kind: Literal["date", "week", "month"]
    key: str  # 2026-07-01, 2026-W27 or 2026-07
    label: str
    start: date
    end: date  # inclusive
    sort: SortOrder
    total: int  # papers in the period
    items: list[PaperCard]
    next_cursor: str | None  # None on the last page
    previous: PeriodLink | None  # the nearest earlier period with papers (its API address)
    next: PeriodLink | None  # the nearest later one


class PaperInfo(PaperPublic):
    """One paper: everything its page shows (the newest stored version)."""

    model_config = _examples(
        {
            **{k: v for k, v in CARD_EXAMPLE.items() if k in PaperPublic.model_fields},
            "version": 2,
            "abstract": "Speculative decoding accelerates inference by using a lightweight draft model to "
            "generate candidate tokens in parallel… a 4.20$\\times$ speedup on Qwen3-4B under "
            "temperature $T=1$.",
            "primary_category": "cs.CL",
            "comment": "16 pages",
            "journal_ref": None,
            "doi": None,
            "published_at": "2026-06-30T17:59:00Z",
            "updated_at": "2026-07-01T09:12:00Z",
            "feed_days": ["2026-07-01"],
            "abs_url": "https://arxiv.org/abs/2606.31315v2",
            "pdf_url": "https://arxiv.org/pdf/2606.31315v2",
            "code_urls": ["https://github.com/example/blockpilot"],
            "project_url": None,
        }
    )


class SimilarPapers(BaseModel):
    """The papers nearest to one by embedding (never itself); empty until it has a vector."""

    model_config = _examples({"arxiv_id": "2606.30999", "similar": [CARD_EXAMPLE]})

    arxiv_id: str
    similar: list[PaperCard]


class SearchResults(SearchPage):
    """A page of search results, with the cursor of the next page."""

    model_config = _examples(
        {
            "query": "speculative decoding -survey",
            "mode": "hybrid",
            "notes": [],
            "matched_terms": ["speculative", "decoding"],
            "categories": [],
            "after": None,
            "before": None,
            "total": 42,
            "total_capped": False,
            "page": 1,
            "page_size": 30,
            "pages": 2,
            "papers": [CARD_EXAMPLE],
            "similarity": {"2606.31315": 0.7124},
            "next_cursor": encode_cursor(Position("search", ("5b41c0fd2e981a44",), 30, size=30)),
        }
    )

    next_cursor: str | None  # None on the last page


class PaperComments(CommentThread):
    """A paper's comments as a tree, as the token's member (or, without one, anybody) sees them."""

    model_config = _examples(
        {
            "arxiv_id": "2606.31315",
            "count": 1,
            "comments": [COMMENT_EXAMPLE],
            "can_comment": True,
            "max_chars": 10000,
        }
    )


class PostedComment(CommentView):
    """A comment as posted."""

    model_config = _examples(COMMENT_EXAMPLE)


class CommentCreate(BaseModel):
    """A new comment: Markdown with $math$; a reply names its parent comment. (Request bodies are
    strict: a field of another JSON type than the schema's, or one it does not name, is a 400.)"""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"body": "Does the speedup hold at $T=0$?", "parent_id": None}]},
    )

    body: str = Field(max_length=MAX_COMMENT_CHARS)
    parent_id: int | None = Field(None, ge=1, le=2**31 - 1)


class Upvote(VoteState):
    """A paper's upvotes after the member's vote, and whether that vote is on it."""

    model_config = _examples(
        {"arxiv_id": "2606.31315", "voted": True, "upvotes": 67, "upvotes_local": 3, "upvotes_imported": 64}
    )


class SubmissionCreate(BaseModel):
    """A paper to put on today's feed (an arXiv id or URL), with an optional first comment."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"arxiv_id": "2607.01234", "comment": "The ablation in section 4 is worth a look."}]
        },
    )

    arxiv_id: str = Field(min_length=1, max_length=MAX_ARXIV_CHARS)
    comment: str = Field("", max_length=MAX_COMMENT_CHARS)


class SubmissionCreated(Submission):
    """A submission made: the paper's entry on today's feed, and its first comment (or why that was
    refused: the submission stands either way)."""

    model_config = _examples(
        {
            "arxiv_id": "2607.01234",
            "title": "Sparse Mixtures of Adapters for Multilingual Speech Recognition",
            "feed_date": "2026-07-01",
            "submitted_by": "ada",
            "featured_at": "2026-07-01T12:00:00Z",
            "fetched": True,
            "url": "/papers/2607.01234",
            "comment": {**COMMENT_EXAMPLE, "arxiv_id": "2607.01234"},
            "comment_error": None,
        }
    )

    comment: CommentView | None = None
    comment_error: str | None = None


class SubmissionList(BaseModel):
    """A page of the papers a member submitted, newest day first."""

    model_config = _examples(
        {
            "username": "ada",
            "items": [
                {
                    "day": "2026-07-01",
                    "arxiv_id": "2607.01234",
                    "title": "Sparse Mixtures of Adapters for Multilingual Speech Recognition",
                    "url": "/papers/2607.01234",
                }
            ],
            "next_cursor": None,
        }
    )

    username: str
    items: list[MemberSubmission]
    next_cursor: str | None


class MemberProfile(MemberPage):
    """A member's public page: submissions, comments and (when the member shows them) upvotes, the
    latest 50 of each; `moderation` only for a moderator's token."""

    model_config = _examples(
        {
            "username": "ada",
            "name": "Ada L.",
            "role": "member",
            "created_at": "2026-06-02T08:30:00Z",
            "avatar_url": "/users/ada/avatar.svg",
            "url": "/users/ada",
            "submissions": [
                {
                    "day": "2026-07-01",
                    "arxiv_id": "2607.01234",
                    "title": "Sparse Mixtures of Adapters for Multilingual Speech Recognition",
                    "url": "/papers/2607.01234",
                }
            ],
            "comments": [
                {
                    "id": 17,
                    "arxiv_id": "2606.31315",
                    "paper_title": CARD_EXAMPLE["title"],
                    "excerpt": "The block size result in Table 3 is the interesting part: why 5.92?",
                    "created_at": "2026-07-01T12:00:00Z",
                    "hidden": False,
                    "url": "/papers/2606.31315#c17",
                }
            ],
            "public_votes": True,
            "upvotes": [
                {
                    "arxiv_id": "2606.31315",
                    "title": CARD_EXAMPLE["title"],
                    "created_at": "2026-07-01T11:58:00Z",
                    "url": "/papers/2606.31315",
                }
            ],
            "moderation": None,
        }
    )


class Me(BaseModel):
    """The token's member, as the account page shows them (the address included)."""

    model_config = _examples(
        {
            "id": 7,
            "username": "ada",
            "display_name": "Ada L.",
            "role": "member",
            "email": "ada@example.org",
            "email_confirmed": True,
            "pending_email": None,
            "created_at": "2026-06-02T08:30:00Z",
            "public_votes": True,
            "notify_mentions": True,
            "url": "/users/ada",
        }
    )

    id: int
    username: str
    display_name: str
    role: str  # member, moderator or admin
    email: str | None
    email_confirmed: bool
    pending_email: str | None  # an address change waiting for its confirmation
    created_at: datetime
    public_votes: bool  # upvotes listed on the member page
    notify_mentions: bool  # a mail when someone @mentions the member
    url: str  # the member page

    @classmethod
    def of(cls, member: Member) -> Me:
        """What /api/v1/me shows of a member."""
        shown = member.model_dump(include=set(cls.model_fields) - {"url"})
        return cls(**shown, url=f"/users/{member.username}")


class SavedSearch(BaseModel):
    """A saved search of the digest: papers matching `include` and not `exclude` (search syntax)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    include: str = Field(min_length=1, max_length=digest_subs.MAX_SEARCH_CHARS)
    exclude: str = Field("", max_length=digest_subs.MAX_SEARCH_CHARS)


Category = Annotated[
    str,
    Field(
        max_length=digest_subs.MAX_CATEGORY_CHARS, pattern=digest_subs.CATEGORY.pattern, examples=["cs.CL"]
    ),
]


class DigestSettings(BaseModel):
    """What the digest sends and when (the account page's digest preferences); a field left out takes
    its default."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [DIGEST_EXAMPLE]})

    frequency: Literal["daily", "weekly"] = "daily"
    weekday: int = Field(0, ge=0, le=6, description="the day of a weekly digest, 0 = Monday")
    send_hour: int = Field(8, ge=0, le=23, description="the hour it is sent, in `timezone`")
    timezone: str = Field("UTC", max_length=digest_subs.MAX_ZONE_CHARS, description="an IANA time zone")
    max_papers: int = Field(10, ge=1, le=digest_subs.MAX_PAPERS)
    categories: list[Category] = Field(
        default_factory=list,
        max_length=digest_subs.MAX_CATEGORIES,
        description="arXiv categories (none: all)",
    )
    min_upvotes: int = Field(0, ge=0, le=digest_subs.MAX_MIN_UPVOTES)
    paused: bool = False
    searches: list[SavedSearch] = Field(default_factory=list, max_length=digest_subs.MAX_SAVED_SEARCHES)

    def preferences(self) -> digest_subs.Preferences:
        """As the digest's Preferences (their own checks: a known time zone, arXiv categories);
        BadRequest says what is refused."""
        try:
            return digest_subs.Preferences.model_validate(
                {
                    **self.model_dump(exclude={"searches"}),
                    "searches": [(s.include.strip(), s.exclude.strip()) for s in self.searches],
                }
            )
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)
            )
            raise BadRequest(reasons) from None

    @classmethod
    def of(cls, prefs: digest_subs.Preferences) -> DigestSettings:
        """The API's form of stored preferences."""
        return cls.model_construct(
            **prefs.model_dump(exclude={"searches"}),
            searches=[SavedSearch.model_construct(include=i, exclude=e) for i, e in prefs.searches],
        )


class DigestSubscription(BaseModel):
    """The token's member's digest subscription."""

    model_config = _examples(
        {"email": "ada@example.org", "status": "active", "paused_reason": None, "preferences": DIGEST_EXAMPLE}
    )

    email: str
    status: Literal["pending", "active", "paused", "unsubscribed"]
    paused_reason: str | None
    preferences: DigestSettings


class SubscriptionRequest(BaseModel):
    """An address to subscribe to the digest (double opt-in: a mail asks it to confirm)."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"email": "reader@example.org"}]}
    )

    email: EmailStr = Field(max_length=digest_subs.MAX_EMAIL_CHARS)


class SubscriptionRequested(BaseModel):
    """The same answer whatever the address's state, so that it tells nobody who is subscribed."""

    model_config = _examples(
        {
            "email": "reader@example.org",
            "detail": "Check your inbox: the subscription starts once you open the link we sent to "
            "reader@example.org.",
        }
    )

    email: str  # the address, normalised
    detail: str


class ModerationLog(BaseModel):
    """A page of the public moderation log, newest first."""

    model_config = _examples(
        {
            "total": 12,
            "items": [
                {
                    "id": 12,
                    "created_at": "2026-07-01T10:04:00Z",
                    "moderator": "grace",
                    "action": "hide-comment",
                    "action_label": "hid a comment",
                    "target_kind": "comment",
                    "target": "comment #15 by spammer on 2606.31315",
                    "url": "/papers/2606.31315#c15",
                    "reason": "advertising",
                }
            ],
            "next_cursor": None,
        }
    )

    total: int
    items: list[ModerationLogEntry]
    next_cursor: str | None


# --- paging ----------------------------------------------------------------------------------------


def _page_after(
    fetch: Callable[[int, int], list[T]], key: Callable[[T], str], at: Position | None, limit: int
) -> tuple[list[T], int, bool]:
    """The page of `limit` items after the position `at` (from the start without one): the items, the
    offset of the first, and whether more follow. `fetch(offset, count)` reads the list in order."""
    if at is None:
        rows = fetch(0, limit + 1)
        return rows[:limit], 0, len(rows) > limit
    # The anchor was at offset - 1: look for it up to `limit` places earlier or later (one read).
    low = max(0, at.offset - limit)
    rows = fetch(low, at.offset - low + 2 * limit + 1)
    keys = [key(row) for row in rows[: at.offset - low + limit]]
    start = keys.index(at.anchor) + 1 if at.anchor in keys else at.offset - low
    page = rows[start : start + limit + 1]
    return page[:limit], low + start, len(page) > limit


def _next_cursor(
    kind: str, scope: tuple[str, ...], items: list[T], start: int, more: bool, key: Callable[[T], str]
) -> str | None:
    if not more:
        return None
    return encode_cursor(Position(kind, scope, start + len(items), key(items[-1])))


# --- feeds -------------------------------------------------------------------------------------------


def _period_link(kind: PeriodKind, day: date | None, sort: SortOrder) -> PeriodLink | None:
    if day is None:
        return None
    period = period_containing(kind, day)
    query = f"?sort={sort}" if sort != "trending" else ""
    return PeriodLink(key=period.key, label=period.label, url=f"/api/v1/feeds/{kind}/{period.key}{query}")


def feed_items(
    db: Database, settings: Settings, period: Period, sort: SortOrder, limit: int | None, cursor: str | None
) -> FeedItems:
    """A page of the papers of a period in `sort` order (an empty period: no items, with links to the
    nearest periods that have papers)."""
    size = page_limit(settings, limit)
    scope = (period.kind, period.key, sort)
    at = _continued(cursor, "feed", scope)

    def key(row: dict[str, Any]) -> str:
        return str(row["arxiv_id"])

    with db.read() as conn:
        total = feed_q.count_in_period(conn, period.start, period.end)
        rows, start, more = _page_after(
            lambda offset, count: feed_q.papers_in_period(
                conn, period.start, period.end, sort, count, offset
            ),
            key,
            at,
            size,
        )
        before = feed_q.previous_feed_day(conn, period.start)
        after = feed_q.next_feed_day(conn, period.end)
    return FeedItems(
        kind=period.kind,
        key=period.key,
        label=period.label,
        start=period.start,
        end=period.end,
        sort=sort,
        total=total,
        items=[PaperCard.from_row(row) for row in rows],
        next_cursor=_next_cursor("feed", scope, rows, start, more, key),
        previous=_period_link(period.kind, before, sort),
        next=_period_link(period.kind, after, sort),
    )


def latest_feed_items(
    db: Database, settings: Settings, sort: SortOrder, limit: int | None, cursor: str | None
) -> FeedItems:
    """A page of the newest feed day; a cursor continues the day it was made on, even once a newer
    day has come (NotFound while the feed is empty)."""
    period = None
    if cursor is not None:
        position = decode_cursor(cursor)
        if position.kind == "feed" and position.scope[:1] == ("date",) and len(position.scope) == 3:
            period = feed_service.feed_period("date", position.scope[1])
    return feed_items(db, settings, period or feed_service.latest_period(db, settings), sort, limit, cursor)


# --- search and papers -------------------------------------------------------------------------------


def search_results(
    db: Database,
    settings: Settings,
    q: str,
    page: int | None,
    mode: str | None,
    limit: int | None,
    cursor: str | None,
) -> SearchResults:
    """A page of search results by `page` or by cursor (of `limit` results, by default the setting
    page_size), with the next page's cursor."""
    if cursor is not None and page is not None:
        raise BadRequest("page, cursor: give one or the other")
    scope = (hashlib.sha256(f"{mode or ''}\n{q}".encode("utf-8", "surrogatepass")).hexdigest()[:16],)
    at = _continued(cursor, "search", scope)
    if at is not None and at.size is not None:
        # An offset cursor continues pages of its own size.
        if limit is not None and limit != at.size:
            raise BadRequest(f"limit: this cursor continues pages of {at.size} results; leave limit out")
        size = at.size
        page = at.offset // size + 1
    else:
        size = page_limit(settings, limit, settings.page_size)
    result = search_service.search(db, settings, q, page or 1, mode, size)
    more = result.page < result.pages
    following = encode_cursor(Position("search", scope, result.page * size, size=size)) if more else None
    return SearchResults(**dict(result), next_cursor=following)


def similar_papers(db: Database, settings: Settings, arxiv_id: str) -> SimilarPapers:
    """The ten papers nearest to a stored paper (any spelling of its id)."""
    detail = paper_service.paper_detail(db, settings, arxiv_id)
    return SimilarPapers(
        arxiv_id=detail.arxiv_id, similar=search_service.similar(db, settings, detail.arxiv_id)
    )


def paper_comments(
    db: Database, settings: Settings, arxiv_id: str, viewer: Member | None, now: datetime
) -> CommentThread:
    """The comments of a stored paper (any spelling of its id) as `viewer` sees them."""
    detail = paper_service.paper_detail(db, settings, arxiv_id)
    return comment_service.thread(db, settings, detail.arxiv_id, viewer, now)


# --- submissions -------------------------------------------------------------------------------------


def submit(
    db: Database,
    settings: Settings,
    member: Member,
    wanted: SubmissionCreate,
    now: datetime,
    fetch: submission_service.Fetch | None = None,
) -> SubmissionCreated:
    """Submit a paper to today's feed as the member (services.submissions.submit_paper: its refusals
    as raised there), then post its first comment, whose refusal is told in `comment_error`."""
    done = submission_service.submit_paper(db, settings, member, wanted.arxiv_id, now, fetch)
    comment, error = None, None
    if wanted.comment.strip():
        try:
            comment = comment_service.post_comment(
                db, settings, member, done.arxiv_id, wanted.comment, None, now
            )
        except (BadRequest, Forbidden, NotFound, TooMany) as exc:
            error = str(exc)
    return SubmissionCreated(**dict(done), comment=comment, comment_error=error)


def member_submissions(
    db: Database, settings: Settings, username: str, limit: int | None, cursor: str | None
) -> SubmissionList:
    """A page of the papers the member called `username` (any case) submitted, newest day first."""
    size = page_limit(settings, limit)
    with db.read() as conn:
        row = accounts_q.member_by_username(conn, username) if valid_username(username) else None
        if row is None:
            raise NotFound(f"There is no member called {username!r}.")
        scope = (str(row.id),)
        at = _continued(cursor, "submissions", scope)
        # store.members reads the newest `count` submissions; a member has a few hundred at most.
        entries, start, more = _page_after(
            lambda offset, count: members_q.submissions_of(conn, row.id, offset + count)[offset:],
            _submission_key,
            at,
            size,
        )
    return SubmissionList(
        username=row.username,
        items=[
            MemberSubmission(day=e.feed_date, arxiv_id=e.arxiv_id, title=e.title, url=f"/papers/{e.arxiv_id}")
            for e in entries
        ],
        next_cursor=_next_cursor("submissions", scope, entries, start, more, _submission_key),
    )


def _submission_key(entry: Any) -> str:
    return f"{entry.feed_date}/{entry.arxiv_id}"


# --- the moderation log ------------------------------------------------------------------------------


def moderation_log(db: Database, settings: Settings, limit: int | None, cursor: str | None) -> ModerationLog:
    """A page of the public moderation log, newest first."""
    size = page_limit(settings, limit)
    at = _continued(cursor, "log", ())

    def key(row: Any) -> str:
        return str(row.id)

    with db.read() as conn:
        total = moderation_q.log_count(conn)
        rows, start, more = _page_after(
            lambda offset, count: moderation_q.log_rows(conn, offset, count), key, at, size
        )
        items = log_entries(conn, rows)
    return ModerationLog(
        total=total,
        items=items,
        next_cursor=_next_cursor("log", (), rows, start, more, key),
    )


# --- digest subscriptions ----------------------------------------------------------------------------


def _digest(found: subscription_service.Subscription) -> DigestSubscription:
    return DigestSubscription(
        email=found.email,
        status=found.status,
        paused_reason=found.paused_reason,
        preferences=DigestSettings.of(found.preferences),
    )


def _member_subscription(
    db: Database, signer: Signer, member: Member
) -> subscription_service.MemberSubscription:
    """The member's subscription (an ended one too); NotFound when there never was one."""
    found = subscription_service.member_subscription(db, signer, member)
    if found is None:
        raise NotFound("You have no digest subscription: PUT /api/v1/me/subscription starts one.")
    return found


def member_digest(db: Database, signer: Signer, member: Member) -> DigestSubscription:
    """The member's digest subscription (an ended one too); NotFound when there never was one."""
    return _digest(_member_subscription(db, signer, member).subscription)


def save_member_digest(
    db: Database, settings: Settings, signer: Signer, member: Member, wanted: DigestSettings, now: datetime
) -> DigestSubscription:
    """Subscribe the member's confirmed address with these settings, or change them (as the account
    page's one-click digest and the preferences page do); Forbidden without a confirmed address."""
    prefs = wanted.preferences()
    token = subscription_service.subscribe_member(db, signer, member, now).manage_token
    return _digest(subscription_service.save_preferences(db, settings, signer, token, prefs, now))


def end_member_digest(
    db: Database, settings: Settings, signer: Signer, member: Member, now: datetime
) -> DigestSubscription:
    """Unsubscribe the member (again: no change); NotFound when there never was a subscription."""
    token = _member_subscription(db, signer, member).manage_token
    return _digest(subscription_service.unsubscribe(db, settings, signer, token, now))


def request_subscription(
    db: Database, settings: Settings, signer: Signer, email: str, now: datetime
) -> tuple[SubscriptionRequested, bool]:
    """The anonymous double opt-in of the /subscribe form: queue the confirmation mail (at most one per
    address every few minutes); the answer, and whether a mail was queued. BadRequest for an address
    that is not one."""
    try:
        address = subscription_service.normalize_email(email)
    except subscription_service.InvalidEmail as exc:
        raise BadRequest(f"email: {exc}") from None
    queued = subscription_service.subscribe(db, settings, signer, address, now)
    detail = f"Check your inbox: the subscription starts once you open the link we sent to {address}."
    return SubscriptionRequested(email=address, detail=detail), queued
