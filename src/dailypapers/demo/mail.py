"""Mail for `dailypapers demo`: a reader can subscribe, confirm and get digests with no mail server.

Unless DAILYPAPERS_SMTP_HOST or DAILYPAPERS_SMTP_PORT is set, the demo starts the project's loopback
SMTP server (dailypapers.testing.smtp, aiosmtpd) that keeps every mail in a Maildir beside the demo
database, shown at /demo/mailbox; and it runs the digest job every minute in a background thread,
as `dailypapers worker` would. Links in mails point at the demo's own address.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
DIGEST_EVERY = 60.0


def start_demo_mail(settings: Any, db: Any, host: str, port: int, folder: Path) -> tuple[Any, Path | None]:
    """Settings for the demo's mail (the local server's port, the demo's address in links) and the
    Maildir it fills (None when a real SMTP server is configured); starts the server and the job."""
    update: dict[str, Any] = {}
    if "DAILYPAPERS_SITE_URL" not in os.environ:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        update["site_url"] = f"http://{shown}:{port}"
    maildir = None
    if not ({"DAILYPAPERS_SMTP_HOST", "DAILYPAPERS_SMTP_PORT"} & set(os.environ)):
        from dailypapers.testing.smtp import LoopbackSMTP

        maildir = folder
        server = LoopbackSMTP(maildir=maildir)
        server.start()  # a daemon thread: ends with the process
        update.update(
            smtp_host=server.host,
            smtp_port=server.port,
            smtp_security="none",
            smtp_username=None,
            smtp_password=None,
        )
    settings = settings.model_copy(update=update)
    threading.Thread(target=_digest_loop, args=(db, settings), name="demo-digests", daemon=True).start()
    return settings, maildir


def _digest_loop(db: Any, settings: Any) -> None:
    from dailypapers.jobs.digests import run_digests

    stop = threading.Event()
    while not stop.wait(min(DIGEST_EVERY, settings.digest_interval)):
        try:
            made, report = run_digests(db, settings)
            if made or report.sent:
                log.warning("demo digests: %d composed; %s", made, report.line())
        except Exception as exc:  # noqa: BLE001 - the next round retries
            log.warning("demo digests: %s", exc)
