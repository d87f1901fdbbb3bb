"""/api/v1: the versioned JSON API (feeds, papers, search, similar, comments, votes, submissions,
subscriptions, members), described in /openapi.json; see docs/api.md for its stability promise."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from dailypapers.services import papers as paper_service
from dailypapers.services import search as search_service
from dailypapers.web.params import DbDep, ModeParam, PageParam, QueryParam, SettingsDep

router = APIRouter(tags=["API v1"])


@router.get("/api/v1/search", summary="Search papers (JSON)")
def api_search(
    db: DbDep, settings: SettingsDep, q: QueryParam = "", page: PageParam = None, mode: ModeParam = None
):
    """Hybrid (or keyword / vector) search; paper cards with the total, pages and matched terms."""
    return JSONResponse(search_service.search(db, settings, q, page or 1, mode).model_dump(mode="json"))


@router.get("/api/v1/papers/{arxiv_id}/similar", summary="The ten papers nearest to one")
def api_similar(arxiv_id: str, db: DbDep, settings: SettingsDep):
    """Nearest papers by embedding, never the paper itself; [] until it has a vector."""
    detail = paper_service.paper_detail(db, settings, arxiv_id)
    cards = search_service.similar(db, settings, detail.arxiv_id)
    return JSONResponse({"arxiv_id": detail.arxiv_id, "similar": [c.model_dump(mode="json") for c in cards]})
