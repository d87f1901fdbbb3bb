"""The API's rate limits (web.ratelimit), on SQLite and PostgreSQL (a token's bucket depends on the
token being one of the site's): with tiny limits, the RateLimit headers count down, a spent address
gets 429 problem+json with Retry-After before the route runs, an active token has its own bucket and a
made-up one has none, and pages outside /api/ (and the /api/docs page) are not limited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dailypapers.core.settings import Settings
from dailypapers.services import accounts, api_tokens
from dailypapers.store.db import Database
from dailypapers.web.app import create_app

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ROUTE = "/api/test-limit"
DRAFT = re.compile(r'^"(token|address)";r=(\d+);t=(\d+)$')


@pytest.fixture
def settings(db: Database) -> Settings:
    return Settings(
        database_url=db.url,
        site_url="http://testserver",
        api_rate_limit_address="3/minute",
        api_rate_limit_token="5/minute",
    )


@pytest.fixture
def secrets(db: Database, settings: Settings) -> list[str]:
    """Two tokens of a confirmed member."""
    ada = accounts.create_user(
        db, settings, "ada", "ada@example.org", "correct horse battery 42", "member", START
    )
    return [api_tokens.create_token(db, settings, ada, name, "read", START).secret for name in ("a", "b")]


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
def client(settings: Settings, db: Database, calls: list[str]) -> Iterator[TestClient]:
    app = create_app(settings, db)

    def counted() -> dict[str, int]:
        calls.append(ROUTE)
        return {"calls": len(calls)}

    app.add_api_route(ROUTE, counted, methods=["GET"])
    with TestClient(app) as c:
        yield c


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def check_headers(answer: Any, policy: str, limit: int, remaining: int) -> None:
    """The classic trio and the draft pair agree on the bucket's state."""
    assert answer.headers["ratelimit-limit"] == str(limit)
    assert answer.headers["ratelimit-remaining"] == str(remaining)
    reset = int(answer.headers["ratelimit-reset"])
    assert 0 < reset <= 60
    assert answer.headers["ratelimit-policy"] == f'"{policy}";q={limit};w=60'
    found = DRAFT.match(answer.headers["ratelimit"])
    assert found and found.groups() == (policy, str(remaining), str(reset))


def test_an_address_is_limited(client: TestClient, calls: list[str]) -> None:
    for remaining in (2, 1, 0):
        answer = client.get(ROUTE)
        assert answer.status_code == 200
        check_headers(answer, "address", 3, remaining)
    refused = client.get(ROUTE)
    assert refused.status_code == 429 and len(calls) == 3  # the route did not run
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert set(body) == {"type", "title", "status", "detail", "instance", "error"}
    assert body["status"] == 429 and body["instance"] == ROUTE and body["title"] == "Too many requests"
    assert "3 per 1 minute" in body["detail"] and body["error"] == body["detail"]
    check_headers(refused, "address", 3, 0)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Every /api/ address counts, an unknown one too; HEAD as well.
    assert client.get("/api/nothing-here").status_code == 429
    assert client.head(ROUTE).status_code == 429


def test_a_token_has_its_own_bucket(client: TestClient, secrets: list[str], calls: list[str]) -> None:
    for _ in range(3):
        client.get(ROUTE)
    assert client.get(ROUTE).status_code == 429
    for remaining in (4, 3, 2, 1, 0):
        answer = client.get(ROUTE, headers=bearer(secrets[0]))
        assert answer.status_code == 200
        check_headers(answer, "token", 5, remaining)
    refused = client.get(ROUTE, headers=bearer(secrets[0]))
    assert refused.status_code == 429 and "this token" in refused.json()["detail"]
    assert len(calls) == 3 + 5
    # Another token of the same member counts on its own.
    answer = client.get(ROUTE, headers=bearer(secrets[1]))
    assert answer.status_code == 200
    check_headers(answer, "token", 5, 4)
    # A made-up token gets no bucket of its own: it counts against the address, spent already.
    made_up = client.get(ROUTE, headers=bearer("dp_" + "x" * 40))
    assert made_up.status_code == 429 and made_up.headers["ratelimit-policy"].startswith('"address"')


def test_pages_are_not_limited(client: TestClient) -> None:
    for _ in range(4):
        client.get(ROUTE)
    assert client.get(ROUTE).status_code == 429
    for path in ("/signin", "/api/docs", "/static/favicon.svg"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert "ratelimit-limit" not in answer.headers and "ratelimit" not in answer.headers


def test_each_app_counts_on_its_own(settings: Settings, db: Database, client: TestClient) -> None:
    for _ in range(3):
        client.get(ROUTE)
    assert client.get(ROUTE).status_code == 429
    with TestClient(create_app(settings, db)) as other:
        answer = other.get("/api/nothing-here")
        assert answer.status_code == 404
        check_headers(answer, "address", 3, 2)


def test_a_request_reads_its_token_once(client: TestClient, db: Database, secrets: list[str]) -> None:
    """The rate limits look the token up; the route's gate (api_member) uses that lookup."""
    client.app.state.clock = lambda: START  # type: ignore[attr-defined]
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "api_tokens" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        answer = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secrets[0]}"})
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert answer.status_code == 200 and answer.json()["username"] == "ada"
    assert len(statements) == 1
