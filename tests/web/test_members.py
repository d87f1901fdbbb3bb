"""Member pages `/users/<name>` and avatars, on SQLite and PostgreSQL: submissions, comments (never
deleted ones, hidden ones only for moderators), upvotes only when public, names without case, and
a local SVG avatar for any valid name."""

from __future__ import annotations

import sqlalchemy as sa
from test_moderation import NOW, PAPER, add_comment, app_db, client_for, insert_paper

from dailypapers.core.avatars import avatar_svg
from dailypapers.core.settings import Settings
from dailypapers.store.db import Database
from dailypapers.store.tables import comments, users, votes

__all__ = ["app_db"]  # the fixture, shared


def test_member_page_lists_what_the_member_did(app_db: tuple[Database, Settings]) -> None:
    db, settings = app_db
    add_comment(db, "carol", "Nice result on **$x^2$**.")
    hidden = add_comment(db, "carol", "A rude remark")
    deleted = add_comment(db, "carol", "Withdrawn thought")
    with db.write() as conn:
        conn.execute(
            comments.update().where(comments.c.id == hidden).values(hidden_at=NOW, hidden_reason="rude")
        )
        conn.execute(comments.update().where(comments.c.id == deleted).values(deleted_at=NOW, body=""))
        conn.execute(users.update().where(users.c.username == "carol").values(display_name="Carol <b>C</b>"))
        insert_paper(conn, "2612.00002", "Voted paper")
        conn.execute(
            votes.insert().values(user_id=user_id_of(conn, "carol"), arxiv_id="2612.00002", created_at=NOW)
        )
    anonymous, mo = client_for(db, settings, None), client_for(db, settings, "mo")

    page = anonymous.get("/users/carol")
    assert page.status_code == 200
    text = page.text
    assert "Carol &lt;b&gt;C&lt;/b&gt;" in text and "<b>C</b>" not in text
    assert 'src="/users/carol/avatar.svg"' in text and "member since Nov 7, 2026" in text
    assert f'href="/papers/{PAPER}"' in text and 'href="/papers/date/2026-12-07"' in text  # the submission
    assert "Nice result on x²." in text and f'href="/papers/{PAPER}#c' in text
    assert "A rude remark" not in text and "Withdrawn" not in text
    assert "This member keeps their upvotes private" in text and "Voted paper" not in text
    assert 'action="/users/carol/ban"' not in text

    as_json = anonymous.get("/users/carol.json").json()
    assert as_json["username"] == "carol" and as_json["upvotes"] is None and as_json["moderation"] is None
    assert "email" not in as_json and [c["hidden"] for c in as_json["comments"]] == [False]

    moderated = mo.get("/users/carol").text
    assert "A rude remark" in moderated and "hidden by a moderator" in moderated
    assert "Withdrawn" not in moderated and 'action="/users/carol/ban"' in moderated

    with db.write() as conn:
        conn.execute(users.update().where(users.c.username == "carol").values(public_votes=True))
    public = anonymous.get("/users/carol")
    assert "Voted paper" in public.text and "keeps their upvotes private" not in public.text
    assert [v["arxiv_id"] for v in anonymous.get("/users/carol.json").json()["upvotes"]] == ["2612.00002"]


def test_names_roles_and_unknown_members(app_db: tuple[Database, Settings]) -> None:
    db, settings = app_db
    anonymous = client_for(db, settings, None)
    moved = anonymous.get("/users/CaRoL", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == "/users/carol"
    assert (
        anonymous.get("/users/CAROL.json", follow_redirects=False).headers["location"] == "/users/carol.json"
    )
    assert '<span class="badge">moderator</span>' in anonymous.get("/users/mo").text
    assert "No submissions yet." in anonymous.get("/users/bob").text
    missing = anonymous.get("/users/nobody")
    assert missing.status_code == 404 and "no member called" in missing.text
    assert anonymous.get("/users/%3Cscript%3E").status_code == 404


def test_avatars_are_drawn_here_for_any_valid_name(app_db: tuple[Database, Settings]) -> None:
    db, settings = app_db
    anonymous = client_for(db, settings, None)
    for name in ("carol", "not-a-member"):
        answer = anonymous.get(f"/users/{name}/avatar.svg")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("image/svg+xml")
        assert answer.headers["cache-control"] == "public, max-age=86400"
        assert answer.text == avatar_svg(name, 64)
    assert anonymous.get("/users/Carol/avatar.svg").text == anonymous.get("/users/carol/avatar.svg").text
    assert anonymous.get("/users/a%20b/avatar.svg").status_code == 404
    assert anonymous.get(f"/users/{'x' * 40}/avatar.svg").status_code == 404


def user_id_of(conn: sa.Connection, username: str) -> int:
    return int(conn.scalar(sa.select(users.c.id).where(users.c.username == username)))
