"""The mail jobs as the demo runs them in-process: a confirmation queued by a subscription goes out
when the web app wakes the outbox job, long before the job's own turn. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from dailypapers.core.settings import Settings
from dailypapers.services.subscriptions import signer, subscribe
from dailypapers.services.worker import start_mail_jobs
from dailypapers.store.db import Database
from dailypapers.testing.smtp import LoopbackSMTP

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WAIT = 30.0  # seconds a test waits for another thread; only reached when the code is broken


@pytest.fixture
def settings(mail_settings: Callable[..., Settings]) -> Settings:
    # Only a wake can send the mail within the test.
    return mail_settings(outbox_interval=3600.0, digest_interval=3600.0)


def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait until `condition()` holds, which the scheduler's thread makes true."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, what
        threading.Event().wait(0.01)


def test_a_woken_outbox_job_sends_the_confirmation(
    db: Database, settings: Settings, smtp: LoopbackSMTP
) -> None:
    lines: list[str] = []
    scheduler = start_mail_jobs(db, settings, log=lines.append, now=lambda: NOW)
    try:
        assert scheduler.names == ["digests", "outbox"]
        # Every job ran once: their next turns are an hour away on the fixed clock.
        eventually(lambda: scheduler.next_due() > NOW, "the first round did not end")
        assert subscribe(db, settings, signer(db, settings), "reader@example.org", NOW)
        scheduler.wake("outbox")  # what the web app does after a subscription
        (mail,) = smtp.wait_for(1, timeout=WAIT)
        sent = "outbox: 1 sent, 0 to retry, 0 failed, 0 dropped"
        eventually(lambda: sent in lines, f"no {sent!r} in {lines}")
    finally:
        scheduler.stop()
    assert mail.rcpt_tos == ["reader@example.org"]
    assert "onfirm" in mail.message["Subject"]
