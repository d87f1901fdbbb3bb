"""Migration 0008 (accounts) on a database at 0007 that holds data: roles mapped, and no row of a
child table (votes, subscribers, sent papers) lost to SQLite's table copies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from dailypapers.store.db import Database
from dailypapers.store.migrate import current_revision, upgrade

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture
def at_0007(db: Database) -> Database:
    """The test database taken back to 0007 (the schema before accounts)."""
    from alembic import command  # only this test goes down the history

    from dailypapers.store.migrate import alembic_config

    command.downgrade(alembic_config(db.engine), "0007")
    yield db
    upgrade(db.engine)


def test_upgrade_from_0007_maps_roles_and_keeps_children(at_0007: Database) -> None:
    db = at_0007
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO papers (arxiv_id, title, authors, categories, code_urls, trending_score, "
                "content_hash, created_at, modified_at) "
                "VALUES ('2612.00001', 'A paper', '[]', '[]', '[]', 0, 'h', :now, :now)"
            ),
            {"now": NOW},
        )
        for i, role in enumerate(("reader", "curator", "admin"), start=1):
            conn.execute(
                sa.text("INSERT INTO users (id, username, role, created_at) VALUES (:i, :u, :r, :now)"),
                {"i": i, "u": f"user{i}", "r": role, "now": NOW},
            )
        conn.execute(
            sa.text("INSERT INTO votes (user_id, arxiv_id, created_at) VALUES (1, '2612.00001', :now)"),
            {"now": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO subscribers (id, email, status, user_id, categories, created_at, updated_at) "
                "VALUES (1, 'a@example.org', 'active', 2, '[]', :now, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO outbox (id, subscriber_id, kind, period_key, to_addr, message_id, subject, "
                "body_text, body_html, status, next_attempt_at, created_at) VALUES (1, 1, 'digest', "
                "'D2026-12-01', 'a@example.org', '<m@x>', 's', 't', 'h', 'sent', :now, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO sent_papers (subscriber_id, arxiv_id, outbox_id) VALUES (1, '2612.00001', 1)"
            )
        )
    upgrade(db.engine)
    assert current_revision(db.engine) >= "0008"  # and every later migration
    with db.engine.connect() as conn:
        roles = dict(conn.execute(sa.text("SELECT username, role FROM users")).all())
        assert roles == {"user1": "member", "user2": "moderator", "user3": "admin"}
        assert conn.execute(sa.text("SELECT count(*) FROM votes")).scalar() == 1
        assert conn.execute(sa.text("SELECT user_id FROM subscribers")).scalar() == 2
        assert conn.execute(sa.text("SELECT count(*) FROM sent_papers")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM users WHERE updated_at IS NULL")).scalar() == 0
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET role = 'reader' WHERE id = 1"))
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO users (username, role, created_at, updated_at) VALUES ('USER1', 'member', :n, :n)"
            ),
            {"n": NOW},
        )


def test_downgrade_to_0007_maps_roles_back(db: Database) -> None:
    from alembic import command  # only this test goes down the history

    from dailypapers.store.migrate import alembic_config

    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO users (username, role, created_at, updated_at) VALUES ('m', 'moderator', :n, :n)"
            ),
            {"n": NOW},
        )
    command.downgrade(alembic_config(db.engine), "0007")
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT role FROM users")).scalar() == "curator"
    upgrade(db.engine)
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT role FROM users")).scalar() == "moderator"
