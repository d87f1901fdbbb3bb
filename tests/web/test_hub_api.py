"""The Hub-compatible API on SQLite and PostgreSQL: the demo corpus plus a controlled August 2026 (papers
on several days, one on two days, a member's submission, a local vote, a thread with a reply, a hidden
and a deleted comment). Shapes against a recorded real Hub answer, parameters, errors as problems and
conditional GET through the test client; then the real huggingface_hub client, unchanged, against the
app served by uvicorn; then submitting with tokens."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import close_session
from starlette.types import ASGIApp, Receive, Scope, Send

from dailypapers.core.models import PaperRecord
from dailypapers.core.settings import Settings
from dailypapers.services import accounts, api_tokens, moderation, submissions
from dailypapers.services import comments as comment_service
from dailypapers.services import votes as vote_service
from dailypapers.services.hub_api import hub_id
from dailypapers.services.schemas import Member
from dailypapers.store.db import Database
from dailypapers.store.papers import write_batch
from dailypapers.store.tables import feed_entries, papers, users
from dailypapers.testing.server import free_port
from dailypapers.web.app import create_app

HUB_SAMPLE = Path(__file__).parents[1] / "data" / "hub" / "newsletter-chinese_2026-08-21.json"
NOW = datetime(2026, 8, 12, 12, tzinfo=UTC)
SITE = "http://dailypapers.test"
PASSWORD = "correct horse battery staple 42"
HEX24 = re.compile(r"^[0-9a-f]{24}$")
# A token the client would send if it read one from its environment: no request may carry it.
CANARY = "hf_canary_token_that_must_never_be_sent"
A, B, C, D, E, F, G = (f"2608.0000{i}" for i in range(1, 8))
OLD = "hep-th/9901001"
NEWEST_FIRST = [F, OLD, E, C, D, B, A]  # every August entry, newest first (C once, at its newest day)


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 8, day, hour, tzinfo=UTC)


def _record(
    arxiv_id: str, title: str, upvotes: int, entries: list[tuple[int, int]], **more: Any
) -> PaperRecord:
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=more.pop("abstract", f"The abstract of {title}."),
        authors=more.pop("authors", ["Ada Lovelace", "Alan Turing"]),
        categories=["cs.LG"],
        published_at=more.pop("published_at", _at(1, 18)),
        upvotes=upvotes,
        feed_entries=[(date(2026, 8, day), _at(day, hour)) for day, hour in entries],
        **more,
    )


def _settings(db: Database, **more: Any) -> Settings:
    return Settings(
        database_url=db.url,
        site_url=SITE,
        api_rate_limit_address="100000/minute",
        api_rate_limit_token="100000/minute",
        **more,
    )


def _member(db: Database, settings: Settings, name: str, role: str = "member") -> Member:
    return accounts.create_user(db, settings, name, f"{name}@example.org", PASSWORD, role, _at(1, 0))


@pytest.fixture(scope="module")
def site(demo_db: Database) -> Database:
    """The demo corpus (June 2026) and August 2026: A, B on the 3rd; C on the 4th and the 10th; D on
    the 5th; E (v2, code, project, math, comments) on the 10th; F submitted by alice and the old-style
    paper on the 11th; G known but never listed."""
    settings = _settings(demo_db)
    write_batch(
        demo_db,
        [
            _record(A, "Paper A", 10, [(3, 6)]),
            _record(B, "Paper B", 2, [(3, 7)]),
            _record(C, "Paper C", 5, [(4, 6), (10, 8)]),
            _record(D, "Paper D", 0, [(5, 6)]),
            _record(
                E,
                r"Attention in $\mathcal{O}(n)$ time",
                7,
                [(10, 9)],
                version=2,
                authors=["Grace Hopper", "Edsger W. Dijkstra", "Barbara Liskov"],
                abstract=r"We show that $x^2 < y$ holds for quokkaformers.",
                code_urls=["https://github.com/example/linear-attention"],
                project_url="https://example.org/linear",
            ),
            _record(F, "Paper F", 1, [], published_at=_at(9, 12)),
            _record(G, "Paper G", 0, [], published_at=_at(10, 12)),
            _record(OLD, "An old-style paper", 0, [(11, 9)], published_at=datetime(1999, 1, 4, tzinfo=UTC)),
        ],
        _at(1, 0),
    )
    alice = _member(demo_db, settings, "alice")
    bob = _member(demo_db, settings, "bob", "moderator")
    submissions.submit_paper(demo_db, settings, alice, F, _at(11, 10))
    vote_service.vote(demo_db, settings, bob, B, True, _at(11, 11))
    post = comment_service.post_comment
    first = post(
        demo_db,
        settings,
        alice,
        E,
        "First! $x^2$ and **bold**\n# not a heading of the page",
        None,
        _at(10, 10),
    )
    post(demo_db, settings, bob, E, "A reply.", first.id, _at(10, 11))
    hidden = post(demo_db, settings, alice, E, "Something rude.", None, _at(10, 12))
    deleted = post(demo_db, settings, bob, E, "Oops.", None, _at(10, 13))
    post(demo_db, settings, alice, E, "A later reply.", first.id, _at(10, 14))
    moderation.hide_comment(demo_db, settings, bob, hidden.id, "rude", _at(11, 0))
    comment_service.delete_comment(demo_db, settings, bob, deleted.id, _at(11, 1))
    return demo_db


@pytest.fixture(scope="module")
def settings(site: Database) -> Settings:
    return _settings(site)


@pytest.fixture(scope="module")
def client(site: Database, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, site)
    app.state.clock = lambda: NOW
    with TestClient(app) as c:
        yield c


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["paper"]["id"] for item in items]


def _daily(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/api/daily_papers", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _user_id(db: Database, username: str) -> int:
    with db.read() as conn:
        return conn.execute(sa.select(users.c.id).where(users.c.username == username)).scalar_one()


# --- shapes ---------------------------------------------------------------------------------------------


def test_items_have_the_hubs_shape(client: TestClient, site: Database) -> None:
    sample = json.loads(HUB_SAMPLE.read_text())
    hub_item = sample[0]
    items = _daily(client, date="2026-08-11")
    assert _ids(items) == [F, OLD]
    item = items[0]
    # Only keys the Hub's own items have (at both levels), with the Hub's types.
    assert set(item) <= set(hub_item)
    assert set(item["paper"]) <= set(hub_item["paper"])
    assert set(item["submittedBy"]) <= set(hub_item["submittedBy"]) | {"user"}
    assert set(item["paper"]["submittedOnDailyBy"]) <= set(hub_item["paper"]["submittedOnDailyBy"])
    for key in ("title", "summary", "numComments", "publishedAt", "isAuthorParticipating"):
        assert type(item[key]) is type(hub_item[key]), key
    for key in ("id", "title", "summary", "upvotes", "discussionId", "publishedAt", "submittedOnDailyAt"):
        assert type(item["paper"][key]) is type(hub_item["paper"][key]), key
    assert all(set(a) == {"_id", "name", "hidden"} for a in item["paper"]["authors"])
    # The times as the Hub writes them.
    assert item["publishedAt"] == "2026-08-11T10:00:00.000Z"  # entered the daily list
    assert item["paper"]["submittedOnDailyAt"] == "2026-08-11T00:00:00.000Z"  # the day of the list
    assert item["paper"]["publishedAt"] == "2026-08-09T12:00:00.000Z"  # arXiv's first version
    assert item["submittedBy"] == {
        "_id": hub_id("user", str(_user_id(site, "alice"))),
        "name": "alice",
        "user": "alice",
        "fullname": "alice",
        "avatarUrl": f"{SITE}/users/alice/avatar.svg",
        "type": "user",
    }
    assert item["paper"]["submittedOnDailyBy"] == item["submittedBy"]
    assert "submittedBy" not in items[1] and "projectPage" not in items[1]["paper"]


def test_made_up_ids_are_stable_hashes_of_our_keys(client: TestClient) -> None:
    first = _daily(client, date="2026-08-10")
    again = _daily(client, month="2026-08")
    e = next(i for i in first if i["paper"]["id"] == E)
    assert e == next(i for i in again if i["paper"]["id"] == E)
    ids = [a["_id"] for a in e["paper"]["authors"]]
    assert ids == [hub_id("author", f"{E}:{n}") for n in range(3)] and len(set(ids)) == 3
    assert e["paper"]["discussionId"] == hub_id("discussion", E)
    assert all(HEX24.match(i) for i in [*ids, e["paper"]["discussionId"]])
    assert e["paper"]["githubRepo"] == "https://github.com/example/linear-attention"
    assert e["paper"]["projectPage"] == "https://example.org/linear"
    assert e["numComments"] == 3  # the hidden and the deleted comment are not counted


def test_paper_info_takes_every_spelling_of_an_id(client: TestClient) -> None:
    info = client.get(f"/api/papers/{B}").json()
    assert info["upvotes"] == 3  # 2 imported + 1 vote here
    assert info["submittedOnDailyAt"] == "2026-08-03T00:00:00.000Z"
    assert {"id", "authors", "title", "summary", "discussionId", "numComments"} <= set(info)
    for spelling in (f"{E}v2", f"{E}v1", f"arXiv:{E}"):
        assert client.get(f"/api/papers/{spelling}").json()["id"] == E
    old = client.get(f"/api/papers/{OLD}")
    assert old.status_code == 200 and old.json()["id"] == OLD
    newest = client.get(f"/api/papers/{C}").json()
    assert newest["submittedOnDailyAt"] == "2026-08-10T00:00:00.000Z"  # its newest entry
    never = client.get(f"/api/papers/{G}").json()
    assert never["id"] == G and "submittedOnDailyAt" not in never
    for unknown in (f"{E}v3", "2608.99999", "not-an-id", "hep-th/0000000"):
        answer = client.get(f"/api/papers/{unknown}")
        assert answer.status_code == 404, unknown
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == 404 and answer.json()["error"] == answer.json()["detail"]


# --- parameters -----------------------------------------------------------------------------------------


def test_daily_papers_parameters(client: TestClient, site: Database) -> None:
    assert _ids(_daily(client))[:7] == NEWEST_FIRST
    assert _ids(_daily(client, limit=3)) == NEWEST_FIRST[:3]
    assert _ids(_daily(client, limit=3, p=1)) == NEWEST_FIRST[3:6]
    assert _ids(_daily(client, month="2026-08", limit=3, p=2)) == NEWEST_FIRST[6:]
    assert _ids(_daily(client, month="2026-08", limit=3, p=3)) == []
    assert _ids(_daily(client, date="2026-08-04")) == [C]  # C's entry of that day
    assert _ids(_daily(client, date="2026-08-08")) == []  # a Saturday with no papers
    assert _ids(_daily(client, date="2026-08-03")) == [B, A]  # the later entry first
    assert _ids(_daily(client, date="2026-08-03", sort="trending")) == [A, B]
    assert _ids(_daily(client, week="2026-W32")) == [D, C, B, A]
    # The week's own ranking: (1 + upvotes) doubled over the week: A 11, C 6·2^(1/7), B 4, D 2^(2/7).
    assert _ids(_daily(client, week="2026-W32", sort="trending")) == [A, C, B, D]
    assert _ids(_daily(client, week="2026-W33")) == [F, OLD, E, C]
    assert _ids(_daily(client, submitter="alice")) == [F]
    assert _ids(_daily(client, submitter="ALICE", sort="trending", month="2026-08")) == [F]
    assert _ids(_daily(client, submitter="bob")) == []
    assert _ids(_daily(client, submitter="nobody-at-all")) == []
    with site.read() as conn:
        listed = sa.select(feed_entries.c.arxiv_id).where(feed_entries.c.arxiv_id == papers.c.arxiv_id)
        trending = conn.scalars(
            sa.select(papers.c.arxiv_id)
            .where(listed.exists())
            .order_by(papers.c.trending_score.desc(), papers.c.arxiv_id.desc())
            .limit(20)
        ).all()
    assert _ids(_daily(client, sort="trending", limit=20)) == trending
    # The API is for programs: a blank parameter is malformed, as the schema says.
    assert client.get("/api/daily_papers", params={"date": ""}).status_code == 400


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"date": "2026-08-03", "week": "2026-W32"}, "at most one of date, week and month"),
        ({"date": "2026-02-30"}, "invalid date"),
        ({"week": "2026-W60"}, "invalid week"),
        ({"month": "August"}, "month: String should match pattern"),
        ({"month": "2026-13"}, "invalid month"),
        ({"sort": "upvotes"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"p": -1}, "p"),
        ({"p": "x"}, "p"),
        ({"submitter": "x" * 33}, "submitter"),
        ({"submitter": "no spaces"}, "submitter"),
        ({"date": "2026-8-1"}, "date"),
    ],
)
def test_bad_parameters_are_400_problems(client: TestClient, params: dict[str, Any], words: str) -> None:
    answer = client.get("/api/daily_papers", params=params)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert words in answer.json()["detail"]


def test_reads_are_conditional_and_cacheable(client: TestClient) -> None:
    for path in (
        "/api/daily_papers?date=2026-08-10",
        f"/api/papers/{E}",
        f"/api/papers/{E}/comments",
        f"/papers/{E}.md",
    ):
        first = client.get(path)
        assert first.status_code == 200 and first.headers["cache-control"] == "public, max-age=60"
        again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert (
            again.status_code == 304
            and again.content == b""
            and again.headers["etag"] == first.headers["etag"]
        )
    assert (
        client.get("/api/daily_papers?date=2026-08-10", headers={"If-None-Match": '"other"'}).status_code
        == 200
    )


# --- comments, Markdown, search --------------------------------------------------------------------------


def test_comments_in_thread_order_as_an_anonymous_reader_sees_them(client: TestClient) -> None:
    answer = client.get(f"/api/papers/{E}/comments")
    assert answer.status_code == 200
    comments = answer.json()
    first, reply, later, hidden, deleted = comments
    assert [c["depth"] for c in comments] == [0, 1, 1, 0, 0]
    assert reply["parentId"] == later["parentId"] == first["id"] and first["parentId"] is None
    assert first["author"]["name"] == "alice" and reply["author"]["name"] == "bob"
    assert first["raw"].startswith("First! $x^2$ and **bold**")
    assert "<strong>bold</strong>" in first["html"] and "<math" in first["html"]
    assert first["createdAt"] == "2026-08-10T10:00:00.000Z" and first["editedAt"] is None
    assert hidden["hidden"] and hidden["raw"] is None and hidden["html"] is None
    assert hidden["author"]["name"] == "alice"
    assert deleted["deleted"] and deleted["author"] is None and deleted["raw"] is None
    assert client.get(f"/api/papers/{A}/comments").json() == []
    missing = client.get("/api/papers/2608.99999/comments")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_the_paper_page_as_markdown(client: TestClient) -> None:
    answer = client.get(f"/papers/{E}.md")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
    text = answer.text
    assert text.startswith("# Attention in $\\mathcal{O}(n)$ time\n")  # math left as LaTeX
    assert "**Authors:** Grace Hopper, Edsger W. Dijkstra, Barbara Liskov" in text
    assert f"[arXiv:{E}v2](https://arxiv.org/abs/{E}v2)" in text
    assert f"(https://arxiv.org/pdf/{E}v2)" in text
    assert (
        "- Code: [https://github.com/example/linear-attention](https://github.com/example/linear-attention)"
        in text
    )
    assert "- Project page: " in text and "Upvotes: 7 (7 on Hugging Face, 0 here)" in text
    assert f"In the daily list: [2026-08-10]({SITE}/papers/date/2026-08-10)" in text
    assert "## Abstract\n\nWe show that $x^2 < y$ holds for quokkaformers.\n" in text
    assert "## Comments (3)" in text
    # Each comment's source is quoted: its own "# heading" cannot pass for the page's.
    assert "> First! $x^2$ and **bold**\n> # not a heading of the page\n" in text
    assert "· reply to #" in text
    assert "\\[hidden\\]" in text and "Something rude" not in text
    assert "\\[deleted\\]" in text and "Oops" not in text
    submitted = client.get(f"/papers/{F}.md").text
    assert f"Submitted by: [alice]({SITE}/users/alice)" in submitted
    assert client.get(f"/papers/{OLD}.md").text.startswith("# An old-style paper\n")
    missing = client.get("/papers/2608.99999.md")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_search_answers_daily_papers_items(client: TestClient) -> None:
    found = client.get("/api/papers/search", params={"q": "quokkaformers", "limit": 5})
    assert found.status_code == 200
    items = found.json()
    assert 1 <= len(items) <= 5 and items[0]["paper"]["id"] == E
    assert items[0]["publishedAt"] == "2026-08-10T09:00:00.000Z"
    assert _ids(client.get("/api/papers/search", params={"q": E}).json()) == [E]
    assert client.get("/api/papers/search").json() == []
    assert len(client.get("/api/papers/search", params={"q": "learning", "limit": 2}).json()) == 2
    # A page larger than the setting api_max_limit gives that many; a page below 1 is refused.
    capped = client.get("/api/papers/search", params={"q": "learning", "limit": 1000})
    assert capped.status_code == 200 and len(capped.json()) == client.app.state.settings.api_max_limit
    assert client.get("/api/papers/search", params={"q": "x", "limit": 0}).status_code == 400
    assert client.get("/api/papers/search", params={"q": "x" * 1001}).status_code == 400


# --- the real huggingface_hub client --------------------------------------------------------------------


class AuthorizationLog:
    """ASGI wrapper that records the Authorization header (or None) of every request it passes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, bytes | None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["path"], dict(scope["headers"]).get(b"authorization")))
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def live(site: Database, settings: Settings) -> Iterator[tuple[str, AuthorizationLog]]:
    """The app served by uvicorn on a free port, in a thread, behind the Authorization log."""
    app = create_app(settings, site)
    app.state.clock = lambda: NOW
    logged = AuthorizationLog(app)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(logged, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", logged
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def hf(live: tuple[str, AuthorizationLog], tmp_path_factory: pytest.TempPathFactory) -> Iterator[HfApi]:
    """HfApi(endpoint=<the live server>) with an empty home, a canary token in the environment and a
    dead proxy for every other host (so a request elsewhere fails instead of leaving the machine)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf-home")))
        env.setenv("HF_TOKEN", CANARY)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            env.setenv(name, "http://127.0.0.1:9")
        env.setenv("NO_PROXY", "127.0.0.1")
        env.setenv("no_proxy", "127.0.0.1")
        close_session()  # the client's HTTP session is made again, with this environment
        yield HfApi(endpoint=live[0])
        close_session()


def test_huggingface_hub_list_daily_papers(hf: HfApi, live: tuple[str, AuthorizationLog]) -> None:
    def ids(**params: Any) -> list[str]:
        return [paper.id for paper in hf.list_daily_papers(token=False, **params)]

    assert ids()[:7] == NEWEST_FIRST
    assert ids(date="2026-08-03") == [B, A]
    assert ids(date="2026-08-03", sort="trending") == [A, B]
    assert ids(date="2026-08-03", sort="publishedAt") == [B, A]
    assert ids(week="2026-W32", sort="trending") == [A, C, B, D]
    assert ids(month="2026-08") == NEWEST_FIRST
    assert ids(month="2026-08", p=1, limit=3) == NEWEST_FIRST[3:6]
    assert ids(p=0, limit=2) == NEWEST_FIRST[:2]
    assert ids(date="2026-08-08") == []
    assert ids(submitter="alice", month="2026-08") == [F]
    (f,) = hf.list_daily_papers(token=False, date="2026-08-11", submitter="alice")
    assert f.title == "Paper F" and f.upvotes == 1 and f.comments == 0
    assert f.published_at == _at(9, 12)  # arXiv's first version
    assert f.submitted_at == _at(11, 10)  # when it entered the daily list
    assert f.submitted_by is not None and f.submitted_by.username == "alice"
    assert f.submitted_by.avatar_url == f"{SITE}/users/alice/avatar.svg"
    assert [a.name for a in f.authors or []] == ["Ada Lovelace", "Alan Turing"]
    with pytest.raises(HfHubHTTPError) as refused:
        ids(date="2026-08-03", week="2026-W32")
    assert refused.value.response.status_code == 400
    assert "at most one of date, week and month" in str(refused.value)
    assert all(auth is None for _, auth in live[1].seen)


def test_huggingface_hub_paper_info_list_papers_read_paper(
    hf: HfApi, live: tuple[str, AuthorizationLog]
) -> None:
    info = hf.paper_info(E)
    assert info.id == E and info.title == r"Attention in $\mathcal{O}(n)$ time"
    assert [a.name for a in info.authors or []] == ["Grace Hopper", "Edsger W. Dijkstra", "Barbara Liskov"]
    assert info.upvotes == 7 and info.comments == 3 and info.discussion_id == hub_id("discussion", E)
    assert info.published_at == _at(1, 18)
    assert info.submitted_at == datetime(2026, 8, 10, tzinfo=UTC)
    assert info.github_repo == "https://github.com/example/linear-attention"
    assert info.project_page == "https://example.org/linear"
    assert info.submitted_by is None
    submitted = hf.paper_info(f"{F}v1")
    assert submitted.submitted_by is not None and submitted.submitted_by.username == "alice"
    assert hf.paper_info(B).upvotes == 3
    with pytest.raises(HfHubHTTPError) as missing:
        hf.paper_info("2608.99999")
    assert missing.value.response.status_code == 404
    found = list(hf.list_papers(query="quokkaformers", limit=3, token=False))
    assert 1 <= len(found) <= 3 and found[0].id == E and found[0].title == info.title
    text = hf.read_paper(E)
    assert text.startswith("# Attention in $\\mathcal{O}(n)$ time") and "## Comments (3)" in text
    with pytest.raises(HfHubHTTPError) as unread:
        hf.read_paper("2608.99999")
    assert unread.value.response.status_code == 404
    assert live[1].seen and all(auth is None for _, auth in live[1].seen)


# --- submitting with a token ------------------------------------------------------------------------------


def test_submit_with_tokens(db: Database) -> None:
    # An unknown paper is asked of arXiv: here a closed port, so the refusal (502) is tested too.
    settings = _settings(db, arxiv_api_url="http://127.0.0.1:9/api/query", http_retries=0, http_timeout=2)
    write_batch(db, [_record(G, "Paper G", 4, [], published_at=_at(10, 12))], _at(1, 0))
    alice = _member(db, settings, "alice")
    write = api_tokens.create_token(db, settings, alice, "script", "write", _at(2, 0)).secret
    read = api_tokens.create_token(db, settings, alice, "reader", "read", _at(2, 0)).secret
    app = create_app(settings, db)
    app.state.clock = lambda: NOW
    with TestClient(app) as client:

        def submit(token: str | None, body: Any) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return client.post("/api/papers/submit", json=body, headers=headers)

        nobody = submit(None, {"paperId": G})
        assert nobody.status_code == 401 and nobody.headers["www-authenticate"].startswith("Bearer")
        assert nobody.headers["content-type"] == "application/problem+json"
        assert submit("dp_not-a-real-token", {"paperId": G}).status_code == 401
        reader = submit(read, {"paperId": G})
        assert reader.status_code == 403 and reader.headers["content-type"] == "application/problem+json"
        for bad in ({}, {"paperId": ""}, {"paperId": "x" * 301}, {"paperId": G, "comment": "x" * 10_001}):
            assert submit(write, bad).status_code == 400, bad
        assert submit(write, {"paperId": "not an id"}).status_code == 400
        done = submit(
            write, {"paperId": f"https://arxiv.org/abs/{G}v1", "comment": "Worth a read: $e^{i\\pi}$."}
        )
        assert done.status_code == 201, done.text
        item = done.json()
        assert item["paper"]["id"] == G and item["submittedBy"]["name"] == "alice"
        assert item["publishedAt"] == "2026-08-12T12:00:00.000Z" and item["numComments"] == 1
        assert "commentError" not in item
        again = submit(write, {"paperId": G})
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
        assert f"{SITE}/papers/{G}" in again.json()["detail"] and again.json()["url"] == f"{SITE}/papers/{G}"
        unreachable = submit(write, {"paperId": "2608.09999"})
        assert unreachable.status_code == 502 and "arXiv could not be reached" in unreachable.json()["detail"]
        listed = client.get("/api/daily_papers", params={"submitter": "alice"}).json()
        assert _ids(listed) == [G]
        (comment,) = client.get(f"/api/papers/{G}/comments").json()
        assert comment["raw"] == "Worth a read: $e^{i\\pi}$." and comment["author"]["name"] == "alice"
