"""Submit a paper through the pages, on SQLite and PostgreSQL, with arXiv played by the replay server
(recorded answers, faults on demand): an unknown paper is fetched and joins today's feed "Submitted by
<member>" with its first comment; too old, over the daily cap, already featured, unknown to arXiv and
arXiv failing are all refused in words, never a 500."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dailypapers.core.models import PaperRecord
from dailypapers.core.settings import Settings
from dailypapers.services import accounts, moderation
from dailypapers.store.db import Database
from dailypapers.store.papers import write_batch
from dailypapers.store.tables import feed_entries, papers
from dailypapers.testing.replay import ReplayServer, Reply, harvest_routes
from dailypapers.web.app import create_app

HARVEST = Path(__file__).parents[1] / "data" / "harvest"
PAPER = "1605.08386"  # recorded in tests/data/harvest/arxiv-api; first published 2016-05-26 17:59 UTC
NOW = datetime(2016, 5, 28, 12, tzinfo=UTC)
TODAY = "/papers/date/2016-05-28"
PASSWORD = "correct horse battery staple 42"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
ERROR_FEED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    b"<id>http://arxiv.org/api/x</id><title>arXiv Query</title>"
    b"<entry><id>http://arxiv.org/api/errors#incorrect_id_format</id><title>Error</title>"
    b"<summary>incorrect id format for 1605.08386</summary></entry></feed>"
)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def arxiv() -> Iterator[ReplayServer]:
    with ReplayServer(harvest_routes(HARVEST)) as server:
        yield server


@pytest.fixture
def settings(db: Database, arxiv: ReplayServer) -> Settings:
    return Settings(
        database_url=db.url,
        site_url="http://testserver",
        arxiv_api_url=f"{arxiv.url}/api/query",
        arxiv_request_interval=0,
        http_retries=0,
        http_timeout=5,
        submit_daily_cap=2,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _browser(
    db: Database, settings: Settings, clock: Clock, name: str | None, role: str = "member"
) -> TestClient:
    app = create_app(settings, db)
    app.state.clock = clock
    client = TestClient(app)
    if name:
        accounts.create_user(db, settings, name, f"{name}@example.org", PASSWORD, role, NOW)
        client.cookies.set("dp_session", accounts.sign_in(db, settings, name, PASSWORD, "127.0.0.1", NOW))
    return client


@pytest.fixture
def alice(db: Database, settings: Settings, clock: Clock) -> Iterator[TestClient]:
    with _browser(db, settings, clock, "alice") as client:
        yield client


def _submit(client: TestClient, arxiv_id: str, comment: str = "", **kwargs: object):  # type: ignore[no-untyped-def]
    page = client.get("/submit")
    assert page.status_code == 200
    token = CSRF_FIELD.search(page.text).group(1)  # type: ignore[union-attr]
    return client.post(
        "/submit",
        data={"csrf_token": token, "arxiv": arxiv_id, "comment": comment},
        follow_redirects=False,
        **kwargs,
    )  # type: ignore[arg-type]


def _local_paper(db: Database, arxiv_id: str, published: datetime, featured: date | None = None) -> None:
    entries = [(featured, datetime.combine(featured, datetime.min.time(), UTC))] if featured else []
    write_batch(
        db,
        [
            PaperRecord(
                arxiv_id=arxiv_id, title=f"Local {arxiv_id}", published_at=published, feed_entries=entries
            )
        ],
        NOW,
    )


def test_an_unknown_paper_is_fetched_and_joins_todays_feed_with_its_first_comment(
    alice: TestClient, db: Database, arxiv: ReplayServer
) -> None:
    assert '<a href="/submit">Submit paper</a>' in alice.get("/").text
    answer = _submit(alice, f"https://arxiv.org/abs/{PAPER}v2", "Worth a read: $x^2$ and *walks*.")
    assert answer.status_code == 303 and answer.headers["location"] == f"/papers/{PAPER}"
    assert any(log.query.get("id_list") == PAPER for log in arxiv.log)
    with db.read() as conn:
        entry = conn.execute(sa.select(feed_entries).where(feed_entries.c.arxiv_id == PAPER)).one()
        paper = conn.execute(sa.select(papers).where(papers.c.arxiv_id == PAPER)).one()
    assert entry.feed_date == date(2016, 5, 28) and entry.featured_by == "user:alice"
    assert paper.title == "Heat-bath random walks with Markov bases" and paper.comment_count == 1
    page = alice.get(f"/papers/{PAPER}").text
    assert 'Submitted by <a href="/users/alice">alice</a>' in page and "<em>walks</em>" in page
    feed = alice.get(TODAY).text
    assert 'Submitted by <a href="/users/alice">alice</a>' in feed
    assert f'<a class="meta-link comments-link" href="/papers/{PAPER}#comments">1 comment</a>' in feed
    card = alice.get(TODAY + ".json").json()["papers"][0]
    assert (card["arxiv_id"], card["submitted_by"], card["comment_count"]) == (PAPER, "alice", 1)
    assert alice.get(f"/papers/{PAPER}.json").json()["submitted_by"] == "alice"


def test_json_submission_answers_201(alice: TestClient, db: Database) -> None:
    _local_paper(db, "1605.00001", datetime(2016, 5, 27, tzinfo=UTC))
    answer = _submit(alice, "1605.00001", "", headers={"Accept": "application/json"})
    assert answer.status_code == 201
    body = answer.json()
    assert body["arxiv_id"] == "1605.00001" and body["submitted_by"] == "alice" and body["fetched"] is False
    assert (
        body["feed_date"] == "2016-05-28" and body["url"] == "/papers/1605.00001" and body["comment"] is None
    )


def test_the_rules_are_said_in_words(
    db: Database, settings: Settings, clock: Clock, arxiv: ReplayServer
) -> None:
    _local_paper(db, "1605.00001", datetime(2016, 5, 27, tzinfo=UTC))
    _local_paper(db, "1605.00002", datetime(2016, 5, 27, tzinfo=UTC))
    _local_paper(db, "1605.00003", datetime(2016, 5, 20, tzinfo=UTC), featured=date(2016, 5, 25))
    _local_paper(db, "1605.00004", datetime(2016, 5, 1, tzinfo=UTC))
    with (
        _browser(db, settings, clock, "bob") as bob,
        _browser(db, settings, clock, "mod", "moderator") as mod,
    ):
        # Too old: published more than submit_max_age_days (7) ago; nothing is stored.
        old = _submit(bob, "1605.00004")
        assert (
            old.status_code == 400
            and "first published on 2016-05-01" in old.text
            and "up to 7 days" in old.text
        )
        # Already featured within the window: a link to its entry.
        dup = _submit(bob, "1605.00003")
        assert dup.status_code == 409 and "already featured on 2016-05-25" in dup.text
        assert '<a href="/papers/1605.00003">See its entry</a>' in dup.text
        assert _submit(bob, "1605.00001").status_code == 303
        again = _submit(bob, "arXiv:1605.00001")
        assert again.status_code == 409 and "already featured today" in again.text
        # The daily cap (2), then the moderator, who has none.
        assert _submit(bob, "1605.00002").status_code == 303
        capped = _submit(bob, PAPER)
        assert capped.status_code == 429 and "submitted 2 papers today" in capped.text
        assert _submit(mod, "1605.99999").status_code == 404  # not on arXiv: the replay has no record
        assert "arXiv has no paper 1605.99999" in _submit(mod, "1605.99999").text
        assert _submit(mod, "not an id").status_code == 400
        # arXiv failing: a 503 (no retries in these settings), then arXiv's own error feed.
        arxiv.inject(Reply(503, b"Service Unavailable"))
        down = _submit(mod, PAPER)
        assert down.status_code == 502 and "arXiv could not be reached (HTTP 503" in down.text
        arxiv.inject(Reply(400, ERROR_FEED, {"Content-Type": "application/atom+xml"}))
        refused = _submit(mod, PAPER)
        assert refused.status_code == 502 and "incorrect id format for 1605.08386" in refused.text
        with db.read() as conn:
            assert conn.scalar(sa.select(sa.func.count()).where(papers.c.arxiv_id == PAPER)) == 0
        assert _submit(mod, PAPER).status_code == 303
        assert _submit(mod, "1605.00004").status_code == 400  # the age rule holds for moderators too


def test_who_may_submit(db: Database, settings: Settings, clock: Clock) -> None:
    with _browser(db, settings, clock, None) as nobody:
        answer = nobody.get("/submit", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/signin?next=/submit"
        assert nobody.post("/submit", data={"arxiv": PAPER}, follow_redirects=False).status_code == 303
    with _browser(db, settings, clock, "carol") as carol:
        assert carol.post("/submit", data={"arxiv": PAPER}).status_code == 403  # no CSRF token
        moderation.operator_ban(db, "carol", "spam", None, NOW)
        assert carol.get("/submit", follow_redirects=False).status_code == 303  # the ban ended the session
    strict = settings.model_copy(update={"submit_min_account_days": 3})
    with _browser(db, strict, clock, "dave") as dave:
        young = _submit(dave, PAPER)
        assert young.status_code == 403 and "3 days old" in young.text
