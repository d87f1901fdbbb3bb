"""The errors every service raises for its callers to show: NotFound (404), BadRequest (400),
Unauthorized (401: no valid API token), Forbidden (403: the member may not do this), TooMany (429: a
rate limit) and Busy (503: every database connection of the pool stayed in use for the pool's timeout)."""

from __future__ import annotations

from sqlalchemy.exc import TimeoutError as Busy

from dailypapers.services.schemas import PeriodLink


class NotFound(LookupError):
    """The thing asked for does not exist; `links` say where to go instead (name → link)."""

    def __init__(self, message: str, links: dict[str, PeriodLink] | None = None) -> None:
        super().__init__(message)
        self.links = links or {}


class BadRequest(ValueError):
    """A parameter is malformed; the message says what is wrong."""


class Unauthorized(PermissionError):
    """No credentials, or credentials that are not valid (an unknown, revoked or malformed API token):
    401 with `WWW-Authenticate: Bearer`."""


class Forbidden(PermissionError):
    """The member (or nobody signed in) may not do this; the message says why in words."""


class TooMany(PermissionError):
    """A rate limit: the message says what and when; `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


__all__ = ["BadRequest", "Busy", "Forbidden", "NotFound", "TooMany", "Unauthorized"]
