"""Upvotes through the pages, on SQLite and PostgreSQL: the ▲ form of every card and of the paper page
without JavaScript (303 back to the card) and as JSON (what vote.js asks for), explicit values so a
form sent twice never toggles back, trending recomputed, CSRF, sign-in and back for nobody signed in,
403 for an unconfirmed or banned member, and 100 members voting at once against a real server."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient

from dailypapers.core.models import PaperRecord
from dailypapers.core.settings import Settings
from dailypapers.services import accounts, moderation
from dailypapers.services import votes as vote_service
from dailypapers.services.errors import Forbidden
from dailypapers.services.subscriptions import CSRF, signer
from dailypapers.store.db import Database
from dailypapers.store.papers import write_batch
from dailypapers.store.tables import papers, users, votes
from dailypapers.testing.server import free_port
from dailypapers.web.app import create_app

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
DAY = date(2026, 7, 1)
FEED = "/papers/date/2026-07-01"
PASSWORD = "correct horse battery staple 42"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
VOTERS = 100


@pytest.fixture
def settings(db: Database) -> Settings:
    return Settings(database_url=db.url, site_url="http://testserver")


@pytest.fixture
def site(db: Database, settings: Settings) -> Database:
    """Two papers of one feed day: A with 3 Hub upvotes, B with 2, featured at the same moment."""
    featured = datetime(2026, 7, 1, tzinfo=UTC)
    write_batch(
        db,
        [
            PaperRecord(arxiv_id="2607.00001", title="Paper A", upvotes=3, feed_entries=[(DAY, featured)]),
            PaperRecord(arxiv_id="2607.00002", title="Paper B", upvotes=2, feed_entries=[(DAY, featured)]),
        ],
        NOW,
    )
    return db


def _client(db: Database, settings: Settings) -> TestClient:
    app = create_app(settings, db)
    app.state.clock = lambda: NOW
    return TestClient(app)


def _member(db: Database, settings: Settings, name: str) -> str:
    """A confirmed member's new session token."""
    accounts.create_user(db, settings, name, f"{name}@example.org", PASSWORD, "member", NOW)
    return accounts.sign_in(db, settings, name, PASSWORD, "127.0.0.1", NOW)


@pytest.fixture
def alice(site: Database, settings: Settings) -> Iterator[TestClient]:
    with _client(site, settings) as client:
        client.cookies.set("dp_session", _member(site, settings, "alice"))
        yield client


def _token(client: TestClient, page: str = FEED) -> str:
    found = CSRF_FIELD.search(client.get(page).text)
    assert found, "the page has no CSRF field"
    return found.group(1)


def _counts(db: Database, arxiv_id: str) -> tuple[int, int]:
    with db.read() as conn:
        paper = conn.execute(sa.select(papers.c.vote_count).where(papers.c.arxiv_id == arxiv_id)).scalar_one()
        rows = conn.scalar(sa.select(sa.func.count()).select_from(votes).where(votes.c.arxiv_id == arxiv_id))
    return paper, rows or 0


def _button(html: str, arxiv_id: str) -> str:
    form = re.search(
        rf'<form class="vote[^"]*" action="/papers/{re.escape(arxiv_id)}/vote".*?</form>', html, re.S
    )
    assert form, f"no vote form for {arxiv_id}"
    return form.group(0)


