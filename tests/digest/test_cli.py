"""`dailypapers digest preview|send|inbound` and `dailypapers subscribers list|export`, run as users
run them (a subprocess with DAILYPAPERS_* variables), against a real SMTP server on loopback."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from dailypapers.core.settings import Settings
from dailypapers.store.db import Database
from dailypapers.store.tables import outbox, saved_searches, subscribers
from dailypapers.testing.smtp import LoopbackSMTP


def cli(settings: Settings, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The CLI as a user runs it, in a subprocess with the test's settings as DAILYPAPERS_* variables."""
    env = {
        **os.environ,
        "DAILYPAPERS_DATABASE_URL": settings.database_url,
        "DAILYPAPERS_SMTP_HOST": settings.smtp_host,
        "DAILYPAPERS_SMTP_PORT": str(settings.smtp_port),
        "DAILYPAPERS_SITE_URL": settings.site_url,
        "DAILYPAPERS_MAIL_UNSUBSCRIBE_MAILTO": settings.mail_unsubscribe_mailto,
    }
    return subprocess.run(
        [sys.executable, "-m", "dailypapers.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture
def at_now(now: datetime) -> list[str]:
    """The `--now` option of digest commands: the time the test runs at."""
    return ["--now", now.isoformat()]


def add_subscriber(db: Database, email: str, now: datetime, **prefs) -> None:  # type: ignore[no-untyped-def]
    """An active reader, confirmed two days before `now`, whose daily digest was due an hour ago."""
    values = {
        "email": email,
        "status": "active",
        "categories": [],
        "timezone": "UTC",
        "send_hour": (now.hour - 1) % 24,
        "created_at": now - timedelta(days=3),
        "confirmed_at": now - timedelta(days=2),
        "updated_at": now,
        **prefs,
    }
    with db.write() as conn:
        conn.execute(subscribers.insert().values(**values))


def test_preview_renders_without_recording(
    feed: Database, settings: Settings, tmp_path: Path, now: datetime, at_now: list[str]
) -> None:
    add_subscriber(feed, "reader@example.org", now, categories=["cs.CV"])
    shown = cli(settings, "digest", "preview", "reader@example.org", *at_now)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout.decode()
    assert "Diffusion Transformers for Video Generation" in text and "Scaling Laws" not in text
    out = tmp_path / "digest.html"
    assert (
        cli(settings, "digest", "preview", "reader@example.org", "--out", str(out), *at_now).returncode == 0
    )
    assert out.read_text().lstrip().lower().startswith("<!doctype html")
    with feed.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(outbox)) == 0
    missing = cli(settings, "digest", "preview", "nobody@example.org", *at_now)
    assert missing.returncode == 2 and b"no subscriber" in missing.stderr


def test_send_due_dry_run_then_send(
    feed: Database, settings: Settings, smtp: LoopbackSMTP, now: datetime, at_now: list[str]
) -> None:
    add_subscriber(feed, "a@example.org", now, max_papers=3)
    add_subscriber(feed, "b@example.org", now, categories=["math.AG"])  # nothing for them: no mail
    dry = cli(settings, "digest", "send", "--due", "--dry-run", *at_now)
    assert dry.returncode == 0, dry.stderr
    assert re.search(rb"a@example.org\tD\S+\t3 papers", dry.stdout)
    assert b"b@example.org" in dry.stdout and b"empty: not sent" in dry.stdout
    assert smtp.messages == []
    sent = cli(settings, "digest", "send", "--due", *at_now)
    assert sent.returncode == 0, sent.stderr
    assert b"2 digests composed; 1 sent" in sent.stdout
    assert [m.rcpt_tos for m in smtp.messages] == [["a@example.org"]]
    again = cli(settings, "digest", "send", "--due", *at_now)
    assert b"0 digests composed; 0 sent" in again.stdout and len(smtp.messages) == 1
    # A time without its offset is ambiguous: refused, and nothing is sent.
    naive = cli(settings, "digest", "send", "--due", "--now", now.replace(tzinfo=None).isoformat())
    assert naive.returncode == 2 and b"offset" in naive.stderr and len(smtp.messages) == 1


def test_inbound_mail_to_the_mailto_address_unsubscribes(
    feed: Database, settings: Settings, smtp: LoopbackSMTP, now: datetime, at_now: list[str]
) -> None:
    add_subscriber(feed, "leaving@example.org", now)
    assert cli(settings, "digest", "send", "--due", *at_now).returncode == 0
    digest = smtp.wait_for(1)[0].message
    mailto = re.search(r"<mailto:([^>]+)>", digest["List-Unsubscribe"]).group(1)
    address, _, query = mailto.partition("?")
    assert address == "unsubscribe@example.org"
    from urllib.parse import parse_qs

    subject = parse_qs(query)["subject"][0]
    reply = f"From: leaving@example.org\r\nTo: {address}\r\nSubject: {subject}\r\n\r\n".encode()
    forged = reply.replace(subject.split()[-1].encode(), b"Zm9yZ2Vk.abc.def")
    assert cli(settings, "digest", "inbound", stdin=forged).returncode == 1
    done = cli(settings, "digest", "inbound", stdin=reply)
    assert done.returncode == 0 and b"unsubscribed leaving@example.org" in done.stdout
    with feed.read() as conn:
        assert conn.scalar(sa.select(subscribers.c.status)) == "unsubscribed"


def test_subscribers_list_and_export(feed: Database, settings: Settings, now: datetime) -> None:
    add_subscriber(feed, "one@example.org", now, categories=["cs.CL"])
    add_subscriber(feed, "two@example.org", now, status="pending", frequency="weekly")
    with feed.write() as conn:
        one = conn.scalar(sa.select(subscribers.c.id).where(subscribers.c.email == "one@example.org"))
        conn.execute(
            saved_searches.insert().values(subscriber_id=one, include="contrastive", exclude="medical")
        )
    listed = cli(settings, "subscribers", "list")
    assert (
        listed.returncode == 0 and b"one@example.org" in listed.stdout and b"2 subscribers" in listed.stdout
    )
    exported = cli(settings, "subscribers", "export", "--format", "json", "--status", "active")
    rows = json.loads(exported.stdout)
    assert [r["email"] for r in rows] == ["one@example.org"]
    assert rows[0]["categories"] == ["cs.CL"] and rows[0]["saved_searches"] == [
        {"include": "contrastive", "exclude": "medical"}
    ]
    table = list(csv.DictReader(io.StringIO(cli(settings, "subscribers", "export").stdout.decode())))
    assert {r["email"]: r["frequency"] for r in table} == {
        "one@example.org": "daily",
        "two@example.org": "weekly",
    }
