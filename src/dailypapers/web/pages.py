"""Pages: the feed (day, week, month) and the paper page; each answers as HTML or JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from dailypapers import services
from dailypapers.core.periods import InvalidPeriod, Period, parse_period
from dailypapers.schemas import FeedPage, SearchPage
from dailypapers.search.query import parse_query
from dailypapers.search.service import (
    MODES,
    get_embedder_cached,
    search_options,
    search_papers,
    similar_papers,
)
from dailypapers.search.vectors import IndexConfig
from dailypapers.settings import Settings
from dailypapers.store.db import Database
from dailypapers.web.app import render, wants_json

router = APIRouter()


def _db(request: Request) -> Database:
    return request.app.state.db


def _settings(request: Request) -> Settings:
    return request.app.state.settings


DbDep = Annotated[Database, Depends(_db)]
SettingsDep = Annotated[Settings, Depends(_settings)]
SortParam = Annotated[str | None, Query(description="trending (default), upvotes or newest")]
PageParam = Annotated[str | None, Query(description="page number, from 1")]


def _strip_json(key: str) -> str:
    return key[:-5] if key.endswith(".json") else key


def _feed_response(request: Request, db: Database, settings: Settings, period: Period,
                   sort: str | None, page: str | None) -> Response:  # fmt: skip
    result: FeedPage = services.feed_page(
        db, period, services.parse_sort(sort), services.parse_page(page), settings.page_size
    )
    if wants_json(request):
        return JSONResponse(result.model_dump(mode="json"))
    return render(request, "feed.html", {"feed": result, "title": result.label})


@router.get("/", summary="The latest feed day")
@router.get("/index.json", include_in_schema=False)
def home(request: Request, db: DbDep, settings: SettingsDep, sort: SortParam = None, page: PageParam = None):
    """The newest day of the feed (a welcome page with set-up steps while the feed is empty)."""
    try:
        period = services.latest_period(db)
    except services.NotFound:
        if wants_json(request):
            raise
        return render(request, "empty.html", {"title": "Welcome"})
    return _feed_response(request, db, settings, period, sort, page)


@router.get("/papers/{arxiv_id}/similar", summary="The ten papers nearest to one (JSON)")
@router.get("/api/v1/papers/{arxiv_id}/similar", include_in_schema=False)
def similar(arxiv_id: str, db: DbDep, settings: SettingsDep):
    """Nearest papers by embedding, never the paper itself; [] until it has a vector."""
    detail = services.paper_detail(db, _strip_json(arxiv_id))
    cards = similar_papers(db, detail.arxiv_id, get_embedder_cached(settings.embedding_model),
                                   config=IndexConfig.from_settings(settings))
    return JSONResponse({"arxiv_id": detail.arxiv_id, "similar": [c.model_dump(mode="json") for c in cards]})


@router.get("/papers/{archive}/{number}/similar", include_in_schema=False)
def similar_old_style(archive: str, number: str, db: DbDep, settings: SettingsDep):
    """Similar papers of an old-style id (hep-th/9901001)."""
    return similar(f"{archive}/{number}", db, settings)


@router.get("/papers/{kind}/{key}", summary="The feed of a day, ISO week or month")
def feed(request: Request, kind: str, key: str, db: DbDep, settings: SettingsDep,
         sort: SortParam = None, page: PageParam = None):  # fmt: skip
    """`/papers/date/2026-06-30`, `/papers/week/2026-W27`, `/papers/month/2026-06` (+ `.json`)."""
    if kind not in ("date", "week", "month"):
        # /papers/<old-style id> such as /papers/hep-th/9901001 also has two segments.
        return paper(request, f"{kind}/{key}", db, settings)
    try:
        period = parse_period(kind, _strip_json(key))
    except InvalidPeriod as exc:
        raise services.BadRequest(str(exc)) from None
    return _feed_response(request, db, settings, period, sort, page)


@router.get("/papers/{arxiv_id}", summary="One paper")
def paper(request: Request, arxiv_id: str, db: DbDep, settings: SettingsDep):
    """The paper page: full abstract with math, all authors, links, similar papers (+ `.json`)."""
    detail = services.paper_detail(db, _strip_json(arxiv_id))
    if wants_json(request):
        return JSONResponse(detail.model_dump(mode="json"))
    similar_cards = similar_papers(db, detail.arxiv_id, get_embedder_cached(settings.embedding_model),
                                   config=IndexConfig.from_settings(settings))
    return render(request, "paper.html", {"paper": detail, "title": detail.title, "similar": similar_cards})


QueryParam = Annotated[str, Query(description="the search query (words, \"phrases\", prefix*, -exclude, "
                                               "title:/abstract:/author: fields, cat:, after:/before:)")]


ModeParam = Annotated[str | None, Query(description="hybrid (default setting), keyword or vector")]


def _search(db: Database, settings: Settings, q: str, page: str | None, mode: str | None = None) -> SearchPage:
    if mode not in (None, "", *MODES):
        raise services.BadRequest(f"invalid mode {mode!r}: expected one of {', '.join(MODES)}")
    options = search_options(settings, mode or None)
    return search_papers(db, q, services.parse_page(page), settings.page_size, options)


@router.get("/search", summary="Search papers (HTML, or JSON with .json / Accept)")
@router.get("/search.json", include_in_schema=False)
def search(request: Request, db: DbDep, settings: SettingsDep, q: QueryParam = "", page: PageParam = None,
           mode: ModeParam = None):  # fmt: skip
    """The search page; an arXiv id or URL as the query opens that paper."""
    result = _search(db, settings, q, page, mode)
    if wants_json(request):
        return JSONResponse(result.model_dump(mode="json"))
    parsed = parse_query(q)
    if parsed.arxiv_id and result.papers:
        return RedirectResponse(f"/papers/{parsed.arxiv_id}", status_code=303)
    return render(request, "search.html", {"result": result, "title": f"Search: {q}" if q else "Search",
                                           "q": q})  # fmt: skip


@router.get("/api/v1/search", summary="Search papers (JSON)")
def api_search(db: DbDep, settings: SettingsDep, q: QueryParam = "", page: PageParam = None,
               mode: ModeParam = None):  # fmt: skip
    """Hybrid (or keyword / vector) search; paper cards with the total, pages and matched terms."""
    return JSONResponse(_search(db, settings, q, page, mode).model_dump(mode="json"))

