"""PoliteClient against a real local server (the replay server): retries, waits, politeness."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from dailypapers import __version__
from dailypapers.ingest.http import FetchError, PoliteClient
from dailypapers.testing.replay import ReplayServer, Reply

BODY = b"<feed>a recorded answer</feed>" * 20


class Sleeps:
    """An injected `sleep` that records each requested wait and sleeps (almost) not at all."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(0.001)


def answer(rest: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
    if rest.startswith("missing"):
        return Reply(404, b"no such page")
    return Reply(200, BODY, {"Content-Type": "application/xml"})


@pytest.fixture(scope="module")
def _server() -> Iterator[ReplayServer]:
    with ReplayServer({"/": answer}) as srv:
        yield srv


@pytest.fixture
def server(_server: ReplayServer) -> ReplayServer:
    """The module's server with an empty log and no queued faults (stopping one costs 0.5 s)."""
    _server.faults.clear()
    _server.log.clear()
    return _server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client_for(sleeps: Sleeps, **options: object) -> PoliteClient:
    defaults: dict[str, object] = {
        "timeout": 0.5,
        "retries": 4,
        "backoff_base": 0.01,
        "default_interval": 0.0,
        "rng": random.Random(7),
        "sleep": sleeps,
    }
    return PoliteClient(**{**defaults, **options})  # type: ignore[arg-type]


def test_429_with_retry_after_seconds_is_waited_out(server: ReplayServer, sleeps: Sleeps) -> None:
    server.inject(Reply(429, b"Too Many Requests", {"Retry-After": "7"}))
    with client_for(sleeps) as client:
        response = client.get(f"{server.url}/feed")
    assert response.status_code == 200 and response.content == BODY
    assert [entry.status for entry in server.log] == [429, 200]
    assert len(sleeps.waits) == 1 and sleeps.waits[0] >= 7
    assert [a.status for a in client.attempts] == [429, 200]
    assert client.attempts[0].waited == sleeps.waits[0]


def test_retry_after_as_an_http_date(server: ReplayServer, sleeps: Sleeps) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    server.inject(Reply(503, b"", {"Retry-After": format_datetime(when, usegmt=True)}))
    with client_for(sleeps) as client:
        assert client.get(f"{server.url}/feed").content == BODY
    # An HTTP date has whole seconds: the wait is 29–30 s after the request took a moment.
    assert len(sleeps.waits) == 1 and 28 <= sleeps.waits[0] <= 30


def test_503_then_success(server: ReplayServer, sleeps: Sleeps) -> None:
    server.inject(Reply(503, b"Service Unavailable"), Reply(502, b"Bad Gateway"))
    with client_for(sleeps) as client:
        assert client.get(f"{server.url}/feed").content == BODY
    assert [entry.status for entry in server.log] == [503, 502, 200]
    assert len(sleeps.waits) == 2


def test_a_delay_longer_than_the_timeout_is_retried(server: ReplayServer, sleeps: Sleeps) -> None:
    server.inject(Reply(200, BODY, delay=1.5))
    with client_for(sleeps, timeout=0.5) as client:
        assert client.get(f"{server.url}/feed").content == BODY
    assert len(server.log) == 2
    first = client.attempts[0]
    assert first.status is None and "Timeout" in (first.error or "")


@pytest.mark.parametrize("keep", [0, 100, len(BODY) - 1])
def test_a_body_cut_short_is_retried(server: ReplayServer, sleeps: Sleeps, keep: int) -> None:
    server.inject(Reply(200, BODY, {"Content-Type": "application/xml"}, truncate=keep))
    with client_for(sleeps) as client:
        response = client.get(f"{server.url}/feed")
    assert response.content == BODY
    assert len(server.log) == 2
    assert client.attempts[0].status is None and client.attempts[0].error


def test_retries_exhausted_is_a_fetch_error_naming_the_status(server: ReplayServer, sleeps: Sleeps) -> None:
    server.inject(*[Reply(503, b"down for maintenance")] * 3)
    with client_for(sleeps, retries=2) as client, pytest.raises(FetchError) as caught:
        client.get(f"{server.url}/feed")
    assert "HTTP 503" in str(caught.value) and "3 attempts" in str(caught.value)
    assert caught.value.status == 503 and caught.value.body == b"down for maintenance"
    assert len(server.log) == 3 and len(sleeps.waits) == 2


def test_network_errors_exhausted_name_the_error(server: ReplayServer, sleeps: Sleeps) -> None:
    server.inject(*[Reply(200, BODY, truncate=10)] * 2)
    with client_for(sleeps, retries=1) as client, pytest.raises(FetchError) as caught:
        client.get(f"{server.url}/feed")
    assert caught.value.status is None and "RemoteProtocolError" in str(caught.value)


def test_retry_after_above_max_wait_is_an_error(server: ReplayServer, sleeps: Sleeps) -> None:
    server.inject(Reply(429, b"", {"Retry-After": "3600"}))
    with client_for(sleeps, max_wait=60) as client, pytest.raises(FetchError) as caught:
        client.get(f"{server.url}/feed")
    assert "Retry-After" in str(caught.value) and caught.value.status == 429
    assert len(server.log) == 1 and sleeps.waits == []


def test_a_404_is_not_retried(server: ReplayServer, sleeps: Sleeps) -> None:
    with client_for(sleeps) as client, pytest.raises(FetchError) as caught:
        client.get(f"{server.url}/missing")
    assert caught.value.status == 404 and caught.value.body == b"no such page"
    assert len(server.log) == 1 and sleeps.waits == []


def test_a_304_is_an_answer(server: ReplayServer, sleeps: Sleeps) -> None:
    server.inject(Reply(304, b"", {"ETag": '"x"'}))
    with client_for(sleeps) as client:
        assert client.get(f"{server.url}/feed", headers={"If-None-Match": '"x"'}).status_code == 304
    assert server.log[0].headers["if-none-match"] == '"x"'


def test_a_redirect_is_a_fetch_error_not_followed(server: ReplayServer, sleeps: Sleeps) -> None:
    # A 301 must not reach a parser as if it were the feed (it would fail as "malformed XML").
    server.inject(Reply(301, b"", {"Location": "https://elsewhere.example/feed"}))
    with client_for(sleeps) as client, pytest.raises(FetchError) as caught:
        client.get(f"{server.url}/feed")
    assert caught.value.status == 301 and "https://elsewhere.example/feed" in str(caught.value)
    assert len(server.log) == 1


def test_backoff_grows_exponentially_with_jitter(server: ReplayServer, sleeps: Sleeps) -> None:
    server.inject(*[Reply(503, b"")] * 5)
    with client_for(sleeps, retries=5, backoff_base=1.0, max_wait=100) as client:
        assert client.get(f"{server.url}/feed").content == BODY
    assert len(sleeps.waits) == 5
    for n, wait in enumerate(sleeps.waits):
        assert 0.5 * 2**n <= wait <= 1.5 * 2**n, (n, wait)
    # Jittered: the waits are not the bare powers of two.
    assert any(wait != 2**n for n, wait in enumerate(sleeps.waits))


def test_backoff_bounds_and_cap() -> None:
    client = PoliteClient(backoff_base=2.0, max_wait=30.0, rng=random.Random(1))
    try:
        for n in range(8):
            samples = [client.backoff(n) for _ in range(300)]
            base = min(30.0, 2.0 * 2**n)
            assert all(0.5 * base <= s <= 1.5 * base for s in samples)
            # The jitter spreads over its whole range, not a constant factor.
            assert min(samples) < 0.6 * base and max(samples) > 1.4 * base
    finally:
        client.close()


def test_a_long_backoff_is_capped_at_max_wait(server: ReplayServer, sleeps: Sleeps) -> None:
    server.inject(*[Reply(503, b"")] * 3)
    with client_for(sleeps, retries=3, backoff_base=50.0, max_wait=20.0) as client:
        client.get(f"{server.url}/feed")
    assert len(sleeps.waits) == 3 and all(w <= 20.0 for w in sleeps.waits)


def test_user_agent_names_dailypapers_and_the_contact(server: ReplayServer, sleeps: Sleeps) -> None:
    with client_for(sleeps, contact="harvester@example.org") as client:
        client.get(f"{server.url}/feed")
    agent = server.log[0].headers["user-agent"]
    assert agent.startswith(f"dailypapers/{__version__} ")
    assert "mailto:harvester@example.org" in agent


def test_minimum_interval_between_two_requests_to_one_host(server: ReplayServer, sleeps: Sleeps) -> None:
    host = server.url.removeprefix("http://")
    with client_for(sleeps, intervals={host: 5.0}, default_interval=0.0) as client:
        start = time.monotonic()
        client.get(f"{server.url}/feed")
        assert sleeps.waits == []  # the first request waits for nothing
        client.get(f"{server.url}/feed")
        elapsed = time.monotonic() - start
        # Another host (here: the same server under another name) has its own interval.
        other = server.url.replace("127.0.0.1", "localhost")
        client.get(f"{other}/feed")
    assert len(sleeps.waits) == 1
    assert 5.0 - elapsed <= sleeps.waits[0] <= 5.0


def test_the_interval_also_separates_retries(server: ReplayServer, sleeps: Sleeps) -> None:
    host = server.url.removeprefix("http://")
    server.inject(Reply(503, b""))
    with client_for(sleeps, intervals={host: 3.0}, backoff_base=0.01) as client:
        client.get(f"{server.url}/feed")
    # The backoff (~0.01 s) is shorter than the interval: the rest of the interval is waited too.
    assert len(sleeps.waits) == 2 and sum(sleeps.waits) >= 2.5


class InFlight:
    """A route that counts how many requests it is serving at once."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.now = 0
        self.most = 0
        self.lock = threading.Lock()
        self.second = threading.Event()

    def __call__(self, rest: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            if self.now >= 2:
                self.second.set()
        # Hold the request until a second one arrives (or `hold` passes), so any overlap shows.
        self.second.wait(self.hold)
        with self.lock:
            self.now -= 1
        return Reply(200, BODY)


def _hammer(clients: list[PoliteClient], url: str, each: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def work(client: PoliteClient) -> None:
        try:
            for _ in range(each):
                client.get(url)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_two_threads_never_have_two_requests_to_one_host_in_flight(sleeps: Sleeps) -> None:
    route = InFlight(hold=0.05)
    with ReplayServer({"/": route}) as srv, client_for(sleeps) as client:
        errors = _hammer([client, client], f"{srv.url}/feed", each=6)
    assert errors == []
    assert len(srv.log) == 12
    assert route.most == 1


def test_the_in_flight_count_sees_two_clients_overlap(sleeps: Sleeps) -> None:
    # The control for the test above: two clients (no shared lock) do overlap, and it shows.
    route = InFlight(hold=5.0)
    with (
        ReplayServer({"/": route}) as srv,
        client_for(sleeps, timeout=10) as one,
        client_for(sleeps, timeout=10) as two,
    ):
        errors = _hammer([one, two], f"{srv.url}/feed", each=1)
    assert errors == []
    assert route.most == 2
