"""RSS 2.0 and Atom feeds: the daily list, each day/week/month, each arXiv category, any search, each
member's submissions and each paper's comments. Every feed answers at `<address>.atom` and
`<address>.rss`, with conditional GET (web/conditional.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from dailypapers.core.settings import Settings
from dailypapers.services import feeds
from dailypapers.services.feeds import FORMAT_NAMES, FORMATS, LINK_TYPES, FeedDocument, FeedFormat
from dailypapers.services.search import MAX_QUERY_CHARS
from dailypapers.web.conditional import cached_response
from dailypapers.web.params import ArchivePath, ArxivIdPath, DbDep, NumberPath, SettingsDep

router = APIRouter(tags=["Feeds"])


def _responses(fmt: FeedFormat) -> dict[int | str, dict[str, Any]]:
    """What /openapi.json says a feed route answers besides the errors (problems, the app's `default`):
    the XML document, or 304."""
    return {
        200: {
            "description": f"The feed as {FORMAT_NAMES[fmt]} XML",
            "content": {LINK_TYPES[fmt]: {"schema": {"type": "string"}}},
        },
        304: {
            "description": "Not modified: the client's copy (If-None-Match / If-Modified-Since) is current"
        },
    }


def _feed_routes(path: str, summary: str, *, in_schema: bool = True) -> Callable[[Callable[..., Any]], Any]:
    """Register the decorated handler at `path.atom` and `path.rss`."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        for fmt in FORMATS:
            router.add_api_route(
                f"{path}.{fmt}",
                handler,
                methods=["GET"],
                summary=f"{summary} ({FORMAT_NAMES[fmt]})",
                response_class=Response,
                responses=_responses(fmt),
                include_in_schema=in_schema,
            )
        return handler

    return register


def feed_format(request: Request) -> FeedFormat:
    """The format a feed address asks for, by its suffix."""
    return "rss" if request.url.path.endswith(".rss") else "atom"


FormatDep = Annotated[FeedFormat, Depends(feed_format)]
KindPath = Annotated[str, Path(max_length=16, description="date, week or month", examples=["date"])]
KeyPath = Annotated[
    str,
    Path(
        max_length=32,
        description="a day, ISO week or month: 2026-06-30, 2026-W27 or 2026-06",
        examples=["2026-06-30"],
    ),
]
CategoryPath = Annotated[
    str,
    Path(max_length=32, pattern=feeds.CATEGORY_PATTERN, description="an arXiv category", examples=["cs.CL"]),
]
SearchParam = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        pattern=r"\S",
        description='the search (words, "phrases", prefix*, -exclude, title:/abstract:/author: fields, '
        "cat:, after:/before:)",
        examples=["contrastive -medical"],
    ),
]
UsernamePath = Annotated[str, Path(max_length=64, description="a member's username", examples=["member"])]


def _answer(request: Request, settings: Settings, document: FeedDocument) -> Response:
    return cached_response(
        request,
        document.content,
        document.media_type,
        max_age=settings.api_cache_seconds,
        last_modified=document.last_modified,
    )


@_feed_routes("/feed", "The daily list")
def daily(request: Request, db: DbDep, settings: SettingsDep, fmt: FormatDep) -> Response:
    """The newest featured papers (setting feed_items of them), newest feed day first, trending within
    a day: the feed to subscribe to."""
    return _answer(request, settings, feeds.daily_feed(db, settings, fmt))


# Before the period's route: /papers/<id>/comments.atom has two segments too.
@_feed_routes("/papers/{arxiv_id}/comments", "A paper's comments")
def comments(request: Request, arxiv_id: ArxivIdPath, db: DbDep, settings: SettingsDep, fmt: FormatDep):
    """The paper's visible comments (neither deleted nor hidden), newest first; 404 for a paper not
    stored here."""
    return _answer(request, settings, feeds.comments_feed(db, settings, arxiv_id, fmt))


@_feed_routes("/papers/{archive}/{number}/comments", "A paper's comments (old-style id)", in_schema=False)
def comments_old_style(
    request: Request,
    archive: ArchivePath,
    number: NumberPath,
    db: DbDep,
    settings: SettingsDep,
    fmt: FormatDep,
):
    """The comments feed of an old-style id (hep-th/9901001)."""
    return _answer(request, settings, feeds.comments_feed(db, settings, f"{archive}/{number}", fmt))


@_feed_routes("/papers/{kind}/{key}", "The papers of a day, ISO week or month")
def period(
    request: Request, kind: KindPath, key: KeyPath, db: DbDep, settings: SettingsDep, fmt: FormatDep
) -> Response:
    """`/papers/date/2026-06-30.atom`, `/papers/week/2026-W27.atom`, `/papers/month/2026-06.atom`: the
    period's papers in trending order (its first setting feed_items); 404 for another kind, a key
    that names no period, or a period without papers."""
    return _answer(request, settings, feeds.period_feed(db, settings, kind, key, fmt))


@_feed_routes("/categories/{category}", "The newest papers of an arXiv category")
def category(
    request: Request, category: CategoryPath, db: DbDep, settings: SettingsDep, fmt: FormatDep
) -> Response:
    """The newest featured papers with this category among theirs (`/categories/cs.CL.atom`)."""
    return _answer(request, settings, feeds.category_feed(db, settings, category, fmt))


@_feed_routes("/search", "A saved search")
def search(request: Request, q: SearchParam, db: DbDep, settings: SettingsDep, fmt: FormatDep) -> Response:
    """The newest featured papers matching the query (`?q=contrastive -medical`: every word, none of
    the excluded ones, fields, `cat:`, dates), newest first; 400 without a query."""
    return _answer(request, settings, feeds.search_feed(db, settings, q, fmt))


@_feed_routes("/users/{username}/submissions", "A member's submissions")
def submissions(
    request: Request, username: UsernamePath, db: DbDep, settings: SettingsDep, fmt: FormatDep
) -> Response:
    """The papers the member submitted to the daily list, newest first; 404 for no such member."""
    return _answer(request, settings, feeds.submissions_feed(db, settings, username, fmt))
