"""Upvotes in the store, on SQLite and PostgreSQL: one row per member and paper, the paper's count moved
only by a real change, the trending score recomputed with it, and a member's votes taken back at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from dailypapers.core.models import PaperRecord
from dailypapers.core.ranking import trending_score
from dailypapers.core.settings import Settings
from dailypapers.services import accounts
from dailypapers.store import votes as votes_q
from dailypapers.store.db import Database
from dailypapers.store.papers import write_batch
from dailypapers.store.tables import papers, votes

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
DAY = date(2026, 7, 1)
PASSWORD = "correct horse battery staple 42"


def _papers(db: Database) -> None:
    featured = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    write_batch(
        db,
        [
            PaperRecord(arxiv_id="2607.00001", title="A", upvotes=3, feed_entries=[(DAY, featured)]),
            PaperRecord(arxiv_id="2607.00002", title="B", upvotes=2, feed_entries=[(DAY, featured)]),
        ],
        NOW,
    )


def _members(db: Database, count: int) -> list[int]:
    settings = Settings(database_url=db.url)
    return [
        accounts.create_user(db, settings, f"voter{i}", f"voter{i}@example.org", PASSWORD, "member", NOW).id
        for i in range(count)
    ]


def _paper(db: Database, arxiv_id: str) -> sa.Row:  # type: ignore[type-arg]
    with db.read() as conn:
        return conn.execute(sa.select(papers).where(papers.c.arxiv_id == arxiv_id)).one()


def test_a_vote_counts_once_and_moves_trending(db: Database) -> None:
    _papers(db)
    alice, bob = _members(db, 2)
    before_a, before_b = _paper(db, "2607.00001"), _paper(db, "2607.00002")
    assert before_a.trending_score > before_b.trending_score  # 3 imported upvotes against 2
    with db.write() as conn:
        assert votes_q.set_vote(conn, alice, "2607.00002", True, NOW) == (True, 1, 2)
        # The same vote again changes nothing: no second row, no second count.
        assert votes_q.set_vote(conn, alice, "2607.00002", True, NOW) == (True, 1, 2)
        assert votes_q.set_vote(conn, bob, "2607.00002", True, NOW + timedelta(minutes=1)) == (True, 2, 2)
    after_b = _paper(db, "2607.00002")
    assert after_b.vote_count == 2
    assert after_b.trending_score == trending_score(4, datetime(2026, 7, 1, tzinfo=UTC))
    assert after_b.trending_score > _paper(db, "2607.00001").trending_score  # 2 + 2 now beats 3
    with db.read() as conn:
        assert votes_q.voted_ids(conn, alice, ["2607.00001", "2607.00002", "2607.99999"]) == {"2607.00002"}
        assert votes_q.member_votes(conn, bob, 10, 0) == [
            {"arxiv_id": "2607.00002", "created_at": NOW + timedelta(minutes=1)}
        ]
    with db.write() as conn:
        assert votes_q.set_vote(conn, alice, "2607.00002", False, NOW) == (False, 1, 2)
        assert votes_q.set_vote(conn, alice, "2607.00002", False, NOW) == (False, 1, 2)
    assert _paper(db, "2607.00002").trending_score == before_b.trending_score + (
        trending_score(3, NOW) - trending_score(2, NOW)
    )


def test_removing_a_members_votes_lowers_every_count(db: Database) -> None:
    _papers(db)
    alice, bob = _members(db, 2)
    with db.write() as conn:
        for arxiv_id in ("2607.00001", "2607.00002"):
            votes_q.set_vote(conn, alice, arxiv_id, True, NOW)
        votes_q.set_vote(conn, bob, "2607.00001", True, NOW)
    with db.write() as conn:
        assert votes_q.remove_member_votes(conn, alice, NOW) == 2
        assert votes_q.remove_member_votes(conn, alice, NOW) == 0
    a, b = _paper(db, "2607.00001"), _paper(db, "2607.00002")
    assert (a.vote_count, b.vote_count) == (1, 0)
    assert b.trending_score == trending_score(2, datetime(2026, 7, 1, tzinfo=UTC))
    with db.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(votes)) == 1
