"""The Hugging Face Hub's paper API, same paths, parameters and JSON shapes (`/api/daily_papers`,
`/api/papers/...`, `/papers/{id}.md`), so that huggingface_hub's HfApi(endpoint=<this site>) works
unchanged; see docs/api.md for the mapping.

Reads are anonymous, cached (ETag, 304, Cache-Control) and open to other origins (web.security's
ReadCors); submitting takes a write token. Old-style ids (hep-th/9901001) have routes of their own,
left out of the schema as the pages' are."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from dailypapers.services import hub_api as hub
from dailypapers.services import submissions
from dailypapers.services.accounts import USERNAME
from dailypapers.services.schemas import Member
from dailypapers.web.conditional import cached_response
from dailypapers.web.forms import request_time, wake_outbox
from dailypapers.web.params import DbDep, QueryParam, SettingsDep
from dailypapers.web.render import problem_response
from dailypapers.web.tokens import api_member

router = APIRouter(tags=["Hub-compatible"])

JSON = "application/json"
MARKDOWN = "text/markdown"
# Bounds that stop absurd input before it is parsed; the settings give the real limit (api_max_limit).
LIMIT_BOUND = 1000
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: the client's copy (If-None-Match / If-Modified-Since) is current"}
}

# The app's Problem schema (web.app site_openapi adds it to the document).
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

DAILY = TypeAdapter(list[hub.HubDailyPaper])
COMMENTS = TypeAdapter(list[hub.HubComment])


class MarkdownResponse(Response):
    """A Markdown document (UTF-8)."""

    media_type = MARKDOWN


class SubmitBody(BaseModel):
    """POST /api/papers/submit."""

    model_config = ConfigDict(extra="ignore")
    paperId: str = Field(
        min_length=1, max_length=300, description="an arXiv id or URL", examples=["2607.01234"]
    )
    comment: str = Field("", max_length=100_000, description="an optional first comment (Markdown)")


# The API is for programs, so a blank value (`?date=`) is malformed, as the schema says, rather than
# absent as on the pages. The patterns describe the form; the period's own parser says what is wrong
# with, e.g., 2026-02-30.
DateParam = Annotated[
    Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")] | None,
    Query(alias="date", description="a day, YYYY-MM-DD", examples=["2026-07-01"]),
]
WeekParam = Annotated[
    Annotated[str, Field(pattern=r"^[0-9]{4}-W[0-9]{2}$")] | None,
    Query(description="an ISO week, YYYY-Www", examples=["2026-W27"]),
]
MonthParam = Annotated[
    Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$")] | None,
    Query(description="a month, YYYY-MM", examples=["2026-07"]),
]
SubmitterParam = Annotated[
    Annotated[str, Field(pattern=USERNAME.pattern, max_length=32)] | None,
    Query(description="only the papers this member (a username) submitted", examples=["ada"]),
]
HubSortParam = Annotated[
    hub.HubSort | None,
    Query(description="publishedAt (default: newest entry first) or trending"),
]
HubPageParam = Annotated[
    Annotated[int, Field(ge=0, le=hub.MAX_PAGE)] | None,
    Query(description="page number, from 0"),
]
LimitParam = Annotated[
    Annotated[int, Field(ge=1, le=LIMIT_BOUND)] | None,
    Query(description="items per page (default 50); more than the setting api_max_limit gives that many"),
]
PaperIdParam = Annotated[
    str, Path(max_length=64, description="an arXiv id (a version or `arXiv:` prefix is accepted)")
]
ArchiveParam = Annotated[str, Path(max_length=32)]
NumberParam = Annotated[str, Path(max_length=32)]


def write_member(request: Request) -> Member:
    """The member of the request's write token (401 without a valid one, 403 for a read token)."""
    member = api_member(request, "write")
    assert member is not None  # required: api_member raised otherwise
    return member


WriteMember = Annotated[Member, Depends(write_member)]


def _json(request: Request, max_age: int, body: bytes) -> Response:
    return cached_response(request, body, JSON, max_age=max_age)


@router.get(
    "/api/daily_papers",
    summary="The daily list (Hub: list_daily_papers)",
    response_model=list[hub.HubDailyPaper],
    responses=NOT_MODIFIED,
)
def daily_papers(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    day: DateParam = None,
    week: WeekParam = None,
    month: MonthParam = None,
    submitter: SubmitterParam = None,
    sort: HubSortParam = None,
    p: HubPageParam = None,
    limit: LimitParam = None,
) -> Response:
    """The papers of a day (`date`), ISO week or month (at most one of them; the most recent days
    when none), each once, in the Hub's item shape; `submitter` keeps a member's submissions;
    `sort` publishedAt (newest entry first) or trending; `p` (from 0) and `limit` page it. An empty
    period is []."""
    items = hub.daily_papers(
        db,
        settings,
        day=day,
        week=week,
        month=month,
        submitter=submitter,
        sort=sort or "publishedAt",
        page=p or 0,
        limit=limit or min(hub.DEFAULT_LIMIT, settings.api_max_limit),
    )
    return _json(
        request, settings.api_cache_seconds, DAILY.dump_json(items, by_alias=True, exclude_none=True)
    )


