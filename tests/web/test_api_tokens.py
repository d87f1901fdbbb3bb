"""Personal API tokens, on SQLite and PostgreSQL: made on the account page (the secret shown once, only
its SHA-256 stored, the page afterwards showing its prefix), the Bearer gate `web.tokens.api_member`
through a route of the real app (401 for a missing, malformed, unknown or revoked token and never the
session cookie; 403 for a read token on a write and for a banned or unconfirmed member), the last use
recorded at most once a minute, revocation (only by its member), the per-member cap, and the data
export listing tokens without their hashes."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from fastapi import Request
from fastapi.testclient import TestClient

from dailypapers.core.settings import Settings
from dailypapers.services import accounts, api_tokens
from dailypapers.services.errors import BadRequest, Forbidden, NotFound, Unauthorized
from dailypapers.services.schemas import Member
from dailypapers.store.db import Database
from dailypapers.store.tables import api_tokens as api_tokens_table
from dailypapers.store.tables import users
from dailypapers.web.app import create_app
from dailypapers.web.tokens import api_member

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple 42"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = re.compile(r'<code class="api-token-secret" id="token-secret">(dp_[A-Za-z0-9_-]{40})</code>')
READ, WRITE = "/api/test-token/read", "/api/test-token/write"


class Clock:
    """The site's clock (app.state.clock), moved by the tests."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def settings(db: Database) -> Settings:
    return Settings(database_url=db.url, site_url="http://testserver", api_tokens_per_member=2)


@pytest.fixture
def members(db: Database, settings: Settings) -> dict[str, Member]:
    """Three confirmed members: ada, bob and cy."""
    return {
        name: accounts.create_user(db, settings, name, f"{name}@example.org", PASSWORD, "member", START)
        for name in ("ada", "bob", "cy")
    }


def _whoami(request: Request) -> dict[str, Any]:
    """A route of the test's app behind the gate: read, or write for POST."""
    scope: Literal["read", "write"] = "write" if request.method == "POST" else "read"
    member = api_member(request, scope)
    again = api_member(request, scope)  # asked twice: looked up once (cached on the request)
    assert member is again and member is not None
    return {"username": member.username}


@pytest.fixture
def client(settings: Settings, db: Database, members: dict[str, Member]) -> Iterator[TestClient]:
    app = create_app(settings, db)
    app.state.clock = Clock()
    app.add_api_route(READ, _whoami, methods=["GET"])
    app.add_api_route(WRITE, _whoami, methods=["POST"])
    with TestClient(app) as c:
        yield c


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, login: str) -> None:
    page = client.get("/signin")
    fields = {"login": login, "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    assert client.post("/signin", data=fields, follow_redirects=False).status_code == 303


def account_post(client: TestClient, action: str, fields: dict[str, str]) -> Any:
    """Post a form of the account page with its CSRF token."""
    html = client.get("/account").text
    return client.post(action, data={**fields, "csrf_token": csrf_of(html)}, follow_redirects=False)


def make_token(client: TestClient, name: str, scope: str) -> str:
    """Make a token through the account page; its secret, read off the page that shows it once."""
    answer = account_post(client, "/account/tokens", {"name": name, "scope": scope})
    assert answer.status_code == 200, answer.text
    found = SECRET.search(answer.text)
    assert found, "the page shows no secret"
    return found.group(1)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def token_rows(db: Database) -> list[Any]:
    with db.read() as conn:
        return list(conn.execute(sa.select(api_tokens_table).order_by(api_tokens_table.c.id)))


def test_a_token_is_shown_once_and_stored_hashed(client: TestClient, db: Database) -> None:
    sign_in(client, "ada")
    page = client.get("/account")
    assert 'id="tokens"' in page.text and "You have no API tokens." in page.text
    answer = account_post(client, "/account/tokens", {"name": "  laptop <script>  ", "scope": "write"})
    assert answer.status_code == 200
    assert "no-store" in answer.headers["cache-control"]
    assert "will not be shown again" in answer.text and "laptop &lt;script&gt;" in answer.text
    found = SECRET.search(answer.text)
    assert found
    secret = found.group(1)
    assert answer.text.count(secret) == 1
    (row,) = token_rows(db)
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.prefix == secret[:10] and row.name == "laptop <script>" and row.scope == "write"
    assert secret not in [str(v) for v in row]
    after = client.get("/account")
    assert secret not in after.text and f"{secret[:10]}…" in after.text
    assert "never" in after.text and "/account/tokens/" in after.text  # not used yet; a Revoke form


def test_the_gate_takes_tokens_only(client: TestClient, db: Database) -> None:
    sign_in(client, "ada")
    read = make_token(client, "reader", "read")
    write = make_token(client, "writer", "write")
    # Signed in, but no token: the API never takes the session cookie.
    answer = client.get(READ)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["status"] == 401 and "Authorization: Bearer" in answer.json()["detail"]
    anonymous = TestClient(client.app)
    unknown = "dp_" + "A" * 40
    refusals = {
        anonymous.get(READ, headers=h).json()["detail"]
        for h in (bearer(unknown), bearer("nope"), bearer(read + "x"), {"Authorization": f"Basic {read}"})
    }
    assert len(refusals) == 1  # one message: no hint whether a token exists
    assert anonymous.get(READ, headers=bearer(unknown)).status_code == 401
    assert anonymous.get(READ, headers=bearer(read)).json() == {"username": "ada"}
    assert anonymous.get(READ, headers={"Authorization": f"bearer  {write}"}).json() == {"username": "ada"}
    assert anonymous.post(WRITE, headers=bearer(write)).json() == {"username": "ada"}
    refused = anonymous.post(WRITE, headers=bearer(read))
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]


