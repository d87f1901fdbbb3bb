"""/api/v1: the versioned JSON API (feeds, papers, search, similar, comments, votes, submissions,
subscriptions, members, the moderation log), described in /openapi.json with a model and an example for
every answer; docs/api.md has its stability promise.

Reads are conditional (web.conditional: ETag, 304, Cache-Control; a `Link: rel="next"` header when a
list goes on) and open to other origins (web.security.ReadCors). Writes take an API token only
(`Authorization: Bearer`, web.tokens.api_member), never the session cookie, so they need no CSRF token.
Every error is an RFC 9457 problem (application/problem+json); a NotFound's links (the nearest feed
periods, the stored paper) are extra members of it. The routes only call services (services.api).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from dailypapers.core.settings import Settings
from dailypapers.services import api
from dailypapers.services import comments as comment_service
from dailypapers.services import feed as feed_service
from dailypapers.services import members as member_service
from dailypapers.services import papers as paper_service
from dailypapers.services import submissions as submission_service
from dailypapers.services import votes as vote_service
from dailypapers.services.accounts import USERNAME
from dailypapers.services.errors import BadRequest, NotFound
from dailypapers.services.feed import SortOrder
from dailypapers.services.runtime import Database
from dailypapers.services.schemas import Member
from dailypapers.web.conditional import cached_response
from dailypapers.web.csrf import signer
from dailypapers.web.forms import request_time, wake_outbox
from dailypapers.web.params import ArchivePath, ArxivIdPath, DbDep, NumberPath, QueryParam, SettingsDep
from dailypapers.web.render import PROBLEM_JSON, problem_response
from dailypapers.web.tokens import api_member


class ProblemRoute(APIRoute):
    """An API v1 route: a NotFound answers as a problem with its links as extra members (the app's
    handler knows only the message)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except NotFound as exc:
                links = {name: link.model_dump(mode="json") for name, link in exc.links.items()}
                return problem_response(request, 404, str(exc), extra=links)

        return handle


def _once_each(request: Request) -> None:
    """BadRequest for a query parameter given more than once (FastAPI would take the last silently)."""
    params = request.query_params
    repeated = sorted({name for name in params if len(params.getlist(name)) > 1})
    if repeated:
        raise BadRequest(f"{', '.join(repeated)}: give each parameter once")


router = APIRouter(tags=["API v1"], route_class=ProblemRoute, dependencies=[Depends(_once_each)])

# --- parameters --------------------------------------------------------------------------------------
# The API takes its parameters as the schema states them: an empty value is not "the default" here, as
# it is on the pages (whose forms send empty fields), and each parameter comes at most once.

StrictSort = Annotated[SortOrder | None, Query(description="trending (default), upvotes or newest")]
StrictPage = Annotated[
    Annotated[int, Field(ge=1, le=100_000)] | None, Query(description="page number, from 1")
]
StrictMode = Annotated[
    Literal["hybrid", "keyword", "vector"] | None,
    Query(description="hybrid, keyword or vector (default: the setting search_mode)"),
]

LimitParam = Annotated[
    Annotated[int, Field(ge=1, le=1000)] | None,
    Query(description="items per page, default 50; at most the setting api_max_limit (100 by default)"),
]
CursorParam = Annotated[
    Annotated[str, Field(min_length=1, max_length=api.MAX_CURSOR_CHARS)] | None,
    Query(description="the `next_cursor` of the previous page, unchanged (opaque)"),
]
# A year, then a month (07), an ISO week (W27) or a day (07-01).
PERIOD_KEY = (
    r"^[1-9][0-9]{3}-(?:0[1-9]|1[0-2]|W(?:0[1-9]|[1-4][0-9]|5[0-3])"
    r"|(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]))$"
)
KindPath = Annotated[Literal["date", "week", "month"], Path(description="a day, an ISO week or a month")]
KeyPath = Annotated[
    str,
    Path(
        pattern=PERIOD_KEY,
        max_length=10,
        description="the period: 2026-07-01 (date), 2026-W27 (week) or 2026-07 (month)",
        examples=["2026-07-01"],
    ),
]
UsernamePath = Annotated[
    str,
    Path(pattern=USERNAME.pattern, max_length=32, description="a member's username", examples=["ada"]),
]


