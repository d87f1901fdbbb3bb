"""The digests job: compose the due digests, then deliver the outbox; `dailypapers digest send --due`
runs the same round (run_digests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dailypapers.core.settings import Settings
from dailypapers.digest.compose import compose_due_digest, due_digests
from dailypapers.digest.outbox import DeliveryReport, Sender
from dailypapers.digest.tokens import Signer, site_signer
from dailypapers.jobs.outbox import deliver_outbox, log_delivery
from dailypapers.jobs.scheduler import Clock, Job, Scheduler, utc_now
from dailypapers.store.db import Database


def compose_due(db: Database, settings: Settings, signer: Signer, now: datetime) -> list[int]:
    """Compose every due digest; the new outbox ids. Which readers are due is found with reads only
    (due_digests), so a round where nothing is due takes no write lock; each due digest is then
    composed in its own transaction."""
    with db.read() as conn:
        due = [(sub.id, period) for sub, period, fresh in due_digests(conn, now) if fresh]
    made: list[int] = []
    for subscriber_id, period in due:
        with db.write() as conn:
            outbox_id = compose_due_digest(conn, subscriber_id, period, settings, signer, now)
        if outbox_id is not None:
            made.append(outbox_id)
    return made


def run_digests(
    db: Database, settings: Settings, now: Clock | None = None, sender: Sender | None = None
) -> tuple[int, DeliveryReport]:
    """Compose every due digest, then send what the outbox holds (confirmations too); returns the
    number of digests composed and the delivery report."""
    clock = now or utc_now
    made = compose_due(db, settings, site_signer(db, settings), clock())
    return len(made), deliver_outbox(db, settings, clock, sender)


def digests_job(db: Database, settings: Settings, log: Callable[[str], None]) -> Job:
    """The job "digests": run_digests every digest_interval seconds."""

    def run(scheduler: Scheduler) -> datetime | None:
        made, report = run_digests(db, settings, scheduler.now)
        log_delivery(log, f"digests: {made} composed; ", report, always=made > 0)
        return None

    return Job("digests", settings.digest_interval, run)