def test_last_use_is_written_at_most_once_a_minute(
    client: TestClient, db: Database, settings: Settings, members: dict[str, Member]
) -> None:
    created = api_tokens.create_token(db, settings, members["ada"], "script", "read", START)
    assert created.token.last_used_at is None

    def last_used() -> datetime | None:
        return api_tokens.list_tokens(db, members["ada"])[0].last_used_at

    api_tokens.authenticate(db, settings, created.secret, "read", START + timedelta(seconds=5))
    assert last_used() == START + timedelta(seconds=5)
    api_tokens.authenticate(db, settings, created.secret, "read", START + timedelta(seconds=50))
    assert last_used() == START + timedelta(seconds=5)
    api_tokens.authenticate(db, settings, created.secret, "read", START + timedelta(seconds=65))
    assert last_used() == START + timedelta(seconds=65)
    # Through the web: the app's clock.
    client.app.state.clock.now = START + timedelta(minutes=10)  # type: ignore[attr-defined]
    assert client.get(READ, headers=bearer(created.secret)).status_code == 200
    assert last_used() == START + timedelta(minutes=10)
    sign_in(client, "ada")
    assert "2026-12-07 12:10 UTC" in client.get("/account").text


def test_revoke_on_the_page_and_only_ones_own(client: TestClient, db: Database) -> None:
    sign_in(client, "ada")
    secret = make_token(client, "laptop", "write")
    (row,) = token_rows(db)
    bob = TestClient(client.app)
    sign_in(bob, "bob")
    refused = account_post(bob, f"/account/tokens/{row.id}/revoke", {})
    assert refused.status_code == 404
    assert client.get(READ, headers=bearer(secret)).status_code == 200
    assert account_post(bob, "/account/tokens/99999999999/revoke", {}).status_code == 400  # out of range
    answer = account_post(client, f"/account/tokens/{row.id}/revoke", {})
    assert answer.status_code == 303 and answer.headers["location"] == "/account#tokens"
    revoked = client.get(READ, headers=bearer(secret))
    assert revoked.status_code == 401 and revoked.headers["content-type"].startswith("application/problem")
    (row,) = token_rows(db)
    assert row.revoked_at is not None
    page = client.get("/account").text
    assert "revoked" in page and f"/account/tokens/{row.id}/revoke" not in page
    # Revoking again changes nothing.
    assert account_post(client, f"/account/tokens/{row.id}/revoke", {}).status_code == 303
    assert token_rows(db)[0].revoked_at == row.revoked_at


