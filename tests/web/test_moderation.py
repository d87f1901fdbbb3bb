"""Moderation in the open through the pages, on SQLite and PostgreSQL: hide and restore comments
(counts, the thread as members and moderators see it, flags resolved), keep a flagged comment,
remove a submission from a day, ban and unban; every action in the public log; who may do what;
CSRF; reasons escaped on the log page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dailypapers.core.settings import Settings
from dailypapers.services import accounts
from dailypapers.store.db import Database
from dailypapers.store.tables import (
    comment_flags,
    comments,
    feed_entries,
    moderation_log,
    papers,
    sessions,
    users,
)
from dailypapers.web.app import create_app

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DAY = date(2026, 12, 7)
PAPER = "2612.00001"
PASSWORD = "correct horse battery staple 42"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app_db(db: Database) -> Iterator[tuple[Database, Settings]]:
    """The test database with one paper on today's list (submitted by `carol`) and four accounts:
    ada (admin), mo (moderator), bob and carol (members)."""
    settings = Settings(database_url=db.url)
    for name, role in (("ada", "admin"), ("mo", "moderator"), ("bob", "member"), ("carol", "member")):
        accounts.create_user(
            db, settings, name, f"{name}@example.org", PASSWORD, role, NOW - timedelta(days=30)
        )
    with db.write() as conn:
        insert_paper(conn, PAPER, "A paper about $x^2$")
        carol = conn.scalar(sa.select(users.c.id).where(users.c.username == "carol"))
        conn.execute(
            feed_entries.insert().values(
                feed_date=DAY,
                arxiv_id=PAPER,
                featured_by="member",
                featured_at=NOW - timedelta(hours=2),
                submitted_by=carol,
            )
        )
    yield db, settings


def insert_paper(conn: sa.Connection, arxiv_id: str, title: str) -> None:
    conn.execute(
        papers.insert().values(
            arxiv_id=arxiv_id,
            title=title,
            abstract="An abstract.",
            authors=["A. Author"],
            categories=["cs.LG"],
            primary_category="cs.LG",
            code_urls=[],
            trending_score=1.0,
            content_hash="0" * 32,
            first_featured_at=NOW - timedelta(hours=2),
            created_at=NOW - timedelta(days=1),
            modified_at=NOW - timedelta(days=1),
        )
    )


def user_id(db: Database, username: str) -> int:
    with db.read() as conn:
        return int(conn.scalar(sa.select(users.c.id).where(users.c.username == username)))


def add_comment(db: Database, author: str, body: str, flags: dict[str, str] | None = None) -> int:
    """A comment by `author` on PAPER, flagged by the members named in `flags` (name → reason)."""
    with db.write() as conn:
        comment_id = conn.execute(
            comments.insert()
            .values(
                arxiv_id=PAPER,
                user_id=user_id_in(conn, author),
                body=body,
                created_at=NOW - timedelta(hours=1),
                flag_count=len(flags or {}),
            )
            .returning(comments.c.id)
        ).scalar_one()
        for name, reason in (flags or {}).items():
            conn.execute(
                comment_flags.insert().values(
                    comment_id=comment_id,
                    user_id=user_id_in(conn, name),
                    reason=reason,
                    note=f"note from {name}",
                    created_at=NOW - timedelta(minutes=30),
                )
            )
        conn.execute(
            papers.update().where(papers.c.arxiv_id == PAPER).values(comment_count=papers.c.comment_count + 1)
        )
    return int(comment_id)


def user_id_in(conn: sa.Connection, username: str) -> int:
    return int(conn.scalar(sa.select(users.c.id).where(users.c.username == username)))


def client_for(db: Database, settings: Settings, username: str | None) -> TestClient:
    """A client of the app at NOW, signed in as `username` (None: nobody)."""
    app = create_app(settings, db)
    app.state.clock = lambda: NOW
    client = TestClient(app)
    if username is not None:
        token = accounts.sign_in(db, settings, username, PASSWORD, "127.0.0.1", NOW)
        client.cookies.set("dp_session", token)
    return client


def csrf(client: TestClient, page: str = "/signin") -> str:
    found = CSRF.search(client.get(page).text)
    assert found, f"{page} has no CSRF field"
    return found.group(1)


def post(client: TestClient, action: str, **fields: str):  # type: ignore[no-untyped-def]
    return client.post(action, data={"csrf_token": csrf(client), **fields}, follow_redirects=False)


def log_rows(db: Database) -> list[tuple[str, str, str, str | None, str]]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(
                moderation_log.c.moderator_name,
                moderation_log.c.action,
                moderation_log.c.target_kind,
                moderation_log.c.username,
                moderation_log.c.reason,
            ).order_by(moderation_log.c.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def comment_count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.scalar(sa.select(papers.c.comment_count).where(papers.c.arxiv_id == PAPER)))


def test_hide_and_restore_a_flagged_comment(app_db: tuple[Database, Settings]) -> None:
    db, settings = app_db
    comment = add_comment(db, "bob", "Buy *cheap* pills", {"carol": "spam", "ada": "other"})
    kept = add_comment(db, "carol", "A fair point about $x$.")
    mo, member = client_for(db, settings, "mo"), client_for(db, settings, "carol")

    queue = mo.get("/moderation")
    assert queue.status_code == 200
    assert "Buy cheap pills" in queue.text and "2 flags" in queue.text and "note from carol" in queue.text
    assert f'action="/moderation/comments/{comment}/hide"' in queue.text
    assert f'action="/moderation/comments/{comment}/dismiss"' in queue.text
    assert f'action="/moderation/submissions/{DAY.isoformat()}/{PAPER}/remove"' in queue.text
    as_json = mo.get("/moderation.json").json()
    assert [
        (c["id"], c["flag_count"], sorted(f["reason"] for f in c["flags"])) for c in as_json["flagged"]
    ] == [(comment, 2, ["other", "spam"])]

    hidden = post(
        mo, f"/moderation/comments/{comment}/hide", reason="spam links", next=f"/papers/{PAPER}#c{comment}"
    )
    assert hidden.status_code == 303 and hidden.headers["location"] == f"/papers/{PAPER}#c{comment}"
    assert comment_count(db) == 1
    with db.read() as conn:
        row = conn.execute(sa.select(comments).where(comments.c.id == comment)).one()
        flags = conn.execute(sa.select(comment_flags).where(comment_flags.c.comment_id == comment)).all()
    assert (
        row.hidden_at is not None and row.hidden_by == user_id(db, "mo") and row.hidden_reason == "spam links"
    )
    assert row.flag_count == 0 and all(
        f.resolved_at is not None and f.resolved_by == row.hidden_by for f in flags
    )
    after = mo.get("/moderation.json").json()
    assert after["flagged"] == []  # nothing waits any more; the comment is listed to restore
    assert [(c["id"], c["hidden_by"], c["hidden_reason"]) for c in after["hidden"]] == [
        (comment, "mo", "spam links")
    ]
    assert f'action="/moderation/comments/{comment}/restore"' in mo.get("/moderation").text

    # Members see the placeholder, moderators the body.
    page = member.get(f"/papers/{PAPER}").text
    assert "[hidden by a moderator]" in page and "cheap" not in page and "A fair point" in page
    assert "cheap" in mo.get(f"/papers/{PAPER}").text

    again = post(mo, f"/moderation/comments/{comment}/hide", reason="twice")
    assert again.status_code == 400 and "hidden already" in again.text
    restored = post(mo, f"/moderation/comments/{comment}/restore", reason="not spam after all")
    assert restored.status_code == 303 and restored.headers["location"] == "/moderation"
    assert comment_count(db) == 2
    assert "cheap" in member.get(f"/papers/{PAPER}").text
    assert log_rows(db) == [
        ("mo", "hide-comment", "comment", "bob", "spam links"),
        ("mo", "restore-comment", "comment", "bob", "not spam after all"),
    ]
    assert kept  # the other comment was never touched


def test_keep_a_flagged_comment(app_db: tuple[Database, Settings]) -> None:
    db, settings = app_db
    comment = add_comment(db, "bob", "A blunt but fair review.", {"carol": "abusive"})
    mo = client_for(db, settings, "mo")
    answer = mo.post(
        f"/moderation/comments/{comment}/dismiss",
        data={"csrf_token": csrf(mo), "reason": "criticism is fine"},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200 and answer.json()["action"] == "keep-comment"
    with db.read() as conn:
        row = conn.execute(sa.select(comments).where(comments.c.id == comment)).one()
        flag = conn.execute(sa.select(comment_flags)).one()
    assert row.hidden_at is None and row.flag_count == 0 and flag.resolved_at is not None
    assert comment_count(db) == 1
    assert log_rows(db) == [("mo", "keep-comment", "comment", "bob", "criticism is fine")]
    # Nothing is open any more.
    assert post(mo, f"/moderation/comments/{comment}/dismiss", reason="again").status_code == 400


def test_remove_a_submission_from_its_day(app_db: tuple[Database, Settings]) -> None:
    db, settings = app_db
    mo, anonymous = client_for(db, settings, "mo"), client_for(db, settings, None)
    feed = f"/papers/date/{DAY.isoformat()}.json"
    assert [p["arxiv_id"] for p in anonymous.get(feed).json()["papers"]] == [PAPER]
    assert post(mo, f"/moderation/submissions/2026-13-01/{PAPER}/remove", reason="x").status_code == 400
    assert (
        post(mo, f"/moderation/submissions/{DAY.isoformat()}/2612.99999/remove", reason="x").status_code
        == 404
    )
    assert (
        post(mo, f"/moderation/submissions/{DAY.isoformat()}/{PAPER}/remove", reason=" ").status_code == 400
    )
    removed = post(
        mo, f"/moderation/submissions/{DAY.isoformat()}/{PAPER}/remove", reason="off-topic for this site"
    )
    assert removed.status_code == 303 and removed.headers["location"] == "/moderation"
    assert anonymous.get(feed).status_code == 404  # the day's only paper is gone
    assert log_rows(db) == [("mo", "remove-submission", "submission", "carol", "off-topic for this site")]
    log = anonymous.get("/moderation/log.json").json()
    assert log["total"] == 1 and "submitted by carol" in log["entries"][0]["target"]
    assert log["entries"][0]["url"] == f"/papers/{PAPER}"


def test_ban_and_unban(app_db: tuple[Database, Settings]) -> None:
    db, settings = app_db
    mo, bob = client_for(db, settings, "mo"), client_for(db, settings, "bob")
    assert bob.get("/account").status_code == 200

    page = mo.get("/users/bob").text
    assert 'action="/users/bob/ban"' in page and "Not banned." in page
    banned = post(mo, "/users/bob/ban", reason="spam", days="7")
    assert banned.status_code == 303 and banned.headers["location"] == "/users/bob"
    with db.read() as conn:
        row = conn.execute(sa.select(users).where(users.c.username == "bob")).one()
        left = conn.scalar(
            sa.select(sa.func.count()).select_from(sessions).where(sessions.c.user_id == row.id)
        )
    assert row.ban_reason == "spam" and left == 0
    # bob's session ended, and he cannot sign in again while banned.
    assert bob.get("/account", follow_redirects=False).status_code == 303
    with pytest.raises(accounts.SignInRefused, match="banned until 2026-12-14"):
        accounts.sign_in(db, settings, "bob", PASSWORD, "127.0.0.1", NOW)
    assert "Banned until 2026-12-14" in mo.get("/users/bob").text
    assert 'action="/users/bob/unban"' in mo.get("/users/bob").text

    unbanned = post(mo, "/users/BOB/unban", reason="appeal accepted")
    assert unbanned.status_code == 303 and unbanned.headers["location"] == "/users/bob"
    assert accounts.sign_in(db, settings, "bob", PASSWORD, "127.0.0.1", NOW)
    assert post(mo, "/users/bob/unban", reason="again").status_code == 400  # not banned

    forever = post(mo, "/users/carol/ban", reason="for good", days="")
    assert forever.status_code == 303 and "for good" in mo.get("/users/carol").text
    assert (
        post(mo, "/users/carol/unban", reason="x", days="abc").status_code == 303
    )  # days is not a field of unban
    assert post(mo, "/users/carol/ban", reason="x", days="abc").status_code == 400
    assert [(r[1], r[3], r[4]) for r in log_rows(db)] == [
        ("ban", "bob", "spam"),
        ("unban", "bob", "appeal accepted"),
        ("ban", "carol", "for good"),
        ("unban", "carol", "x"),
    ]
    log = mo.get("/moderation/log.json").json()["entries"]
    assert log[-1]["target"] == "bob (until 2026-12-14 12:00 UTC)" and log[-1]["url"] == "/users/bob"


def test_who_may_ban_whom(app_db: tuple[Database, Settings]) -> None:
    db, settings = app_db
    mo, ada = client_for(db, settings, "mo"), client_for(db, settings, "ada")
    assert post(mo, "/users/ada/ban", reason="x").status_code == 403  # an admin
    assert post(mo, "/users/mo/ban", reason="x").status_code == 403  # themselves
    assert post(ada, "/users/ada/ban", reason="x").status_code == 403
    assert post(mo, "/users/nobody/ban", reason="x").status_code == 404
    assert "You cannot ban this member" in mo.get("/users/ada").text
    # Admins may ban moderators, and the banned moderator can no longer moderate.
    assert post(ada, "/users/mo/ban", reason="abused the tools", days="1").status_code == 303
    gone = post(mo, "/moderation/comments/1/hide", reason="x")  # mo's sessions ended with the ban
    assert gone.status_code == 303 and gone.headers["location"] == "/signin?next=/moderation"
    assert mo.get("/moderation", follow_redirects=False).status_code == 303  # signed out: sign in first
    assert [(r[0], r[1], r[3]) for r in log_rows(db)] == [("ada", "ban", "mo")]


def test_members_and_strangers_may_not_moderate(app_db: tuple[Database, Settings]) -> None:
    db, settings = app_db
    comment = add_comment(db, "bob", "Hello", {"carol": "spam"})
    member, anonymous, mo = (
        client_for(db, settings, "carol"),
        client_for(db, settings, None),
        client_for(db, settings, "mo"),
    )
    actions = [
        (f"/moderation/comments/{comment}/hide", {"reason": "x"}),
        (f"/moderation/comments/{comment}/restore", {"reason": "x"}),
        (f"/moderation/comments/{comment}/dismiss", {"reason": "x"}),
        (f"/moderation/submissions/{DAY.isoformat()}/{PAPER}/remove", {"reason": "x"}),
        ("/users/bob/ban", {"reason": "x", "days": "1"}),
        ("/users/bob/unban", {"reason": "x"}),
    ]
    assert member.get("/moderation").status_code == 403
    signin = anonymous.get("/moderation", follow_redirects=False)
    assert signin.status_code == 303 and signin.headers["location"] == "/signin?next=/moderation"
    for action, fields in actions:
        assert post(member, action, **fields).status_code == 403, action
        answer = post(anonymous, action, **fields)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next="), action
        # A moderator without a valid CSRF token changes nothing.
        refused = mo.post(action, data={"csrf_token": "forged", **fields}, follow_redirects=False)
        assert refused.status_code == 403 and "did not come from this site" in refused.text, action
    assert log_rows(db) == []
    with db.read() as conn:
        assert conn.scalar(sa.select(comments.c.hidden_at)) is None
        assert conn.scalar(sa.select(sa.func.count()).select_from(feed_entries)) == 1
    assert "Ban" not in member.get("/users/bob").text  # no moderation forms for members


def test_public_log_page_escapes_and_pages(app_db: tuple[Database, Settings]) -> None:
    db, settings = app_db
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    comment = add_comment(db, "bob", "Hello")
    mo, anonymous = client_for(db, settings, "mo"), client_for(db, settings, None)
    assert post(mo, f"/moderation/comments/{comment}/hide", reason=payload).status_code == 303
    page = anonymous.get("/moderation/log")
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "hid a comment" in page.text and f'href="/papers/{PAPER}#c{comment}"' in page.text
    assert '<a href="/users/mo">mo</a>' in page.text
    # 50 entries a page, newest first.
    with db.write() as conn:
        for n in range(60):
            conn.execute(
                moderation_log.insert().values(
                    created_at=NOW + timedelta(minutes=n),
                    moderator_name="mo",
                    action="ban",
                    target_kind="member",
                    target=f"gone{n}",
                    username=f"gone{n}",
                    reason=f"r{n}",
                )
            )
    first = anonymous.get("/moderation/log.json").json()
    assert first["pages"] == 2 and first["entries"][0]["reason"] == "r59" and len(first["entries"]) == 50
    assert first["entries"][0]["url"] is None  # no such member: the item is not linked
    second = anonymous.get("/moderation/log?page=2", headers={"Accept": "application/json"}).json()
    assert [e["reason"] for e in second["entries"]][-1] == payload
    assert anonymous.get("/moderation/log?page=3").status_code == 404
    assert anonymous.get("/moderation/log?page=0").status_code == 400


def test_hostile_values_get_words_not_errors(app_db: tuple[Database, Settings]) -> None:
    db, settings = app_db
    mo = client_for(db, settings, "mo")
    token = csrf(mo)
    cases = [
        ("/moderation/comments/99999999999999999999/hide", {"reason": "x"}, 400),
        ("/moderation/comments/-1/hide", {"reason": "x"}, 400),
        ("/moderation/comments/abc/restore", {"reason": "x"}, 400),
        ("/moderation/comments/12345/dismiss", {"reason": "x"}, 404),
        ("/moderation/submissions/2026-12-7/x/remove", {"reason": "x"}, 400),
        ("/moderation/submissions/2026-12-07/a%00b/remove", {"reason": "x"}, 404),
        (f"/moderation/submissions/2026-12-07/{'9' * 500}/remove", {"reason": "x"}, 404),
        ("/moderation/submissions/2026-12-07/hep-th/9901001/remove", {"reason": "x"}, 404),
        ("/users/a%00b/ban", {"reason": "x"}, 404),
        ("/users/bob/ban", {"reason": "x", "days": "²"}, 400),
        ("/users/bob/ban", {"reason": "x", "days": "9999999"}, 400),
        ("/users/bob/ban", {"reason": "x" * 501}, 400),
        ("/users/bob/ban", {"reason": "\x00\x01"}, 400),
        ("/users/bob/ban", {"reason": "x" * 3000}, 400),
    ]
    for action, fields, status in cases:
        answer = mo.post(action, data={"csrf_token": token, **fields}, follow_redirects=False)
        assert answer.status_code == status, (action, fields, answer.text[:300])
    assert log_rows(db) == []
    assert mo.get("/users/a%00b").status_code == 404
    assert mo.get("/users/a%00b/avatar.svg").status_code == 404
    # A reason with odd characters is kept as one printable line.
    done = mo.post(
        "/users/bob/ban", data={"csrf_token": token, "reason": " spam\x00 and\n more ", "days": "2"}
    )
    assert done.status_code == 200 and log_rows(db)[-1][-1] == "spam and more"
