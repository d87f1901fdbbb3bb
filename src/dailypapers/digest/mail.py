"""Wrap a rendered mail in a MIME message and hand it to an SMTP server, saying whether a failure
is worth retrying."""

from __future__ import annotations

import email.policy
import smtplib
import ssl
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from types import TracebackType
from typing import TYPE_CHECKING

from dailypapers.digest.model import Rendered

if TYPE_CHECKING:
    from dailypapers.core.settings import Settings

SECURITY_MODES = ("none", "starttls", "tls")

# CRLF line ends, as the wire wants them. refold_source="none" leaves headers set with set_raw as
# written; every other header is still folded at 78 columns.
_POLICY = email.policy.SMTP.clone(refold_source="none")


class TemporaryFailure(Exception):
    """The mail was not accepted but may be later: a 4xx reply, a timeout, a refused connection."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(f"{code} {message}" if code is not None else message)
        self.code = code
        self.message = message


class PermanentFailure(Exception):
    """The server said no for good (5xx). `bounce` is True when it refused the recipient itself."""

    def __init__(self, code: int | None, message: str, *, bounce: bool = False) -> None:
        super().__init__(f"{code} {message}" if code is not None else message)
        self.code = code
        self.message = message
        self.bounce = bounce


def build_message(
    rendered: Rendered,
    *,
    to_addr: str,
    from_addr: str,
    unsubscribe_url: str | None,
    unsubscribe_mailto: str | None,
    message_id: str | None = None,
    domain: str | None = None,
    sent_at: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text, then HTML: clients show the last part they can),
    with the one-click unsubscribe headers of RFC 2369 and RFC 8058 when an unsubscribe URL is given.

    Without `domain`, the Message-ID takes the domain of `from_addr`: make_msgid's default asks
    DNS for this host's name, which can be slow and names a host the world need not see.
    `sent_at` (aware) is the Date header; default: now.
    """
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = from_addr
    msg["To"] = to_addr
    msg["Subject"] = rendered.subject
    msg["Date"] = formatdate(sent_at.timestamp() if sent_at else None, localtime=False, usegmt=True)
    msg["Message-ID"] = message_id or make_msgid(domain=domain or _address_domain(from_addr) or None)
    if unsubscribe_url:
        targets = [f"<{_angle_safe(unsubscribe_url)}>"]
        if unsubscribe_mailto:
            # An address alone gets subject=unsubscribe; one with its own query (the outbox adds the
            # signed token to the subject, for `dailypapers digest inbound`) is kept as it is.
            mailto = (
                unsubscribe_mailto
                if "?" in unsubscribe_mailto
                else f"{unsubscribe_mailto}?subject=unsubscribe"
            )
            targets.append(f"<mailto:{_angle_safe(mailto)}>")
        # Set raw, one target a line: folded by the policy, a long URL would go to the line after
        # the colon, which some parsers then read with a leading space.
        msg.set_raw("List-Unsubscribe", ",\n ".join(targets))
        # Tells the mail provider that a POST to the https URL unsubscribes without a page
        # (RFC 8058), so its own "unsubscribe" button works and link scanners' GETs do not.
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # quoted-printable keeps the bodies readable in the raw source and every line short,
    # whatever the text holds.
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    for part in msg.iter_parts():
        del part["MIME-Version"]  # add_alternative repeats it in the part; it belongs on top only
    return msg


class SmtpSender:
    """One SMTP connection, opened on the first send and reused for the next ones.

    `send` maps every failure to TemporaryFailure or PermanentFailure and never retries: the
    outbox decides when to try again. After a failure the connection is dropped and the next
    send opens a new one. Not thread-safe: use one sender per thread.
    """

    def __init__(
        self,
        host: str,
        port: int,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {', '.join(SECURITY_MODES)}, not {security!r}")
        self.host = host
        self.port = port
        self.security = security
        self.username = username or None
        self.password = password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSender:
        """A sender for the SMTP server the settings name."""
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout,
        )

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, msg: EmailMessage) -> None:
        """Hand one message to the server; raise TemporaryFailure or PermanentFailure if it is not
        accepted for every recipient."""
        try:
            smtp = self._connection()
            refused = smtp.send_message(msg)
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            self._drop()
            raise failure from exc
        if refused:
            # Only possible with several recipients, some accepted: a digest has one, so this is
            # reported like a refusal (a retry would mail the accepted ones again).
            self._drop()
            raise classify(smtplib.SMTPRecipientsRefused(refused)) or TemporaryFailure(None, str(refused))

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.ehlo()
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()  # a half-open session (no TLS, not logged in) must not be reused
            raise
        return smtp

    def _drop(self) -> None:
        """Forget the connection without a QUIT: after an error it may hang or be half-closed."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()


def classify(exc: BaseException) -> TemporaryFailure | PermanentFailure | None:
    """The failure an SMTP or network error means, or None when it is not one (a programming error)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # The server refused the recipient: a 5xx here is a hard bounce.
        code, reply = _first_refusal(exc.recipients)
        return _by_code(code, reply, bounce=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        # SMTPSenderRefused, SMTPDataError, SMTPAuthenticationError, SMTPHeloError and the rest:
        # the message or the session was refused, not the recipient.
        return _by_code(exc.smtp_code, _text(exc.smtp_error), bounce=False)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TemporaryFailure(None, str(exc) or "server disconnected")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        # The server lacks what the message or the settings need (STARTTLS, AUTH, SMTPUTF8):
        # trying again will not change that.
        return PermanentFailure(None, str(exc), bounce=False)
    if isinstance(exc, (smtplib.SMTPException, OSError)):
        # OSError covers refused connections, timeouts, resets and TLS errors.
        return TemporaryFailure(None, f"{type(exc).__name__}: {exc}")
    return None


def _by_code(code: int, message: str, *, bounce: bool) -> TemporaryFailure | PermanentFailure:
    if 500 <= code <= 599:
        return PermanentFailure(code, message, bounce=bounce)
    # 4xx, and anything unexpected (smtplib reports -1 for an unreadable reply): worth another try.
    return TemporaryFailure(code, message)


def _first_refusal(recipients: Mapping[str, tuple[int, bytes | str]]) -> tuple[int, str]:
    for code, reply in recipients.values():
        return code, _text(reply)
    return -1, "all recipients refused"


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _angle_safe(target: str) -> str:
    """`target`, refused if it could end the <...> or the header (set_raw checks nothing)."""
    if any(c in target for c in "<>\r\n"):
        raise ValueError(f"not allowed in a List-Unsubscribe target: {target!r}")
    return target


def _address_domain(addr: str) -> str:
    """'Daily Papers <digest@example.org>' → 'example.org' ('' when there is none)."""
    _, address = parseaddr(addr)
    return address.rpartition("@")[2] if "@" in address else ""