def test_banned_or_unconfirmed_members_tokens_are_refused(
    client: TestClient, db: Database, settings: Settings, members: dict[str, Member]
) -> None:
    secrets = {
        n: api_tokens.create_token(db, settings, members[n], "t", "write", START).secret for n in members
    }
    with db.write() as conn:
        conn.execute(
            users.update().where(users.c.username == "bob").values(banned_until=START + timedelta(days=1))
        )
        conn.execute(users.update().where(users.c.username == "cy").values(email_confirmed_at=None))
    assert client.get(READ, headers=bearer(secrets["ada"])).status_code == 200
    for name in ("bob", "cy"):
        answer = client.get(READ, headers=bearer(secrets[name]))
        assert answer.status_code == 403 and answer.json()["title"] == "Forbidden"
    # Nor may an unconfirmed member make one.
    sign_in(client, "cy")
    assert "Confirm your address first: tokens" in client.get("/account").text
    refused = account_post(client, "/account/tokens", {"name": "x", "scope": "read"})
    assert refused.status_code == 400 and "confirm your address" in refused.text
    with pytest.raises(Forbidden):
        api_tokens.create_token(db, settings, accounts.list_users(db)[1], "t", "read", START)  # bob, banned


def test_form_refusals_and_the_cap(client: TestClient, db: Database) -> None:
    anonymous = TestClient(client.app)
    page = anonymous.get("/signin").text
    signed_out = anonymous.post(
        "/account/tokens", data={"name": "x", "csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/signin?next=/account"
    sign_in(client, "ada")
    no_csrf = client.post("/account/tokens", data={"name": "x", "scope": "read"})
    assert no_csrf.status_code == 403
    for fields, words in (
        ({"name": "   ", "scope": "read"}, "Give the token a name"),
        ({"name": "x" * 101, "scope": "read"}, "at most 100 characters"),
        ({"name": "x", "scope": "admin"}, "token scope"),
    ):
        answer = account_post(client, "/account/tokens", fields)
        assert answer.status_code == 400 and words in answer.text, fields
    assert token_rows(db) == []
    make_token(client, "one", "read")
    make_token(client, "two", "read")
    refused = account_post(client, "/account/tokens", {"name": "three", "scope": "read"})
    assert refused.status_code == 400 and "You have 2 active tokens" in refused.text
    account_post(client, f"/account/tokens/{token_rows(db)[0].id}/revoke", {})
    make_token(client, "three", "read")
    names = [t.name for t in api_tokens.list_tokens(db, accounts.list_users(db)[0])]
    assert names == ["three", "two", "one"]  # newest first, the revoked one too


def test_services_refuse_what_the_pages_cannot_send(
    db: Database, settings: Settings, members: dict[str, Member]
) -> None:
    ada, bob = members["ada"], members["bob"]
    with pytest.raises(BadRequest):
        api_tokens.create_token(db, settings, ada, "bad\x00name", "read", START)
    with pytest.raises(BadRequest):
        api_tokens.create_token(db, settings, ada, "x", "admin", START)  # type: ignore[arg-type]
    created = api_tokens.create_token(db, settings, ada, "x", "read", START)
    with pytest.raises(NotFound):
        api_tokens.revoke_token(db, bob, created.token.id, START)
    with pytest.raises(NotFound):
        api_tokens.revoke_token(db, ada, 2**40, START)
    for secret in ("", "dp_", "dp_" + "é" * 40, "dp_" + "a" * 200, created.secret.upper()):
        with pytest.raises(Unauthorized):
            api_tokens.authenticate(db, settings, secret, "read", START)
    assert api_tokens.authenticate(db, settings, created.secret, "read", START).id == ada.id


def test_the_export_lists_tokens_without_hashes(client: TestClient, db: Database) -> None:
    sign_in(client, "ada")
    secret = make_token(client, "laptop", "write")
    account_post(client, f"/account/tokens/{token_rows(db)[0].id}/revoke", {})
    make_token(client, "phone", "read")
    answer = client.get("/account/export.json")
    data = json.loads(answer.text)
    assert [(t["name"], t["scope"], t["revoked_at"] is not None) for t in data["api_tokens"]] == [
        ("phone", "read", False),
        ("laptop", "write", True),
    ]
    assert set(data["api_tokens"][0]) == {
        "name",
        "prefix",
        "scope",
        "created_at",
        "last_used_at",
        "revoked_at",
    }
    assert data["api_tokens"][1]["prefix"] == secret[:10]
    for row in token_rows(db):
        assert row.token_hash not in answer.text
    assert secret not in answer.text
