"""Pages: the feed (day, week, month) and the paper page; each answers as HTML or JSON."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from dailypapers.core.periods import Period
from dailypapers.core.settings import Settings
from dailypapers.core.text import latex_to_unicode
from dailypapers.services import comments as comment_service
from dailypapers.services import feed as feed_service
from dailypapers.services import feeds as feeds_service
from dailypapers.services import papers as paper_service
from dailypapers.services import search as search_service
from dailypapers.services import votes as vote_service
from dailypapers.services.errors import NotFound
from dailypapers.services.feed import SortOrder
from dailypapers.services.runtime import Database
from dailypapers.web.auth import current_member
from dailypapers.web.forms import request_time
from dailypapers.web.params import DayParam, DbDep, ModeParam, PageParam, QueryParam, SettingsDep, SortParam
from dailypapers.web.render import render, wants_json

router = APIRouter()


def _voted(request: Request, db: Database, ids: list[str]) -> set[str]:
    """Which of these papers the signed-in member has upvoted (the pressed ▲ buttons)."""
    member = current_member(request)
    return vote_service.voted_ids(db, member.id if member else None, ids)


def _strip_json(key: str) -> str:
    return key[:-5] if key.endswith(".json") else key


def _not_found(request: Request, exc: NotFound) -> Response:
    """A 404 with the exception's links (nearest feed days, last page, the paper): as extra fields of
    the JSON error, and as links on the error page."""
    if wants_json(request):
        links = {name: link.model_dump(mode="json") for name, link in exc.links.items()}
        return JSONResponse({"error": {"status": 404, "message": str(exc), **links}}, status_code=404)
    context = {"status": 404, "title": "Not found", "message": str(exc), "links": exc.links}
    return render(request, "error.html", context, 404)


def _feed_response(
    request: Request,
    db: Database,
    settings: Settings,
    period: Period,
    sort: SortOrder | None,
    page: int | None,
    home: bool = False,
) -> Response:
    try:
        result = feed_service.feed_page(db, settings, period, sort or "trending", page or 1)
    except NotFound as exc:
        return _not_found(request, exc)
    if wants_json(request):
        return JSONResponse(result.model_dump(mode="json"))
    voted = _voted(request, db, [p.arxiv_id for p in result.papers])
    # The home page offers the daily list's feed first: the one to subscribe to.
    feeds = feeds_service.daily_feed_links(settings) if home else []
    feeds += feeds_service.period_feed_links(settings, result.kind, result.key, result.label)
    context = {"feed": result, "title": result.label, "voted": voted, "feeds": feeds}
    return render(request, "feed.html", context)


@router.get("/", summary="The latest feed day")
@router.get("/index.json", include_in_schema=False)
@router.get("/.json", include_in_schema=False)
def home(request: Request, db: DbDep, settings: SettingsDep, sort: SortParam = None, page: PageParam = None):
    """The newest day of the feed (a welcome page with set-up steps while the feed is empty)."""
    try:
        period = feed_service.latest_period(db, settings)
    except NotFound:
        if wants_json(request):
            raise
        return render(request, "empty.html", {"title": "Welcome"})
    return _feed_response(request, db, settings, period, sort, page, home=True)


@router.get("/papers/date", summary="Jump to a day (the date picker)")
def jump_to_day(day: DayParam, sort: SortParam = None):
    """Redirect `?day=YYYY-MM-DD` to that day's feed page (a 400 says what is wrong with the date)."""
    return RedirectResponse(feed_service.day_url(day, sort or "trending"), status_code=303)


def _similar_json(request: Request, arxiv_id: str, db: Database, settings: Settings) -> Response:
    try:
        detail = paper_service.paper_detail(db, settings, _strip_json(arxiv_id))
    except NotFound as exc:
        return _not_found(request, exc)
    cards = search_service.similar(db, settings, detail.arxiv_id)
    return JSONResponse({"arxiv_id": detail.arxiv_id, "similar": [c.model_dump(mode="json") for c in cards]})


