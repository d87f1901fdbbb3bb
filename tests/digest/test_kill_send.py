"""kill -9 of the digest sender at 20 points while 200 subscribers' digests go out, then a restart:
every subscriber ends with exactly one digest of the period. On SQLite and PostgreSQL.

The remaining window (a mail the SMTP server accepted, the sender killed before its `sent` mark
committed) makes a second copy with the same Message-ID; the test counts how often that happens and
prints it (docs/architecture.md, "Email digests", records the figures)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta

import sqlalchemy as sa

from dailypapers.core.settings import Settings
from dailypapers.store.db import Database
from dailypapers.store.tables import outbox, subscribers
from dailypapers.testing.smtp import LoopbackSMTP

SUBSCRIBERS, KILLS = 200, 20


def _sender(db: Database, settings: Settings, now: datetime) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DAILYPAPERS_DATABASE_URL": db.url,
        "DAILYPAPERS_SMTP_HOST": settings.smtp_host,
        "DAILYPAPERS_SMTP_PORT": str(settings.smtp_port),
        "DAILYPAPERS_SITE_URL": settings.site_url,
        "DAILYPAPERS_MAIL_FROM": settings.mail_from,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "dailypapers.cli", "digest", "send", "--due", "--now", now.isoformat()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_kill_9_while_sending_leaves_exactly_one_digest_each(
    feed: Database, settings: Settings, smtp: LoopbackSMTP, now: datetime
) -> None:
    with feed.write() as conn:
        conn.execute(
            subscribers.insert(),
            [
                {
                    "email": f"reader{n:03d}@example.org",
                    "status": "active",
                    "categories": [],
                    "timezone": "UTC",
                    "send_hour": (now.hour - 1) % 24,
                    "max_papers": 5,
                    "created_at": now - timedelta(days=3),
                    "confirmed_at": now - timedelta(days=2),
                    "updated_at": now,
                }
                for n in range(SUBSCRIBERS)
            ],
        )
    rng = random.Random(20261130)
    # Kill points spread over the batch: when the server has received this many mails (or, for the
    # first few, after a random delay, which may fall while digests are still being composed).
    targets = sorted(rng.sample(range(1, SUBSCRIBERS), KILLS - 4))
    kills = 0
    for step in range(KILLS):
        proc = _sender(feed, settings, now)
        if step < 4:
            time.sleep(rng.uniform(0.2, 2.5))
        else:
            target = targets[step - 4]
            deadline = time.monotonic() + 60
            while len(smtp.messages) < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
    final = _sender(feed, settings, now)  # the restart, left to finish
    assert final.wait(timeout=300) == 0
    with feed.read() as conn:
        rows = conn.execute(
            sa.select(outbox.c.to_addr, outbox.c.status, outbox.c.message_id).where(outbox.c.kind == "digest")
        ).all()
    assert len(rows) == SUBSCRIBERS and {r.status for r in rows} == {"sent"}
    received = Counter(m.rcpt_tos[0] for m in smtp.messages)
    assert set(received) == {r.to_addr for r in rows}  # nobody missed
    by_id = Counter(m.message["Message-ID"] for m in smtp.messages)
    assert set(by_id) == {r.message_id for r in rows}  # every copy is the period's one digest
    duplicates = sum(n - 1 for n in received.values())
    assert duplicates <= kills  # at most the one mail in flight per kill
    print(
        f"\n{feed.engine.dialect.name}: {kills} kills during {SUBSCRIBERS} digests: {duplicates} sent twice "
        f"(accepted by the server, killed before the sent mark)"
    )
