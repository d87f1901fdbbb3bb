"""CSRF protection for every state-changing form: a signed double-submit token.

Each browser gets a random value in an HttpOnly, SameSite=Lax cookie; forms carry the value signed
with the site key (`csrf_token(request)` in templates). A POST is accepted only when the form's token
verifies and holds the cookie's value: another site can make the browser send the cookie, but cannot
read it or forge the signature. (The RFC 8058 one-click unsubscribe POST carries no cookie: its signed
link is its authority, see web.subscriptions.)
"""

from __future__ import annotations

import re
import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dailypapers.services import subscriptions
from dailypapers.services.subscriptions import CSRF, InvalidToken, Signer

COOKIE = "dp_csrf"
_VALUE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


class CsrfError(PermissionError):
    """A form without a valid CSRF token (an old page, or another site posting)."""


def signer(request: Request) -> Signer:
    """The site's signer (its key is read from settings or the database once per app)."""
    state = request.app.state
    if getattr(state, "signer", None) is None:
        state.signer = subscriptions.signer(state.db, state.settings)
    signer: Signer = state.signer
    return signer


class CsrfCookie:
    """Sets the browser's CSRF cookie on a response whose page rendered a form token (and the browser
    had no valid cookie yet); other responses set no cookie. Pure ASGI, so streaming is untouched."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        value = request.cookies.get(COOKIE, "")
        request.state.csrf_cookie = value if _VALUE.match(value) else None
        request.state.csrf_cookie_new = False

        async def send_with_cookie(message: Message) -> None:
            # Templates render before the response starts, so by now the page has asked or not.
            if message["type"] == "http.response.start" and request.state.csrf_cookie_new:
                cookie = Response()
                secure = scope["app"].state.settings.site_url.startswith("https://")
                cookie.set_cookie(
                    COOKIE, request.state.csrf_cookie, httponly=True, samesite="lax", secure=secure, path="/"
                )
                message["headers"] = [*message.get("headers", []), *cookie.raw_headers[-1:]]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def csrf_token(request: Request) -> str:
    """The token a form of this page carries (hidden field `csrf_token`); the first one of a browser
    without the cookie makes its value, which this response then sets."""
    if getattr(request.state, "csrf_cookie", None) is None:
        request.state.csrf_cookie = secrets.token_urlsafe(32)
        request.state.csrf_cookie_new = True
    return signer(request).sign(CSRF, request.state.csrf_cookie)


def check_csrf(request: Request, token: str | None) -> None:
    """CsrfError unless `token` (the form's field, else the X-CSRF-Token header a script or a JSON
    client sends) is this browser's signed cookie value."""
    token = token or request.headers.get("x-csrf-token")
    cookie = request.cookies.get(COOKIE)
    try:
        value = signer(request).check(CSRF, token or "")
    except InvalidToken as exc:
        raise CsrfError(
            "this form has expired or did not come from this site: reload the page and try again"
        ) from exc
    if not cookie or not secrets.compare_digest(str(value), cookie):
        raise CsrfError("this form has expired or did not come from this site: reload the page and try again")
