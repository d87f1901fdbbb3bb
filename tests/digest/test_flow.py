"""The whole digest flow through the web pages, the worker job and a real SMTP server on loopback:
subscribe → confirmation mail → confirm → preferences → digest due at the reader's hour in their
zone → the right papers arrive → one-click unsubscribe → nothing more. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dailypapers.digest.jobs import run_digests
from dailypapers.settings import Settings
from dailypapers.store.db import Database
from dailypapers.store.tables import outbox, sent_papers, subscribers
from dailypapers.testing.smtp import LoopbackSMTP
from dailypapers.web.app import create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def text_part(message) -> str:  # type: ignore[no-untyped-def]
    return message.get_body(preferencelist=("plain",)).get_content()


def html_part(message) -> str:  # type: ignore[no-untyped-def]
    return message.get_body(preferencelist=("html",)).get_content()


def link(text: str, path: str) -> str:
    found = re.search(r"https?://testserver" + re.escape(path) + r"\?token=[A-Za-z0-9_.%=-]+", text)
    assert found, f"no {path} link in the mail"
    return found.group(0)


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def subscribe_and_confirm(client: TestClient, smtp: LoopbackSMTP, address: str) -> str:
    """Subscribe from the feed page and confirm from the mail; returns the preferences page path."""
    home = client.get("/")
    assert "Get trending papers in your email inbox" in home.text
    before = len(smtp.messages)
    sent = client.post("/subscribe", data={"email": address, "csrf_token": csrf_of(home.text)})
    assert sent.status_code == 200 and "Check your inbox" in sent.text
    mail = smtp.wait_for(before + 1, timeout=10)[-1]
    assert mail.rcpt_tos == [address]
    confirm_url = link(text_part(mail.message), "/subscribe/confirm")
    assert confirm_url in html_part(mail.message).replace("&amp;", "&")
    page = client.get(local_path(confirm_url))  # a GET only shows the button
    assert page.status_code == 200 and "Confirm my subscription" in page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    done = client.post("/subscribe/confirm", data={"token": token, "csrf_token": csrf_of(page.text)},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"].startswith("/subscription?token=")
    return done.headers["location"]


def test_subscribe_confirm_digest_unsubscribe(feed: Database, settings: Settings, smtp: LoopbackSMTP,
                                              more_papers) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(settings, feed))
    prefs_path = subscribe_and_confirm(client, smtp, "reader@example.org")
    prefs = client.get(prefs_path)
    assert "Subscription confirmed" in prefs.text
    form = {"token": re.search(r'name="token" value="([^"]+)"', prefs.text).group(1), "csrf_token": csrf_of(prefs.text),
            "frequency": "daily", "weekday": "0", "send_hour": "9", "timezone": "Asia/Tokyo", "max_papers": "2",
            "categories": "cs.CL", "min_upvotes": "0", "include": ["contrastive", ""], "exclude": ["medical", ""]}  # fmt: skip
    saved = client.post("/subscription", data=form)
    assert saved.status_code == 200 and "Saved." in saved.text

    # Due at 09:00 in Tokyo: not before (the next such hour after the confirmation) ...
    tokyo = ZoneInfo("Asia/Tokyo")
    local_now = datetime.now(timezone.utc).astimezone(tokyo)
    send_at = local_now.replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1)
    before, after = send_at - timedelta(minutes=1), send_at + timedelta(minutes=5)
    made, report = run_digests(feed, settings, now=lambda: before)
    assert made == 0 and report.sent == 0
    made, report = run_digests(feed, settings, now=lambda: after)
    assert made == 1 and report.sent == 1, report.errors
    digest = smtp.wait_for(2, timeout=10)[-1].message
    text = text_part(digest)
    # ... with the two most trending cs.CL papers, then the saved search's match that is not excluded.
    assert "Scaling Laws for Retrieval-Augmented Language Models" in text
    assert "A Benchmark of Clinical Question Answering" in text
    assert "Diffusion Transformers" not in text and "Graph Neural Networks" not in text  # other categories
    assert "Hard Negative Mining for Contrastive Sentence Embeddings" in text  # "contrastive", cs.CL too
    assert "Medical Report Generation" not in text  # excluded word
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert digest["Message-ID"] and digest["Date"]
    https = re.search(r"<(http[^>]+)>", digest["List-Unsubscribe"]).group(1)
    assert "<mailto:unsubscribe@example.org" in digest["List-Unsubscribe"]

    # Exactly once: the same period again composes nothing, and no paper is ever sent twice.
    made, report = run_digests(feed, settings, now=lambda: after + timedelta(hours=1))
    assert made == 0 and report.sent == 0 and len(smtp.messages) == 2
    with feed.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(sent_papers)) == 3

    # RFC 8058 one-click: a POST with no cookie and no CSRF field.
    other = TestClient(create_app(settings, feed))
    one_click = other.post(local_path(https), content="List-Unsubscribe=One-Click",
                           headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert one_click.status_code == 200
    more_papers([("2611.00100", "Contrastive Decoding for Language Models", ["cs.CL"], 80)])
    made, report = run_digests(feed, settings, now=lambda: after + timedelta(days=1))
    assert made == 0 and report.sent == 0 and len(smtp.messages) == 2
    with feed.read() as conn:
        assert conn.scalar(sa.select(subscribers.c.status)) == "unsubscribed"


def test_subscribe_never_tells_who_is_subscribed(feed: Database, settings: Settings, smtp: LoopbackSMTP) -> None:
    client = TestClient(create_app(settings, feed))
    subscribe_and_confirm(client, smtp, "known@example.org")
    pages = []
    for address in ("known@example.org", "stranger@example.org"):
        home = client.get("/")
        answer = client.post("/subscribe", data={"email": address, "csrf_token": csrf_of(home.text)})
        pages.append((answer.status_code, CSRF.sub("", answer.text).replace(address, "ADDRESS")))
    assert pages[0] == pages[1]


@pytest.mark.parametrize("address", ["not-an-address", "a@b", "two@@example.org", "x" * 400 + "@example.org"])
def test_invalid_addresses_get_a_clear_message(feed: Database, settings: Settings, address: str) -> None:
    client = TestClient(create_app(settings, feed))
    home = client.get("/")
    answer = client.post("/subscribe", data={"email": address, "csrf_token": csrf_of(home.text)})
    assert answer.status_code == 400 and "That address is not valid" in answer.text
    with feed.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(subscribers)) == 0


def test_forms_without_a_valid_csrf_token_change_nothing(feed: Database, settings: Settings) -> None:
    client = TestClient(create_app(settings, feed))
    client.get("/")
    for token in ("", "forged", csrf_of(TestClient(create_app(settings, feed)).get("/").text)):
        answer = client.post("/subscribe", data={"email": "someone@example.org", "csrf_token": token})
        assert answer.status_code == 403
    with feed.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(subscribers)) == 0


def test_forged_or_stale_links_are_refused(feed: Database, settings: Settings, smtp: LoopbackSMTP) -> None:
    client = TestClient(create_app(settings, feed))
    prefs_path = subscribe_and_confirm(client, smtp, "reader@example.org")
    token = prefs_path.split("token=")[1].split("&")[0]
    assert client.get(f"/subscription?token={token[:-3]}xyz").status_code == 400
    assert client.get("/subscribe/confirm?token=abc").status_code == 400
    # Unsubscribe, subscribe again: the old links stop working.
    page = client.get(f"/unsubscribe?token={token}")
    client.post("/unsubscribe", data={"token": token, "csrf_token": csrf_of(page.text)})
    home = client.get("/")
    client.post("/subscribe", data={"email": "reader@example.org", "csrf_token": csrf_of(home.text)})
    assert client.get(prefs_path).status_code == 400


def test_smtp_4xx_is_retried_later_and_5xx_for_the_recipient_is_a_bounce(
        feed: Database, settings: Settings, smtp: LoopbackSMTP, more_papers) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(settings, feed))
    subscribe_and_confirm(client, smtp, "busy@example.org")
    subscribe_and_confirm(client, smtp, "gone@example.org")
    smtp.fail_rcpt("busy@example.org", 451, "Try again later", times=1)
    smtp.fail_rcpt("gone@example.org", 550, "No such user")
    start = datetime.now(timezone.utc) + timedelta(days=1, hours=1)
    made, report = run_digests(feed, settings, now=lambda: start)
    assert made == 2 and report.sent == 0 and report.retried == 1 and report.failed == 1
    with feed.read() as conn:
        rows = {r.to_addr: r for r in conn.execute(sa.select(outbox).where(outbox.c.kind == "digest"))}
        assert rows["busy@example.org"].status == "queued" and "451" in rows["busy@example.org"].last_error
        assert rows["gone@example.org"].status == "failed" and "550" in rows["gone@example.org"].last_error
        assert conn.scalar(sa.select(subscribers.c.bounces).where(subscribers.c.email == "gone@example.org")) == 1
    # Not before its backoff (digest_retry_base = 60 s) ...
    assert run_digests(feed, settings, now=lambda: start + timedelta(seconds=30))[1].sent == 0
    # ... then delivered; the failed one is not sent again.
    made, report = run_digests(feed, settings, now=lambda: start + timedelta(seconds=61))
    assert report.sent == 1 and report.failed == 0
    assert smtp.messages[-1].rcpt_tos == ["busy@example.org"]
    # A second hard bounce (digest_max_bounces = 2) pauses the subscription.
    more_papers([("2611.00200", "Long-Context Language Models", ["cs.CL"], 9)])
    made, report = run_digests(feed, settings, now=lambda: start + timedelta(days=1))
    with feed.read() as conn:
        gone = conn.execute(sa.select(subscribers).where(subscribers.c.email == "gone@example.org")).one()
    assert gone.bounces == 2 and gone.status == "paused" and "bounces" in gone.paused_reason


def test_temporary_failures_give_up_after_max_attempts(feed: Database, settings: Settings, smtp: LoopbackSMTP) -> None:
    settings = settings.model_copy(update={"digest_max_attempts": 3, "digest_retry_base": 1.0})
    client = TestClient(create_app(settings, feed))
    subscribe_and_confirm(client, smtp, "flaky@example.org")
    smtp.fail_rcpt("flaky@example.org", 421, "Service not available")
    start = datetime.now(timezone.utc) + timedelta(days=1, hours=1)
    for minute in range(4):
        run_digests(feed, settings, now=lambda: start + timedelta(minutes=minute))
    with feed.read() as conn:
        row = conn.execute(sa.select(outbox).where(outbox.c.kind == "digest")).one()
    assert row.status == "failed" and row.attempts == 3 and "gave up after 3 attempts" in row.last_error
