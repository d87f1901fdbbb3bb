"""`dailypapers worker` and the demo's mail: the background jobs on one scheduler (jobs/scheduler.py).

The worker runs the remote sources (setting worker_sources) on their schedules, embeds what arrived
(setting worker_embed), composes and sends the due digests every digest_interval seconds and delivers
the outbox (confirmation mails) every outbox_interval seconds. SIGTERM or Ctrl-C stops it after the
page in progress is stored; a second one stops it at once.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType

from dailypapers.core.settings import Settings
from dailypapers.ingest.sources import build_client
from dailypapers.jobs.digests import digests_job
from dailypapers.jobs.embedding import embedding_job
from dailypapers.jobs.outbox import outbox_job
from dailypapers.jobs.scheduler import Clock, Job, Scheduler, utc_now
from dailypapers.jobs.sources import SourcesJob
from dailypapers.store.db import Database


def run_worker(db: Database, settings: Settings, *, once: bool, log: Callable[[str], None]) -> int:
    """Run every background job until stopped (with `once`: each job once); returns the exit status
    of the sources' runs: 2 if one failed, else 0 if new papers arrived, else 1."""
    with build_client(settings) as client:
        sources = SourcesJob(db, settings, client, log)
        jobs = [sources.job()]
        if settings.worker_embed:
            jobs.append(embedding_job(db, settings, log))
        scheduler = Scheduler([*jobs, *mail_jobs(db, settings, log)], log=log)
        install_signal_handlers(scheduler, log)
        scheduler.run(once=once)
    return sources.exit_status()


def mail_jobs(db: Database, settings: Settings, log: Callable[[str], None]) -> list[Job]:
    """The jobs that send mail: "digests" (compose the due ones, deliver) and "outbox" (deliver)."""
    return [digests_job(db, settings, log), outbox_job(db, settings, log)]


def start_mail_jobs(
    db: Database, settings: Settings, *, log: Callable[[str], None], now: Clock = utc_now
) -> Scheduler:
    """The mail jobs on a scheduler running in a background thread, beside a web server (the demo);
    the web app wakes its "outbox" job after a subscription."""
    scheduler = Scheduler(mail_jobs(db, settings, log), now=now, log=log)
    scheduler.start()
    return scheduler


def install_signal_handlers(scheduler: Scheduler, log: Callable[[str], None]) -> None:
    """SIGTERM and SIGINT stop the scheduler after the page in progress; a second one at once."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if scheduler.stopping:
            raise KeyboardInterrupt
        log(f"{signal.Signals(signum).name}: stopping after the page in progress")
        scheduler.stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
