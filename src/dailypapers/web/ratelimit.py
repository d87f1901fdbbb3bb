"""Rate limits of the APIs (/api/..., not the /api/docs page): per token, and per client address
without one.

A request that carries an active token of this site (`Authorization: Bearer`) counts against that
token's bucket (settings.api_rate_limit_token); any other, a made-up or revoked token included (else
each invented token would get a fresh bucket), counts against its client address's
(settings.api_rate_limit_address). The `limits` library counts hits in a moving window. Every answer
says where its bucket stands: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds),
and the newer draft's pair (draft-ietf-httpapi-ratelimit-headers), `RateLimit-Policy: "token";q=600;w=60`
and `RateLimit: "token";r=599;t=42`. A spent bucket is answered 429, an RFC 9457 problem with
`Retry-After`, before the route runs.

The counts live in this process's memory (limits' MemoryStorage, one per app): each server process
counts on its own, so N processes allow up to N times the limits, and a restart forgets them. A
deployment that runs several processes and wants one count would give every process the same shared
storage, e.g. `limits.storage.storage_from_string("redis://host:6379")` in place of MemoryStorage
(the limiter is the same). The client address is the connection's, or the one uvicorn takes from
X-Forwarded-For when it runs with --proxy-headers behind a trusted proxy.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dailypapers.services import api_tokens
from dailypapers.services.errors import Busy
from dailypapers.web.render import problem_response
from dailypapers.web.tokens import bearer_token, remember_holder


@dataclass
class Limits:
    """An app's rate limiter and its two limits (made on the first API request)."""

    limiter: MovingWindowRateLimiter
    token: RateLimitItem
    address: RateLimitItem


def app_limits(scope: Scope) -> Limits:
    """The limiter of the request's app, made once from its settings and kept on its state."""
    state = scope["app"].state
    found: Limits | None = getattr(state, "api_rate_limits", None)
    if found is None:
        settings = state.settings
        found = state.api_rate_limits = Limits(
            limiter=MovingWindowRateLimiter(MemoryStorage()),
            token=parse(settings.api_rate_limit_token),
            address=parse(settings.api_rate_limit_address),
        )
    return found


async def bucket(scope: Scope) -> tuple[str, str]:
    """(policy, key) of a request: ("token", the first 32 hex digits of an active token's SHA-256), else
    ("address", the client address)."""
    secret = bearer_token(Headers(scope=scope))
    if secret:
        try:
            holder = await run_in_threadpool(api_tokens.token_holder, scope["app"].state.db, secret)
        except Busy:  # no connection free: count it against the address, as an unknown token
            holder = None
        else:  # the route's gate (web.tokens.api_member) uses it rather than reading it again
            remember_holder(scope, secret, holder)
        if holder is not None:
            return "token", api_tokens.secret_hash(secret)[:32]
    client = scope.get("client")
    return "address", client[0] if client else "unknown"


def rate_headers(policy: str, item: RateLimitItem, remaining: int, reset: int) -> dict[str, str]:
    """The RateLimit headers of an answer: the classic trio and the newer draft's pair."""
    return {
        "RateLimit-Limit": str(item.amount),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": f'"{policy}";q={item.amount};w={item.get_expiry()}',
        "RateLimit": f'"{policy}";r={remaining};t={reset}',
    }


def limited(path: str) -> bool:
    """The paths the limits count: the JSON APIs under /api/ (not the /api/docs page); feeds and
    exports are plain files to a cache, with their conditional GET."""
    return path.startswith("/api/") and not path.startswith("/api/docs")


class ApiRateLimit:
    """ASGI middleware: the API's rate limits (see the module's docstring)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not limited(scope["path"]):
            await self.app(scope, receive, send)
            return
        limits = app_limits(scope)
        policy, key = await bucket(scope)
        item = limits.token if policy == "token" else limits.address
        allowed = limits.limiter.hit(item, policy, key)
        stats = limits.limiter.get_window_stats(item, policy, key)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        headers = rate_headers(policy, item, stats.remaining, reset)
        if not allowed:
            who = "this token" if policy == "token" else "a client without a token"
            wait = max(1, reset)
            detail = f"Too many requests: {who} may make {item}; try again in {wait} seconds."
            response = problem_response(Request(scope), 429, detail, {**headers, "Retry-After": str(wait)})
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer = MutableHeaders(scope=message)
                for name, value in headers.items():
                    answer[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
