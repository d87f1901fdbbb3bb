"""Sign-in through OpenID Connect against a real local provider (oidc-provider-mock on a loopback port,
in a thread), on SQLite and PostgreSQL: the browser goes to the provider, its form is submitted with a
subject and claims, and the code comes back to the callback. A new identity makes a confirmed member;
a verified address links the existing account; an unverified one never does; a known identity signs
in again; a bad state, a missing cookie, the provider's refusal and a provider that is down each give
a page in words; the pending upvote of the sign-in is applied."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from oidc_provider_mock import run_server_in_thread

from dailypapers.core.settings import Settings
from dailypapers.services import accounts, moderation
from dailypapers.store.db import Database
from dailypapers.store.tables import papers, sessions, users
from dailypapers.web.app import create_app

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple 42"
PAPER = "2612.00001"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """The issuer URL of a mock provider running in a thread."""
    with run_server_in_thread(port=0) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def settings(mail_settings: Callable[..., Settings], provider: str) -> Settings:
    return mail_settings(
        oidc_name="Lab ID", oidc_issuer=provider, oidc_client_id="dailypapers", oidc_client_secret="s3cret"
    )


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    accounts.create_user(db, settings, "ada", "ada@example.org", PASSWORD, "member", START)
    with db.write() as conn:
        conn.execute(
            papers.insert().values(
                arxiv_id=PAPER,
                title="A paper",
                abstract="An abstract.",
                authors=["A. Author"],
                categories=["cs.LG"],
                primary_category="cs.LG",
                code_urls=[],
                trending_score=1.0,
                content_hash="0" * 32,
                first_featured_at=START - timedelta(hours=2),
                created_at=START - timedelta(days=1),
                modified_at=START - timedelta(days=1),
            )
        )
    app = create_app(settings, db)
    app.state.clock = lambda: START
    with TestClient(app) as c:
        yield c


def set_claims(provider: str, subject: str, claims: dict[str, object]) -> None:
    assert httpx.put(f"{provider}/users/{subject}", json=claims).status_code == 204


def to_provider(client: TestClient, query: dict[str, str] | None = None) -> str:
    """GET /signin/oidc: the provider's authorization URL it redirects to."""
    start = client.get("/signin/oidc", params=query or {}, follow_redirects=False)
    assert start.status_code == 303, start.text
    assert "dp_oidc=" in start.headers["set-cookie"] and "HttpOnly" in start.headers["set-cookie"]
    return start.headers["location"]


def authorize(url: str, subject: str) -> str:
    """Submit the provider's form as `subject`; the callback path (and query) it sends back to."""
    assert "Authorize" in httpx.get(url).text
    back = httpx.post(url, data={"sub": subject}, follow_redirects=False)
    assert back.status_code in (302, 303), back.text
    parts = urlsplit(back.headers["location"])
    assert f"{parts.scheme}://{parts.netloc}" == "http://testserver"
    return f"{parts.path}?{parts.query}"


def sign_in_as(client: TestClient, provider: str, subject: str, query: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    url = to_provider(client, query)
    return client.get(authorize(url, subject), follow_redirects=False)


def row_of(db: Database, **where: object) -> sa.Row | None:  # type: ignore[type-arg]
    with db.read() as conn:
        return conn.execute(
            sa.select(users).where(*(getattr(users.c, k) == v for k, v in where.items()))
        ).first()


def test_sign_in_page_offers_the_provider_and_redirects_safely(client: TestClient, provider: str) -> None:
    page = client.get("/signin", params={"next": "/account", "vote": PAPER})
    assert "Sign in with Lab ID" in page.text
    assert f'href="/signin/oidc?next=%2Faccount&amp;vote={PAPER}"' in page.text
    url = to_provider(client, {"next": "//evil.example/x"})
    assert url.startswith(f"{provider}/oauth2/authorize?")
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"] == ["http://testserver/signin/oidc/callback"]  # from site_url
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    assert query["client_id"] == ["dailypapers"] and query["scope"] == ["openid email profile"]


def test_new_identity_makes_a_confirmed_member(client: TestClient, provider: str, db: Database) -> None:
    set_claims(
        provider,
        "sub-new-1",
        {"email": "nora@lab.example", "email_verified": True, "preferred_username": "ada"},
    )
    done = sign_in_as(client, provider, "sub-new-1", {"next": f"/papers/{PAPER}", "vote": PAPER})
    assert done.status_code == 303 and done.headers["location"] == f"/papers/{PAPER}", done.text
    assert "dp_session=" in done.headers["set-cookie"]
    row = row_of(db, oidc_subject="sub-new-1")
    assert row is not None and row.oidc_issuer == provider and row.password_hash is None
    assert row.username == "ada-2"  # "ada" is taken: made unique
    assert row.email == "nora@lab.example" and row.email_confirmed_at is not None
    page = client.get("/account")
    assert "ada-2" in page.text and "Type your username to confirm" in page.text
    with db.read() as conn:
        assert conn.scalar(sa.select(papers.c.vote_count).where(papers.c.arxiv_id == PAPER)) == 1
    # The same identity again: the same account, a new session.
    again = sign_in_as(client, provider, "sub-new-1")
    assert again.status_code == 303 and again.headers["location"] == "/"
    with db.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(users)) == 2
        assert conn.scalar(sa.select(sa.func.count()).select_from(sessions)) == 1  # the old one ended


