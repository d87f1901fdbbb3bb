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
from typing import Any

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response

from dailypapers.digest.tokens import CSRF, InvalidToken, Signer, site_key

COOKIE = "dp_csrf"
_VALUE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


class CsrfError(PermissionError):
    """A form without a valid CSRF token (an old page, or another site posting)."""


def signer(request: Request) -> Signer:
    """The site's signer (its key is read from settings or the database once per app)."""
    state = request.app.state
    if getattr(state, "signer", None) is None:
        state.signer = Signer(site_key(state.db, state.settings.secret_key))
    return state.signer


class CsrfCookie(BaseHTTPMiddleware):
    """Gives every browser its CSRF cookie (set on the first response that lacks one)."""

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        value = request.cookies.get(COOKIE, "")
        fresh = not _VALUE.match(value)
        if fresh:
            value = secrets.token_urlsafe(32)
        request.state.csrf_cookie = value
        response = await call_next(request)
        if fresh:
            secure = request.app.state.settings.site_url.startswith("https://")
            response.set_cookie(COOKIE, value, httponly=True, samesite="lax", secure=secure, path="/")
        return response


def csrf_token(request: Request) -> str:
    """The token a form of this page carries (hidden field `csrf_token`)."""
    return signer(request).sign(CSRF, request.state.csrf_cookie)


def check_csrf(request: Request, token: str | None) -> None:
    """CsrfError unless `token` is this browser's signed cookie value."""
    cookie = request.cookies.get(COOKIE)
    try:
        value = signer(request).check(CSRF, token or "")
    except InvalidToken as exc:
        raise CsrfError("this form has expired or did not come from this site: reload the page and try again") from exc
    if not cookie or not secrets.compare_digest(str(value), cookie):
        raise CsrfError("this form has expired or did not come from this site: reload the page and try again")
