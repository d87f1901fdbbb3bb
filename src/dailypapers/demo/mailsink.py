"""The demo's mail server: SMTP on loopback (aiosmtpd) that keeps every mail it accepts in a Maildir,
which the demo shows at /demo/mailbox. It relays nothing and asks for no login: loopback only."""

from __future__ import annotations

import mailbox
import socket
from collections.abc import Callable
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

START_TRIES = 5


class MaildirHandler:
    """aiosmtpd handler: each accepted mail into a Maildir."""

    def __init__(self, folder: Path) -> None:
        self.maildir = mailbox.Maildir(folder, create=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # Maildir writes into tmp/ and renames into new/: a reader never sees half a mail.
        self.maildir.add(envelope.original_content or b"")
        return "250 Message accepted for delivery"


def start_controller(
    make: Callable[[int], Controller], port: int | None = None, host: str = "127.0.0.1"
) -> tuple[Controller, int]:
    """Start the aiosmtpd controller that `make(port)` builds, on `port` or on a free port of `host`
    (tried again when another process takes that port first); the running controller and its port."""
    for attempt in range(1 if port is not None else START_TRIES):
        chosen = port or _free_port(host)
        controller = make(chosen)
        try:
            controller.start()
        except (OSError, RuntimeError):
            if port is not None or attempt == START_TRIES - 1:
                raise
            continue
        return controller, chosen
    raise AssertionError("unreachable")  # pragma: no cover


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class MailSink:
    """The demo's SMTP server on `host` (loopback) and `port` (default: a free one), each mail into
    the Maildir `folder`; its thread is a daemon's, ending with the process."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.folder = folder
        self.host = host
        self.port = port or 0
        self._wanted_port = port
        self._controller: Controller | None = None

    def start(self) -> None:
        """Listen; return once the server answers."""
        handler = MaildirHandler(self.folder)

        def make(port: int) -> Controller:
            # server_hostname: the default asks DNS for this host's name, which can be slow.
            return Controller(handler, hostname=self.host, port=port, server_hostname="localhost")

        self._controller, self.port = start_controller(make, self._wanted_port, self.host)

    def stop(self) -> None:
        """Stop listening."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
