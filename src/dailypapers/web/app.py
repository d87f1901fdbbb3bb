"""The FastAPI application: wiring, templates, static files and error pages."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from dailypapers import __version__
from dailypapers.core.settings import Settings, get_settings
from dailypapers.core.text import abstract_html, author_search_url, highlight, title_html
from dailypapers.services.feed import BadRequest, NotFound
from dailypapers.store.db import Database
from dailypapers.web.security import HeadAsGet, RequestLimits, SecurityHeaders, is_loopback, security_headers

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["abstract_html"] = abstract_html
templates.env.globals["highlight"] = highlight
templates.env.globals["title_html"] = title_html
templates.env.globals["author_search_url"] = author_search_url
templates.env.globals["version"] = __version__


def _csrf_token(request: Request) -> str:
    from dailypapers.web.csrf import csrf_token

    return csrf_token(request)


templates.env.globals["csrf_token"] = _csrf_token


def wants_json(request: Request) -> bool:
    """True when the client asked for JSON by `.json` suffix or Accept header."""
    if request.url.path.endswith(".json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """Render an HTML page with the site-wide context."""
    settings: Settings = request.app.state.settings
    # The demo mailbox answers only on this machine (web.mailbox): no link to it for anyone else.
    mailbox = request.app.state.mailbox is not None and is_loopback(
        request.client.host if request.client else None
    )
    context = {"site_name": settings.site_name, "demo_mailbox": mailbox, **context}
    return templates.TemplateResponse(request, template, context, status_code=status_code)


ERROR_TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    414: "Address too long",
    503: "Busy",
}
# Seconds a client is asked to wait when every database connection is busy.
RETRY_AFTER_S = 5


def error_response(
    request: Request, status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An error as JSON or as a page, never a stack trace; `headers` (Allow, Retry-After) are kept."""
    if wants_json(request):
        response: Response = JSONResponse({"error": {"status": status_code, "message": message}}, status_code)
    else:
        title = ERROR_TITLES.get(status_code, "Something went wrong")
        response = render(
            request, "error.html", {"status": status_code, "title": title, "message": message}, status_code
        )
    response.headers.update(headers or {})
    return response


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
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _swagger_assets() -> Path:
    """Swagger UI's files, from the fastapi-offline package (so /api/docs works offline)."""
    import fastapi_offline

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


def create_app(
    settings: Settings | None = None, db: Database | None = None, mailbox: Path | None = None
) -> FastAPI:
    """Build the application for a database (created from settings when not given); `mailbox`: the
    demo's local Maildir, shown at /demo/mailbox."""
    settings = settings or get_settings()
    app = FastAPI(title=settings.site_name, version=__version__, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.db = db or Database(settings.database_url, busy_timeout=settings.sqlite_busy_timeout)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return error_response(request, 404, str(exc))

    @app.exception_handler(BadRequest)
    async def _bad_request(request: Request, exc: BadRequest) -> Response:
        return error_response(request, 400, str(exc))

    from dailypapers.web.csrf import CsrfError

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, exc: CsrfError) -> Response:
        return render(request, "message.html", {"title": "Please try again", "message": str(exc)}, 403)

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

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout) -> Response:
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

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.mount("/api/docs/assets", StaticFiles(directory=_swagger_assets()), name="api-docs-assets")
    from dailypapers.web import pages, subscriptions
    from dailypapers.web.csrf import CsrfCookie

    app.state.signer = None  # made on first use (web.csrf.signer)
    # The last added runs first: headers go on every answer, HEAD and the limits apply to all.
    app.add_middleware(CsrfCookie)
    app.add_middleware(RequestLimits)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders)
    app.include_router(pages.router)
    app.include_router(subscriptions.router)
    app.state.mailbox = mailbox
    if mailbox is not None:
        from dailypapers.web import mailbox as mailbox_pages

        app.include_router(mailbox_pages.router)
    return app
