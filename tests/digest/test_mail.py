"""MIME messages and SMTP sending, against a real SMTP server on loopback (aiosmtpd): delivery,
4xx/5xx mapping, dead and silent servers, AUTH, STARTTLS, TLS, and the standalone server process."""

from __future__ import annotations

import email
import email.policy
import mailbox
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from dailypapers.core.settings import Settings
from dailypapers.demo.mailsink import MailSink
from dailypapers.digest.mail import PermanentFailure, SmtpSender, TemporaryFailure, build_message
from dailypapers.digest.model import DigestContent, DigestPaper, Rendered
from dailypapers.digest.render import render_digest
from dailypapers.testing.server import free_port
from dailypapers.testing.smtp import LoopbackSMTP, have_openssl

TO = "reader@example.org"
FROM = "Daily Papers <digest@example.org>"
UNSUB = "https://papers.example.org/digest/unsubscribe?token=abc.def"
UNSUB_MAILTO = "unsubscribe@example.org"

needs_openssl = pytest.mark.skipif(
    not have_openssl(), reason="the `openssl` command is missing: it makes the test server's certificate"
)


def rendered() -> Rendered:
    paper = DigestPaper(
        arxiv_id="2611.00001",
        title=r"$\alpha$-divergence für Grüße",
        authors=["Zoë Müller", "Łukasz Nowak"],
        abstract=r"An $O(n^2)$ method. " * 30,
        categories=["cs.LG"],
        upvotes=12,
        page_url="https://papers.example.org/papers/2611.00001",
        abs_url="https://arxiv.org/abs/2611.00001",
        pdf_url="https://arxiv.org/pdf/2611.00001",
    )
    content = DigestContent(
        site_name="Daily Papers",
        site_url="https://papers.example.org",
        to_addr=TO,
        period_label="Monday 30 November 2026",
        frequency="daily",
        top=[paper],
        manage_url="https://papers.example.org/digest/manage?token=abc.def",
        unsubscribe_url=UNSUB,
    )
    return render_digest(content)


def message(to_addr: str = TO, **kwargs: object) -> EmailMessage:
    body = kwargs.pop("rendered", None) or rendered()
    args: dict = {
        "to_addr": to_addr,
        "from_addr": FROM,
        "unsubscribe_url": UNSUB,
        "unsubscribe_mailto": UNSUB_MAILTO,
    }
    args.update(kwargs)
    return build_message(body, **args)  # type: ignore[arg-type]


def reparse(msg: EmailMessage) -> EmailMessage:
    """The message as a receiver reads it: from its bytes."""
    return email.message_from_bytes(bytes(msg), policy=email.policy.default)  # type: ignore[return-value]


def body(msg: EmailMessage, kind: str) -> str:
    """The text or HTML part as a reader sees it (line ends as local newlines)."""
    part = msg.get_body(preferencelist=(kind,))
    assert part is not None and part.get_content_type() == f"text/{kind}"
    return part.get_content().replace("\r\n", "\n")


# --- build_message -------------------------------------------------------------------------------


def test_headers() -> None:
    sent_at = datetime(2026, 11, 30, 9, 0, 1, tzinfo=timezone(timedelta(hours=9)))
    msg = reparse(message(message_id="<digest-1@example.org>", sent_at=sent_at))
    assert msg["From"] == FROM
    assert msg["To"] == TO
    assert msg["Subject"] == rendered().subject
    assert msg["Message-ID"] == "<digest-1@example.org>"
    sent = parsedate_to_datetime(msg["Date"])
    assert sent.utcoffset() is not None and sent.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert sent == sent_at  # the sender's clock, written in UTC
    assert msg["MIME-Version"] == "1.0"


def test_generated_message_id() -> None:
    own = reparse(message(domain="mail.example.net"))["Message-ID"]
    assert own.startswith("<") and own.endswith("@mail.example.net>")
    from_domain = reparse(message())["Message-ID"]
    assert from_domain.endswith("@example.org>")  # the From address's domain, without a DNS lookup
    assert reparse(message())["Message-ID"] != from_domain


