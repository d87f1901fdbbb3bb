"""The outbox job: deliver the queued mails (confirmations above all: a reader waits for them) every
outbox_interval seconds, and at once when the web app wakes it after a subscription."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dailypapers.core.settings import Settings
from dailypapers.digest.mail import SmtpSender
from dailypapers.digest.outbox import DeliveryReport, Sender, deliver
from dailypapers.jobs.scheduler import Clock, Job, Scheduler, utc_now
from dailypapers.store.db import Database

MAX_ERRORS_LOGGED = 20


def deliver_outbox(
    db: Database, settings: Settings, now: Clock = utc_now, sender: Sender | None = None
) -> DeliveryReport:
    """Send the due mails of the outbox through `sender`, or through the SMTP server of the settings."""
    if sender is not None:
        return deliver(db, settings, sender, now)
    with SmtpSender.from_settings(settings) as smtp:
        return deliver(db, settings, smtp, now)


def log_delivery(
    log: Callable[[str], None], head: str, report: DeliveryReport, *, always: bool = False
) -> None:
    """Log what a delivery did (when it did anything, or `always`) and its first failures."""
    if always or report.sent or report.failed or report.retried:
        log(f"{head}{report.line()}")
    for line in report.errors[:MAX_ERRORS_LOGGED]:
        log(f"  mail {line}")


def outbox_job(db: Database, settings: Settings, log: Callable[[str], None]) -> Job:
    """The job "outbox": deliver what the outbox holds, every outbox_interval seconds (the mails stay
    queued when the SMTP server is down, retried with backoff)."""

    def run(scheduler: Scheduler) -> datetime | None:
        log_delivery(log, "outbox: ", deliver_outbox(db, settings, scheduler.now))
        return None

    return Job("outbox", settings.outbox_interval, run)
