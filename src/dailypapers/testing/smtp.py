"""A real SMTP server on loopback for tests (aiosmtpd): it keeps what it receives, can be told to
answer 4xx or 5xx, can require AUTH or TLS, and runs standalone (`python -m dailypapers.testing.smtp
--port N --maildir DIR`) for tests that kill processes."""

from __future__ import annotations

import argparse
import email
import email.policy
import mailbox
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from dailypapers.demo.mailsink import start_controller

TLS_MODES = ("starttls", "tls")


class OpenSSLMissing(RuntimeError):
    """TLS was asked for, but there is no `openssl` command to make a certificate with."""


def have_openssl() -> bool:
    """Whether the `openssl` command exists (the TLS modes need it)."""
    return shutil.which("openssl") is not None


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted mail: its envelope, the bytes as they came, and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage
    tls: bool  # whether the session was encrypted when DATA came
    login: str | None  # the AUTH user name, when the client logged in


@dataclass
class _Fault:
    code: int
    message: str
    times: int | None  # None: every time

    def take(self) -> str | None:
        """The reply to send, counting one use, or None when the fault is used up."""
        if self.times is not None:
            if self.times <= 0:
                return None
            self.times -= 1
        return f"{self.code} {self.message}"


class RecordingHandler:
    """aiosmtpd handler: answers injected faults at RCPT and DATA, keeps everything else."""

    def __init__(self, maildir: Path | None = None) -> None:
        self._cond = threading.Condition()
        self._messages: list[ReceivedMessage] = []
        self._rcpt_faults: dict[str, _Fault] = {}
        self._data_faults: list[_Fault] = []
        self._maildir = mailbox.Maildir(maildir, create=True) if maildir is not None else None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        with self._cond:
            fault = self._rcpt_faults.get(address.lower())
            reply = fault.take() if fault else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._cond:
            reply = None
            while self._data_faults and reply is None:
                reply = self._data_faults[0].take()
                if reply is None or self._data_faults[0].times == 0:
                    self._data_faults.pop(0)
        if reply:
            return reply
        data = envelope.original_content or b""
        received = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=data,
            message=email.message_from_bytes(data, policy=email.policy.default),
            tls=_encrypted(server),
            login=_login_name(session.auth_data),
        )
        if self._maildir is not None:
            # Maildir writes into tmp/ and renames into new/: another process never sees half a mail.
            self._maildir.add(data)
        with self._cond:
            self._messages.append(received)
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._cond:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float) -> list[ReceivedMessage]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"{len(self._messages)} of {count} messages arrived in {timeout}s")
            return list(self._messages)

    def fail_rcpt(self, address: str, code: int, message: str, times: int | None) -> None:
        with self._cond:
            self._rcpt_faults[address.lower()] = _Fault(code, message, times)

    def fail_data(self, code: int, message: str, times: int | None) -> None:
        with self._cond:
            self._data_faults.append(_Fault(code, message, times))