def test_list_unsubscribe_headers() -> None:
    raw = bytes(message())
    assert f"\r\nList-Unsubscribe: <{UNSUB}>,\r\n <mailto:".encode() in raw  # not folded after the colon
    msg = reparse(message())
    assert msg["List-Unsubscribe"] == f"<{UNSUB}>, <mailto:{UNSUB_MAILTO}?subject=unsubscribe>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_list_unsubscribe_without_mailto() -> None:
    msg = reparse(message(unsubscribe_mailto=None))
    assert msg["List-Unsubscribe"] == f"<{UNSUB}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_no_unsubscribe_headers_without_url() -> None:
    msg = reparse(message(unsubscribe_url=None))
    assert "List-Unsubscribe" not in msg and "List-Unsubscribe-Post" not in msg


def test_multipart_alternative_text_then_html() -> None:
    original = rendered()
    msg = reparse(message())
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    assert body(msg, "plain") == original.text
    assert body(msg, "html") == original.html
    assert msg.get_body(preferencelist=("html",)) is parts[1]


def test_utf8_subject_round_trip_and_7bit_wire_form() -> None:
    subject = "Daily Papers — 3 trending papers: α-divergence, Grüße, 日本語"
    msg = message(rendered=Rendered(subject, "Grüße — α\n", "<p>Grüße — α</p>"))
    raw = bytes(msg)
    raw.decode("ascii")  # encoded words and quoted-printable: any server takes it
    assert b"\n" not in raw.replace(b"\r\n", b"")  # the SMTP policy: CRLF line ends only
    back = reparse(msg)
    assert back["Subject"] == subject
    assert body(back, "plain") == "Grüße — α\n"
    assert body(back, "html") == "<p>Grüße — α</p>\n"


@pytest.mark.parametrize(
    "field",
    [
        {"to_addr": "reader@example.org\r\nBcc: everyone@example.org"},
        {"unsubscribe_url": UNSUB + "\r\nBcc: everyone@example.org"},
        {"unsubscribe_url": UNSUB + ">, <https://evil.example/"},
        {"unsubscribe_mailto": "a@example.org\nBcc: everyone@example.org"},
    ],
)
def test_header_injection_is_refused(field: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        message(**field)


# --- SmtpSender against a real server ------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[LoopbackSMTP]:
    with LoopbackSMTP() as smtp:
        yield smtp


def sender_for(server: LoopbackSMTP, **kwargs: object) -> SmtpSender:
    return SmtpSender(server.host, server.port, timeout=5.0, **kwargs)  # type: ignore[arg-type]


def test_message_arrives_intact(server: LoopbackSMTP) -> None:
    msg = message(message_id="<intact@example.org>")
    with sender_for(server) as sender:
        sender.send(msg)
    (got,) = server.wait_for(1)
    assert got.mail_from == "digest@example.org"
    assert got.rcpt_tos == [TO]
    assert not got.tls and got.login is None
    received, sent = got.message, reparse(msg)
    for header in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    ):
        assert received[header] == sent[header], header
    assert received["Subject"] == rendered().subject
    original = rendered()
    assert body(received, "plain") == body(sent, "plain") == original.text
    assert body(received, "html") == body(sent, "html") == original.html


def test_one_connection_sends_many(server: LoopbackSMTP) -> None:
    with sender_for(server) as sender:
        for i in range(3):
            sender.send(message(to_addr=f"reader{i}@example.org"))
    got = server.wait_for(3)
    assert [m.rcpt_tos for m in got] == [[f"reader{i}@example.org"] for i in range(3)]


def test_4xx_at_rcpt_is_temporary(server: LoopbackSMTP) -> None:
    server.fail_rcpt(TO, 451, "4.7.1 Greylisted, try again later")
    with sender_for(server) as sender, pytest.raises(TemporaryFailure) as failure:
        sender.send(message())
    assert failure.value.code == 451
    assert "Greylisted" in failure.value.message
    assert server.messages == []


