"""/api/v1 on SQLite and PostgreSQL, through the real app over the demo corpus: every route's answer
and its shape; cursor pagination (a whole month walked page by page gives every paper once, in order,
and a list whose order shifts meanwhile neither repeats nor skips the papers that kept their place; a
malformed or foreign cursor is a 400 problem); conditional GET (304, a new ETag after a vote) and
Cache-Control; CORS on reads; the token gate (401 without a token, 403 for a read token on a write);
votes, comments, submissions, the digest subscription (the member's and the anonymous double opt-in)
and the moderation log; the OpenAPI schema describing every operation with a model and an example."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dailypapers.core.models import PaperRecord
from dailypapers.core.settings import Settings
from dailypapers.services import accounts, api, api_tokens, moderation
from dailypapers.services.schemas import CommentView, PaperCard, PaperPublic, SearchPage
from dailypapers.store import feed as feed_q
from dailypapers.store.db import Database
from dailypapers.store.feed import SortOrder
from dailypapers.store.papers import write_batch
from dailypapers.store.tables import outbox, papers
from dailypapers.web.app import create_app, site_routes

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)  # the demo corpus's newest feed day is 2026-07-01
PASSWORD = "correct horse battery staple 42"
PROBLEM = "application/problem+json"
OLD_STYLE = "hep-th/9901001"
# Papers stored but on no feed day: the submissions' targets.
UNFEATURED = ["2606.90001", "2606.90002", "2606.90003"]


@dataclass
class Site:
    """The app, its database and the members' tokens (name → Authorization header)."""

    client: TestClient
    db: Database
    settings: Settings
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    paper: str = ""  # a paper of the newest feed day

    def get(self, url: str, who: str | None = None, **kwargs: Any) -> Any:
        return self.client.get(
            url, headers={**self.tokens.get(who or "", {}), **kwargs.pop("headers", {})}, **kwargs
        )

    def send(self, method: str, url: str, who: str | None = None, **kwargs: Any) -> Any:
        return self.client.request(method, url, headers=self.tokens.get(who or "", {}), **kwargs)


@pytest.fixture(scope="module")
def site(demo_db: Database) -> Iterator[Site]:
    settings = Settings(
        database_url=demo_db.url,
        page_size=30,
        api_rate_limit_address="100000/minute",
        api_rate_limit_token="100000/minute",
        submit_min_account_days=0,
        comment_rate_limit=3,
    )
    app = create_app(settings, demo_db)
    app.state.clock = lambda: NOW
    records = [
        PaperRecord(arxiv_id=i, title=f"Unfeatured {i}", published_at=NOW - timedelta(days=1))
        for i in UNFEATURED
    ]
    write_batch(demo_db, [*records, PaperRecord(arxiv_id=OLD_STYLE, title="An old-style paper")], NOW)
    with TestClient(app) as client:
        world = Site(client, demo_db, settings)
        for name, role in (("ada", "member"), ("bob", "member"), ("chatty", "member"), ("mo", "moderator")):
            member = accounts.create_user(demo_db, settings, name, f"{name}@example.org", PASSWORD, role, NOW)
            for scope in ("read", "write"):
                secret = api_tokens.create_token(
                    demo_db, settings, member, f"{name} {scope}", scope, NOW
                ).secret
                world.tokens[name if scope == "write" else f"{name}-read"] = {
                    "Authorization": f"Bearer {secret}"
                }
        world.paper = client.get("/api/v1/feeds/latest?limit=1").json()["items"][0]["arxiv_id"]
        yield world