def _reader(request: Request) -> Member:
    member = api_member(request, "read")
    assert member is not None  # required: Unauthorized otherwise
    return member


def _writer(request: Request) -> Member:
    member = api_member(request, "write")
    assert member is not None  # required: Unauthorized otherwise
    return member


def _viewer(request: Request) -> Member | None:
    return api_member(request, "read", required=False)


ReaderDep = Annotated[Member, Depends(_reader)]
WriterDep = Annotated[Member, Depends(_writer)]
ViewerDep = Annotated[Member | None, Depends(_viewer)]

# --- declared answers --------------------------------------------------------------------------------

PROBLEMS = {
    400: "A parameter, the body or the cursor is malformed; the detail says which and why",
    401: "No API token, or one that is not valid (`WWW-Authenticate: Bearer`)",
    403: "The token may not do this: a read-only token on a write, or a member who may not act",
    404: "Not found; links to where to go instead, when there are any, are extra members",
    409: "The paper is on the feed already: `url` is its entry",
    429: "A rate limit: `Retry-After` says when to try again",
    502: "arXiv could not be asked about a paper this site does not have yet",
}
READ_HEADERS = {
    "ETag": {"description": "the answer's strong validator, for If-None-Match", "schema": {"type": "string"}},
    "Cache-Control": {
        "description": "public, max-age=... without credentials; private, no-cache with a token",
        "schema": {"type": "string"},
    },
    "Link": {"description": 'the next page: <...>; rel="next" (lists)', "schema": {"type": "string"}},
}


