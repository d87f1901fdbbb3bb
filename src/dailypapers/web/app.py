"""The FastAPI application: wiring, templates, static files and error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from dailypapers import __version__
from dailypapers.core.text import abstract_html, highlight
from dailypapers.services import BadRequest, NotFound
from dailypapers.settings import Settings, get_settings
from dailypapers.store.db import Database

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["abstract_html"] = abstract_html
templates.env.globals["highlight"] = highlight
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
    context = {"site_name": settings.site_name, "demo_mailbox": request.app.state.mailbox is not None, **context}
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def error_response(request: Request, status_code: int, message: str) -> Response:
    """An error as JSON or as a page, never a stack trace."""
    if wants_json(request):
        return JSONResponse({"error": {"status": status_code, "message": message}}, status_code=status_code)
    title = {400: "Bad request", 404: "Not found"}.get(status_code, "Something went wrong")
    return render(request, "error.html", {"status": status_code, "title": title, "message": message}, status_code)


def create_app(settings: Settings | None = None, db: Database | None = None, mailbox: Path | None = None) -> FastAPI:
    """Build the application for a database (created from settings when not given); `mailbox`: the
    demo's local Maildir, shown at /demo/mailbox."""
    settings = settings or get_settings()
    app = FastAPI(title=settings.site_name, version=__version__, docs_url="/api/docs", redoc_url=None)
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
        parts = ["{}: {}".format(".".join(str(p) for p in e["loc"][1:]) or "request", e["msg"]) for e in exc.errors()]
        return error_response(request, 400, "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
        return error_response(request, exc.status_code, message)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:  # pragma: no cover - last resort
        return error_response(request, 500, "An unexpected error occurred; it has been logged.")

    @app.get("/favicon.ico", include_in_schema=False)
    def _favicon() -> Response:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    from dailypapers.web import pages, subscriptions
    from dailypapers.web.csrf import CsrfCookie

    app.state.signer = None  # made on first use (web.csrf.signer)
    app.add_middleware(CsrfCookie)
    app.include_router(pages.router)
    app.include_router(subscriptions.router)
    app.state.mailbox = mailbox
    if mailbox is not None:
        from dailypapers.web import mailbox as mailbox_pages

        app.include_router(mailbox_pages.router)
    return app