def _problem(response: Any, status: int, *needles: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of `status` whose detail says each needle."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["instance"] and body["title"]
    for needle in needles:
        assert needle in body["detail"], body["detail"]
    return body


def _walk(site: Site, url: str, **params: Any) -> tuple[list[str], int]:
    """Every item id of a cursor-paged list, following next_cursor (and checking the Link header
    names the same next page); the ids and the number of pages."""
    ids: list[str] = []
    pages = 0
    cursor = None
    while True:
        answer = site.get(url, params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages += 1
        ids += [str(item.get("arxiv_id", item.get("id"))) for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            assert "link" not in answer.headers
            return ids, pages
        assert (
            answer.headers["link"].endswith('>; rel="next"') and f"cursor={cursor}" in answer.headers["link"]
        )


def _period_order(db: Database, start: date, end: date, sort: SortOrder) -> list[str]:
    """The papers of a period in `sort` order, as the store ranks them."""
    with db.read() as conn:
        return [r["arxiv_id"] for r in feed_q.papers_in_period(conn, start, end, sort, 100_000, 0)]


# --- feeds -------------------------------------------------------------------------------------------


def test_the_latest_feed_day_in_pages(site: Site) -> None:
    answer = site.get("/api/v1/feeds/latest")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == set(api.FeedItems.model_fields)
    assert (body["kind"], body["key"], body["sort"], body["start"], body["end"]) == (
        "date",
        "2026-07-01",
        "trending",
        "2026-07-01",
        "2026-07-01",
    )
    assert body["total"] == 301 and len(body["items"]) == 50 and body["next_cursor"]
    assert all(set(card) == set(PaperCard.model_fields) for card in body["items"])
    assert body["previous"] == {
        "key": "2026-06-30",
        "label": "Tue, Jun 30, 2026",
        "url": "/api/v1/feeds/date/2026-06-30",
    }
    assert body["next"] is None
    # The same day by its address, and the cursor of one continuing the other.
    assert site.get("/api/v1/feeds/date/2026-07-01").json() == body
    second = site.get("/api/v1/feeds/date/2026-07-01", params={"cursor": body["next_cursor"]}).json()
    assert (
        second["items"]
        == site.get("/api/v1/feeds/latest", params={"cursor": body["next_cursor"]}).json()["items"]
    )
    assert not {c["arxiv_id"] for c in second["items"]} & {c["arxiv_id"] for c in body["items"]}


@pytest.mark.parametrize(
    ("path", "kind", "label"),
    [
        ("week/2026-W27", "week", "Week 27, 2026 (Jun 29 – Jul 5)"),
        ("month/2026-06", "month", "June 2026"),
        ("date/2026-06-30", "date", "Tue, Jun 30, 2026"),
    ],
)
def test_a_period_feed(site: Site, path: str, kind: str, label: str) -> None:
    body = site.get(f"/api/v1/feeds/{path}", params={"sort": "upvotes", "limit": 7}).json()
    assert (body["kind"], body["label"], body["sort"], len(body["items"])) == (kind, label, "upvotes", 7)
    upvotes = [card["upvotes"] for card in body["items"]]
    assert upvotes == sorted(upvotes, reverse=True)


def test_a_limit_over_the_setting_gives_the_most_it_allows(site: Site) -> None:
    assert len(site.get("/api/v1/feeds/latest", params={"limit": 1000}).json()["items"]) == 100
    assert site.get("/api/v1/search", params={"q": "model", "limit": 1000}).json()["page_size"] == 100


def test_a_period_without_papers_is_empty_and_links_its_neighbours(site: Site) -> None:
    body = site.get("/api/v1/feeds/date/2026-06-28", params={"sort": "newest"}).json()  # a Sunday
    assert (body["total"], body["items"], body["next_cursor"]) == (0, [], None)
    assert body["previous"]["url"] == "/api/v1/feeds/date/2026-06-26?sort=newest"
    assert body["next"]["url"] == "/api/v1/feeds/date/2026-06-29?sort=newest"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("/api/v1/feeds/week/2026-07", "invalid week"),
        ("/api/v1/feeds/date/2026-02-30", "2026-02-30"),
        ("/api/v1/feeds/year/2026", "kind"),
        ("/api/v1/feeds/latest?sort=best", "sort"),
        ("/api/v1/feeds/latest?limit=0", "limit"),
        ("/api/v1/feeds/latest?limit=5&limit=6", "limit: give each parameter once"),
        ("/api/v1/feeds/latest?sort=", "sort"),  # empty is not "the default" in the API
        ("/api/v1/feeds/latest?cursor=", "cursor"),
        ("/api/v1/search?q=x&page=", "page"),
    ],
)
def test_a_bad_parameter_is_a_400_problem(site: Site, url: str, needle: str) -> None:
    _problem(site.get(url), 400, needle)


@pytest.mark.parametrize("sort", ["trending", "upvotes", "newest"])
def test_walking_a_whole_month_by_cursor_gives_every_paper_once_in_order(site: Site, sort: SortOrder) -> None:
    expected = _period_order(site.db, date(2026, 7, 1), date(2026, 7, 31), sort)
    ids, pages = _walk(site, "/api/v1/feeds/month/2026-07", sort=sort, limit=40)
    assert ids == expected and len(set(ids)) == len(ids) >= 301
    assert pages == -(-len(expected) // 40)


def test_a_cursor_survives_a_change_of_order(site: Site) -> None:
    """A paper of a later page jumps to the top between two pages (a burst of upvotes): the walk goes
    on after the last paper it gave, so none of the others is repeated or skipped (an offset would
    give the last paper of the first page again)."""
    url, params = "/api/v1/feeds/month/2026-07", {"sort": "upvotes", "limit": 25}
    first = site.get(url, params=params).json()
    order = _period_order(site.db, date(2026, 7, 1), date(2026, 7, 31), "upvotes")
    jumper = order[80]
    with site.db.write() as conn:
        before = conn.scalar(sa.select(papers.c.imported_upvotes).where(papers.c.arxiv_id == jumper))
        conn.execute(papers.update().where(papers.c.arxiv_id == jumper).values(imported_upvotes=100_000))
    try:
        rest, _ = _walk(site, url, cursor=first["next_cursor"], **params)
    finally:
        with site.db.write() as conn:
            conn.execute(papers.update().where(papers.c.arxiv_id == jumper).values(imported_upvotes=before))
    seen = [c["arxiv_id"] for c in first["items"]] + rest
    assert len(seen) == len(set(seen)) == len(order) - 1
    assert set(seen) == set(order) - {jumper}


def _cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_malformed_or_foreign_cursor_is_a_400_problem(site: Site) -> None:
    july = site.get("/api/v1/feeds/month/2026-07", params={"limit": 5}).json()["next_cursor"]
    search = site.get("/api/v1/search", params={"q": "diffusion", "mode": "keyword", "limit": 5}).json()
    valid = {"v": 1, "k": "feed", "s": ["month", "2026-07", "trending"], "o": 5, "a": "x"}
    for cursor in (
        "abc",
        "!!!",
        "%%%",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _cursor({"v": 1}),
        _cursor({**valid, "v": 2}),
        _cursor({**valid, "o": -1}),
        _cursor({**valid, "extra": 1}),
        _cursor([1, 2, 3]),  # type: ignore[arg-type]
    ):
        _problem(
            site.get("/api/v1/feeds/month/2026-07", params={"cursor": cursor}),
            400,
            "not a cursor of this API",
        )
    _problem(
        site.get("/api/v1/feeds/month/2026-07", params={"cursor": "A" * 401}),
        400,
        "cursor: String should have at most 400",
    )
    assert site.get("/api/v1/feeds/month/2026-07", params={"cursor": _cursor(valid)}).status_code == 200
    foreign = [
        ("/api/v1/feeds/month/2026-06", {"cursor": july}),  # another month
        ("/api/v1/feeds/month/2026-07", {"cursor": july, "sort": "newest"}),  # another order
        ("/api/v1/feeds/month/2026-07", {"cursor": search["next_cursor"]}),  # another list
        ("/api/v1/search", {"q": "diffusion", "mode": "keyword", "cursor": july}),
        ("/api/v1/search", {"q": "transformer", "mode": "keyword", "cursor": search["next_cursor"]}),
        ("/api/v1/moderation/log", {"cursor": july}),
        ("/api/v1/members/ada/submissions", {"cursor": july}),
    ]
    for url, params in foreign:
        _problem(site.get(url, params=params), 400, "another list")


# --- search ------------------------------------------------------------------------------------------


def test_search_keeps_its_fields_and_pages_by_cursor(site: Site) -> None:
    params = {"q": "title:diffusion", "mode": "keyword"}
    first = site.get("/api/v1/search", params=params).json()
    assert set(first) == set(SearchPage.model_fields) | {"next_cursor"}
    assert first["page_size"] == 30 and first["total"] > 60
    by_page = []
    for n in range(1, first["pages"] + 1):
        by_page += [
            p["arxiv_id"] for p in site.get("/api/v1/search", params={**params, "page": n}).json()["papers"]
        ]
    ids, cursor, pages = [], None, 0
    while True:
        body = site.get(
            "/api/v1/search", params={**params, "limit": 30, **({"cursor": cursor} if cursor else {})}
        )
        pages += 1
        ids += [p["arxiv_id"] for p in body.json()["papers"]]
        assert body.json()["page"] == pages
        cursor = body.json()["next_cursor"]
        if cursor is None:
            break
    assert ids == by_page and len(set(ids)) == first["total"] and pages == first["pages"]
    small = site.get("/api/v1/search", params={**params, "limit": 7}).json()
    assert small["page_size"] == 7 and len(small["papers"]) == 7
    _problem(
        site.get("/api/v1/search", params={**params, "limit": 8, "cursor": small["next_cursor"]}),
        400,
        "pages of 7",
    )
    _problem(
        site.get("/api/v1/search", params={**params, "page": 2, "cursor": small["next_cursor"]}),
        400,
        "page, cursor",
    )
    assert (
        site.get("/api/v1/search", params={"q": "zzqqxxnothing", "mode": "keyword"}).json()["next_cursor"]
        is None
    )


# --- papers ------------------------------------------------------------------------------------------


def test_a_paper_by_any_spelling_of_its_id(site: Site) -> None:
    body = site.get(f"/api/v1/papers/{site.paper}").json()
    assert set(body) == set(PaperPublic.model_fields) and body["arxiv_id"] == site.paper
    for spelling in (f"{site.paper}v1", f"arXiv:{site.paper}", f"ARXIV:{site.paper}v1"):
        again = site.get(f"/api/v1/papers/{spelling}")
        assert again.status_code == 200 and again.json() == body, spelling
    missing = _problem(site.get(f"/api/v1/papers/{site.paper}v9"), 404, "version 9")
    assert missing["paper"] == {
        "key": site.paper,
        "label": f"arXiv:{site.paper}",
        "url": f"/papers/{site.paper}",
    }
    _problem(site.get("/api/v1/papers/2612.99999"), 404, "2612.99999 is not in this feed")
    _problem(site.get("/api/v1/papers/not-an-id"), 400, "arxiv_id")
    old = site.get(f"/api/v1/papers/{OLD_STYLE}")
    assert old.status_code == 200 and old.json()["arxiv_id"] == OLD_STYLE


def test_similar_papers_keep_their_shape(site: Site) -> None:
    for url in (f"/api/v1/papers/{site.paper}/similar", f"/api/v1/papers/{site.paper}v1/similar"):
        body = site.get(url).json()
        assert set(body) == {"arxiv_id", "similar"} and body["arxiv_id"] == site.paper
        assert all(set(card) == set(PaperCard.model_fields) for card in body["similar"])
        assert site.paper not in [card["arxiv_id"] for card in body["similar"]]
    assert site.get(f"/api/v1/papers/{OLD_STYLE}/similar").json() == {"arxiv_id": OLD_STYLE, "similar": []}
    _problem(site.get("/api/v1/papers/2612.99999/similar"), 404)


# --- caching and CORS --------------------------------------------------------------------------------


def test_conditional_get_and_a_new_etag_after_a_vote(site: Site) -> None:
    url = f"/api/v1/papers/{site.paper}"
    first = site.get(url)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=60"
    unchanged = site.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == etag
    assert site.client.head(url, headers={"If-None-Match": etag}).status_code == 304
    assert site.send("PUT", f"{url}/vote", "bob").json()["voted"] is True
    changed = site.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["upvotes"] == first.json()["upvotes"] + 1
    site.send("DELETE", f"{url}/vote", "bob")
    # The same body again: the first ETag is current again.
    assert site.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_cache_control_is_private_with_a_token(site: Site) -> None:
    for url in (
        "/api/v1/feeds/latest?limit=1",
        f"/api/v1/papers/{site.paper}/comments",
        "/api/v1/moderation/log",
    ):
        assert site.get(url).headers["cache-control"] == "public, max-age=60", url
        assert site.get(url, "ada-read").headers["cache-control"] == "private, no-cache", url
    # Answers that depend on the token say so to caches.
    assert site.get(f"/api/v1/papers/{site.paper}/comments").headers["vary"] == "Authorization"
    assert site.get("/api/v1/me", "ada-read").headers["cache-control"] == "private, no-cache"


def test_reads_are_open_to_other_origins(site: Site) -> None:
    origin = {"Origin": "https://elsewhere.example"}
    answer = site.get("/api/v1/feeds/latest?limit=1", headers=origin)
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "ETag" in answer.headers["access-control-expose-headers"]
    assert "Link" in answer.headers["access-control-expose-headers"]
    preflight = site.client.options(
        f"/api/v1/papers/{site.paper}",
        headers={
            **origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match",
        },
    )
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
    assert "GET" in preflight.headers["access-control-allow-methods"]


# --- the token gate ----------------------------------------------------------------------------------

WRITES = [
    ("PUT", "/api/v1/papers/{paper}/vote", None),
    ("DELETE", "/api/v1/papers/{paper}/vote", None),
    ("POST", "/api/v1/papers/{paper}/comments", {"body": "Hello"}),
    ("POST", "/api/v1/submissions", {"arxiv_id": UNFEATURED[2]}),
    ("PUT", "/api/v1/me/subscription", {}),
    ("DELETE", "/api/v1/me/subscription", None),
]


def test_writes_need_a_write_token(site: Site) -> None:
    # A member's signed-in browser session is no credential here.
    session = "dp_session=" + accounts.sign_in(site.db, site.settings, "ada", PASSWORD, "127.0.0.1", NOW)
    for method, path, body in WRITES:
        url = path.format(paper=site.paper)
        refused = _problem(site.send(method, url, json=body), 401, "API token")
        assert refused["title"] == "Unauthorized"
        assert site.send(method, url, json=body).headers["www-authenticate"].startswith("Bearer")
        _problem(site.send(method, url, "ada-read", json=body), 403, "read-only")
        assert site.client.request(method, url, json=body, headers={"Cookie": session}).status_code == 401
    bad = {"Authorization": "Bearer dp_" + "x" * 40}
    _problem(site.client.put(f"/api/v1/papers/{site.paper}/vote", headers=bad), 401, "not valid")
    for url in ("/api/v1/me", "/api/v1/me/subscription"):
        _problem(site.get(url), 401, "API token")


def test_me(site: Site) -> None:
    for who in ("ada", "ada-read"):
        body = site.get("/api/v1/me", who).json()
        assert set(body) == set(api.Me.model_fields)
        assert (body["username"], body["email"], body["role"], body["email_confirmed"]) == (
            "ada",
            "ada@example.org",
            "member",
            True,
        )
        assert body["url"] == "/users/ada"


# --- votes -------------------------------------------------------------------------------------------


def test_an_upvote_counts_once_and_can_be_taken_back(site: Site) -> None:
    url = f"/api/v1/papers/{site.paper}/vote"
    before = site.get(f"/api/v1/papers/{site.paper}").json()
    first = site.send("PUT", url, "ada")
    assert first.status_code == 200 and set(first.json()) == set(api.Upvote.model_fields)
    again = site.send("PUT", url, "ada").json()
    assert (
        again
        == first.json()
        == {
            "arxiv_id": site.paper,
            "voted": True,
            "upvotes": before["upvotes"] + 1,
            "upvotes_local": before["upvotes_local"] + 1,
            "upvotes_imported": before["upvotes_imported"],
        }
    )
    assert site.get(f"/api/v1/papers/{site.paper}").json()["upvotes"] == before["upvotes"] + 1
    for _ in range(2):
        taken = site.send("DELETE", f"/api/v1/papers/arXiv:{site.paper}v1/vote", "ada").json()
        assert (taken["voted"], taken["upvotes"]) == (False, before["upvotes"])
    assert site.send("PUT", f"/api/v1/papers/{OLD_STYLE}/vote", "ada").json()["voted"] is True
    _problem(site.send("PUT", "/api/v1/papers/2612.99999/vote", "ada"), 404)


# --- comments ----------------------------------------------------------------------------------------


def test_comments_posted_and_read_as_each_viewer_sees_them(site: Site) -> None:
    paper = _period_order(site.db, date(2026, 6, 30), date(2026, 6, 30), "trending")[0]
    url = f"/api/v1/papers/{paper}/comments"
    posted = site.send("POST", url, "ada", json={"body": "Is $x^2$ the *right* loss? @bob"})
    assert posted.status_code == 201 and set(posted.json()) == set(CommentView.model_fields)
    top = posted.json()
    assert (top["author"], top["depth"], top["parent_id"]) == ("ada", 0, None)
    assert "<math" in top["body_html"] and "<em>right</em>" in top["body_html"]
    reply = site.send(
        "POST",
        f"/api/v1/papers/arXiv:{paper}v1/comments",
        "bob",
        json={"body": "Yes.", "parent_id": top["id"]},
    )
    assert reply.status_code == 201 and (reply.json()["depth"], reply.json()["parent_id"]) == (1, top["id"])
    anonymous = site.get(url).json()
    assert set(anonymous) == set(api.PaperComments.model_fields)
    assert (anonymous["count"], anonymous["can_comment"]) == (2, False)
    [thread] = anonymous["comments"]
    assert thread["id"] == top["id"] and [r["id"] for r in thread["replies"]] == [reply.json()["id"]]
    assert not thread["can_edit"] and not thread["can_reply"]
    as_ada = site.get(url, "ada-read").json()
    assert (
        as_ada["can_comment"] and as_ada["comments"][0]["can_edit"] and not as_ada["comments"][0]["can_flag"]
    )
    assert site.get(f"/api/v1/papers/{paper}").json()["comment_count"] == 2
    assert site.get(f"/api/v1/papers/{OLD_STYLE}/comments").json()["count"] == 0
    assert (
        site.send("POST", f"/api/v1/papers/{OLD_STYLE}/comments", "ada", json={"body": "Old!"}).status_code
        == 201
    )


def test_refused_comments(site: Site) -> None:
    url = f"/api/v1/papers/{site.paper}/comments"
    _problem(site.send("POST", url, "chatty", json={"body": "   "}), 400, "empty")
    _problem(site.send("POST", url, "chatty", json={"body": "x", "colour": "red"}), 400, "colour")
    _problem(site.send("POST", url, "chatty", json={"body": "x", "parent_id": "1"}), 400, "parent_id")
    _problem(
        site.send("POST", url, "chatty", json={"body": "x", "parent_id": 999_999}), 404, "comment 999999"
    )
    _problem(site.send("POST", url, "chatty", content=b"body=x"), 400)
    for n in range(3):  # comment_rate_limit
        assert site.send("POST", url, "chatty", json={"body": f"Comment {n}"}).status_code == 201
    limited = site.send("POST", url, "chatty", json={"body": "One too many"})
    _problem(limited, 429, "please wait")
    assert int(limited.headers["retry-after"]) > 0


# --- submissions and members -------------------------------------------------------------------------


def test_submit_a_paper_and_list_a_members_submissions(site: Site) -> None:
    first = site.send(
        "POST", "/api/v1/submissions", "ada", json={"arxiv_id": UNFEATURED[0], "comment": "Worth it."}
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert set(body) == set(api.SubmissionCreated.model_fields)
    assert (body["arxiv_id"], body["submitted_by"], body["feed_date"], body["fetched"]) == (
        UNFEATURED[0],
        "ada",
        "2026-07-01",
        False,
    )
    assert body["comment"]["body_html"] == "<p>Worth it.</p>\n" and body["comment_error"] is None
    second = site.send(
        "POST", "/api/v1/submissions", "ada", json={"arxiv_id": f"https://arxiv.org/abs/{UNFEATURED[1]}"}
    )
    assert second.status_code == 201 and second.json()["comment"] is None
    again = _problem(
        site.send("POST", "/api/v1/submissions", "bob", json={"arxiv_id": UNFEATURED[0]}), 409, "already"
    )
    assert again["url"] == f"/papers/{UNFEATURED[0]}"
    _problem(
        site.send("POST", "/api/v1/submissions", "bob", json={"arxiv_id": "not an id"}),
        400,
        "not an arXiv id",
    )
    _problem(site.send("POST", "/api/v1/submissions", "bob", json={}), 400, "arxiv_id")
    paper = site.get(f"/api/v1/papers/{UNFEATURED[0]}").json()
    assert paper["submitted_by"] == "ada" and paper["feed_days"] == ["2026-07-01"]
    ids, pages = _walk(site, "/api/v1/members/ADA/submissions", limit=1)
    assert ids == [UNFEATURED[1], UNFEATURED[0]] and pages == 2
    listed = site.get("/api/v1/members/ada/submissions").json()
    assert listed["username"] == "ada" and listed["items"][0] == {
        "day": "2026-07-01",
        "arxiv_id": UNFEATURED[1],
        "title": f"Unfeatured {UNFEATURED[1]}",
        "url": f"/papers/{UNFEATURED[1]}",
    }
    _problem(site.get("/api/v1/members/nobody-here/submissions"), 404, "nobody-here")


def test_a_members_public_page(site: Site) -> None:
    body = site.get("/api/v1/members/ada").json()
    assert set(body) == set(api.MemberProfile.model_fields)
    assert (body["username"], body["role"], body["public_votes"], body["upvotes"]) == (
        "ada",
        "member",
        False,
        None,
    )
    assert body["moderation"] is None
    assert site.get("/api/v1/members/bob", "mo").json()["moderation"]["can_ban"] is True
    _problem(site.get("/api/v1/members/nobody-here"), 404, "nobody-here")
    _problem(site.get("/api/v1/members/-bad-"), 400, "username")


# --- subscriptions -----------------------------------------------------------------------------------


def test_the_members_digest_subscription(site: Site) -> None:
    _problem(site.get("/api/v1/me/subscription", "bob-read"), 404, "no digest subscription")
    _problem(site.send("DELETE", "/api/v1/me/subscription", "bob"), 404)
    wanted = api.DIGEST_EXAMPLE
    saved = site.send("PUT", "/api/v1/me/subscription", "bob", json=wanted)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {
        "email": "bob@example.org",
        "status": "active",
        "paused_reason": None,
        "preferences": wanted,
    }
    assert site.get("/api/v1/me/subscription", "bob-read").json() == saved.json()
    paused = site.send("PUT", "/api/v1/me/subscription", "bob", json={"paused": True}).json()
    assert paused["status"] == "paused" and paused["preferences"]["frequency"] == "daily"  # a default
    _problem(
        site.send("PUT", "/api/v1/me/subscription", "bob", json={"timezone": "Mars/Olympus"}), 400, "timezone"
    )
    _problem(site.send("PUT", "/api/v1/me/subscription", "bob", json={"send_hour": 24}), 400, "send_hour")
    _problem(site.send("PUT", "/api/v1/me/subscription", "bob", json={"paused": 0}), 400, "paused")  # strict
    _problem(
        site.send("PUT", "/api/v1/me/subscription", "bob", json={"categories": ["Physics!"]}),
        400,
        "categories",
    )
    for _ in range(2):
        ended = site.send("DELETE", "/api/v1/me/subscription", "bob")
        assert ended.status_code == 200 and ended.json()["status"] == "unsubscribed"
    assert site.get("/api/v1/me/subscription", "bob-read").json()["status"] == "unsubscribed"
    assert site.send("PUT", "/api/v1/me/subscription", "bob", json={}).json()["status"] == "active"


def test_the_anonymous_double_opt_in(site: Site) -> None:
    for _ in range(2):  # the second within the throttle: the same answer, no second mail
        answer = site.client.post("/api/v1/subscriptions", json={"email": "Reader@Example.ORG"})
        assert answer.status_code == 202
        assert answer.json() == {
            "email": "Reader@example.org",
            "detail": "Check your inbox: the subscription starts once you open the link we sent to "
            "Reader@example.org.",
        }
    with site.db.read() as conn:
        mails = conn.execute(
            sa.select(outbox.c.kind, outbox.c.status).where(outbox.c.to_addr == "Reader@example.org")
        )
        assert mails.all() == [("confirm", "queued")]
    _problem(site.client.post("/api/v1/subscriptions", json={"email": "not-an-address"}), 400, "email")
    _problem(site.client.post("/api/v1/subscriptions", json={"email": "a@example.org", "x": 1}), 400)


# --- the moderation log ------------------------------------------------------------------------------


def test_the_moderation_log_by_cursor(site: Site) -> None:
    accounts.create_user(site.db, site.settings, "troll", "troll@example.org", PASSWORD, "member", NOW)
    moderation.operator_ban(site.db, "troll", "spam", None, NOW)
    moderation.operator_unban(site.db, "troll", "appeal granted", NOW + timedelta(minutes=1))
    moderation.operator_ban(site.db, "troll", "spam again", None, NOW + timedelta(minutes=2))
    body = site.get("/api/v1/moderation/log").json()
    assert set(body) == set(api.ModerationLog.model_fields) and body["total"] == 3
    assert [e["reason"] for e in body["items"]] == ["spam again", "appeal granted", "spam"]
    assert body["items"][0]["url"] == "/users/troll" and body["items"][0]["action_label"] == "banned a member"
    ids, pages = _walk(site, "/api/v1/moderation/log", limit=1)
    assert ids == [str(e["id"]) for e in body["items"]] and pages == 3


# --- the schema --------------------------------------------------------------------------------------


def _valid_example(name: str) -> None:
    """The example of the services.api model `name` is a valid instance of it (/openapi.json shows it
    without its null members: FastAPI leaves out every None of the document)."""
    model = getattr(api, name)
    [example] = model.model_json_schema()["examples"]
    model.model_validate(example)


def test_the_openapi_schema_describes_every_v1_operation_with_a_model_and_an_example(site: Site) -> None:
    schema = site.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    operations = 0
    for route in site_routes(site.client.app.router.routes):  # type: ignore[attr-defined]
        path = getattr(route, "path_format", "")
        if not path.startswith("/api/v1/"):
            continue
        for method in route.methods:  # type: ignore[attr-defined]
            operation = schema["paths"][path][method.lower()]
            operations += 1
            assert operation["summary"] and operation["description"] and operation["tags"] == ["API v1"]
            [success] = [code for code in operation["responses"] if code.startswith("2")]
            ref = operation["responses"][success]["content"]["application/json"]["schema"]["$ref"]
            name = ref.rsplit("/", 1)[1]
            assert len(components[name]["examples"]) == 1
            _valid_example(name)
            for code in ("400", "404", "401", "403", "429"):
                if code in operation["responses"]:
                    assert "application/problem+json" in operation["responses"][code]["content"]
            if method == "GET":
                assert "304" in operation["responses"]
            body = operation.get("requestBody")
            if body:
                request = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                assert components[request]["examples"]
                _valid_example(request)
    assert operations == 24