def _answers(*codes: int, read: bool = False) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route: its problems (application/problem+json), and for a read the
    validator headers and 304."""
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    answers: dict[int | str, dict[str, Any]] = {
        code: {"description": PROBLEMS[code], "content": problem} for code in codes
    }
    if read:
        answers[200] = {"headers": READ_HEADERS}
        answers[304] = {"description": "Not Modified: the copy If-None-Match names is current"}
    return answers


def _read(
    request: Request,
    settings: Settings,
    answer: BaseModel,
    next_cursor: str | None = None,
    personal: bool = False,
) -> Response:
    """A read's JSON answer, conditional; `Link: rel="next"` when there is a next page; `Vary:
    Authorization` when the answer depends on the token (`personal`)."""
    headers = {"Vary": "Authorization"} if personal else {}
    if next_cursor is not None:
        following = request.url.include_query_params(cursor=next_cursor)
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return cached_response(
        request,
        answer.model_dump_json().encode(),
        "application/json",
        max_age=settings.api_cache_seconds,
        headers=headers,
    )


def _written(answer: BaseModel, status_code: int = 200) -> Response:
    return Response(answer.model_dump_json(), status_code=status_code, media_type="application/json")


# --- feeds -------------------------------------------------------------------------------------------


@router.get(
    "/api/v1/feeds/latest",
    summary="The newest feed day",
    response_model=api.FeedItems,
    responses=_answers(400, 404, 429, read=True),
)
def latest_feed(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    sort: StrictSort = None,
    limit: LimitParam = None,
    cursor: CursorParam = None,
) -> Response:
    """The papers of the newest feed day in `sort` order, a page at a time; a cursor continues the day
    it was made on, even after a newer day arrives. 404 while the feed is empty."""
    page = api.latest_feed_items(db, settings, sort or "trending", limit, cursor)
    return _read(request, settings, page, page.next_cursor)


@router.get(
    "/api/v1/feeds/{kind}/{key}",
    summary="The feed of a day, ISO week or month",
    response_model=api.FeedItems,
    responses=_answers(400, 429, read=True),
)
def period_feed(
    request: Request,
    kind: KindPath,
    key: KeyPath,
    db: DbDep,
    settings: SettingsDep,
    sort: StrictSort = None,
    limit: LimitParam = None,
    cursor: CursorParam = None,
) -> Response:
    """`/api/v1/feeds/date/2026-07-01`, `/week/2026-W27`, `/month/2026-07`: the period's papers in
    `sort` order (a week's or month's trending is its own ranking), a page at a time. A period without
    papers has no items; `previous` and `next` name the nearest periods that have some."""
    period = feed_service.feed_period(kind, key)
    page = api.feed_items(db, settings, period, sort or "trending", limit, cursor)
    return _read(request, settings, page, page.next_cursor)


# --- search ------------------------------------------------------------------------------------------


@router.get(
    "/api/v1/search",
    summary="Search papers",
    response_model=api.SearchResults,
    responses=_answers(400, 429, read=True),
)
def api_search(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    q: QueryParam = "",
    page: StrictPage = None,
    mode: StrictMode = None,
    limit: Annotated[
        Annotated[int, Field(ge=1, le=1000)] | None,
        Query(description="results per page, default the setting page_size; at most api_max_limit"),
    ] = None,
    cursor: CursorParam = None,
) -> Response:
    """Hybrid (or keyword / vector) search: paper cards with the total, pages and matched terms; pages
    by `page` or by cursor (`next_cursor`), not both."""
    results = api.search_results(db, settings, q, page, mode, limit, cursor)
    return _read(request, settings, results, results.next_cursor)


# --- papers ------------------------------------------------------------------------------------------
# A new-style id (2606.00001, 2606.00001v2, arXiv:2606.00001) is one path segment; an old-style one
# (hep-th/9901001) is two, with routes of its own declared after the others, which they would shadow.


def _similar(request: Request, db: Database, settings: Settings, arxiv_id: str) -> Response:
    return _read(request, settings, api.similar_papers(db, settings, arxiv_id))


@router.get(
    "/api/v1/papers/{arxiv_id}/similar",
    summary="The ten papers nearest to one",
    response_model=api.SimilarPapers,
    responses=_answers(400, 404, 429, read=True),
)
def api_similar(request: Request, arxiv_id: ArxivIdPath, db: DbDep, settings: SettingsDep) -> Response:
    """Nearest papers by embedding, never the paper itself; [] until it has a vector. Any spelling of a
    stored paper's id (a version up to the stored one, `arXiv:`) answers for the stored paper."""
    return _similar(request, db, settings, arxiv_id)


def _comments(
    request: Request, db: Database, settings: Settings, viewer: Member | None, arxiv_id: str
) -> Response:
    thread = api.paper_comments(db, settings, arxiv_id, viewer, request_time(request))
    return _read(request, settings, thread, personal=True)


@router.get(
    "/api/v1/papers/{arxiv_id}/comments",
    summary="A paper's comments",
    response_model=api.PaperComments,
    responses=_answers(400, 401, 403, 404, 429, read=True),
)
def paper_comments(
    request: Request, arxiv_id: ArxivIdPath, db: DbDep, settings: SettingsDep, viewer: ViewerDep
) -> Response:
    """The discussion as a tree, oldest first: as anybody sees it, or with a token as its member does
    (what they may do with each comment; hidden ones' text for moderators)."""
    return _comments(request, db, settings, viewer, arxiv_id)


def _post_comment(
    request: Request,
    db: Database,
    settings: Settings,
    member: Member,
    arxiv_id: str,
    wanted: api.CommentCreate,
) -> Response:
    posted = comment_service.post_comment(
        db, settings, member, arxiv_id, wanted.body, wanted.parent_id, request_time(request)
    )
    wake_outbox(request)  # @mentions queue mails
    return _written(posted, 201)


@router.post(
    "/api/v1/papers/{arxiv_id}/comments",
    summary="Comment on a paper",
    status_code=201,
    response_model=api.PostedComment,
    responses=_answers(400, 401, 403, 404, 429),
)
def post_comment(
    request: Request,
    arxiv_id: ArxivIdPath,
    wanted: api.CommentCreate,
    db: DbDep,
    settings: SettingsDep,
    member: WriterDep,
) -> Response:
    """Post a comment (Markdown with $math$) or, with `parent_id`, a reply; a write token. The
    comment rules hold: its size, the thread's depth, and a rate per member (429, Retry-After)."""
    return _post_comment(request, db, settings, member, arxiv_id, wanted)


def _vote(
    request: Request, db: Database, settings: Settings, member: Member, arxiv_id: str, up: bool
) -> Response:
    state = vote_service.vote(db, settings, member, arxiv_id, up, request_time(request))
    return _written(state)


@router.put(
    "/api/v1/papers/{arxiv_id}/vote",
    summary="Upvote a paper",
    response_model=api.Upvote,
    responses=_answers(400, 401, 403, 404, 429),
)
def upvote(
    request: Request, arxiv_id: ArxivIdPath, db: DbDep, settings: SettingsDep, member: WriterDep
) -> Response:
    """The token's member upvotes the paper (a write token); idempotent: twice counts once."""
    return _vote(request, db, settings, member, arxiv_id, True)


@router.delete(
    "/api/v1/papers/{arxiv_id}/vote",
    summary="Take an upvote back",
    response_model=api.Upvote,
    responses=_answers(400, 401, 403, 404, 429),
)
def take_back_upvote(
    request: Request, arxiv_id: ArxivIdPath, db: DbDep, settings: SettingsDep, member: WriterDep
) -> Response:
    """The token's member takes their upvote back (a write token); idempotent."""
    return _vote(request, db, settings, member, arxiv_id, False)


def _paper(request: Request, db: Database, settings: Settings, arxiv_id: str) -> Response:
    return _read(request, settings, paper_service.paper_detail(db, settings, arxiv_id))


@router.get(
    "/api/v1/papers/{arxiv_id}",
    summary="One paper",
    response_model=api.PaperInfo,
    responses=_answers(400, 404, 429, read=True),
)
def paper(request: Request, arxiv_id: ArxivIdPath, db: DbDep, settings: SettingsDep) -> Response:
    """Everything the paper page shows: the full abstract, authors, links, feed days, upvotes. Any
    spelling of a stored paper's id answers for the stored paper; a newer version than the stored one
    is a 404 that links to the paper."""
    return _paper(request, db, settings, arxiv_id)


@router.get(
    "/api/v1/papers/{archive}/{number:arxiv_number}/similar",
    summary="The ten papers nearest to one (old-style id)",
    response_model=api.SimilarPapers,
    responses=_answers(400, 404, 429, read=True),
)
def old_style_similar(
    request: Request, archive: ArchivePath, number: NumberPath, db: DbDep, settings: SettingsDep
) -> Response:
    """As /api/v1/papers/{arxiv_id}/similar, for an id such as hep-th/9901001."""
    return _similar(request, db, settings, f"{archive}/{number}")


@router.get(
    "/api/v1/papers/{archive}/{number:arxiv_number}/comments",
    summary="A paper's comments (old-style id)",
    response_model=api.PaperComments,
    responses=_answers(400, 401, 403, 404, 429, read=True),
)
def old_style_comments(
    request: Request,
    archive: ArchivePath,
    number: NumberPath,
    db: DbDep,
    settings: SettingsDep,
    viewer: ViewerDep,
) -> Response:
    """As /api/v1/papers/{arxiv_id}/comments, for an id such as hep-th/9901001."""
    return _comments(request, db, settings, viewer, f"{archive}/{number}")


@router.post(
    "/api/v1/papers/{archive}/{number:arxiv_number}/comments",
    summary="Comment on a paper (old-style id)",
    status_code=201,
    response_model=api.PostedComment,
    responses=_answers(400, 401, 403, 404, 429),
)
def old_style_post_comment(
    request: Request,
    archive: ArchivePath,
    number: NumberPath,
    wanted: api.CommentCreate,
    db: DbDep,
    settings: SettingsDep,
    member: WriterDep,
) -> Response:
    """As POST /api/v1/papers/{arxiv_id}/comments, for an id such as hep-th/9901001."""
    return _post_comment(request, db, settings, member, f"{archive}/{number}", wanted)


@router.put(
    "/api/v1/papers/{archive}/{number:arxiv_number}/vote",
    summary="Upvote a paper (old-style id)",
    response_model=api.Upvote,
    responses=_answers(400, 401, 403, 404, 429),
)
def old_style_upvote(
    request: Request,
    archive: ArchivePath,
    number: NumberPath,
    db: DbDep,
    settings: SettingsDep,
    member: WriterDep,
) -> Response:
    """As PUT /api/v1/papers/{arxiv_id}/vote, for an id such as hep-th/9901001."""
    return _vote(request, db, settings, member, f"{archive}/{number}", True)


@router.delete(
    "/api/v1/papers/{archive}/{number:arxiv_number}/vote",
    summary="Take an upvote back (old-style id)",
    response_model=api.Upvote,
    responses=_answers(400, 401, 403, 404, 429),
)
def old_style_take_back_upvote(
    request: Request,
    archive: ArchivePath,
    number: NumberPath,
    db: DbDep,
    settings: SettingsDep,
    member: WriterDep,
) -> Response:
    """As DELETE /api/v1/papers/{arxiv_id}/vote, for an id such as hep-th/9901001."""
    return _vote(request, db, settings, member, f"{archive}/{number}", False)


@router.get(
    "/api/v1/papers/{archive}/{number:arxiv_number}",
    summary="One paper (old-style id)",
    response_model=api.PaperInfo,
    responses=_answers(400, 404, 429, read=True),
)
def old_style_paper(
    request: Request, archive: ArchivePath, number: NumberPath, db: DbDep, settings: SettingsDep
) -> Response:
    """As /api/v1/papers/{arxiv_id}, for an id such as hep-th/9901001."""
    return _paper(request, db, settings, f"{archive}/{number}")


# --- submissions -------------------------------------------------------------------------------------


@router.post(
    "/api/v1/submissions",
    summary="Submit a paper to today's feed",
    status_code=201,
    response_model=api.SubmissionCreated,
    responses=_answers(400, 401, 403, 404, 409, 429, 502),
)
def submit(
    request: Request, wanted: api.SubmissionCreate, db: DbDep, settings: SettingsDep, member: WriterDep
) -> Response:
    """Put a paper (an arXiv id or URL) on today's (UTC) feed as the token's member, "Submitted by"
    them, with an optional first comment (a write token). A paper this site does not have is fetched
    from arXiv (502 when arXiv cannot be asked). Refused: a paper too old, on the feed already (409,
    `url`: its entry), over the daily cap (429), unknown to arXiv (404)."""
    try:
        created = api.submit(db, settings, member, wanted, request_time(request))
    except submission_service.AlreadyFeatured as exc:
        return problem_response(request, 409, str(exc), extra={"url": exc.url})
    except submission_service.ArxivUnavailable as exc:
        return problem_response(request, 502, str(exc))
    if created.comment is not None:
        wake_outbox(request)  # @mentions queue mails
    return _written(created, 201)


@router.get(
    "/api/v1/members/{username}/submissions",
    summary="The papers a member submitted",
    response_model=api.SubmissionList,
    responses=_answers(400, 404, 429, read=True),
)
def member_submissions(
    request: Request,
    username: UsernamePath,
    db: DbDep,
    settings: SettingsDep,
    limit: LimitParam = None,
    cursor: CursorParam = None,
) -> Response:
    """Newest feed day first, a page at a time."""
    found = api.member_submissions(db, settings, username, limit, cursor)
    return _read(request, settings, found, found.next_cursor)


# --- members -----------------------------------------------------------------------------------------


@router.get(
    "/api/v1/members/{username}",
    summary="A member's public page",
    response_model=api.MemberProfile,
    responses=_answers(400, 401, 403, 404, 429, read=True),
)
def member(
    request: Request, username: UsernamePath, db: DbDep, settings: SettingsDep, viewer: ViewerDep
) -> Response:
    """Name, role, when they joined, their latest submissions and comments, and their upvotes when
    they make them public; a moderator's token also sees hidden comments and the member's ban."""
    found = member_service.member_page(db, settings, username, viewer, request_time(request))
    return _read(request, settings, found, personal=True)


@router.get(
    "/api/v1/me",
    summary="The token's member",
    response_model=api.Me,
    responses=_answers(401, 403, 429, read=True),
)
def me(request: Request, settings: SettingsDep, member: ReaderDep) -> Response:
    """Who the token belongs to, with their address and preferences (any token)."""
    return _read(request, settings, api.Me.of(member))


# --- digest subscriptions ----------------------------------------------------------------------------


@router.get(
    "/api/v1/me/subscription",
    summary="The token's member's digest subscription",
    response_model=api.DigestSubscription,
    responses=_answers(401, 403, 404, 429, read=True),
)
def my_subscription(request: Request, db: DbDep, settings: SettingsDep, member: ReaderDep) -> Response:
    """Its status (active, paused, unsubscribed) and settings (any token); 404 when there never was one."""
    return _read(request, settings, api.member_digest(db, signer(request), member))


@router.put(
    "/api/v1/me/subscription",
    summary="Subscribe the token's member to the digest, or change its settings",
    response_model=api.DigestSubscription,
    responses=_answers(400, 401, 403, 429),
)
def save_my_subscription(
    request: Request, wanted: api.DigestSettings, db: DbDep, settings: SettingsDep, member: WriterDep
) -> Response:
    """Subscribes the member's confirmed address at once (no second opt-in, as the account page's
    button) and sets what the digest holds and when (a write token); fields left out take their
    defaults. `paused: true` pauses it."""
    saved = api.save_member_digest(db, settings, signer(request), member, wanted, request_time(request))
    return _written(saved)


@router.delete(
    "/api/v1/me/subscription",
    summary="End the token's member's digest subscription",
    response_model=api.DigestSubscription,
    responses=_answers(401, 403, 404, 429),
)
def end_my_subscription(request: Request, db: DbDep, settings: SettingsDep, member: WriterDep) -> Response:
    """Unsubscribes (a write token); again: no change. 404 when there never was a subscription."""
    ended = api.end_member_digest(db, settings, signer(request), member, request_time(request))
    return _written(ended)


@router.post(
    "/api/v1/subscriptions",
    summary="Subscribe an address to the digest (double opt-in)",
    status_code=202,
    response_model=api.SubscriptionRequested,
    responses=_answers(400, 429),
)
def subscribe(
    request: Request, wanted: api.SubscriptionRequest, db: DbDep, settings: SettingsDep
) -> Response:
    """No token: the address gets a mail whose link starts the subscription (at most one such mail
    every few minutes). The answer is the same whatever the address's state."""
    answer, queued = api.request_subscription(
        db, settings, signer(request), wanted.email, request_time(request)
    )
    if queued:
        wake_outbox(request)
    return _written(answer, 202)


# --- moderation log ----------------------------------------------------------------------------------


@router.get(
    "/api/v1/moderation/log",
    summary="The public moderation log",
    response_model=api.ModerationLog,
    responses=_answers(400, 429, read=True),
)
def moderation_log(
    request: Request, db: DbDep, settings: SettingsDep, limit: LimitParam = None, cursor: CursorParam = None
) -> Response:
    """Every moderator action (hide, restore, keep, remove a submission, ban, unban, role), who did it
    and why, newest first, a page at a time."""
    log = api.moderation_log(db, settings, limit, cursor)
    return _read(request, settings, log, log.next_cursor)
