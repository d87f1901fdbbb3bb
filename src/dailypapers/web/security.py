"""App-wide guards as ASGI middleware: security headers, request size limits, and HEAD on every GET route."""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Forms are a few fields; 64 KiB is far above any real one and far below what costs memory.
MAX_BODY_BYTES = 64 * 1024
# Real addresses of this site are well under 1 KiB (a search query is at most 500 characters).
MAX_URL_BYTES = 8 * 1024

# No inline script anywhere (Swagger UI starts from /static/swagger-init.js). Styles: the site has no
# inline style, and MathML from latex2mathml is attributes, not style; Swagger UI sets styles through
# the DOM (allowed), so 'self' holds everywhere.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()"
# Pages that show a secret link: the demo mailbox lists everyone's confirmation and preference links.
_SECRET_PATH_PREFIXES = ("/demo/mailbox",)


def is_loopback(host: str | None) -> bool:
    """True for a loopback client address (127.0.0.0/8, ::1, or ::ffff:127.x)."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def carries_secret(scope: Scope) -> bool:
    """True for a request whose page shows a token: a `token` in the address, a form post (the
    preferences page answers it with the token in its form) or the demo mailbox."""
    if scope.get("method") == "POST" or scope.get("path", "").startswith(_SECRET_PATH_PREFIXES):
        return True
    query = scope.get("query_string", b"").decode("latin-1")
    return any(name == "token" for name, _ in parse_qsl(query, keep_blank_values=True))


def security_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The headers every response of the site carries (a response's own value of one wins)."""
    secret = carries_secret(scope)
    headers = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer" if secret else b"strict-origin-when-cross-origin"),
        (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    ]
    if secret:
        headers.append((b"cache-control", b"no-store"))
    return headers


class SecurityHeaders:
    """Adds security_headers() to every response; a header the response set itself is kept (the
    demo mailbox's sandbox CSP for a mail's own HTML), except Cache-Control, which no-store overrides."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in extra:
                    if name == b"cache-control":
                        headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
                    elif name in present:
                        continue
                    headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    """A request body over MAX_BODY_BYTES, found while it was being read."""


MACHINE_SUFFIXES = (".rss", ".atom", ".bib", ".ris", ".md")
PROBLEM_TITLES = {403: "Forbidden", 413: "Request too large", 414: "Address too long"}


def machine_path(path: str) -> bool:
    """True for the machine interfaces, whose errors are RFC 9457 problems: the JSON APIs (/api/...,
    not /api/docs, the Swagger page), the feeds and the exports."""
    if path.endswith(MACHINE_SUFFIXES):
        return True
    return path.startswith("/api/") and not path.startswith("/api/docs")


async def _send_plain(
    send: Send,
    status: int,
    text: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    path: str | None = None,
) -> None:
    """An answer of the middleware itself: plain text, or a problem (application/problem+json) on a
    machine path."""
    if path is not None and machine_path(path):
        detail = text.strip()
        problem = {
            "type": "about:blank",
            "title": PROBLEM_TITLES.get(status, "Error"),
            "status": status,
            "detail": detail,
            "instance": path,
            "error": detail,
        }
        body, content_type = json.dumps(problem).encode(), b"application/problem+json"
    else:
        body, content_type = text.encode(), b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """Refuses an address over MAX_URL_BYTES (414) and a body over MAX_BODY_BYTES (413) before any
    route reads them, so that no route has to bound them itself."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES, max_url: int = MAX_URL_BYTES):
        self.app = app
        self.max_body = max_body
        self.max_url = max_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if url_bytes > self.max_url:
            await _send_plain(
                send, 414, f"This address is too long: at most {self.max_url} bytes.\n", path=scope["path"]
            )
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"").strip()
        # The length check comes first: int() refuses a digit string over 4,300 characters.
        if declared.isdigit() and (len(declared) > 12 or int(declared) > self.max_body):
            await self._too_large(send, scope["path"])
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            # A body sent without Content-Length (chunked) is counted as it arrives.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._too_large(send, scope["path"])

    async def _too_large(self, send: Send, path: str) -> None:
        # Connection: close, because the rest of the body is left unread.
        await _send_plain(
            send,
            413,
            f"This request is too large: at most {self.max_body // 1024} KiB.\n",
            [(b"connection", b"close")],
            path,
        )


class HeadAsGet:
    """Answers HEAD on every GET route: the route runs as GET, and the body is dropped (the headers,
    Content-Length included, stay those of the GET)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        scope = {**scope, "method": "GET"}

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(scope, receive, send_headers_only)


# Reads anyone's page may make from another origin: the APIs, the feeds and the exports (public data;
# no credentials are allowed, so a browser never sends the member's cookie along).
_CORS_SUFFIXES = (".rss", ".atom", ".bib", ".ris", ".md")
_CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (
        b"access-control-expose-headers",
        b"ETag, Last-Modified, Link, Retry-After, RateLimit, RateLimit-Policy, RateLimit-Limit, "
        b"RateLimit-Remaining, RateLimit-Reset",
    ),
]


def cors_readable(path: str) -> bool:
    """True for a path whose GET other origins may read: /api/ (not its docs page), /openapi.json,
    the feeds (.rss, .atom) and the exports (.bib, .ris, .md)."""
    if path.startswith("/api/docs"):
        return False
    return path.startswith("/api/") or path == "/openapi.json" or path.endswith(_CORS_SUFFIXES)


class ReadCors:
    """CORS for reads (GET, HEAD and their preflight) on cors_readable paths; writes stay same-origin
    unless the client needs no preflight (a token-authenticated script outside a browser)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not cors_readable(scope["path"]):
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope.get("headers", []))
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in request_headers:
            wanted = request_headers[b"access-control-request-method"].decode("latin-1").upper()
            if wanted not in ("GET", "HEAD"):
                await _send_plain(
                    send, 403, "Only reads (GET, HEAD) are allowed from other origins.\n", path=scope["path"]
                )
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-origin", b"*"),
                        (b"access-control-allow-methods", b"GET, HEAD"),
                        (b"access-control-allow-headers", b"Authorization, If-None-Match, If-Modified-Since"),
                        (b"access-control-max-age", b"86400"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_CORS_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_cors)