@router.get(
    "/api/papers/search",
    summary="Search papers (Hub: list_papers)",
    response_model=list[hub.HubDailyPaper],
    responses=NOT_MODIFIED,
)
def search(
    request: Request, db: DbDep, settings: SettingsDep, q: QueryParam = "", limit: LimitParam = None
) -> Response:
    """Our search (hybrid by default: words and meaning) with the query language of the search page;
    the first `limit` results as daily-papers items ([] for an empty query)."""
    items = hub.search(db, settings, q, limit or min(hub.DEFAULT_LIMIT, settings.api_max_limit))
    return _json(
        request, settings.api_cache_seconds, DAILY.dump_json(items, by_alias=True, exclude_none=True)
    )


@router.post(
    "/api/papers/submit",
    summary="Submit a paper to today's list (a write token)",
    status_code=201,
    response_model=hub.HubSubmitted,
    responses={
        409: {
            "description": "The paper is on the list already (today or recently); `url` is its entry",
            "content": PROBLEM,
        },
        502: {
            "description": "arXiv could not be asked about a paper this site does not know",
            "content": PROBLEM,
        },
    },
)
def submit(
    request: Request, body: SubmitBody, member: WriteMember, db: DbDep, settings: SettingsDep
) -> Response:
    """Put a paper (an arXiv id or URL) on today's (UTC) list as the token's member's submission, with
    an optional first comment; the rules of the submit page hold (age, daily cap, duplicates). 201
    with the new item."""
    try:
        result = hub.submit_paper(db, settings, member, body.paperId, body.comment, request_time(request))
    except submissions.AlreadyFeatured as exc:
        url = settings.site_url.rstrip("/") + exc.url
        return problem_response(request, 409, f"{exc} {url}", extra={"url": url})
    except submissions.ArxivUnavailable as exc:
        return problem_response(request, 502, str(exc))
    if body.comment.strip() and result.commentError is None:
        wake_outbox(request)  # @mentions queue mails
    body_json = result.model_dump_json(by_alias=True, exclude_none=True)
    return Response(body_json, status_code=201, media_type=JSON)


def _comments(request: Request, db: DbDep, settings: SettingsDep, arxiv_id: str) -> Response:
    items = hub.paper_comments(db, settings, arxiv_id)
    return _json(request, settings.api_cache_seconds, COMMENTS.dump_json(items, by_alias=True))


@router.get(
    "/api/papers/{arxiv_id:arxiv}/comments",
    summary="A paper's comments (not in the Hub's API)",
    response_model=list[hub.HubComment],
    responses=NOT_MODIFIED,
)
def comments(request: Request, arxiv_id: PaperIdParam, db: DbDep, settings: SettingsDep) -> Response:
    """The paper's comments in thread order (each top-level comment, oldest first, followed by its
    replies), as an anonymous reader sees them: hidden ones without text, deleted ones without
    author or text. 404 for an unknown paper."""
    return _comments(request, db, settings, arxiv_id)


@router.get("/api/papers/{archive}/{number}/comments", include_in_schema=False)
def comments_old_style(
    request: Request, archive: ArchiveParam, number: NumberParam, db: DbDep, settings: SettingsDep
) -> Response:
    """The comments of an old-style id (hep-th/9901001)."""
    return _comments(request, db, settings, f"{archive}/{number}")


def _paper(request: Request, db: DbDep, settings: SettingsDep, arxiv_id: str) -> Response:
    info = hub.paper_info(db, settings, arxiv_id)
    return _json(
        request, settings.api_cache_seconds, info.model_dump_json(by_alias=True, exclude_none=True).encode()
    )


@router.get(
    "/api/papers/{arxiv_id:arxiv}",
    summary="One paper (Hub: paper_info)",
    response_model=hub.HubPaperInfo,
    responses=NOT_MODIFIED,
)
def paper(request: Request, arxiv_id: PaperIdParam, db: DbDep, settings: SettingsDep) -> Response:
    """The paper in the Hub's shape, with its newest entry of the daily list and its comment count;
    any spelling of its id (a version, `arXiv:`). 404 for an unknown paper."""
    return _paper(request, db, settings, arxiv_id)


@router.get("/api/papers/{archive}/{number}", include_in_schema=False)
def paper_old_style(
    request: Request, archive: ArchiveParam, number: NumberParam, db: DbDep, settings: SettingsDep
) -> Response:
    """The paper of an old-style id (hep-th/9901001)."""
    return _paper(request, db, settings, f"{archive}/{number}")


def _markdown(request: Request, db: DbDep, settings: SettingsDep, arxiv_id: str) -> Response:
    text = hub.paper_markdown(db, settings, arxiv_id)
    return cached_response(request, text.encode(), MARKDOWN, max_age=settings.api_cache_seconds)


@router.get(
    "/papers/{arxiv_id}.md",
    summary="The paper page as Markdown (Hub: read_paper)",
    response_class=MarkdownResponse,
    responses=NOT_MODIFIED,
)
def paper_markdown(request: Request, arxiv_id: PaperIdParam, db: DbDep, settings: SettingsDep) -> Response:
    """Title, authors, links, upvotes, feed days, submitter, the abstract (math as LaTeX) and the
    comments (Markdown source, each quoted). 404 for an unknown paper."""
    return _markdown(request, db, settings, arxiv_id)


@router.get("/papers/{archive}/{number}.md", include_in_schema=False)
def paper_markdown_old_style(
    request: Request, archive: ArchiveParam, number: NumberParam, db: DbDep, settings: SettingsDep
) -> Response:
    """The Markdown page of an old-style id (hep-th/9901001)."""
    return _markdown(request, db, settings, f"{archive}/{number}")
