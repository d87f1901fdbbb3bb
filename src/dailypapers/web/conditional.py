"""Conditional GET for every cacheable read (the API's JSON, feeds, exports): an ETag of the body,
Last-Modified when the content has a time, Cache-Control, and 304 Not Modified when the client's
If-None-Match (or, without it, If-Modified-Since) says it already has this body."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request
from fastapi.responses import Response

from dailypapers.core.models import as_utc


def etag_of(content: bytes) -> str:
    """A strong ETag: the body's SHA-256, shortened (the body decides it, byte for byte)."""
    return '"' + hashlib.sha256(content).hexdigest()[:32] + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    # Weak comparison (RFC 9110 13.1.2): W/"x" matches "x"; `*` matches any current body.
    wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in wanted or etag in wanted


def _not_modified_since(if_modified_since: str, last_modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False  # an unreadable date is ignored, as RFC 9110 says
    if since.tzinfo is None:
        return False
    return as_utc(last_modified).replace(microsecond=0) <= since


def cache_control(request: Request, max_age: int) -> str:
    """Public for anonymous reads; a request with credentials (a token, a session) gets its own copy only."""
    personal = "authorization" in request.headers or "cookie" in request.headers
    if personal:
        return "private, no-cache"
    return f"public, max-age={max_age}"


def cached_response(
    request: Request,
    content: bytes,
    media_type: str,
    *,
    max_age: int,
    last_modified: datetime | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """`content` with ETag, Last-Modified and Cache-Control, or 304 with the same headers and no body
    when the client's copy is current."""
    etag = etag_of(content)
    out = {"ETag": etag, "Cache-Control": cache_control(request, max_age), **(headers or {})}
    if last_modified is not None:
        out["Last-Modified"] = format_datetime(as_utc(last_modified).replace(microsecond=0), usegmt=True)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        fresh = _matches(if_none_match, etag)
    else:
        if_modified_since = request.headers.get("if-modified-since")
        fresh = bool(
            if_modified_since and last_modified and _not_modified_since(if_modified_since, last_modified)
        )
    if fresh and status_code == 200:
        return Response(status_code=304, headers=out)
    return Response(content, status_code=status_code, media_type=media_type, headers=out)