def test_550_at_rcpt_is_a_bounce(server: LoopbackSMTP) -> None:
    server.fail_rcpt(TO, 550, "5.1.1 No such user")
    with sender_for(server) as sender, pytest.raises(PermanentFailure) as failure:
        sender.send(message())
    assert (failure.value.code, failure.value.bounce) == (550, True)
    assert "No such user" in failure.value.message
    assert server.messages == []


def test_554_at_data_is_permanent_but_no_bounce(server: LoopbackSMTP) -> None:
    server.fail_data(554, "5.7.1 Message rejected as spam")
    with sender_for(server) as sender, pytest.raises(PermanentFailure) as failure:
        sender.send(message())
    assert (failure.value.code, failure.value.bounce) == (554, False)
    assert "rejected as spam" in failure.value.message


def test_4xx_at_data_is_temporary(server: LoopbackSMTP) -> None:
    server.fail_data(452, "4.3.1 Insufficient system storage")
    with sender_for(server) as sender, pytest.raises(TemporaryFailure) as failure:
        sender.send(message())
    assert failure.value.code == 452


def test_next_send_after_a_failure_works(server: LoopbackSMTP) -> None:
    server.fail_rcpt(TO, 421, "4.3.2 Shutting down", times=1)  # 421: smtplib closes the connection
    server.fail_data(554, "5.7.1 No", times=1)
    with sender_for(server) as sender:
        with pytest.raises(TemporaryFailure):
            sender.send(message())
        with pytest.raises(PermanentFailure):
            sender.send(message())
        sender.send(message())  # a fresh connection, no retry by the sender itself
    assert [m.rcpt_tos for m in server.wait_for(1)] == [[TO]]


def test_fault_times(server: LoopbackSMTP) -> None:
    server.fail_rcpt(TO, 450, "4.2.0 Busy", times=2)
    with sender_for(server) as sender:
        for _ in range(2):
            with pytest.raises(TemporaryFailure):
                sender.send(message())
        sender.send(message())
    assert len(server.wait_for(1)) == 1


def test_nothing_listening_is_temporary() -> None:
    with SmtpSender("127.0.0.1", free_port(), timeout=5.0) as sender:
        with pytest.raises(TemporaryFailure) as failure:
            sender.send(message())
    assert failure.value.code is None


def test_server_gone_between_sends_is_temporary() -> None:
    with LoopbackSMTP() as server, sender_for(server) as sender:
        sender.send(message())
        server.wait_for(1)
        server.stop()
        with pytest.raises(TemporaryFailure) as failure:
            sender.send(message())
    assert failure.value.code is None


