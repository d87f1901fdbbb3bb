"""`dailypapers users create|promote|ban|unban|list`, run as an operator runs them (a subprocess with
DAILYPAPERS_* variables), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from dailypapers.core.settings import Settings
from dailypapers.services import accounts
from dailypapers.store.db import Database
from dailypapers.store.tables import moderation_log

PASSWORD = "an operator's passphrase 3"


def cli(db: Database, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DAILYPAPERS_DATABASE_URL": db.url}
    return subprocess.run(
        [sys.executable, "-m", "dailypapers.cli", "users", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_create_promote_ban_unban_list(db: Database) -> None:
    made = cli(db, "create", "ada", "ada@example.org", "--role", "admin", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert made.returncode == 0, made.stderr
    assert "created ada · admin · ada@example.org" in made.stdout
    cli(db, "create", "bob", "bob@example.org", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    # The account works at once: its address counts as confirmed.
    settings = Settings(database_url=db.url)
    assert accounts.sign_in(db, settings, "ada", PASSWORD, "127.0.0.1", datetime.now(UTC))

    assert "bob · moderator" in cli(db, "promote", "bob").stdout
    banned = cli(db, "ban", "bob", "--reason", "spam links", "--days", "7")
    assert banned.returncode == 0 and "banned until" in banned.stdout and "spam links" in banned.stdout
    listed = [json.loads(line) for line in cli(db, "list", "--json").stdout.splitlines()]
    assert [(m["username"], m["role"], m["email_confirmed"]) for m in listed] == [
        ("ada", "admin", True),
        ("bob", "moderator", True),
    ]
    assert listed[1]["banned_until"] and listed[1]["ban_reason"] == "spam links"
    assert "password_hash" not in listed[0]
    assert "banned" not in cli(db, "unban", "bob").stdout
    # The operator's actions are in the public moderation log, signed "operator".
    with db.read() as conn:
        logged = conn.execute(
            sa.select(
                moderation_log.c.moderator_name,
                moderation_log.c.moderator_id,
                moderation_log.c.action,
                moderation_log.c.username,
                moderation_log.c.reason,
            ).order_by(moderation_log.c.id)
        ).all()
    assert [tuple(row) for row in logged] == [
        ("operator", None, "set-role", "bob", "role member → moderator"),
        ("operator", None, "ban", "bob", "spam links"),
        ("operator", None, "unban", "bob", "lifted by the operator"),
    ]


def test_refusals_exit_2_with_the_reason(db: Database) -> None:
    weak = cli(db, "create", "ada", "ada@example.org", stdin="password123\npassword123\n")
    assert weak.returncode == 2 and "common" in weak.stderr
    cli(db, "create", "ada", "ada@example.org", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    taken = cli(db, "create", "ADA", "other@example.org", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert taken.returncode == 2 and "has an account already" in taken.stderr
    unknown = cli(db, "promote", "nobody")
    assert unknown.returncode == 2 and "no member is called 'nobody'" in unknown.stderr
    assert cli(db, "promote", "ada", "--role", "king").returncode == 2
    assert cli(db, "ban", "ada", "--reason", " ").returncode == 2
    with db.read() as conn:
        assert (
            conn.scalar(sa.select(sa.func.count()).select_from(moderation_log)) == 0
        )  # nothing refused is logged


def test_demo_accounts_get_new_random_passwords_at_every_start(db: Database) -> None:
    from dailypapers.demo import demo_accounts

    settings = Settings(database_url=db.url)
    now = datetime.now(UTC)
    first = demo_accounts(db, settings)
    assert [(u, r) for u, r, _ in first] == [("admin", "admin"), ("member", "member")]
    session = accounts.sign_in(db, settings, "admin", first[0][2], "127.0.0.1", now)
    second = demo_accounts(db, settings)
    assert first[0][2] != second[0][2]
    assert accounts.member_of_session(db, settings, session, now) is None  # older sessions end
    with pytest.raises(accounts.SignInRefused):
        accounts.sign_in(db, settings, "admin", first[0][2], "127.0.0.2", now)
    for username, role, password in second:
        token = accounts.sign_in(db, settings, username, password, "127.0.0.1", now)
        member = accounts.member_of_session(db, settings, token, now)
        assert member is not None and member.role == role and member.email_confirmed
