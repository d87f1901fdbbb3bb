"""Member pages `/users/<name>` (HTML or JSON) and the avatars drawn here from the username, so a
page that shows one sends no request off the site."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from dailypapers.services import feeds, members
from dailypapers.web.auth import current_member
from dailypapers.web.forms import request_time
from dailypapers.web.render import render, wants_json

router = APIRouter()
AVATAR_MAX_AGE = 86400  # seconds: a name's picture never changes


@router.get("/users/{username}/avatar.svg", summary="A member's avatar (SVG, drawn from the name)")
def avatar(username: str) -> Response:
    return Response(
        members.avatar(username),
        media_type="image/svg+xml",
        headers={"Cache-Control": f"public, max-age={AVATAR_MAX_AGE}"},
    )


@router.get("/users/{username}", summary="A member's page (+ `.json`)")
def member_page(request: Request, username: str) -> Response:
    """Submissions, comments and (when public) upvotes; any spelling of the name redirects to its own."""
    suffix = ".json" if username.endswith(".json") else ""
    name = username.removesuffix(suffix)
    state = request.app.state
    page = members.member_page(state.db, state.settings, name, current_member(request), request_time(request))
    if name != page.username:
        return RedirectResponse(f"{page.url}{suffix}", status_code=301)
    if wants_json(request):
        return JSONResponse(page.model_dump(mode="json"))
    context = {
        "title": page.name,
        "page": page,
        "feeds": feeds.submissions_feed_links(page.username, page.name),
    }
    return render(request, "member.html", context)