class _Controller(Controller):
    """A Controller whose servers take AUTH over plain text without warning at every connection."""

    def __init__(self, handler: Any, *, plain_auth: bool, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.plain_auth = plain_auth

    def factory(self) -> SMTP:
        if not self.plain_auth:
            return super().factory()
        # aiosmtpd warns when AUTH is allowed without TLS, rightly for a real server; on loopback it
        # is what the tests want. Built as TLS-only, then relaxed, so nothing warns.
        smtp = SMTP(self.handler, **{**self.SMTP_kwargs, "auth_require_tls": True})
        smtp._auth_require_tls = False
        return smtp


class LoopbackSMTP:
    """An SMTP server on 127.0.0.1 for the length of a `with` block.

    require_auth=(user, password) refuses mail until the client logs in (over plain text too:
    it is loopback). tls="starttls" refuses mail until the client says STARTTLS; tls="tls" speaks
    TLS from the first byte. Both use a self-signed certificate made with `openssl`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        require_auth: tuple[str, str] | None = None,
        tls: str | None = None,
        maildir: Path | str | None = None,
    ) -> None:
        if tls is not None and tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {', '.join(TLS_MODES)} or None, not {tls!r}")
        self.host = host
        self.port = port or 0
        self._fixed_port = port is not None
        self.require_auth = require_auth
        self.tls = tls
        self.handler = RecordingHandler(Path(maildir) if maildir is not None else None)
        self._controller: Controller | None = None
        self._certdir: tempfile.TemporaryDirectory[str] | None = None
        self._cert: Path | None = None

    def __enter__(self) -> LoopbackSMTP:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Listen; return once the server answers."""
        server_ctx = self._make_tls() if self.tls else None

        def make(port: int) -> Controller:
            return _Controller(
                self.handler,
                plain_auth=self.require_auth is not None,
                **self._controller_args(server_ctx, port),
            )

        self._controller, self.port = start_controller(
            make, self.port if self._fixed_port else None, self.host
        )

    def stop(self) -> None:
        """Stop listening and remove the certificate."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        if self._certdir is not None:
            self._certdir.cleanup()
            self._certdir, self._cert = None, None

    @property
    def messages(self) -> list[ReceivedMessage]:
        """The mails accepted so far, oldest first (a copy)."""
        return self.handler.messages

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Block until at least `count` mails arrived; raise TimeoutError after `timeout` seconds."""
        return self.handler.wait_for(count, timeout)

    def fail_rcpt(self, address: str, code: int, message: str = "Refused", times: int | None = None) -> None:
        """Answer `code message` to RCPT TO:<address>, `times` times (None: always)."""
        self.handler.fail_rcpt(address, _check_code(code), message, times)

    def fail_data(self, code: int, message: str = "Refused", times: int | None = 1) -> None:
        """Answer `code message` at the end of the next DATA, `times` times (None: always)."""
        self.handler.fail_data(_check_code(code), message, times)

    def ssl_context_for_clients(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate (and checks the host name)."""
        if self._cert is None:
            raise RuntimeError("this server has no certificate: start it with tls='starttls' or 'tls'")
        return ssl.create_default_context(cafile=str(self._cert))

    def _controller_args(self, server_ctx: ssl.SSLContext | None, port: int) -> dict[str, Any]:
        args: dict[str, Any] = {
            "hostname": self.host,
            "port": port,
            "server_hostname": "localhost",  # the default asks DNS for this host's name: slow
        }
        if self.require_auth is not None:
            args.update(authenticator=self._authenticate, auth_required=True)
        if self.tls == "tls":
            args["ssl_context"] = server_ctx
        elif self.tls == "starttls":
            args.update(tls_context=server_ctx, require_starttls=True)
        return args

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.require_auth is not None
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = self.require_auth
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def _make_tls(self) -> ssl.SSLContext:
        self._certdir = tempfile.TemporaryDirectory(prefix="dailypapers-smtp-tls-")
        self._cert, key = make_self_signed_cert(Path(self._certdir.name))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self._cert, key)
        return ctx


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, valid one day, and its key, made by `openssl`."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise OpenSSLMissing("the `openssl` command is not installed; the SMTP TLS modes need it")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _check_code(code: int) -> int:
    if not 400 <= code <= 599:
        raise ValueError(f"a failure reply needs a 4xx or 5xx code, not {code}")
    return code


def _encrypted(server: SMTP) -> bool:
    # session.ssl is only set after STARTTLS; the transport knows about implicit TLS too.
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def _login_name(auth_data: Any) -> str | None:
    login = getattr(auth_data, "login", None)
    return login.decode() if isinstance(login, bytes) else login


def main(argv: list[str] | None = None) -> int:
    """Run a loopback SMTP server in the foreground, each mail into a Maildir, until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m dailypapers.testing.smtp", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True, help="Maildir folder (made if missing)")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with LoopbackSMTP(host=args.host, port=args.port, maildir=args.maildir):
        print("ready", flush=True)  # the parent waits for this line before it sends
        while not stop.is_set():
            # A timed wait: the signal handler runs in this thread between waits.
            stop.wait(0.2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
