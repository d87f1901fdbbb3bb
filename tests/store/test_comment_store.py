"""The SQL of comments and the service around it, on SQLite and PostgreSQL: the paper's count after
posts, deletes and hides; account deletion emptying every comment of a member; one flag per member and
comment counting open flags only; the rate window; who a mention mails."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from dailypapers.core.models import PaperRecord
from dailypapers.core.settings import Settings
from dailypapers.services import accounts
from dailypapers.services import comments as service
from dailypapers.services.errors import BadRequest, Forbidden, NotFound, TooMany
from dailypapers.services.schemas import Member
from dailypapers.store import comments as store
from dailypapers.store.db import Database
from dailypapers.store.papers import upsert_batch
from dailypapers.store.tables import comment_flags, comments, outbox, papers, users

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PAPER = "2612.00001"


@pytest.fixture
def settings(db: Database) -> Settings:
    return Settings(database_url=db.url, site_url="https://papers.example", comment_rate_limit=3)


@pytest.fixture
def people(db: Database, settings: Settings) -> dict[str, Member]:
    record = PaperRecord(arxiv_id=PAPER, title="A paper", abstract="A.", authors=["A"], categories=["cs.LG"])
    with db.write() as conn:
        upsert_batch(conn, [record], NOW)
    return {
        name: accounts.create_user(
            db, settings, name, f"{name}@example.org", "a long passphrase 42", "member", NOW
        )
        for name in ("ada", "bob", "eve")
    }


def count_of(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(papers.c.comment_count)).scalar_one())


def test_delete_member_comments_empties_them_and_recounts(db: Database, settings, people) -> None:  # type: ignore[no-untyped-def]
    ada, bob = people["ada"], people["bob"]
    top = service.post_comment(db, settings, ada, PAPER, "mine", None, NOW)
    service.post_comment(db, settings, bob, PAPER, "a reply", top.id, NOW)
    service.post_comment(db, settings, ada, f"arXiv:{PAPER}v1", "mine too", top.id, NOW)
    assert count_of(db) == 3
    with db.write() as conn:
        assert store.delete_member_comments(conn, ada.id, NOW + timedelta(hours=1)) == 2
        assert store.delete_member_comments(conn, ada.id, NOW + timedelta(hours=2)) == 0
    assert count_of(db) == 1
    with db.read() as conn:
        rows = conn.execute(sa.select(comments).order_by(comments.c.id)).all()
    assert [(r.body, r.deleted_at is not None) for r in rows] == [("", True), ("a reply", False), ("", True)]
    thread = service.thread(db, settings, PAPER, None, NOW)
    assert thread.count == 1 and thread.comments[0].deleted and thread.comments[0].replies[0].author == "bob"


def test_flags_one_per_member_counting_open_ones(db: Database, settings, people) -> None:  # type: ignore[no-untyped-def]
    ada, bob, eve = people["ada"], people["bob"], people["eve"]
    comment = service.post_comment(db, settings, ada, PAPER, "spammy", None, NOW)
    assert service.flag_comment(db, settings, bob, comment.id, "spam", "", NOW).new
    assert not service.flag_comment(db, settings, bob, comment.id, "other", "ads", NOW).new
    assert service.flag_comment(db, settings, eve, comment.id, "abusive", "", NOW).new
    with db.write() as conn:
        assert store.recount_flags(conn, comment.id) == 2
        conn.execute(comment_flags.update().where(comment_flags.c.user_id == eve.id).values(resolved_at=NOW))
        assert store.recount_flags(conn, comment.id) == 1
        reasons = (
            conn.execute(sa.select(comment_flags.c.reason).order_by(comment_flags.c.user_id)).scalars().all()
        )
    assert reasons == ["other", "abusive"]
    with pytest.raises(Forbidden, match="own comment"):
        service.flag_comment(db, settings, ada, comment.id, "spam", "", NOW)
    with pytest.raises(BadRequest, match="Choose a reason"):
        service.flag_comment(db, settings, bob, comment.id, "meh", "", NOW)
    with pytest.raises(BadRequest, match="too long"):
        service.flag_comment(db, settings, bob, comment.id, "spam", "x" * 501, NOW)


def test_post_rules_of_the_service(db: Database, settings, people) -> None:  # type: ignore[no-untyped-def]
    ada = people["ada"]
    with pytest.raises(NotFound):
        service.post_comment(db, settings, ada, "2612.09999", "hello", None, NOW)
    with pytest.raises(NotFound):
        service.post_comment(db, settings, ada, "not an id", "hello", None, NOW)
    with pytest.raises(NotFound):
        service.post_comment(db, settings, ada, PAPER, "hello", 12345, NOW)
    with pytest.raises(BadRequest, match="empty"):
        service.post_comment(db, settings, ada, PAPER, " \n", None, NOW)
    banned = ada.model_copy(update={"banned_until": NOW + timedelta(days=1)})
    with pytest.raises(Forbidden):
        service.post_comment(db, settings, banned, PAPER, "hello", None, NOW)
    unconfirmed = ada.model_copy(update={"email_confirmed": False})
    with pytest.raises(Forbidden):
        service.post_comment(db, settings, unconfirmed, PAPER, "hello", None, NOW)
    for minute in range(3):
        service.post_comment(db, settings, ada, PAPER, f"n{minute}", None, NOW + timedelta(minutes=minute))
    with pytest.raises(TooMany) as refused:
        service.post_comment(db, settings, ada, PAPER, "more", None, NOW + timedelta(minutes=3))
    assert refused.value.retry_after == 600 - 180
    with db.read() as conn:
        assert store.posted_since(conn, ada.id, NOW) == (2, NOW + timedelta(minutes=1))
    assert count_of(db) == 3


def test_mention_recipients_want_mail_and_can_get_it(db: Database, settings, people) -> None:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        conn.execute(users.update().where(users.c.username == "eve").values(notify_mentions=False))
        conn.execute(
            users.update().where(users.c.username == "bob").values(banned_until=NOW + timedelta(days=1))
        )
        assert store.mention_recipients(conn, ["ADA", "bob", "eve", "zed"], NOW)[0].username == "ada"
        assert len(store.mention_recipients(conn, ["ADA", "bob", "eve", "zed"], NOW)) == 1
        assert [r.username for r in store.mention_recipients(conn, ["bob"], NOW + timedelta(days=2))] == [
            "bob"
        ]
    many = " ".join(f"@user{i}" for i in range(12))
    bob = people["bob"].model_copy(update={"banned_until": None})
    for i in range(12):
        accounts.create_user(
            db, settings, f"user{i}", f"user{i}@example.org", "a long passphrase 42", "member", NOW
        )
    service.post_comment(db, settings, bob, PAPER, f"{many} @ada", None, NOW)
    with db.read() as conn:
        to = conn.execute(sa.select(outbox.c.to_addr).where(outbox.c.kind == "mention")).scalars().all()
    assert sorted(to) == sorted(f"user{i}@example.org" for i in range(service.MAX_MENTIONS))


def test_concurrent_comments_and_flags_keep_exact_counts(db: Database, settings, people) -> None:  # type: ignore[no-untyped-def]
    """24 members post at once on one paper, then flag one comment at once: the paper's count and the
    comment's flag count equal the rows (on PostgreSQL a count inside the UPDATE lost some)."""
    members = [
        accounts.create_user(
            db, settings, f"m{i}", f"m{i}@example.org", "a long passphrase 42", "member", NOW
        )
        for i in range(24)
    ]
    first = service.post_comment(db, settings, people["ada"], PAPER, "the first", None, NOW)
    with ThreadPoolExecutor(max_workers=12) as pool:
        posted = list(
            pool.map(
                lambda m: service.post_comment(db, settings, m, PAPER, f"by {m.username}", None, NOW), members
            )
        )
        flags = list(
            pool.map(lambda m: service.flag_comment(db, settings, m, first.id, "spam", "", NOW), members)
        )
    assert len(posted) == len(flags) == 24
    with db.read() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(comments)).scalar_one()
        flag_count = conn.execute(
            sa.select(comments.c.flag_count).where(comments.c.id == first.id)
        ).scalar_one()
    assert rows == 25 and count_of(db) == 25
    assert flag_count == 24