def test_verified_address_links_the_existing_account(client: TestClient, provider: str, db: Database) -> None:
    set_claims(provider, "sub-ada", {"email": "ada@example.org", "email_verified": True})
    done = sign_in_as(client, provider, "sub-ada", {"next": "/account"})
    assert done.status_code == 303 and done.headers["location"] == "/account"
    row = row_of(db, username="ada")
    assert row is not None and row.oidc_subject == "sub-ada" and row.oidc_issuer == provider
    with db.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(users)) == 1
    assert "<strong>ada</strong>" in client.get("/account").text


def test_unverified_address_never_links(client: TestClient, provider: str, db: Database) -> None:
    set_claims(provider, "sub-mallory", {"email": "ada@example.org", "email_verified": False})
    done = sign_in_as(client, provider, "sub-mallory")
    assert done.status_code == 303
    ada = row_of(db, username="ada")
    assert ada is not None and ada.oidc_subject is None
    new = row_of(db, oidc_subject="sub-mallory")
    assert new is not None and new.email is None and new.email_confirmed_at is None
    assert new.username == "ada-2"  # from the address's local part, made unique


def test_bad_state_missing_cookie_and_provider_refusal(
    client: TestClient, provider: str, db: Database
) -> None:
    set_claims(provider, "sub-x", {"email": "x@lab.example", "email_verified": True})
    callback = authorize(to_provider(client), "sub-x")
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    bad = client.get(forged)
    assert bad.status_code == 400 and "Sign-in with Lab ID failed" in bad.text
    assert "does not belong to the sign-in this browser started" in bad.text

    stranger = TestClient(client.app)  # no state cookie: the sign-in began elsewhere
    other = stranger.get(callback)
    assert other.status_code == 400 and "not started from this browser" in other.text

    url = to_provider(client)
    denied = httpx.post(url, data={"action": "deny"}, follow_redirects=False)
    parts = urlsplit(denied.headers["location"])
    refused = client.get(f"{parts.path}?{parts.query}")
    assert refused.status_code == 400 and "the provider did not sign you in" in refused.text
    assert row_of(db, oidc_subject="sub-x") is None


def test_provider_down(mail_settings: Callable[..., Settings], db: Database) -> None:
    settings = mail_settings(oidc_issuer="http://127.0.0.1:9", oidc_client_id="dailypapers")
    app = create_app(settings, db)
    app.state.clock = lambda: START
    with TestClient(app) as client:
        down = client.get("/signin/oidc", follow_redirects=False)
        assert down.status_code == 400 and "could not be reached" in down.text
        callback = client.get("/signin/oidc/callback", params={"code": "c", "state": "s"})
        assert callback.status_code == 400 and "not started from this browser" in callback.text


def test_not_configured(mail_settings: Callable[..., Settings], db: Database) -> None:
    app = create_app(mail_settings(), db)
    with TestClient(app) as client:
        assert "Sign in with" not in client.get("/signin").text
        assert client.get("/signin/oidc").status_code == 404
        assert client.get("/signin/oidc/callback", params={"code": "c", "state": "s"}).status_code == 400


def test_banned_member_is_refused(client: TestClient, provider: str, db: Database) -> None:
    set_claims(provider, "sub-ada", {"email": "ada@example.org", "email_verified": True})
    moderation.operator_ban(db, "ada", "spam", None, START)
    done = sign_in_as(client, provider, "sub-ada")
    assert (
        done.status_code == 400
        and "banned" in done.text
        and "dp_session=" not in done.headers.get("set-cookie", "")
    )


def test_account_without_password_is_deleted_by_typing_its_username(
    client: TestClient, provider: str, db: Database
) -> None:
    set_claims(
        provider, "sub-del", {"email": "del@lab.example", "email_verified": True, "preferred_username": "del"}
    )
    assert sign_in_as(client, provider, "sub-del").status_code == 303
    page = client.get("/account/delete")
    assert "Type your username (del)" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    wrong = client.post("/account/delete", data={"password": "someone", "csrf_token": csrf})
    assert wrong.status_code == 400 and "type your username to confirm" in wrong.text
    done = client.post(
        "/account/delete", data={"password": "DEL", "csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/account/deleted"
    assert row_of(db, oidc_subject="sub-del") is None
