"""Mail for `dailypapers demo`: a reader can subscribe, confirm and get digests with no mail server.

Unless DAILYPAPERS_SMTP_HOST or DAILYPAPERS_SMTP_PORT is set, the demo starts its own loopback SMTP
server (demo/mailsink.py) that keeps every mail in a Maildir beside the demo database, shown at
/demo/mailbox. It runs the mail jobs (digests, outbox) in-process on the jobs' scheduler, as
`dailypapers worker` would, and the web app wakes the outbox job after a subscription. Links in mails
point at the demo's own address.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from dailypapers.core.settings import Settings
from dailypapers.jobs.scheduler import Scheduler
from dailypapers.services.worker import start_mail_jobs
from dailypapers.store.db import Database

log = logging.getLogger(__name__)
DIGEST_EVERY = 60.0  # the demo looks for due digests at least this often (a reader trying it waits)


def start_demo_mail(
    settings: Settings, db: Database, host: str, port: int, folder: Path
) -> tuple[Settings, Path | None, Scheduler]:
    """Settings for the demo's mail (the local server's port, the demo's address in links), the
    Maildir it fills (None when a real SMTP server is configured) and the running mail jobs' scheduler
    (for the web app to wake); starts the server and the jobs."""
    update: dict[str, Any] = {"digest_interval": min(DIGEST_EVERY, settings.digest_interval)}
    if "DAILYPAPERS_SITE_URL" not in os.environ:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        update["site_url"] = f"http://{shown}:{port}"
    maildir = None
    if not ({"DAILYPAPERS_SMTP_HOST", "DAILYPAPERS_SMTP_PORT"} & set(os.environ)):
        try:  # aiosmtpd is the optional extra `demo`: imported only when the demo keeps its own mail
            from dailypapers.demo.mailsink import MailSink
        except ImportError as exc:
            raise RuntimeError(
                f"the demo's local mail server needs {exc.name}: pip install 'dailypapers[demo]' "
                "(or set DAILYPAPERS_SMTP_HOST to use a mail server of yours)"
            ) from exc
        maildir = folder
        server = MailSink(maildir)
        server.start()  # a daemon thread: ends with the process
        update.update(
            smtp_host=server.host,
            smtp_port=server.port,
            smtp_security="none",
            smtp_username=None,
            smtp_password=None,
        )
    settings = settings.model_copy(update=update)
    return settings, maildir, start_mail_jobs(db, settings, log=log.warning)
