"""PoliteClient: the one HTTP client every source fetches through.

Polite: it names itself (User-Agent with a contact address), sends one request at a time per host
and keeps a minimum interval between two requests to the same host. Patient: 429, 5xx, timeouts,
dropped connections and truncated bodies are retried with exponential backoff and jitter, and a
`Retry-After` header is honoured (seconds or an HTTP date). It never follows a URL it was not
configured with: sources build every address from a configured base URL.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from dailypapers import __version__

# Responses worth retrying: rate limited, or the server (or a proxy before it) is in trouble.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PROJECT_URL = "https://github.com/dailypapers/dailypapers"


class FetchError(RuntimeError):
    """A request that failed for good: retries exhausted, or an answer that retrying cannot fix."""

    def __init__(self, message: str, status: int | None = None, body: bytes = b""):
        super().__init__(message)
        self.status = status
        self.body = body


class Stopped(FetchError):
    """A wait was cut short because the process is stopping (not a failure of the source)."""


def user_agent(contact: str = "") -> str:
    """`dailypapers/0.1.0 (+project URL; mailto:contact)`: who is asking, and how to reach them."""
    parts = [f"+{PROJECT_URL}"]
    if contact:
        parts.append(f"mailto:{contact}")
    return f"dailypapers/{__version__} ({'; '.join(parts)})"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header in seconds: delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class Attempt:
    """One try of a request, kept for the run's report (and for tests)."""

    url: str
    status: int | None
    error: str | None
    waited: float  # seconds slept after this attempt before the next (0 for the last)


class PoliteClient:
    """GET with politeness and retries. Thread-safe; one request at a time per host."""

    def __init__(
        self,
        *,
        contact: str = "",
        timeout: float = 60.0,
        retries: int = 6,
        max_wait: float = 900.0,
        backoff_base: float = 2.0,
        intervals: Mapping[str, float] | None = None,
        default_interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.retries = retries
        self.max_wait = max_wait
        self.backoff_base = backoff_base
        self.intervals = dict(intervals or {})
        self.default_interval = default_interval
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.attempts: list[Attempt] = []
        self._host_locks: dict[str, threading.Lock] = {}
        self._last_request: dict[str, float] = {}
        self._locks_lock = threading.Lock()
        self._http = httpx.Client(
            headers={"User-Agent": user_agent(contact), "Accept-Encoding": "gzip"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _host_lock(self, host: str) -> threading.Lock:
        with self._locks_lock:
            return self._host_locks.setdefault(host, threading.Lock())

    def interval_for(self, host: str) -> float:
        """Minimum seconds between two requests to `host`."""
        return self.intervals.get(host, self.default_interval)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter for the n-th retry (0-based): base·2ⁿ·U(0.5, 1.5)."""
        return min(self.max_wait, self.backoff_base * (2**attempt)) * (0.5 + self.rng.random())

    def get(
        self, url: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """The response (2xx or 304) with its body read, after as many retries as allowed.

        Redirects are errors, not followed (see FetchError).

        Raises FetchError for any other final status (the body is kept for the caller to explain,
        e.g. arXiv's error feed on HTTP 400), after retries are exhausted, or when the server asks
        for a wait longer than max_wait.
        """
        host = urlsplit(url).netloc
        with self._host_lock(host):
            for attempt in range(self.retries + 1):
                self._keep_interval(host)
                error: str | None = None
                response: httpx.Response | None = None
                try:
                    response = self._http.get(url, params=params, headers=headers)
                    # Reading the whole body is part of the attempt: a truncated body
                    # (RemoteProtocolError) or a broken gzip stream (DecodingError) is retried.
                    response.read()
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                finally:
                    self._last_request[host] = time.monotonic()
                status = response.status_code if response is not None and error is None else None
                if status is not None and status not in RETRY_STATUSES:
                    self.attempts.append(Attempt(str(response.url), status, None, 0.0))  # type: ignore[union-attr]
                    if 300 <= status < 400 and status != 304:
                        # Redirects are not followed: every address comes from a configured base URL.
                        where = response.headers.get("Location", "?")  # type: ignore[union-attr]
                        raise FetchError(
                            f"HTTP {status} from {host} redirects to {where[:200]}; not followed "
                            "(set the base URL to the new address)",
                            status=status,
                        )
                    if status >= 400:
                        raise FetchError(
                            f"HTTP {status} from {host}",
                            status=status,
                            body=response.content,  # type: ignore[union-attr]
                        )
                    return response  # type: ignore[return-value]
                if attempt == self.retries:
                    self.attempts.append(Attempt(url, status, error, 0.0))
                    what = f"HTTP {status}" if status is not None else error
                    raise FetchError(
                        f"{what} from {host}, still failing after {self.retries + 1} attempts",
                        status=status,
                        body=response.content if status is not None and response is not None else b"",
                    )
                wait = self.backoff(attempt)
                if status is not None and response is not None:
                    asked = retry_after_seconds(response.headers.get("Retry-After"))
                    if asked is not None:
                        if asked > self.max_wait:
                            raise FetchError(
                                f"HTTP {status} from {host} asks to wait {asked:.0f} s "
                                f"(Retry-After), more than http_max_wait {self.max_wait:.0f} s",
                                status=status,
                            )
                        wait = max(wait, asked)
                wait = min(wait, self.max_wait)
                self.attempts.append(Attempt(url, status, error, wait))
                self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _keep_interval(self, host: str) -> None:
        last = self._last_request.get(host)
        if last is None:
            return
        remaining = self.interval_for(host) - (time.monotonic() - last)
        if remaining > 0:
            self.sleep(remaining)
