"""Rate limits of the APIs (/api/...): per token, and per client address without one."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class ApiRateLimit:
    """ASGI middleware: the API's rate limits (filled in by the tokens work)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