def test_a_vote_without_javascript_returns_to_the_card_and_moves_trending(
    alice: TestClient, site: Database
) -> None:
    order = [p["arxiv_id"] for p in alice.get(FEED + ".json").json()["papers"]]
    assert order == ["2607.00001", "2607.00002"]
    form = _button(alice.get(FEED).text, "2607.00002")
    assert 'aria-pressed="false"' in form and '<input type="hidden" name="value" value="1">' in form
    assert 'title="2 on Hugging Face + 0 here"' in form and "<strong>2</strong>" in form
    fields = {"csrf_token": _token(alice), "value": "1", "next": FEED}
    answer = alice.post("/papers/2607.00002/vote", data=fields, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == FEED + "#paper-2607-00002"
    # The same form again (a reload, a double click) changes nothing.
    assert alice.post("/papers/2607.00002/vote", data=fields, follow_redirects=False).status_code == 303
    assert _counts(site, "2607.00002") == (1, 1)
    html = alice.get(FEED).text
    form = _button(html, "2607.00002")
    assert 'aria-pressed="true"' in form and '<input type="hidden" name="value" value="0">' in form
    assert 'title="2 on Hugging Face + 1 here"' in form and "<strong>3</strong>" in form
    assert 'id="paper-2607-00002"' in html
    # 2 + 1 upvotes tie A's 3; one more member's vote puts B first on the day.
    with _client(site, alice.app.state.settings) as bob:  # type: ignore[attr-defined]
        bob.cookies.set("dp_session", _member(site, alice.app.state.settings, "bob"))  # type: ignore[attr-defined]
        bob.post("/papers/2607.00002/vote", data={"csrf_token": _token(bob), "value": "1"})
    order = [p["arxiv_id"] for p in alice.get(FEED + ".json").json()["papers"]]
    assert order == ["2607.00002", "2607.00001"]
    # Taken back: the paper page (the default return) and the counts.
    back = alice.post(
        "/papers/2607.00002/vote", data={"csrf_token": _token(alice), "value": "0"}, follow_redirects=False
    )
    assert back.headers["location"] == "/papers/2607.00002#paper-2607-00002"
    assert _counts(site, "2607.00002") == (1, 1)
    page = alice.get("/papers/2607.00002").text
    assert 'aria-pressed="false"' in _button(page, "2607.00002")
    assert re.search(
        r"<span class=\"vote-imported\">2</span> on Hugging Face \+ <span class=\"vote-local\">1</span> here",
        page,
    )


def test_the_json_answer_and_the_paper_json_say_how_upvotes_combine(
    alice: TestClient, site: Database
) -> None:
    token = _token(alice)
    answer = alice.post(
        "/papers/arXiv:2607.00001v1/vote",
        data={"csrf_token": token, "value": "1"},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "arxiv_id": "2607.00001",
        "voted": True,
        "upvotes": 4,
        "upvotes_local": 1,
        "upvotes_imported": 3,
    }
    paper = alice.get("/papers/2607.00001.json").json()
    assert (paper["upvotes"], paper["upvotes_local"], paper["upvotes_imported"]) == (4, 1, 3)
    assert paper["comment_count"] == 0 and paper["submitted_by"] is None
    card = next(p for p in alice.get(FEED + ".json").json()["papers"] if p["arxiv_id"] == "2607.00001")
    assert (card["upvotes"], card["upvotes_local"], card["upvotes_imported"]) == (4, 1, 3)
    assert card["comment_count"] == 0 and card["submitted_by"] is None
    found = alice.get("/api/v1/search", params={"q": "Paper A", "mode": "keyword"}).json()["papers"]
    assert [(c["upvotes"], c["upvotes_local"]) for c in found if c["arxiv_id"] == "2607.00001"] == [(4, 1)]
    # An old-style id has a slash: its own route.
    write_batch(site, [PaperRecord(arxiv_id="hep-th/9901001", title="Old", upvotes=1)], NOW)
    old = alice.post(
        "/papers/hep-th/9901001/vote",
        data={"csrf_token": token, "value": "1"},
        headers={"Accept": "application/json"},
    )
    assert (old.status_code, old.json()["arxiv_id"], old.json()["upvotes"]) == (200, "hep-th/9901001", 2)
    # Unknown and malformed papers.
    missing = alice.post(
        "/papers/2607.09999/vote",
        data={"csrf_token": token, "value": "1"},
        headers={"Accept": "application/json"},
    )
    assert missing.status_code == 404
    bad = alice.post("/papers/2607.00001/vote", data={"csrf_token": token, "value": "2"})
    assert bad.status_code == 400 and "take the upvote back" in bad.text


def test_a_vote_without_its_csrf_token_is_refused(alice: TestClient, site: Database) -> None:
    answer = alice.post("/papers/2607.00001/vote", data={"value": "1"})
    assert answer.status_code == 403 and "reload the page" in answer.text
    assert _counts(site, "2607.00001") == (0, 0)


def test_nobody_signed_in_is_sent_to_sign_in_with_the_vote(site: Database, settings: Settings) -> None:
    with _client(site, settings) as client:
        html = client.get(FEED).text
        form = _button(html, "2607.00001")
        assert "csrf_token" not in form  # nothing changes before sign-in: no token, no cookie
        answer = client.post(
            "/papers/2607.00001/vote", data={"value": "1", "next": FEED}, follow_redirects=False
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/signin?next={FEED}&vote=2607.00001"
        json_answer = client.post(
            "/papers/2607.00001/vote", data={"value": "1"}, headers={"Accept": "application/json"}
        )
        assert json_answer.status_code == 401
        evil = client.post(
            "/papers/2607.00001/vote", data={"value": "1", "next": "//evil.example/x"}, follow_redirects=False
        )
        assert evil.headers["location"] == "/signin?next=/&vote=2607.00001"
    assert _counts(site, "2607.00001") == (0, 0)


def test_unconfirmed_and_banned_members_may_not_vote(site: Database, settings: Settings) -> None:
    token = _member(site, settings, "carol")
    with site.write() as conn:
        conn.execute(users.update().where(users.c.username == "carol").values(email_confirmed_at=None))
    with _client(site, settings) as client:
        client.cookies.set("dp_session", token)
        answer = client.post("/papers/2607.00001/vote", data={"csrf_token": _token(client), "value": "1"})
        assert answer.status_code == 403 and "confirm your address" in answer.text
    banned = moderation.operator_ban(site, "carol", "spam", NOW + timedelta(days=1), NOW)
    with pytest.raises(Forbidden):
        vote_service.vote(
            site, settings, banned.model_copy(update={"email_confirmed": True}), "2607.00001", True, NOW
        )
    assert _counts(site, "2607.00001") == (0, 0)


# --- 100 members at once, against a real server --------------------------------------------------------


@pytest.fixture
def live(site: Database, settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on a free port, in a thread."""
    app = create_app(settings, site)
    app.state.clock = lambda: NOW
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _post_vote(base: str, session: str, csrf: tuple[str, str], value: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"{base}/papers/2607.00002/vote",
        data=urllib.parse.urlencode({"value": value}).encode(),
        headers={
            "Accept": "application/json",
            "Cookie": f"dp_session={session}; dp_csrf={csrf[0]}",
            "X-CSRF-Token": csrf[1],
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200
        return json.loads(response.read())


def test_a_hundred_members_vote_at_once_and_every_vote_counts(
    live: str, site: Database, settings: Settings
) -> None:
    sessions = [_member(site, settings, f"voter{i:03}") for i in range(VOTERS)]
    cookie = "c" * 43
    csrf = (cookie, signer(site, settings).sign(CSRF, cookie))
    with ThreadPoolExecutor(VOTERS) as pool:
        answers = list(pool.map(lambda s: _post_vote(live, s, csrf, "1"), sessions))
    assert all(a["voted"] for a in answers)
    # Every answer saw its own vote counted: the local counts are 1..100, each once.
    assert sorted(a["upvotes_local"] for a in answers) == list(range(1, VOTERS + 1))  # type: ignore[type-var]
    assert _counts(site, "2607.00002") == (VOTERS, VOTERS)
    half = sessions[: VOTERS // 2]
    with ThreadPoolExecutor(len(half)) as pool:
        # Each un-vote sent twice at once: the second finds nothing to take back.
        list(pool.map(lambda s: _post_vote(live, s, csrf, "0"), half + half))
    left = VOTERS - len(half)
    assert _counts(site, "2607.00002") == (left, left)
    with urllib.request.urlopen(f"{live}/papers/2607.00002.json", timeout=30) as response:
        paper = json.loads(response.read())
    assert (paper["upvotes"], paper["upvotes_local"], paper["upvotes_imported"]) == (left + 2, left, 2)


# --- with JavaScript: /static/vote.js in Chromium -------------------------------------------------------


def test_the_script_votes_in_place_and_sends_nobody_to_sign_in(
    live: str, site: Database, settings: Settings
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    session = _member(site, settings, "erin")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context()
            context.add_cookies([{"name": "dp_session", "value": session, "url": live}])
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(live + FEED)
            button = page.locator("#paper-2607-00002 .vote-button")
            button.click()
            sync_api.expect(button).to_have_attribute("aria-pressed", "true")  # waits (CSP: no eval)
            assert page.url == live + FEED  # no navigation: the count changed in place
            assert button.locator("strong").inner_text() == "3"
            assert button.get_attribute("title") == "2 on Hugging Face + 1 here"
            assert _counts(site, "2607.00002") == (1, 1)
            button.click()  # the flipped value takes it back
            sync_api.expect(button).to_have_attribute("aria-pressed", "false")  # waits (CSP: no eval)
            assert button.locator("strong").inner_text() == "2" and _counts(site, "2607.00002") == (0, 0)
            assert problems == []
            # Nobody signed in: the script follows the form to the sign-in page, which carries the vote.
            anonymous = browser.new_context().new_page()
            anonymous.goto(live + FEED)
            anonymous.locator("#paper-2607-00001 .vote-button").click()
            anonymous.wait_for_url("**/signin?**")
            assert anonymous.url == f"{live}/signin?next={FEED}&vote=2607.00001"
        finally:
            browser.close()
