"""RSS and Atom feeds on SQLite and PostgreSQL: the daily list, a day/week/month, a category, a saved
search, a member's submissions and a paper's comments. Each feed, in both formats, parses with
feedparser without error, holds the right entries in the right order, keeps its ids (tag URIs of the
configured site, whatever Host a request names) across fetches and votes, carries times, authors and
math, answers conditional GETs with 304, and keeps hostile text escaped; every page with a feed
announces it in <link rel="alternate"> and shows a feed link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import feedparser
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dailypapers.core.settings import Settings
from dailypapers.core.text import latex_to_unicode
from dailypapers.services import accounts, votes
from dailypapers.services import search as search_service
from dailypapers.services.schemas import Member
from dailypapers.store.db import Database
from dailypapers.store.tables import comments, feed_entries, papers, users
from dailypapers.web.app import create_app

NOW = datetime(2026, 7, 2, 18, 0, tzinfo=UTC)
DAY = date(2026, 7, 2)  # a feed day after the demo corpus's last (2026-07-01)
SITE = "https://papers.example.org"
TAG = "tag:papers.example.org,2026:"
ITEMS = 20
MATH = "2607.00001"
MATH_TITLE = r"Sparse $\ell_2$ attention at $O(n^2)$ cost"
HOSTILE = "2607.00002"
HOSTILE_TITLE = 'A <script>alert("title")</script> ]]> title\x01 & more'
OLD_SUBMISSION_DAY = date(2026, 6, 30)
PASSWORD = "correct horse battery staple 42"
FORMATS = ("atom", "rss")


@dataclass
class World:
    db: Database
    client: TestClient
    old_submission: str  # a demo paper carol submitted on OLD_SUBMISSION_DAY
    comment_ids: dict[str, int]


def insert_paper(conn: sa.Connection, arxiv_id: str, title: str, abstract: str, **values: Any) -> None:
    conn.execute(
        papers.insert().values(
            arxiv_id=arxiv_id,
            version=1,
            title=title,
            abstract=abstract,
            code_urls=[],
            content_hash="0" * 32,
            first_featured_at=values.pop("featured_at"),
            created_at=NOW - timedelta(days=1),
            modified_at=NOW - timedelta(days=1),
            **values,
        )
    )


def insert_comment(conn: sa.Connection, user_id: int, body: str, at: datetime, **values: Any) -> int:
    return int(
        conn.execute(
            comments.insert()
            .values(arxiv_id=MATH, user_id=user_id, body=body, created_at=at, **values)
            .returning(comments.c.id)
        ).scalar_one()
    )


@pytest.fixture(scope="module")
def world(demo_db: Database) -> Iterator[World]:
    """The demo corpus, plus: members carol and bob; a new feed day with a paper of math submitted by
    carol and a paper of hostile text; carol's submission of a demo paper on an older day (featured
    again on the new day); comments
    on the math paper (visible, edited and hostile, hidden, deleted)."""
    db = demo_db
    settings = Settings(database_url=db.url, site_url=SITE, feed_items=ITEMS, page_size=30)
    ids = {
        name: accounts.create_user(
            db, settings, name, f"{name}@example.org", PASSWORD, "member", NOW - timedelta(days=60)
        ).id
        for name in ("carol", "bob")
    }
    with db.write() as conn:
        conn.execute(users.update().where(users.c.username == "carol").values(display_name="Carol C."))
        insert_paper(
            conn,
            MATH,
            MATH_TITLE,
            "We bound $x^2 + y^2$ and <i>more</i>.",
            authors=["Ada Lovelace", "Alan Turing"],
            categories=["cs.CL", "cs.LG"],
            primary_category="cs.CL",
            trending_score=1e9,
            featured_at=datetime(2026, 7, 2, 9, tzinfo=UTC),
            updated_at=datetime(2026, 7, 2, 12, tzinfo=UTC),  # a new version after it was featured
        )
        insert_paper(
            conn,
            HOSTILE,
            HOSTILE_TITLE,
            "An abstract with <script>alert('abstract')</script>, ]]> and a bell\x07.",
            authors=["Eve <eve@example.org>", "Mallory ]]> \x02"],
            categories=["cs.CR"],
            primary_category="cs.CR",
            trending_score=1e8,
            featured_at=datetime(2026, 7, 2, 8, tzinfo=UTC),
        )
        for arxiv_id, hour, by in ((MATH, 9, ids["carol"]), (HOSTILE, 8, None)):
            conn.execute(
                feed_entries.insert().values(
                    feed_date=DAY,
                    arxiv_id=arxiv_id,
                    featured_by="member" if by else "arxiv-listing",
                    featured_at=datetime(2026, 7, 2, hour, tzinfo=UTC),
                    submitted_by=by,
                )
            )
        old = conn.execute(
            sa.select(feed_entries.c.id, feed_entries.c.arxiv_id)
            .where(feed_entries.c.feed_date == OLD_SUBMISSION_DAY)
            .order_by(feed_entries.c.arxiv_id)
            .limit(1)
        ).one()
        conn.execute(
            feed_entries.update().where(feed_entries.c.id == old.id).values(submitted_by=ids["carol"])
        )
        # Featured again since, by a source: still carol's submission of its older day.
        conn.execute(
            feed_entries.insert().values(
                feed_date=DAY,
                arxiv_id=old.arxiv_id,
                featured_by="hf-daily",
                featured_at=datetime(2026, 7, 2, 7, tzinfo=UTC),
            )
        )
        at = datetime(2026, 7, 2, 10, tzinfo=UTC)
        comment_ids = {
            "first": insert_comment(conn, ids["carol"], "First! $x^2$ is **neat**.", at),
            "hostile": insert_comment(
                conn,
                ids["bob"],
                "<script>alert('comment')</script> ]]> \x01\x02 & <b>bold</b>",
                at + timedelta(hours=1),
                edited_at=at + timedelta(hours=1, minutes=30),
            ),
            "hidden": insert_comment(
                conn,
                ids["bob"],
                "A rude remark",
                at + timedelta(hours=2),
                hidden_at=NOW,
                hidden_reason="rude",
            ),
            "deleted": insert_comment(conn, ids["carol"], "", at + timedelta(hours=3), deleted_at=NOW),
        }
    app = create_app(settings, db)
    app.state.clock = lambda: NOW
    with TestClient(app) as client:
        yield World(db, client, old.arxiv_id, comment_ids)


def fetch(client: TestClient, path: str, **headers: str) -> Any:
    """A feed, parsed, after checking its answer: 200, its media type, caching headers, no error."""
    answer = client.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    fmt = "rss" if path.split("?")[0].endswith(".rss") else "atom"
    assert answer.headers["content-type"] == f"application/{fmt}+xml; charset=utf-8"
    assert answer.headers["etag"] and answer.headers["last-modified"]
    assert answer.headers["cache-control"] == "public, max-age=60"
    parsed = feedparser.parse(answer.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == ("atom10" if fmt == "atom" else "rss20")
    return parsed


def ids_of(parsed: Any) -> list[str]:
    return [entry.id for entry in parsed.entries]


def paper_ids(parsed: Any) -> list[str]:
    assert all(entry.id.startswith(f"{TAG}paper/") for entry in parsed.entries)
    return [entry.id.removeprefix(f"{TAG}paper/") for entry in parsed.entries]


def newest_first(db: Database, keep: Any = None, within_day: str = "featured") -> list[str]:
    """Every featured paper once, at its newest feed day: newest day first, then by trending score or by
    the time it was featured (the order the feeds promise), filtered by `keep(row)`."""
    with db.read() as conn:
        rows = conn.execute(
            sa.select(
                feed_entries.c.arxiv_id,
                feed_entries.c.feed_date,
                feed_entries.c.featured_at,
                papers.c.trending_score,
                papers.c.categories,
            ).join(papers, papers.c.arxiv_id == feed_entries.c.arxiv_id)
        ).all()
    newest: dict[str, Any] = {}
    for row in rows:
        if row.arxiv_id not in newest or row.feed_date > newest[row.arxiv_id].feed_date:
            newest[row.arxiv_id] = row
    chosen = [r for r in newest.values() if keep is None or keep(r)]
    second = (lambda r: r.trending_score) if within_day == "trending" else (lambda r: r.featured_at)
    chosen.sort(key=lambda r: (r.feed_date, second(r), r.arxiv_id), reverse=True)
    return [r.arxiv_id for r in chosen]


@pytest.mark.parametrize("fmt", FORMATS)
def test_daily_list(world: World, fmt: str) -> None:
    parsed = fetch(world.client, f"/feed.{fmt}")
    assert paper_ids(parsed) == newest_first(world.db, within_day="trending")[:ITEMS]
    assert paper_ids(parsed)[:2] == [MATH, HOSTILE]
    assert parsed.feed.title == "Daily Papers: the daily list"
    assert parsed.feed.link == f"{SITE}/"
    if fmt == "atom":
        assert parsed.feed.id == f"{TAG}feed/daily"
        assert {"rel": "self", "href": f"{SITE}/feed.atom", "type": "application/atom+xml"} in [
            dict(link) for link in parsed.feed.links
        ]
    # The feed's time is its newest entry's: the math paper's new version.
    assert parsed.feed.updated_parsed[:6] == (2026, 7, 2, 12, 0, 0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_entry_carries_times_authors_links_categories_and_math(world: World, fmt: str) -> None:
    entry = fetch(world.client, f"/feed.{fmt}").entries[0]
    assert entry.id == f"{TAG}paper/{MATH}"
    assert entry.link == f"{SITE}/papers/{MATH}"
    # The title is text: its LaTeX as Unicode; the content is HTML with the math as MathML.
    assert entry.title == latex_to_unicode(MATH_TITLE) == "Sparse ℓ₂ attention at O(n²) cost"
    content = entry.content[0].value if fmt == "atom" else entry.description
    assert "<math" in content and "$" not in content and "&lt;i&gt;more&lt;/i&gt;" in content
    assert f'href="https://arxiv.org/abs/{MATH}v1"' in content
    assert [a.name for a in entry.authors] == ["Ada Lovelace", "Alan Turing"]
    assert [t.term for t in entry.tags] == ["cs.CL", "cs.LG"]
    # Published when it entered the list; updated by the version that came after.
    assert entry.published_parsed[:6] == (2026, 7, 2, 9, 0, 0)
    if fmt == "atom":  # RSS has no updated time of an item
        assert entry.updated_parsed[:6] == (2026, 7, 2, 12, 0, 0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_ids_are_stable_and_do_not_depend_on_the_host(world: World, fmt: str) -> None:
    path = f"/feed.{fmt}"
    first = world.client.get(path)
    assert world.client.get(path).content == first.content  # same data, same bytes
    other_host = world.client.get(path, headers={"host": "evil.example"})
    assert other_host.content == first.content and b"evil.example" not in other_host.content
    before = fetch(world.client, path)
    with world.db.read() as conn:
        bob = Member.from_row(conn.execute(sa.select(users).where(users.c.username == "bob")).one())
    last = paper_ids(before)[-1]
    settings = Settings(database_url=world.db.url)
    votes.vote(world.db, settings, bob, last, True, NOW)
    try:
        after = fetch(world.client, path)
        assert world.client.get(path).content != first.content  # the vote is seen ...
        assert sorted(ids_of(after)) == sorted(ids_of(before))  # ... and the ids stay
        assert all(i.startswith(TAG) for i in ids_of(after))
    finally:
        votes.vote(world.db, settings, bob, last, False, NOW)


@pytest.mark.parametrize("fmt", FORMATS)
def test_periods_follow_their_pages(world: World, fmt: str) -> None:
    for kind, key in (("date", "2026-06-30"), ("week", "2026-W27"), ("month", "2026-06")):
        parsed = fetch(world.client, f"/papers/{kind}/{key}.{fmt}")
        page = world.client.get(f"/papers/{kind}/{key}.json").json()
        assert paper_ids(parsed) == [p["arxiv_id"] for p in page["papers"]][:ITEMS]
        assert parsed.feed.title == f"Daily Papers: {page['label']}"
        assert parsed.feed.link == f"{SITE}/papers/{kind}/{key}"
        published = [e.published_parsed for e in parsed.entries]
        assert all(date(*p[:3]) >= date.fromisoformat(page["start"]) for p in published)
        assert all(date(*p[:3]) <= date.fromisoformat(page["end"]) for p in published)


@pytest.mark.parametrize("fmt", FORMATS)
def test_category_feed_holds_the_newest_papers_of_the_category(world: World, fmt: str) -> None:
    parsed = fetch(world.client, f"/categories/cs.CL.{fmt}")
    assert paper_ids(parsed) == newest_first(world.db, lambda r: "cs.CL" in r.categories)[:ITEMS]
    assert paper_ids(parsed)[0] == MATH and HOSTILE not in paper_ids(parsed)
    assert all("cs.CL" in [t.term for t in e.tags] for e in parsed.entries)
    assert parsed.feed.title == "Daily Papers: new papers in cs.CL"
    assert paper_ids(fetch(world.client, f"/search.{fmt}?q=cat:cs.CL")) == paper_ids(parsed)
    empty = fetch(world.client, f"/categories/astro-ph.{fmt}")  # a category no paper here has
    assert empty.entries == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_search_feed_is_a_saved_search_newest_first(world: World, fmt: str) -> None:
    q = "contrastive -medical"
    parsed = fetch(world.client, f"/search.{fmt}?q=contrastive+-medical")
    assert parsed.feed.title == 'New papers matching "contrastive -medical"'
    settings = Settings(database_url=world.db.url, search_mode="keyword")
    matches = {p.arxiv_id for p in search_service.search(world.db, settings, q, 1, "keyword", 1000).papers}
    assert len(matches) > ITEMS  # enough to show the cap and the order
    assert paper_ids(parsed) == newest_first(world.db, lambda r: r.arxiv_id in matches)[:ITEMS]
    fields = fetch(world.client, f"/search.{fmt}?q=title%3Aattention+cat%3Acs.CL")
    assert MATH in paper_ids(fields)
    assert all("attention" in e.title.lower() for e in fields.entries)
    assert paper_ids(fetch(world.client, f"/search.{fmt}?q={HOSTILE}")) == [HOSTILE]
    assert fetch(world.client, f"/search.{fmt}?q=%21%21+%3F").entries == []  # nothing to match


@pytest.mark.parametrize("fmt", FORMATS)
def test_submissions_feed(world: World, fmt: str) -> None:
    parsed = fetch(world.client, f"/users/carol/submissions.{fmt}")
    assert paper_ids(parsed) == [MATH, world.old_submission]
    assert parsed.feed.title == "Papers submitted by Carol C."
    assert parsed.feed.link == f"{SITE}/users/carol"
    assert paper_ids(fetch(world.client, f"/users/CAROL/submissions.{fmt}")) == paper_ids(parsed)
    nothing = fetch(world.client, f"/users/bob/submissions.{fmt}")
    assert nothing.entries == []
    assert nothing.feed.updated_parsed[:3] == (2026, 5, 3)  # the member's sign-up time


@pytest.mark.parametrize("fmt", FORMATS)
def test_comments_feed_shows_visible_comments_newest_first(world: World, fmt: str) -> None:
    parsed = fetch(world.client, f"/papers/{MATH}/comments.{fmt}")
    ids = world.comment_ids
    assert ids_of(parsed) == [f"{TAG}comment/{ids['hostile']}", f"{TAG}comment/{ids['first']}"]
    assert parsed.feed.title == f"Comments on “{latex_to_unicode(MATH_TITLE)}”"
    hostile, first = parsed.entries
    assert first.author == "Carol C." and hostile.author == "bob"
    assert first.link == f"{SITE}/papers/{MATH}#c{ids['first']}"
    first_html = first.content[0].value if fmt == "atom" else first.description
    assert "<math" in first_html and "<strong>neat</strong>" in first_html
    assert first.published_parsed[:6] == (2026, 7, 2, 10, 0, 0)
    if fmt == "atom":
        assert hostile.updated_parsed[:6] == (2026, 7, 2, 11, 30, 0)  # edited
        assert parsed.feed.updated_parsed[:6] == (2026, 7, 2, 11, 30, 0)
    assert ids_of(fetch(world.client, f"/papers/{MATH}v1/comments.{fmt}")) == ids_of(parsed)
    no_comments = fetch(world.client, f"/papers/{HOSTILE}/comments.{fmt}")
    assert no_comments.entries == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_text_stays_escaped(world: World, fmt: str) -> None:
    for path in (f"/feed.{fmt}", f"/papers/{MATH}/comments.{fmt}", f"/search.{fmt}?q={HOSTILE}"):
        body = world.client.get(path).content
        assert b"<script" not in body and b"<b>" not in body and b"]]>" not in body
        assert b"\x01" not in body and b"\x02" not in body and b"\x07" not in body
        fetch(world.client, path)  # and it parses
    entry = fetch(world.client, f"/search.{fmt}?q={HOSTILE}").entries[0]
    assert "title" in entry.title and "& more" in entry.title
    html = entry.content[0].value if fmt == "atom" else entry.description
    assert "&lt;script&gt;" in html and "<script" not in html
    if fmt == "atom":
        assert [a.name for a in entry.authors] == ["Eve <eve@example.org>", "Mallory ]]>"]
    comment = fetch(world.client, f"/papers/{MATH}/comments.{fmt}").entries[0]
    comment_html = comment.content[0].value if fmt == "atom" else comment.description
    assert "&lt;script&gt;" in comment_html and "&lt;b&gt;bold&lt;/b&gt;" in comment_html


@pytest.mark.parametrize("fmt", FORMATS)
def test_conditional_get(world: World, fmt: str) -> None:
    path = f"/papers/{MATH}/comments.{fmt}"
    first = world.client.get(path)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert modified == "Thu, 02 Jul 2026 11:30:00 GMT"
    same = world.client.get(path, headers={"if-none-match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
    assert world.client.get(path, headers={"if-modified-since": modified}).status_code == 304
    older = world.client.get(path, headers={"if-modified-since": "Thu, 02 Jul 2026 11:29:59 GMT"})
    assert older.status_code == 200 and older.content == first.content
    assert world.client.get(path, headers={"if-none-match": '"other"'}).status_code == 200


def test_unknown_and_malformed_addresses(world: World) -> None:
    client = world.client
    for path in (
        "/users/nobody/submissions.atom",
        "/papers/2607.99999/comments.rss",
        "/papers/hep-th/9901001/comments.atom",
        "/papers/date/2020-01-01.atom",
        "/papers/year/2026.rss",
        "/papers/hep-th/9901001.atom",
        "/papers/date/2026-13-01.atom",  # shaped like a day, but no calendar has it
        "/papers/week/2026-W60.rss",
        "/papers/date/2026-W27.atom",
        "/papers/date/2026-6-30.atom",
        "/papers/month/june.rss",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json"
    for path in (
        "/categories/CS.CL.atom",
        "/categories/cs.CL%3Bx.rss",
        f"/categories/{'a' * 40}.atom",
        "/search.atom",
        "/search.rss?q=",
        "/search.atom?q=+++",
        f"/search.atom?q={'x' * 501}",
        f"/papers/date/{'9' * 33}.atom",
    ):
        answer = client.get(path)
        assert answer.status_code == 400, path
        assert answer.json()["status"] == 400


DISCOVERY = re.compile(
    r'<link rel="alternate" type="(application/(?:atom|rss)\+xml)" title="([^"]*)" href="([^"]*)">'
)
VISIBLE = re.compile(r'<p class="feed-links">(.*?)</p>', re.S)


@pytest.mark.parametrize(
    ("page", "feeds"),
    [
        ("/", ["/feed", "/papers/date/2026-07-02"]),
        ("/papers/date/2026-06-30", ["/papers/date/2026-06-30"]),
        ("/papers/week/2026-W27?sort=newest", ["/papers/week/2026-W27"]),
        ("/papers/month/2026-06", ["/papers/month/2026-06"]),
        (f"/papers/{MATH}", [f"/papers/{MATH}/comments"]),
        ("/search?q=contrastive+-medical", ["/search"]),
        ("/search?q=cat%3Acs.CL", ["/search", "/categories/cs.CL"]),
        ("/users/carol", ["/users/carol/submissions"]),
    ],
)
def test_pages_announce_their_feeds(world: World, page: str, feeds: list[str]) -> None:
    html = world.client.get(page).text
    announced = DISCOVERY.findall(html)
    paths = [href.split("?")[0] for _, _, href in announced]
    assert paths == [f"{feed}.{fmt}" for feed in feeds for fmt in FORMATS]
    visible = VISIBLE.search(html)
    assert visible, f"{page} shows no feed link"
    for media_type, title, href in announced:
        assert f'href="{href}" type="{media_type}"' in visible.group(1)
        # Each announced feed is there, under the title the page gives it.
        parsed = fetch(world.client, href.replace("&amp;", "&"))
        assert parsed.feed.title == title.replace("&#34;", '"')


def test_pages_link_their_exports(world: World) -> None:
    client = world.client
    paper = client.get(f"/papers/{MATH}").text
    assert (
        f'href="/papers/{MATH}.bib"' in paper and f'href="/papers/{MATH}.ris"' in paper and "Cite:" in paper
    )
    week = client.get("/papers/week/2026-W27?sort=upvotes").text
    assert 'href="/papers/week/2026-W27.bib?sort=upvotes"' in week
    assert 'href="/papers/date/2026-06-30.ris"' in client.get("/papers/date/2026-06-30").text
    search = client.get("/search?q=contrastive+-medical").text
    assert 'href="/search.bib?q=contrastive%20-medical"' in search
    assert "upvotes.bib" not in client.get("/users/carol").text  # upvotes kept private
    with world.db.write() as conn:
        conn.execute(users.update().where(users.c.username == "carol").values(public_votes=True))
    try:
        member = client.get("/users/carol").text
        assert 'href="/users/carol/upvotes.bib"' in member and 'href="/users/carol/upvotes.ris"' in member
    finally:
        with world.db.write() as conn:
            conn.execute(users.update().where(users.c.username == "carol").values(public_votes=False))


def test_pages_without_a_feed_announce_none(world: World) -> None:
    for page in ("/search", "/search?q=%21%21", "/signin"):
        html = world.client.get(page).text
        assert not DISCOVERY.findall(html) and 'class="feed-links"' not in html
