"""Site-wide guards: security headers, addresses never taken from the Host header, HEAD and 405 Allow,
size limits (413/414), a busy pool as 503, the CSRF cookie only with a form, and /api/docs offline."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dailypapers.core.settings import Settings
from dailypapers.digest import subscriptions as subs
from dailypapers.digest.tokens import site_signer
from dailypapers.store.db import Database
from dailypapers.store.tables import subscribers
from dailypapers.web.app import create_app


@pytest.fixture(scope="module")
def paper_id(client: TestClient) -> str:
    return client.get("/index.json").json()["papers"][0]["arxiv_id"]


@pytest.fixture(scope="module")
def manage_token(client: TestClient) -> str:
    """The preferences token of a new subscriber, made as the app makes it."""
    app = client.app
    db: Database = app.state.db  # type: ignore[attr-defined]
    settings: Settings = app.state.settings  # type: ignore[attr-defined]
    signer = site_signer(db, settings)
    with db.write() as conn:
        subs.subscribe(conn, signer, settings, "headers@example.org", datetime(2026, 7, 1, tzinfo=UTC))
        sub = conn.execute(sa.select(subscribers).where(subscribers.c.email == "headers@example.org")).one()
    return subs.manage_token(signer, sub)


def _csp(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    policy = response.headers["content-security-policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


def _pages(paper_id: str) -> list[str]:
    return [
        "/",
        "/index.json",
        f"/papers/{paper_id}",
        f"/papers/{paper_id}.json",
        "/search?q=learning",
        "/subscribe",
        "/api/docs",
        "/openapi.json",
        "/static/site.css",
        "/no-such-page",
        "/papers/date/not-a-date",
    ]


def test_every_answer_carries_the_security_headers(client: TestClient, paper_id: str) -> None:
    for url in _pages(paper_id):
        response = client.get(url)
        csp = _csp(response)
        assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"], url
        assert csp["default-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"], url
        assert csp["form-action"] == ["'self'"] and csp["base-uri"] == ["'none'"], url
        assert response.headers["x-content-type-options"] == "nosniff", url
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin", url
        assert "camera=()" in response.headers["permissions-policy"], url
        assert "no-store" not in response.headers.get("cache-control", ""), url


def test_a_page_with_a_token_in_its_address_is_not_stored_or_referred(
    client: TestClient, manage_token: str
) -> None:
    for url in (
        f"/subscription?token={manage_token}",
        f"/unsubscribe?token={manage_token}",
        "/subscribe/confirm?token=not-a-token",
    ):
        response = client.get(url)
        assert response.status_code in (200, 400), url
        assert response.headers["referrer-policy"] == "no-referrer", url
        assert response.headers["cache-control"] == "no-store", url


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8443"])
def test_no_address_comes_from_the_host_header(client: TestClient, paper_id: str, host: str) -> None:
    for url in _pages(paper_id):
        response = client.get(url, headers={"host": host})
        assert "evil.example" not in response.text, url
        assert "evil.example" not in response.headers.get("location", ""), url


def test_head_answers_every_get_route_with_the_get_headers(client: TestClient, paper_id: str) -> None:
    for url in _pages(paper_id):
        got, head = client.get(url), client.head(url)
        assert head.status_code == got.status_code, url
        assert head.content == b"", url
        skip = {"date", "set-cookie", "content-length", "etag", "last-modified"}
        assert {k: v for k, v in head.headers.items() if k not in skip} == {
            k: v for k, v in got.headers.items() if k not in skip
        }, url
        assert head.headers.get("content-length") == got.headers.get("content-length"), url


def test_a_405_says_which_methods_are_allowed(client: TestClient) -> None:
    put = client.put("/subscribe")
    assert put.status_code == 405 and put.headers["allow"] == "GET, HEAD, POST"
    delete = client.delete("/search.json")
    assert delete.status_code == 405 and delete.headers["allow"] == "GET, HEAD"
    assert delete.json()["error"]["status"] == 405


def test_a_body_over_the_limit_is_refused_with_413(client: TestClient) -> None:
    big = b"email=" + b"x" * (64 * 1024)
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = client.post("/subscribe", content=big, headers=form)
    assert response.status_code == 413 and "too large" in response.text
    # Without Content-Length (chunked), counted as it arrives.
    chunked = client.post("/subscribe", content=iter([big[:40_000], big[40_000:]]), headers=form)
    assert chunked.status_code == 413 and "too large" in chunked.text
    # Just under the limit reaches the route (a 403: no CSRF token).
    assert client.post("/subscribe", content=big[: 64 * 1024 - 1], headers=form).status_code == 403


def test_an_absurd_content_length_is_a_413_not_a_crash() -> None:
    """A Content-Length of 4,301 digits (beyond int()'s limit) is refused before any route runs."""
    import asyncio

    from dailypapers.web.security import RequestLimits

    sent: list[dict] = []
    reached: list[bool] = []

    async def route(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        reached.append(True)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/subscribe",
        "query_string": b"",
        "headers": [(b"content-length", b"9" * 4301)],
    }
    asyncio.run(RequestLimits(route)(scope, receive, send))
    assert not reached and sent[0]["status"] == 413


def test_an_address_over_the_limit_is_refused_with_414(client: TestClient) -> None:
    response = client.get("/search?q=" + "x" * (8 * 1024))
    assert response.status_code == 414 and "too long" in response.text
    assert client.get("/search?q=" + "x" * 500).status_code == 200


def test_a_busy_pool_answers_503_with_retry_after(db: Database) -> None:
    """Every connection taken, a request waits pool_timeout and then gets 503, not 500."""
    small = Database(db.url, pool_size=1, pool_overflow=0, pool_timeout=0.2)
    app = create_app(Settings(database_url=db.url), small)
    held = small.engine.connect()
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            for url in ("/", "/index.json"):
                response = client.get(url)
                assert response.status_code == 503, url
                assert response.headers["retry-after"].isdigit(), url
            assert response.json()["error"]["status"] == 503
    finally:
        held.close()
        small.dispose()


def test_the_csrf_cookie_is_set_only_by_a_page_with_a_form(client: TestClient, paper_id: str) -> None:
    client.cookies.clear()
    for url in (
        "/index.json",
        f"/papers/{paper_id}.json",
        "/api/v1/search?q=learning",
        "/static/site.css",
        "/api/docs",
        "/openapi.json",
        "/no-such-page",
    ):
        assert "set-cookie" not in client.get(url).headers, url
    page = client.get("/subscribe")
    assert re.match(r"dp_csrf=[A-Za-z0-9_-]{32,};.*HttpOnly.*SameSite=lax", page.headers["set-cookie"], re.I)
    assert 'name="csrf_token"' in page.text
    # The browser has it now: the next form page keeps it.
    again = client.get("/subscribe")
    assert "set-cookie" not in again.headers
    client.cookies.clear()


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.links: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a)
            self._in_script = True
        if tag == "link" and a.get("href"):
            self.links.append(str(a["href"]))
        if any(name.startswith("on") for name, _ in attrs) or "style" in a:
            self.inline.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data[:80])


def test_api_docs_serve_swagger_from_the_site_with_no_inline_script(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    parsed = _Scripts()
    parsed.feed(page.text)
    assert parsed.inline == []
    sources = [str(s["src"]) for s in parsed.scripts]
    assert sources and all(src.startswith("/") for src in sources + parsed.links)
    for url in sources + parsed.links:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url
    assert "SwaggerUIBundle(" in client.get(sources[-1]).text
    assert client.get("/openapi.json").json()["paths"]


def test_the_last_resort_500_keeps_the_headers(db: Database) -> None:
    """A crash is answered by the app's 500 page (outside the other middleware), with the site's headers."""
    app = create_app(Settings(database_url=db.url), db)

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/crash")
    assert response.status_code == 500 and "a bug" not in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