@router.get("/papers/{arxiv_id}/similar", summary="The ten papers nearest to one (JSON)")
@router.get("/papers/{arxiv_id}/similar.json", include_in_schema=False)
def similar(request: Request, arxiv_id: str, db: DbDep, settings: SettingsDep):
    """Nearest papers by embedding, never the paper itself; [] until it has a vector. The id takes
    every form the paper page takes (a version, `.json`, an old-style id)."""
    return _similar_json(request, arxiv_id, db, settings)


@router.get("/papers/{archive}/{number}/similar", include_in_schema=False)
@router.get("/papers/{archive}/{number}/similar.json", include_in_schema=False)
def similar_old_style(request: Request, archive: str, number: str, db: DbDep, settings: SettingsDep):
    """Similar papers of an old-style id (hep-th/9901001)."""
    return _similar_json(request, f"{archive}/{number}", db, settings)


@router.get("/papers/{kind}/{key}", summary="The feed of a day, ISO week or month")
def feed(
    request: Request,
    kind: str,
    key: str,
    db: DbDep,
    settings: SettingsDep,
    sort: SortParam = None,
    page: PageParam = None,
):
    """`/papers/date/2026-06-30`, `/papers/week/2026-W27`, `/papers/month/2026-06` (+ `.json`)."""
    if kind not in ("date", "week", "month"):
        # /papers/<old-style id> such as /papers/hep-th/9901001 also has two segments.
        return paper(request, f"{kind}/{key}", db, settings)
    period = feed_service.feed_period(kind, _strip_json(key))
    return _feed_response(request, db, settings, period, sort, page)


@router.get("/papers/{arxiv_id}", summary="One paper")
def paper(request: Request, arxiv_id: str, db: DbDep, settings: SettingsDep):
    """The paper page: full abstract with math, all authors, links, similar papers (+ `.json`).

    Any other spelling of a stored paper (a version up to the stored one, `arXiv:`) redirects to
    its versionless address, which shows the newest stored version and says which it is; a
    version newer than the stored one is a 404.
    """
    try:
        detail = paper_service.paper_detail(db, settings, _strip_json(arxiv_id))
    except NotFound as exc:
        return _not_found(request, exc)
    if _strip_json(arxiv_id) != detail.arxiv_id:
        suffix = ".json" if arxiv_id.endswith(".json") else ""
        return RedirectResponse(f"/papers/{detail.arxiv_id}{suffix}", status_code=307)
    if wants_json(request):
        return JSONResponse(detail.model_dump(mode="json"))
    similar_cards = search_service.similar(db, settings, detail.arxiv_id)
    thread = comment_service.thread(
        db, settings, detail.arxiv_id, current_member(request), request_time(request)
    )
    # The tab title is text: its LaTeX as Unicode (the h1 renders it as MathML).
    return render(
        request,
        "paper.html",
        {
            "paper": detail,
            "title": latex_to_unicode(detail.title),
            "similar": similar_cards,
            "thread": thread,
            "voted": _voted(request, db, [detail.arxiv_id]),
            "feeds": feeds_service.comments_feed_links(detail.arxiv_id, detail.title),
        },
    )


@router.get("/search", summary="Search papers (HTML, or JSON with .json / Accept)")
@router.get("/search.json", include_in_schema=False)
def search(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    q: QueryParam = "",
    page: PageParam = None,
    mode: ModeParam = None,
):
    """The search page; an arXiv id or URL as the query opens that paper."""
    result = search_service.search(db, settings, q, page or 1, mode)
    if wants_json(request):
        return JSONResponse(result.model_dump(mode="json"))
    arxiv_id = search_service.query_arxiv_id(q)
    if arxiv_id and result.papers:
        return RedirectResponse(f"/papers/{arxiv_id}", status_code=303)
    return render(
        request,
        "search.html",
        {
            "result": result,
            "title": f"Search: {q}" if q else "Search",
            "q": q,
            "mode": mode,
            "voted": _voted(request, db, [p.arxiv_id for p in result.papers]),
            "feeds": feeds_service.search_feed_links(settings, q),
        },
    )