def test_silent_server_times_out() -> None:
    """A server that accepts the connection but never greets: the sender gives up after `timeout`."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with SmtpSender("127.0.0.1", port, timeout=0.3) as sender, pytest.raises(TemporaryFailure) as failure:
            sender.send(message())
    assert failure.value.code is None
    assert "timed out" in failure.value.message.lower()


def test_wait_for_times_out(server: LoopbackSMTP) -> None:
    with pytest.raises(TimeoutError):
        server.wait_for(1, timeout=0.05)


# --- AUTH and TLS --------------------------------------------------------------------------------


def test_login() -> None:
    with LoopbackSMTP(require_auth=("digest", "s3cret")) as server:
        with sender_for(server, username="digest", password="s3cret") as sender:
            sender.send(message())
        (got,) = server.wait_for(1)
    assert got.login == "digest"


def test_wrong_password_is_permanent_no_bounce() -> None:
    with LoopbackSMTP(require_auth=("digest", "s3cret")) as server:
        with sender_for(server, username="digest", password="wrong") as sender:
            with pytest.raises(PermanentFailure) as failure:
                sender.send(message())
        assert server.messages == []
    assert (failure.value.code, failure.value.bounce) == (535, False)


def test_missing_login_is_refused() -> None:
    with LoopbackSMTP(require_auth=("digest", "s3cret")) as server:
        with sender_for(server) as sender, pytest.raises(PermanentFailure) as failure:
            sender.send(message())
    assert (failure.value.code, failure.value.bounce) == (530, False)


@needs_openssl
def test_starttls() -> None:
    with LoopbackSMTP(tls="starttls", require_auth=("digest", "s3cret")) as server:
        context = server.ssl_context_for_clients()
        with sender_for(
            server, security="starttls", ssl_context=context, username="digest", password="s3cret"
        ) as sender:
            sender.send(message())
        (got,) = server.wait_for(1)
    assert got.tls and got.login == "digest"
    assert got.message["Subject"] == rendered().subject


@needs_openssl
def test_starttls_server_refuses_plain_mail() -> None:
    with LoopbackSMTP(tls="starttls") as server:
        with sender_for(server) as sender, pytest.raises(PermanentFailure) as failure:
            sender.send(message())
    assert failure.value.code == 530


@needs_openssl
def test_tls() -> None:
    with LoopbackSMTP(tls="tls") as server:
        with sender_for(server, security="tls", ssl_context=server.ssl_context_for_clients()) as sender:
            sender.send(message())
        (got,) = server.wait_for(1)
    assert got.tls


@needs_openssl
def test_untrusted_certificate_is_refused() -> None:
    """The default context checks the certificate: a self-signed one fails (and may be fixed later)."""
    with LoopbackSMTP(tls="tls") as server:
        with sender_for(server, security="tls") as sender, pytest.raises(TemporaryFailure) as failure:
            sender.send(message())
        assert server.messages == []
    assert "CERTIFICATE_VERIFY_FAILED" in failure.value.message


# --- configuration -------------------------------------------------------------------------------


def test_from_settings() -> None:
    settings = Settings(
        smtp_host="mail.example.org",
        smtp_port=587,
        smtp_security="starttls",
        smtp_username="digest",
        smtp_password="pw",
        smtp_timeout=12.5,
    )
    sender = SmtpSender.from_settings(settings)
    assert (sender.host, sender.port, sender.security) == ("mail.example.org", 587, "starttls")
    assert (sender.username, sender.password, sender.timeout) == ("digest", "pw", 12.5)


def test_unknown_security_is_refused() -> None:
    with pytest.raises(ValueError):
        SmtpSender("localhost", 25, security="ssl")


# --- standalone server process -------------------------------------------------------------------


def test_standalone_server_stores_into_maildir(tmp_path: Path) -> None:
    port, maildir = free_port(), tmp_path / "mail"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dailypapers.testing.smtp", "--port", str(port), "--maildir", str(maildir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _read_line(proc, timeout=30) == "ready"
        with SmtpSender("127.0.0.1", port, timeout=5.0) as sender:
            sender.send(message(message_id="<standalone@example.org>"))
        box = mailbox.Maildir(maildir, create=False)
        deadline = time.monotonic() + 10
        while len(box) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        (stored,) = list(box)
        assert stored["Message-ID"] == "<standalone@example.org>"
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_demo_mail_sink_keeps_each_mail_in_a_maildir(tmp_path: Path) -> None:
    # The demo's own server (demo/mailsink.py), not the tests' one: what `dailypapers demo` runs.
    folder = tmp_path / "demo-mail"
    sink = MailSink(folder)
    sink.start()
    try:
        with SmtpSender(sink.host, sink.port, timeout=5.0) as sender:
            for i in range(2):
                sender.send(message(to_addr=f"reader{i}@example.org", message_id=f"<demo{i}@example.org>"))
    finally:
        sink.stop()
    box = mailbox.Maildir(folder, create=False)
    assert sorted(m["Message-ID"] for m in box) == ["<demo0@example.org>", "<demo1@example.org>"]
    assert len(list((folder / "new").iterdir())) == 2  # whole mails only, where a mail reader looks


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise AssertionError(f"no line from the server in {timeout}s")
    line = proc.stdout.readline()
    if not line:
        errors = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"the server exited with {proc.wait()}: {errors}")
    return line.strip()
