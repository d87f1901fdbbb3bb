"""Templates and answers every page module shares: the Jinja environment, `render` (a page with the
site-wide context), `wants_json` (HTML or JSON from the same route) and error answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates

from dailypapers import __version__
from dailypapers.core.settings import Settings
from dailypapers.core.text import abstract_html, author_search_url, highlight, title_html
from dailypapers.web.csrf import csrf_token
from dailypapers.web.security import is_loopback, machine_path

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["abstract_html"] = abstract_html
templates.env.globals["highlight"] = highlight
templates.env.globals["title_html"] = title_html
templates.env.globals["author_search_url"] = author_search_url
templates.env.globals["version"] = __version__
templates.env.globals["csrf_token"] = csrf_token

ERROR_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    414: "Address too long",
    429: "Too many requests",
    502: "Bad gateway",
    503: "Busy",
}
PROBLEM_JSON = "application/problem+json"


def is_api(request: Request) -> bool:
    """True for the machine interfaces, whose errors are problem details (RFC 9457): the JSON APIs
    (/api/v1 and the Hub-compatible /api/...; not /api/docs, the Swagger page), the feeds and the
    exports (a feed reader or reference manager has no use for an error page)."""
    return machine_path(request.url.path)


def problem_response(
    request: Request,
    status_code: int,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """An RFC 9457 problem (application/problem+json): type, title, status, detail, instance, plus
    `error` (the same detail: the Hugging Face Hub's clients read this member) and `extra` members."""
    body = {
        "type": "about:blank",
        "title": ERROR_TITLES.get(status_code, "Something went wrong"),
        "status": status_code,
        "detail": detail,
        "instance": request.url.path,
        "error": detail,
        **(extra or {}),
    }
    response = JSONResponse(body, status_code, media_type=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


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


def message_page(request: Request, title: str, message: str, status_code: int = 200) -> Response:
    """A page that only says something (message.html): a result, or why something was refused."""
    return render(request, "message.html", {"title": title, "message": message}, status_code)


def error_response(
    request: Request, status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An error as a problem (the APIs), JSON or a page, never a stack trace; `headers` (Allow,
    Retry-After) are kept."""
    if is_api(request):
        return problem_response(request, status_code, message, headers)
    if wants_json(request):
        response: Response = JSONResponse({"error": {"status": status_code, "message": message}}, status_code)
    else:
        title = ERROR_TITLES.get(status_code, "Something went wrong")
        response = render(
            request, "error.html", {"status": status_code, "title": title, "message": message}, status_code
        )
    response.headers.update(headers or {})
    return response
