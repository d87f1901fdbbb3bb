"""Comments through the pages, on SQLite and PostgreSQL: post (Markdown, math as MathML, HTML shown as
text), reply down to the depth limit, edit within the window at fixed clocks, delete keeping the thread,
flag with a reason once per member, the rate and size limits (with the member's text kept), the paper's
count, @mention mails through a real SMTP server, and the gates: CSRF, sign-in, confirmation."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dailypapers.core.models import PaperRecord
from dailypapers.core.settings import Settings
from dailypapers.jobs.outbox import deliver_outbox
from dailypapers.services import accounts
from dailypapers.store.db import Database
from dailypapers.store.papers import upsert_batch
from dailypapers.store.tables import comment_flags, comments, outbox, papers, users
from dailypapers.testing.smtp import LoopbackSMTP
from dailypapers.web.app import create_app

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple 42"
PAPER = "2612.00001"
OTHER = "2612.00002"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
JSON = {"accept": "application/json"}


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
    return mail_settings(
        comment_max_chars=300,
        comment_max_depth=2,
        comment_edit_minutes=10,
        comment_rate_limit=4,
        comment_rate_window_seconds=600.0,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(settings: Settings, db: Database, clock: Clock):  # type: ignore[no-untyped-def]
    records = [
        PaperRecord(
            arxiv_id=arxiv_id,
            title=title,
            abstract="An abstract.",
            authors=["A. Author"],
            categories=["cs.LG"],
            version=1,
            feed_entries=[(START.date(), START)],
        )
        for arxiv_id, title in ((PAPER, "Scaling laws for $\\alpha$-nets"), (OTHER, "Another paper"))
    ]
    with db.write() as conn:
        upsert_batch(conn, records, START)
    for name, role in (("ada", "member"), ("bob", "member"), ("carol", "member"), ("mod", "moderator")):
        accounts.create_user(db, settings, name, f"{name}@example.org", PASSWORD, role, START)
    application = create_app(settings, db)
    application.state.clock = clock
    return application


@pytest.fixture
def members(app) -> Iterator[Callable[[str | None], TestClient]]:  # type: ignore[no-untyped-def]
    """A signed-in browser per member (None: an anonymous one)."""
    opened: list[TestClient] = []

    def browser(name: str | None) -> TestClient:
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        if name is not None:
            answer = client.post(
                "/signin",
                data={"login": name, "password": PASSWORD, "csrf_token": csrf_of(client.get("/signin").text)},
                follow_redirects=False,
            )
            assert answer.status_code == 303, answer.text
        return client

    yield browser
    for client in opened:
        client.__exit__(None, None, None)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def post(client: TestClient, body: str, parent: int | None = None, paper: str = PAPER, **kwargs: object):  # type: ignore[no-untyped-def]
    """Post a comment from the paper page's form."""
    token = csrf_of(client.get(f"/papers/{paper}").text)
    data = {"csrf_token": token, "body": body, "parent_id": "" if parent is None else str(parent)}
    return client.post(f"/papers/{paper}/comments", data=data, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


def posted_id(answer) -> int:  # type: ignore[no-untyped-def]
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(rf"/papers/{PAPER}#c(\d+)", answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def count_of(db: Database, arxiv_id: str = PAPER) -> int:
    with db.read() as conn:
        return int(
            conn.execute(sa.select(papers.c.comment_count).where(papers.c.arxiv_id == arxiv_id)).scalar_one()
        )


def textarea(html: str) -> str:
    found = re.search(r'<textarea name="body"[^>]*>(.*?)</textarea>', html, re.S)
    assert found, "no comment form on the page"
    return unescape(found.group(1))


def test_post_renders_math_escapes_html_and_counts(members, db: Database) -> None:  # type: ignore[no-untyped-def]
    ada = members("ada")
    body = "Energy $E = mc^2$ is **bold**. <script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))"
    comment_id = posted_id(post(ada, body))
    assert count_of(db) == 1
    page = members(None).get(f"/papers/{PAPER}").text
    thread = page[page.index('id="comments"') :]
    assert f'id="c{comment_id}"' in thread and "1 comment<" in thread
    assert "<math" in thread and "<strong>bold</strong>" in thread
    assert "<script>alert" not in thread and "<img src=x" not in thread and 'src="x"' not in thread
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in thread
    assert 'href="javascript:' not in thread
    assert '<a class="comment-author" href="/users/ada">ada</a>' in thread
    assert '<img class="avatar" src="/users/ada/avatar.svg" alt="" width="20" height="20">' in thread
    assert "Sign in to comment" in thread and f"/signin?next=/papers/{PAPER}%23comments" in thread
    # JSON: 201 and the comment as the thread shows it; any spelling of the paper's id.
    answer = post(ada, "Second, $x^2$.", paper=PAPER, headers=JSON)
    assert answer.status_code == 201
    data = answer.json()
    assert data["arxiv_id"] == PAPER and "<math" in data["body_html"] and data["can_edit"] is True
    token = csrf_of(ada.get(f"/papers/{PAPER}").text)
    answer = ada.post(f"/papers/{PAPER}v1/comments", data={"csrf_token": token, "body": "v1"}, headers=JSON)
    assert answer.status_code == 201 and answer.json()["arxiv_id"] == PAPER
    assert count_of(db) == 3
    assert ada.post("/papers/2612.09999/comments", data={"csrf_token": token, "body": "x"}).status_code == 404


def test_replies_nest_down_to_the_depth_limit(members, db: Database) -> None:  # type: ignore[no-untyped-def]
    ada, bob = members("ada"), members("bob")
    top = posted_id(post(ada, "Top"))
    first = posted_id(post(bob, "First reply", top))
    second = posted_id(post(ada, "Second reply", first))
    page = bob.get(f"/papers/{PAPER}").text
    nested = re.search(rf'id="c{top}".*id="c{first}".*id="c{second}"', page, re.S)
    assert nested and '<ol class="comments">' in page[page.index(f'id="c{top}"') :]
    # At max depth (2) the reply form is gone, and a forged reply is refused with its text kept.
    assert f'name="parent_id" value="{first}"' in page and f'name="parent_id" value="{second}"' not in page
    answer = post(bob, "Too deep for the thread", second)
    assert answer.status_code == 400 and "as deep as it may go" in answer.text
    assert textarea(answer.text) == "Too deep for the thread"
    assert f'name="parent_id" value="{second}"' in answer.text
    # A parent on another paper, or no such comment: 404.
    other = members("carol")
    token = csrf_of(other.get(f"/papers/{OTHER}").text)
    data = {"csrf_token": token, "body": "Wrong paper", "parent_id": str(top)}
    assert other.post(f"/papers/{OTHER}/comments", data=data, headers=JSON).status_code == 404
    assert post(other, "No parent", 99999, headers=JSON).status_code == 404
    assert count_of(db) == 3 and count_of(db, OTHER) == 0


def test_edit_within_the_window_only_by_its_author(members, clock: Clock, db: Database) -> None:  # type: ignore[no-untyped-def]
    ada, bob, mod = members("ada"), members("bob"), members("mod")
    comment_id = posted_id(post(ada, "Frist"))
    form = ada.get(f"/comments/{comment_id}/edit")
    assert form.status_code == 200 and textarea(form.text) == "Frist"
    clock.advance(minutes=9)
    answer = ada.post(
        f"/comments/{comment_id}/edit",
        data={"csrf_token": csrf_of(form.text), "body": "First, $\\beta$"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/papers/{PAPER}#c{comment_id}"
    page = bob.get(f"/papers/{PAPER}").text
    assert "(edited)" in page and "Frist" not in page and "<math" in page
    with db.read() as conn:
        row = conn.execute(sa.select(comments).where(comments.c.id == comment_id)).one()
    assert row.body == "First, $\\beta$" and row.edited_at is not None
    # Others, moderators too, cannot change the words; nor can the author after the window.
    for other in (bob, mod):
        assert other.get(f"/comments/{comment_id}/edit").status_code == 403
        token = csrf_of(other.get(f"/papers/{PAPER}").text)
        refused = other.post(f"/comments/{comment_id}/edit", data={"csrf_token": token, "body": "mine now"})
        assert refused.status_code == 403
    clock.advance(minutes=1)
    late = ada.get(f"/comments/{comment_id}/edit")
    assert late.status_code == 403 and "10 minutes" in late.text
    token = csrf_of(ada.get(f"/papers/{PAPER}").text)
    refused = ada.post(f"/comments/{comment_id}/edit", data={"csrf_token": token, "body": "Too late edit"})
    assert refused.status_code == 400 and textarea(refused.text) == "Too late edit"
    assert f'href="/comments/{comment_id}/edit"' not in ada.get(f"/papers/{PAPER}").text


def test_delete_keeps_the_thread_and_the_count_drops(members, db: Database) -> None:  # type: ignore[no-untyped-def]
    ada, bob = members("ada"), members("bob")
    top = posted_id(post(ada, "Secret words"))
    reply = posted_id(post(bob, "A reply that stays", top))
    assert count_of(db) == 2
    token = csrf_of(bob.get(f"/papers/{PAPER}").text)
    assert bob.post(f"/comments/{top}/delete", data={"csrf_token": token}).status_code == 403
    page = ada.get(f"/papers/{PAPER}").text
    answer = ada.post(
        f"/comments/{top}/delete",
        data={"csrf_token": csrf_of(page), "next": f"/papers/{PAPER}#comments"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/papers/{PAPER}#comments"
    assert count_of(db) == 1
    page = bob.get(f"/papers/{PAPER}").text
    assert "Secret words" not in page and "[deleted]" in page and "A reply that stays" in page
    assert re.search(rf'id="c{top}".*\[deleted\].*id="c{reply}"', page, re.S)
    with db.read() as conn:
        row = conn.execute(sa.select(comments).where(comments.c.id == top)).one()
    assert row.body == "" and row.deleted_at is not None
    # Deleting again changes nothing; a reply to it is refused; an unsafe `next` is not followed.
    again = ada.post(
        f"/comments/{top}/delete",
        data={"csrf_token": csrf_of(ada.get(f"/papers/{PAPER}").text), "next": "//evil.example"},
        follow_redirects=False,
    )
    assert again.headers["location"] == f"/papers/{PAPER}#c{top}" and count_of(db) == 1
    assert post(bob, "Reply to nothing", top).status_code == 400
    assert "1 comment<" in page


def test_flag_with_a_reason_once_per_member(members, db: Database) -> None:  # type: ignore[no-untyped-def]
    ada, bob, mod = members("ada"), members("bob"), members("mod")
    comment_id = posted_id(post(ada, "Buy cheap pills"))
    page = bob.get(f"/papers/{PAPER}").text
    assert f'href="/comments/{comment_id}/flag"' in page
    form = bob.get(f"/comments/{comment_id}/flag").text
    for reason in ("spam", "off-topic", "abusive", "other"):
        assert f'type="radio" name="reason" value="{reason}"' in form
    answer = bob.post(
        f"/comments/{comment_id}/flag",
        data={"csrf_token": csrf_of(form), "reason": "spam", "note": "an ad"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith(f"#c{comment_id}")
    assert "your flag is in the moderators" in bob.get(answer.headers["location"]).text
    again = bob.post(
        f"/comments/{comment_id}/flag",
        data={"csrf_token": csrf_of(form), "reason": "abusive", "note": ""},
        headers=JSON,
    )
    assert again.status_code == 200 and again.json()["new"] is False
    with db.read() as conn:
        flags = conn.execute(sa.select(comment_flags)).all()
        flag_count = conn.execute(sa.select(comments.c.flag_count)).scalar_one()
    assert [(f.reason, f.note) for f in flags] == [("abusive", "")] and flag_count == 1
    # A bad reason keeps the note; one's own comment cannot be flagged.
    bad = bob.post(
        f"/comments/{comment_id}/flag",
        data={"csrf_token": csrf_of(form), "reason": "boring", "note": "keep me"},
    )
    assert bad.status_code == 400 and "Choose a reason" in bad.text and ">keep me</textarea>" in bad.text
    assert f'href="/comments/{comment_id}/flag"' not in ada.get(f"/papers/{PAPER}").text
    assert ada.get(f"/comments/{comment_id}/flag").status_code == 403
    token = csrf_of(ada.get(f"/papers/{PAPER}").text)
    own = ada.post(f"/comments/{comment_id}/flag", data={"csrf_token": token, "reason": "spam"})
    assert own.status_code == 403 and "your own comment" in own.text
    # Moderators see the open flags and the hide form (web.moderation answers it).
    mod_page = mod.get(f"/papers/{PAPER}").text
    assert "1 open flag" in mod_page and f'action="/moderation/comments/{comment_id}/hide"' in mod_page
    assert "1 open flag" not in bob.get(f"/papers/{PAPER}").text


def test_hidden_comments_show_to_moderators_only(members, db: Database, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    ada, bob, mod = members("ada"), members("bob"), members("mod")
    comment_id = posted_id(post(ada, "Rude words"))
    with db.write() as conn:  # what web.moderation's hide does to the row
        conn.execute(
            comments.update()
            .values(hidden_at=clock.now, hidden_reason="personal attack")
            .where(comments.c.id == comment_id)
        )
    member_page = bob.get(f"/papers/{PAPER}").text
    assert "[hidden by a moderator]" in member_page and "Rude words" not in member_page
    assert "personal attack" not in member_page and f'href="/comments/{comment_id}/flag"' not in member_page
    mod_page = mod.get(f"/papers/{PAPER}").text
    assert "Rude words" in mod_page and "Hidden by a moderator: personal attack" in mod_page
    assert f'action="/moderation/comments/{comment_id}/restore"' in mod_page
    assert post(bob, "Reply to hidden", comment_id).status_code == 400


def test_rate_limit_answers_429_with_retry_after_and_keeps_the_text(members, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    ada = members("ada")
    for n in range(4):
        posted_id(post(ada, f"Comment {n}"))
        clock.advance(seconds=60)
    answer = post(ada, "One too many")
    assert answer.status_code == 429 and answer.headers["retry-after"] == str(600 - 240)
    assert textarea(answer.text) == "One too many" and "please wait about 6 minutes" in answer.text
    answer = post(ada, "One too many", headers=JSON)
    assert answer.status_code == 429 and answer.json()["error"]["status"] == 429
    clock.advance(seconds=360)  # the first comment leaves the window
    posted_id(post(ada, "Now it fits"))


def test_size_limit_and_empty_comment_keep_the_form(members, db: Database) -> None:  # type: ignore[no-untyped-def]
    ada = members("ada")
    long_text = "word " * 70  # 350 characters, the limit is 300
    answer = post(ada, long_text)
    assert answer.status_code == 400 and "too long: 349 characters, at most 300" in answer.text
    assert textarea(answer.text) == long_text
    assert post(ada, "  \n ").status_code == 400
    assert post(ada, "x" * 300).status_code == 303
    assert count_of(db) == 1


def deliver(app, smtp: LoopbackSMTP, count: int) -> list:  # type: ignore[no-untyped-def]
    """Send the outbox as the worker does, at the site's clock; the mails received so far."""
    report = deliver_outbox(app.state.db, app.state.settings, now=app.state.clock)
    assert not report.errors
    return smtp.wait_for(count, timeout=10)


def test_mentions_mail_the_members_who_want_it(app, members, smtp: LoopbackSMTP, db: Database) -> None:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        conn.execute(users.update().where(users.c.username == "carol").values(notify_mentions=False))
    ada = members("ada")
    comment_id = posted_id(post(ada, "Thanks @bob, @carol, @ada, @nobody and `@mod`"))
    [mail] = deliver(app, smtp, 1)
    assert mail.rcpt_tos == ["bob@example.org"]
    assert mail.message["Subject"] == "ada mentioned you on Scaling laws for α-nets"
    text = mail.message.get_body(preferencelist=("plain",)).get_content()
    assert f"http://testserver/papers/{PAPER}#c{comment_id}" in text
    assert "Thanks @bob" in text and "Mention mails" in text and "http://testserver/account" in text
    html = mail.message.get_body(preferencelist=("html",)).get_content()
    assert f'href="http://testserver/papers/{PAPER}#c{comment_id}"' in html
    # An edit mails only the newly mentioned.
    form = ada.get(f"/comments/{comment_id}/edit").text
    ada.post(
        f"/comments/{comment_id}/edit", data={"csrf_token": csrf_of(form), "body": "Thanks @bob and @mod"}
    )
    received = deliver(app, smtp, 2)
    assert [m.rcpt_tos for m in received] == [["bob@example.org"], ["mod@example.org"]]
    with db.read() as conn:
        kinds = conn.execute(sa.select(outbox.c.kind, outbox.c.status)).all()
    assert sorted(kinds) == [("mention", "sent"), ("mention", "sent")]


def test_gates_csrf_sign_in_and_confirmation(app, members, db: Database, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    ada, anonymous = members("ada"), members(None)
    token = csrf_of(ada.get(f"/papers/{PAPER}").text)
    forged = ada.post(f"/papers/{PAPER}/comments", data={"csrf_token": "forged", "body": "Hi"})
    assert forged.status_code == 403
    assert ada.post(f"/papers/{PAPER}/comments", data={"body": "Hi"}).status_code == 403
    assert count_of(db) == 0
    answer = anonymous.post(
        f"/papers/{PAPER}/comments", data={"csrf_token": token, "body": "Hi"}, follow_redirects=False
    )
    assert (
        answer.status_code == 303 and answer.headers["location"] == f"/signin?next=/papers/{PAPER}%23comments"
    )
    assert anonymous.get("/comments/1/edit", follow_redirects=False).status_code == 303
    assert anonymous.post("/comments/1/flag", data={"reason": "spam"}, headers=JSON).status_code == 401
    with db.write() as conn:
        conn.execute(users.update().where(users.c.username == "bob").values(email_confirmed_at=None))
    bob = members("bob")
    page = bob.get(f"/papers/{PAPER}").text
    assert "Confirm your address to comment" in page and 'name="body"' not in page
    refused = bob.post(f"/papers/{PAPER}/comments", data={"csrf_token": csrf_of(page), "body": "Hi"})
    assert refused.status_code == 403 and "confirm your address" in refused.text
    assert count_of(db) == 0
    page = ada.get(f"/papers/{PAPER}").text
    assert "Add a comment" in page and "Markdown" in page


@pytest.mark.parametrize(
    ("method", "path", "fields"),
    [
        ("POST", f"/papers/{PAPER}/comments", {"body": "a\x00b", "parent_id": ""}),
        ("POST", f"/papers/{PAPER}/comments", {"body": "x", "parent_id": "abc"}),
        ("POST", f"/papers/{PAPER}/comments", {"body": "x", "parent_id": "-1"}),
        ("POST", f"/papers/{PAPER}/comments", {"body": "x", "parent_id": "99999999999999999999"}),
        ("POST", "/papers/%3Cscript%3E/comments", {"body": "x"}),
        ("POST", f"/papers/{PAPER}/comments", {"body": "x" * 70_000}),
        ("POST", "/comments/99999999999999999999/edit", {"body": "x"}),
        ("GET", "/comments/0/edit", {}),
        ("GET", "/comments/424242/flag", {}),
        ("POST", "/comments/1/flag", {"reason": "spam" * 100, "note": "n" * 5000}),
        ("POST", "/comments/1/flag", {"reason": "spam", "note": "\x00"}),
        ("POST", "/comments/1/delete", {"next": "https://evil.example/"}),
    ],
)
def test_hostile_values_get_words_never_a_500(
    members, method: str, path: str, fields: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    ada, bob = members("ada"), members("bob")
    posted_id(post(bob, "A target"))
    token = csrf_of(ada.get(f"/papers/{PAPER}").text)
    answer = ada.request(method, path, data={**fields, "csrf_token": token} if method == "POST" else None)
    assert answer.status_code in (200, 303, 400, 403, 404, 413, 422), answer.text
    assert "unexpected error" not in answer.text
