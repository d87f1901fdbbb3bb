"""The FastAPI application: wiring (routers, middleware), static files and error pages."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from dailypapers import __version__
from dailypapers.core.settings import Settings
from dailypapers.services.errors import BadRequest, Busy, Forbidden, NotFound, TooMany, Unauthorized
from dailypapers.services.runtime import Database, Wakeable
from dailypapers.web import (
    accounts,
    api_v1,
    comments,
    export,
    feeds,
    health,
    hub_api,
    members,
    moderation,
    pages,
    subscriptions,
    tokens,
    voting,
)
from dailypapers.web import mailbox as mailbox_pages
from dailypapers.web.accounts import SessionMember
from dailypapers.web.auth import SignInNeeded
from dailypapers.web.csrf import CsrfCookie, CsrfError
from dailypapers.web.ratelimit import ApiRateLimit
from dailypapers.web.render import error_response, message_page, wants_json
from dailypapers.web.security import HeadAsGet, ReadCors, RequestLimits, SecurityHeaders, security_headers

STATIC = Path(__file__).with_name("static")
# Seconds a client is asked to wait when every database connection is busy.
RETRY_AFTER_S = 5
API_DESCRIPTION = (
    "The machine interfaces of the site: the Hugging Face Hub-compatible paper API, our own versioned "
    "API (/api/v1), RSS/Atom feeds and citation exports. Writes take a personal API token "
    "(`Authorization: Bearer dp_...`, made on the account page). See docs/api.md."
)


def site_routes(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route of a route table, those of included routers too (newer FastAPI keeps an included
    router as one entry of app.routes; none of ours has a prefix)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from site_routes(included.routes)
        else:
            yield route


def allowed_methods(request: Request) -> str:
    """The Allow header of a path: the methods of every route that matches it (HEAD with GET)."""
    methods: set[str] = set()
    for route in site_routes(request.app.router.routes):
        match, _ = route.matches({**request.scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match != Match.NONE and route_methods:
            methods |= set(route_methods)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _swagger_assets() -> Path:
    """Swagger UI's files, from the fastapi-offline package (so /api/docs works offline)."""
    return Path(fastapi_offline.__file__).parent / "static"


def api_docs_html(title: str, openapi_url: str) -> str:
    """The /api/docs page: Swagger UI from local files, started by a script file (the CSP forbids
    inline scripts, and FastAPI's get_swagger_ui_html has one)."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)} · API</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js?v={escape(__version__)}"></script>
</body>
</html>
"""


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An RFC 9457 problem; `error` repeats `detail` for the Hugging Face Hub's clients.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string", "example": "Not found"},
        "status": {"type": "integer", "example": 404},
        "detail": {"type": "string", "example": "there is no paper 2401.99999 here"},
        "instance": {"type": "string", "example": "/api/v1/papers/2401.99999"},
        "error": {"type": "string", "example": "there is no paper 2401.99999 here"},
    },
    "additionalProperties": True,
}


def site_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document as the app really answers: a malformed parameter is a 400 problem
    (not FastAPI's 422 shape), and every other error of an operation (404, 401, 403, 429, 503, ...) is
    a problem too, which the `default` response says."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes, description=API_DESCRIPTION)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", {"description": "A parameter is malformed", "content": problem})
            responses.setdefault("default", {"description": "An error, as a problem", "content": problem})
    app.openapi_schema = schema
    return schema


def create_app(
    settings: Settings, db: Database, *, mailbox: Path | None = None, jobs: Wakeable | None = None
) -> FastAPI:
    """Build the application for a database; `mailbox`: the demo's local Maildir, shown at
    /demo/mailbox; `jobs`: the demo's in-process scheduler, woken when a page queues a mail."""
    app = FastAPI(title=settings.site_name, version=__version__, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.db = db
    app.state.jobs = jobs

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return error_response(request, 404, str(exc))

    @app.exception_handler(BadRequest)
    async def _bad_request(request: Request, exc: BadRequest) -> Response:
        return error_response(request, 400, str(exc))

    @app.exception_handler(Unauthorized)
    async def _unauthorized(request: Request, exc: Unauthorized) -> Response:
        return error_response(request, 401, str(exc), {"WWW-Authenticate": 'Bearer realm="api"'})

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return error_response(request, 403, str(exc))

    @app.exception_handler(TooMany)
    async def _too_many(request: Request, exc: TooMany) -> Response:
        return error_response(request, 429, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, exc: SignInNeeded) -> Response:
        if wants_json(request):
            return error_response(request, 401, "Please sign in first.")
        return RedirectResponse(exc.signin_url(), status_code=303)

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, exc: CsrfError) -> Response:
        return message_page(request, "Please try again", str(exc), 403)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        parts = [
            "{}: {}".format(".".join(str(p) for p in e["loc"][1:]) or "request", e["msg"])
            for e in exc.errors()
        ]
        return error_response(request, 400, "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return error_response(request, exc.status_code, message, headers)

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> Response:
        # Every connection is in use: a moment of overload, not a fault; the client may retry.
        return error_response(
            request,
            503,
            "The site is busy; please try again in a few seconds.",
            {"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        # ServerErrorMiddleware answers outside the other middleware: add the site's headers here.
        response = error_response(request, 500, "An unexpected error occurred; it has been logged.")
        for name, value in security_headers(request.scope):
            response.headers[name.decode()] = value.decode()
        return response

    @app.get("/api/docs", include_in_schema=False)
    def _api_docs() -> Response:
        return HTMLResponse(api_docs_html(settings.site_name, app.openapi_url or "/openapi.json"))

    @app.get("/favicon.ico", include_in_schema=False)
    def _favicon() -> Response:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/api/docs/assets", StaticFiles(directory=_swagger_assets()), name="api-docs-assets")
    app.state.signer = None  # made on first use (web.csrf.signer)
    # The last added runs first: headers go on every answer, CORS on the reads of the APIs, feeds and
    # exports, HEAD and the limits apply to all, the API's rate limits to /api/; the session's member is
    # looked up last, for the pages only.
    app.add_middleware(SessionMember)
    app.add_middleware(CsrfCookie)
    app.add_middleware(ApiRateLimit)
    app.add_middleware(RequestLimits)
    app.add_middleware(HeadAsGet)
    app.add_middleware(ReadCors)
    app.add_middleware(SecurityHeaders)
    # The routes of addresses with a suffix (/papers/<id>.md, .bib, .ris, .atom, .rss) come before the
    # pages' /papers/{arxiv_id}, which would take them otherwise.
    app.include_router(hub_api.router)
    app.include_router(feeds.router)
    app.include_router(export.router)
    app.include_router(api_v1.router)
    # The HTML pages (and their .json twins) are for browsers: /openapi.json describes the machine
    # interfaces only (the APIs, feeds and exports), each answer as it is.
    for router in (
        pages.router,
        tokens.router,
        subscriptions.router,
        accounts.router,
        voting.router,
        comments.router,
        moderation.router,
        members.router,
        health.router,
    ):
        app.include_router(router, include_in_schema=False)
    app.openapi = lambda: site_openapi(app)  # type: ignore[method-assign]
    app.state.mailbox = mailbox
    if mailbox is not None:
        app.include_router(mailbox_pages.router)
    return app
