"""The rest of accounts through the pages, on SQLite and PostgreSQL: the confirmation mail sent again
(throttled), a change of address confirmed from the new address (a real SMTP server on loopback; the
link works once and only for its member), preferences, the digest in one click, the JSON export (the
member's data and nobody else's), deletion (upvotes withdrawn, comments "[deleted]", submissions kept
without a name), and the upvote a sign-in carries."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dailypapers.core.settings import Settings
from dailypapers.jobs.outbox import deliver_outbox
from dailypapers.services import accounts, votes
from dailypapers.services.schemas import Member
from dailypapers.store.db import Database
from dailypapers.store.tables import comments, feed_entries, outbox, papers, subscribers, users
from dailypapers.testing.smtp import LoopbackSMTP
from dailypapers.web.app import create_app

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DAY = date(2026, 12, 7)
PASSWORD = "correct horse battery staple 42"
PAPER, OTHER_PAPER = "2612.00001", "2612.00002"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    """The site's clock (app.state.clock), moved by the tests."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def settings(mail_settings: Callable[..., Settings]) -> Settings:
    return mail_settings(mail_from="Daily Papers <accounts@example.org>")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app_db(db: Database, settings: Settings) -> Database:
    """Two papers on today's list and two confirmed members, ada and bob."""
    for name in ("ada", "bob"):
        accounts.create_user(db, settings, name, f"{name}@example.org", PASSWORD, "member", START)
    with db.write() as conn:
        for arxiv_id in (PAPER, OTHER_PAPER):
            conn.execute(
                papers.insert().values(
                    arxiv_id=arxiv_id,
                    title=f"Paper {arxiv_id}",
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
            conn.execute(
                feed_entries.insert().values(
                    feed_date=DAY, arxiv_id=arxiv_id, featured_by="arxiv", featured_at=START
                )
            )
    return db


@pytest.fixture
def client(settings: Settings, app_db: Database, clock: Clock) -> Iterator[TestClient]:
    app = create_app(settings, app_db)
    app.state.clock = clock
    with TestClient(app) as c:
        yield c


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, login: str, password: str = PASSWORD, next_path: str = "", vote: str = ""):  # type: ignore[no-untyped-def]
    page = client.get("/signin", params={"next": next_path, "vote": vote})
    fields = {"login": login, "password": password, "next": next_path, "vote": vote}
    return client.post("/signin", data={**fields, "csrf_token": csrf_of(page.text)}, follow_redirects=False)


def account_post(client: TestClient, action: str, fields: dict[str, str], **kwargs: object):  # type: ignore[no-untyped-def]
    """Post a form of the account page with its CSRF token."""
    html = client.get("/account").text
    return client.post(action, data={**fields, "csrf_token": csrf_of(html)}, **kwargs)  # type: ignore[arg-type]


def deliver(client: TestClient, smtp: LoopbackSMTP, count: int) -> list[tuple[list[str], str]]:
    """Send the outbox as the worker does; (recipients, plain text) of every mail so far."""
    state = client.app.state  # type: ignore[attr-defined]
    assert not deliver_outbox(state.db, state.settings, now=state.clock).errors
    received = smtp.wait_for(count, timeout=10)
    return [(m.rcpt_tos, m.message.get_body(preferencelist=("plain",)).get_content()) for m in received]


def link_path(text: str, path: str) -> str:
    found = re.search(r"http://testserver" + re.escape(path) + r"\?token=[A-Za-z0-9_.%=-]+", text)
    assert found, f"no {path} link in the mail:\n{text}"
    parts = urlsplit(found.group(0))
    return f"{parts.path}?{parts.query}"


def member_row(db: Database, username: str) -> sa.Row:  # type: ignore[type-arg]
    with db.read() as conn:
        return conn.execute(sa.select(users).where(users.c.username == username)).one()


def test_confirmation_mail_sent_again_and_throttled(
    client: TestClient, smtp: LoopbackSMTP, db: Database, clock: Clock
) -> None:
    page = client.get("/signup")
    fields = {"username": "cy", "email": "cy@example.org", "password": PASSWORD}
    assert client.post("/signup", data={**fields, "csrf_token": csrf_of(page.text)}).status_code == 200
    assert sign_in(client, "cy").status_code == 303
    page = client.get("/account")
    assert "not confirmed yet" in page.text and 'action="/account/confirm/resend"' in page.text
    throttled = account_post(client, "/account/confirm/resend", {})
    assert "please wait" in throttled.text  # the sign-up's mail went out a moment ago
    clock.advance(minutes=11)
    again = account_post(client, "/account/confirm/resend", {})
    assert again.status_code == 200 and "We sent the confirmation mail again" in again.text
    mails = deliver(client, smtp, 2)
    assert [to for to, _ in mails] == [["cy@example.org"], ["cy@example.org"]]
    page = client.get(link_path(mails[-1][1], "/account/confirm"))
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = client.post(
        "/account/confirm", data={"token": token, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert done.headers["location"] == "/account?confirmed=1"
    assert member_row(db, "cy").email_confirmed_at is not None
    assert "Send the confirmation mail again" not in client.get("/account").text


def confirm_page_token(client: TestClient, path: str) -> tuple[str, str]:
    """Open a mailed link's page; (its token, its CSRF token)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return token, csrf_of(page.text)


def test_change_of_address(client: TestClient, smtp: LoopbackSMTP, db: Database, settings: Settings) -> None:
    assert sign_in(client, "ada").status_code == 303
    wrong = account_post(
        client, "/account/email", {"email": "new@example.org", "password": "not my password"}
    )
    assert wrong.status_code == 400 and "this is not your password" in wrong.text
    bad = account_post(client, "/account/email", {"email": "not an address", "password": PASSWORD})
    assert bad.status_code == 400
    asked = account_post(client, "/account/email", {"email": "Ada.New@Example.ORG", "password": PASSWORD})
    assert asked.status_code == 200 and "We sent a link to the new address" in asked.text
    assert "Ada.New@example.org" in asked.text  # pending, shown on the page
    row = member_row(db, "ada")
    assert row.email == "ada@example.org" and row.pending_email == "Ada.New@example.org"
    mails = deliver(client, smtp, 2)
    by_rcpt = {to[0]: text for to, text in mails}
    assert (
        "about to change" in by_rcpt["ada@example.org"]
        and "/account/email/confirm" not in by_rcpt["ada@example.org"]
    )
    link = link_path(by_rcpt["Ada.New@example.org"], "/account/email/confirm")

    # Another member cannot use the link.
    other = TestClient(client.app)
    assert sign_in(other, "bob").status_code == 303
    token, csrf = confirm_page_token(other, link)
    refused = other.post("/account/email/confirm", data={"token": token, "csrf_token": csrf})
    assert refused.status_code == 400 and "another account" in refused.text
    assert member_row(db, "ada").email == "ada@example.org"

    token, csrf = confirm_page_token(client, link)
    done = client.post(
        "/account/email/confirm", data={"token": token, "csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/account?done=email-changed"
    row = member_row(db, "ada")
    assert row.email == "Ada.New@example.org" and row.pending_email is None and row.token_version == 2
    assert "Your address is changed" in client.get("/account?done=email-changed").text
    # Once only.
    again = client.post("/account/email/confirm", data={"token": token, "csrf_token": csrf})
    assert again.status_code == 400 and member_row(db, "ada").email == "Ada.New@example.org"
    assert client.get(link).status_code == 200  # the page shows; only the button checks the account
    assert sign_in(client, "Ada.New@example.org").status_code == 303


def test_change_of_address_to_one_taken_meanwhile(
    client: TestClient, smtp: LoopbackSMTP, db: Database, settings: Settings
) -> None:
    assert sign_in(client, "ada").status_code == 303
    account_post(client, "/account/email", {"email": "free@example.org", "password": PASSWORD})
    mails = deliver(client, smtp, 2)
    link = link_path(next(text for to, text in mails if to == ["free@example.org"]), "/account/email/confirm")
    accounts.create_user(db, settings, "dora", "free@example.org", PASSWORD, "member", START)
    token, csrf = confirm_page_token(client, link)
    taken = client.post("/account/email/confirm", data={"token": token, "csrf_token": csrf})
    assert taken.status_code == 409 and "this address has another account now" in taken.text
    assert member_row(db, "ada").email == "ada@example.org"


def test_preferences(client: TestClient, db: Database) -> None:
    assert sign_in(client, "ada").status_code == 303
    row = member_row(db, "ada")
    assert (row.public_votes, row.notify_mentions) == (False, True)
    saved = account_post(client, "/account/preferences", {"public_votes": "on"})
    assert saved.status_code == 200 and "Preferences saved" in saved.text
    row = member_row(db, "ada")
    assert (row.public_votes, row.notify_mentions) == (True, False)
    assert 'name="public_votes" value="on" checked' in saved.text


def test_digest_in_one_click(client: TestClient, db: Database) -> None:
    assert sign_in(client, "ada").status_code == 303
    page = client.get("/account")
    assert 'action="/account/digest"' in page.text
    done = account_post(client, "/account/digest", {})
    assert done.status_code == 200 and "You are subscribed to the digest" in done.text
    with db.read() as conn:
        sub = conn.execute(sa.select(subscribers)).one()
        assert conn.scalar(sa.select(sa.func.count()).select_from(outbox)) == 0  # no second opt-in
    assert (sub.email, sub.status, sub.user_id) == ("ada@example.org", "active", member_row(db, "ada").id)
    manage = re.search(r'href="(/subscription\?token=[^"]+)"', done.text)
    assert manage and client.get(manage.group(1).replace("&amp;", "&")).status_code == 200
    token = re.search(
        r'action="/unsubscribe" method="post">\s*<input type="hidden" name="csrf_token" '
        r'value="[^"]+">\s*<input type="hidden" name="token" value="([^"]+)"',
        done.text,
    )
    assert token
    gone = client.post("/unsubscribe", data={"token": token.group(1), "csrf_token": csrf_of(done.text)})
    assert gone.status_code == 200
    with db.read() as conn:
        assert conn.execute(sa.select(subscribers.c.status)).scalar() == "unsubscribed"
    again = account_post(client, "/account/digest", {})
    assert "You are subscribed to the digest" in again.text
    with db.read() as conn:
        assert conn.execute(sa.select(subscribers.c.status, subscribers.c.token_version)).one() == (
            "active",
            2,
        )


def test_digest_needs_a_confirmed_address(client: TestClient, db: Database) -> None:
    page = client.get("/signup")
    fields = {"username": "cy", "email": "cy@example.org", "password": PASSWORD}
    client.post("/signup", data={**fields, "csrf_token": csrf_of(page.text)})
    assert sign_in(client, "cy").status_code == 303
    assert 'action="/account/digest"' not in client.get("/account").text
    refused = account_post(client, "/account/digest", {})
    assert refused.status_code == 400 and "Confirm your address first" in refused.text
    with db.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(subscribers)) == 0


def add_comment(db: Database, username: str, arxiv_id: str, body: str, parent: int | None = None) -> int:
    with db.write() as conn:
        uid = conn.scalar(sa.select(users.c.id).where(users.c.username == username))
        new_id = conn.execute(
            comments.insert()
            .values(
                arxiv_id=arxiv_id,
                user_id=uid,
                parent_id=parent,
                depth=0 if parent is None else 1,
                body=body,
                created_at=START,
            )
            .returning(comments.c.id)
        ).scalar_one()
        conn.execute(
            papers.update()
            .where(papers.c.arxiv_id == arxiv_id)
            .values(comment_count=papers.c.comment_count + 1)
        )
    return int(new_id)


def test_export_has_the_members_data_and_nothing_else(
    client: TestClient, db: Database, settings: Settings
) -> None:
    ada, bob = (Member.from_row(member_row(db, n)) for n in ("ada", "bob"))
    votes.vote(db, settings, ada, PAPER, True, START)
    votes.vote(db, settings, bob, OTHER_PAPER, True, START)
    add_comment(db, "ada", PAPER, "Ada's *comment*")
    add_comment(db, "bob", PAPER, "Bob's secret words")
    with db.write() as conn:
        conn.execute(
            feed_entries.update().where(feed_entries.c.arxiv_id == PAPER).values(submitted_by=ada.id)
        )
    assert sign_in(client, "ada").status_code == 303
    account_post(client, "/account/digest", {})
    answer = client.get("/account/export.json")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    assert answer.headers["content-disposition"].startswith("attachment")
    data = json.loads(answer.text)
    assert data["profile"]["username"] == "ada" and data["profile"]["email"] == "ada@example.org"
    assert "password_hash" not in answer.text and "$argon2" not in answer.text
    assert [v["arxiv_id"] for v in data["votes"]] == [PAPER]
    assert [c["body"] for c in data["comments"]] == ["Ada's *comment*"]
    assert [s["arxiv_id"] for s in data["submissions"]] == [PAPER]
    assert len(data["sessions"]) == 1 and "id" not in data["sessions"][0]
    assert data["digest_subscription"]["status"] == "active"
    assert "bob" not in answer.text.lower() and OTHER_PAPER not in answer.text
    with db.read() as conn:
        session_ids = [r.id for r in conn.execute(sa.text("SELECT id FROM sessions"))]
    assert not any(sid in answer.text for sid in session_ids)
    anonymous = TestClient(client.app)
    assert anonymous.get("/account/export.json", follow_redirects=False).status_code == 303


def test_deletion(client: TestClient, db: Database, settings: Settings) -> None:
    ada, bob = (Member.from_row(member_row(db, n)) for n in ("ada", "bob"))
    votes.vote(db, settings, ada, PAPER, True, START)
    votes.vote(db, settings, bob, PAPER, True, START)
    first = add_comment(db, "ada", PAPER, "Ada's words to delete")
    add_comment(db, "bob", PAPER, "Bob replies", parent=first)
    with db.write() as conn:
        conn.execute(
            feed_entries.update().where(feed_entries.c.arxiv_id == PAPER).values(submitted_by=ada.id)
        )
        assert conn.scalar(sa.select(papers.c.vote_count).where(papers.c.arxiv_id == PAPER)) == 2
    assert sign_in(client, "ada").status_code == 303
    account_post(client, "/account/digest", {})
    page = client.get("/account/delete")
    assert page.status_code == 200 and "[deleted]" in page.text and "without your name" in page.text
    wrong = client.post(
        "/account/delete", data={"password": "nope nope nope", "csrf_token": csrf_of(page.text)}
    )
    assert wrong.status_code == 400 and member_row(db, "ada") is not None
    done = client.post(
        "/account/delete",
        data={"password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/account/deleted"
    assert 'dp_session=""' in done.headers["set-cookie"] or "Max-Age=0" in done.headers["set-cookie"]
    with db.read() as conn:
        assert conn.execute(sa.select(users).where(users.c.username == "ada")).first() is None
        assert conn.scalar(sa.select(papers.c.vote_count).where(papers.c.arxiv_id == PAPER)) == 1
        kept = conn.execute(sa.select(comments).where(comments.c.id == first)).one()
        assert kept.user_id is None and kept.deleted_at is not None and "Ada" not in kept.body
        entry = conn.execute(sa.select(feed_entries).where(feed_entries.c.arxiv_id == PAPER)).one()
        assert entry.submitted_by is None
        assert conn.execute(sa.select(subscribers.c.status)).scalar() == "unsubscribed"
    paper_page = client.get(f"/papers/{PAPER}").text
    assert "[deleted]" in paper_page and "Ada&#39;s words" not in paper_page and "Bob replies" in paper_page
    assert "Account deleted" in client.get("/account/deleted").text
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_sign_in_applies_the_pending_vote(client: TestClient, db: Database) -> None:
    page = client.get("/signin", params={"next": f"/papers/{PAPER}", "vote": PAPER})
    assert "Sign in to upvote" in page.text and f'name="vote" value="{PAPER}"' in page.text
    wrong = sign_in(client, "ada", "a wrong password", next_path=f"/papers/{PAPER}", vote=PAPER)
    assert wrong.status_code == 403 and f'name="vote" value="{PAPER}"' in wrong.text
    done = sign_in(client, "ada", next_path=f"/papers/{PAPER}", vote=PAPER)
    assert done.status_code == 303 and done.headers["location"] == f"/papers/{PAPER}"
    with db.read() as conn:
        assert conn.scalar(sa.select(papers.c.vote_count).where(papers.c.arxiv_id == PAPER)) == 1
    # An unknown paper or a bad id is ignored quietly: the sign-in works.
    other = TestClient(client.app)
    assert sign_in(other, "bob", next_path="/", vote="2612.99999").headers["location"] == "/"
    assert sign_in(other, "bob", next_path="/", vote="not-an-id").status_code == 303
    too_long = sign_in(other, "bob", vote="x" * 200)
    assert too_long.status_code == 400
