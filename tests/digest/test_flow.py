"""The whole digest flow through the web pages, the worker job and a real SMTP server on loopback:
subscribe → confirmation mail → confirm → preferences → digest due at the reader's hour in their
zone → the right papers arrive → one-click unsubscribe → nothing more. On SQLite and PostgreSQL.

Every test runs at fixed instants (the `now` fixture, the app's clock, run_digests' clock): the
flow is also run at the edges of a day, of daylight-saving changes and of the year."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dailypapers.core.settings import Settings
from dailypapers.jobs.digests import run_digests
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


def client_at(settings: Settings, db: Database, now: datetime) -> TestClient:
    """A browser on the site whose clock (app.state.clock) stands at `now`."""
    app = create_app(settings, db)
    app.state.clock = lambda: now
    return TestClient(app)


def send_outbox(client: TestClient) -> None:
    """Send what the outbox holds (the confirmation mails a page queued), as the worker does, at the
    site's clock: the web process itself never sends mail."""
    state = client.app.state
    run_digests(state.db, state.settings, now=state.clock)


def subscribe_and_confirm(client: TestClient, smtp: LoopbackSMTP, address: str) -> str:
    """Subscribe from the feed page and confirm from the mail; returns the preferences page path."""
    home = client.get("/")
    assert "Get trending papers in your email inbox" in home.text
    before = len(smtp.messages)
    sent = client.post("/subscribe", data={"email": address, "csrf_token": csrf_of(home.text)})
    assert sent.status_code == 200 and "Check your inbox" in sent.text
    send_outbox(client)
    mail = smtp.wait_for(before + 1, timeout=10)[-1]
    assert mail.rcpt_tos == [address]
    confirm_url = link(text_part(mail.message), "/subscribe/confirm")
    assert confirm_url in html_part(mail.message).replace("&amp;", "&")
    page = client.get(local_path(confirm_url))  # a GET only shows the button
    assert page.status_code == 200 and "Confirm my subscription" in page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    done = client.post(
        "/subscribe/confirm", data={"token": token, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/subscription?token=")
    return done.headers["location"]


def test_subscribe_confirm_digest_unsubscribe(
    feed: Database, settings: Settings, smtp: LoopbackSMTP, now: datetime, more_papers
) -> None:  # type: ignore[no-untyped-def]
    client = client_at(settings, feed, now)  # Monday 30 November 2026, 12:00 UTC (21:00 in Tokyo)
    prefs_path = subscribe_and_confirm(client, smtp, "reader@example.org")
    prefs = client.get(prefs_path)
    assert "Subscription confirmed" in prefs.text
    form = {
        "token": re.search(r'name="token" value="([^"]+)"', prefs.text).group(1),
        "csrf_token": csrf_of(prefs.text),
        "frequency": "daily",
        "weekday": "0",
        "send_hour": "9",
        "timezone": "Asia/Tokyo",
        "max_papers": "2",
        "categories": "cs.CL",
        "min_upvotes": "0",
        "include": ["contrastive", ""],
        "exclude": ["medical", ""],
    }
    saved = client.post("/subscription", data=form)
    assert saved.status_code == 200 and "Saved." in saved.text

    # Due at the next 09:00 in Tokyo after the confirmation (Tuesday 1 December, 00:00 UTC): not before ...
    send_at = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
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
    other = client_at(settings, feed, after + timedelta(hours=2))
    one_click = other.post(
        local_path(https),
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    more_papers([("2611.00100", "Contrastive Decoding for Language Models", ["cs.CL"], 80)])
    made, report = run_digests(feed, settings, now=lambda: after + timedelta(days=1))
    assert made == 0 and report.sent == 0 and len(smtp.messages) == 2
    with feed.read() as conn:
        assert conn.scalar(sa.select(subscribers.c.status)) == "unsubscribed"


def test_subscribe_never_tells_who_is_subscribed(
    feed: Database, settings: Settings, smtp: LoopbackSMTP, now: datetime
) -> None:
    client = client_at(settings, feed, now)
    subscribe_and_confirm(client, smtp, "known@example.org")
    pages = []
    for address in ("known@example.org", "stranger@example.org"):
        home = client.get("/")
        answer = client.post("/subscribe", data={"email": address, "csrf_token": csrf_of(home.text)})
        pages.append((answer.status_code, CSRF.sub("", answer.text).replace(address, "ADDRESS")))
    assert pages[0] == pages[1]


@pytest.mark.parametrize("address", ["not-an-address", "a@b", "two@@example.org", "x" * 400 + "@example.org"])
def test_invalid_addresses_get_a_clear_message(
    feed: Database, settings: Settings, address: str, now: datetime
) -> None:
    client = client_at(settings, feed, now)
    home = client.get("/")
    answer = client.post("/subscribe", data={"email": address, "csrf_token": csrf_of(home.text)})
    assert answer.status_code == 400 and "That address is not valid" in answer.text
    with feed.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(subscribers)) == 0


def test_forms_without_a_valid_csrf_token_change_nothing(
    feed: Database, settings: Settings, now: datetime
) -> None:
    client = client_at(settings, feed, now)
    client.get("/")
    for token in ("", "forged", csrf_of(TestClient(create_app(settings, feed)).get("/").text)):
        answer = client.post("/subscribe", data={"email": "someone@example.org", "csrf_token": token})
        assert answer.status_code == 403
    with feed.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(subscribers)) == 0


def test_forged_or_stale_links_are_refused(
    feed: Database, settings: Settings, smtp: LoopbackSMTP, now: datetime
) -> None:
    client = client_at(settings, feed, now)
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
    feed: Database, settings: Settings, smtp: LoopbackSMTP, now: datetime, more_papers
) -> None:  # type: ignore[no-untyped-def]
    client = client_at(settings, feed, now)
    subscribe_and_confirm(client, smtp, "busy@example.org")
    subscribe_and_confirm(client, smtp, "gone@example.org")
    smtp.fail_rcpt("busy@example.org", 451, "Try again later", times=1)
    smtp.fail_rcpt("gone@example.org", 550, "No such user")
    start = now + timedelta(days=1, hours=1)  # after the next 08:00 UTC, the default send hour
    made, report = run_digests(feed, settings, now=lambda: start)
    assert made == 2 and report.sent == 0 and report.retried == 1 and report.failed == 1
    with feed.read() as conn:
        rows = {r.to_addr: r for r in conn.execute(sa.select(outbox).where(outbox.c.kind == "digest"))}
        assert rows["busy@example.org"].status == "queued" and "451" in rows["busy@example.org"].last_error
        assert rows["gone@example.org"].status == "failed" and "550" in rows["gone@example.org"].last_error
        assert (
            conn.scalar(sa.select(subscribers.c.bounces).where(subscribers.c.email == "gone@example.org"))
            == 1
        )
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


def test_temporary_failures_give_up_after_max_attempts(
    feed: Database, settings: Settings, smtp: LoopbackSMTP, now: datetime
) -> None:
    settings = settings.model_copy(update={"digest_max_attempts": 3, "digest_retry_base": 1.0})
    client = client_at(settings, feed, now)
    subscribe_and_confirm(client, smtp, "flaky@example.org")
    smtp.fail_rcpt("flaky@example.org", 421, "Service not available")
    start = now + timedelta(days=1, hours=1)
    for minute in range(4):
        run_digests(feed, settings, now=lambda minute=minute: start + timedelta(minutes=minute))
    with feed.read() as conn:
        row = conn.execute(sa.select(outbox).where(outbox.c.kind == "digest")).one()
    assert row.status == "failed" and row.attempts == 3 and "gave up after 3 attempts" in row.last_error


# --- the flow at the edges of days, daylight-saving changes and the year ------------------------------

UTC = UTC


def at(text: str) -> datetime:
    """An ISO time with its offset, as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


# (confirmed at, preferences, [(instant, period key due then or None, its label)]). Each instant is a
# run of the digest job; the case's name says which edge it is on, in UTC or in the reader's zone.
EDGES = {
    "utc-00:30": (
        "2026-06-15T00:30+00:00",
        ("daily", 0, 9, "UTC"),
        [
            ("2026-06-15T08:59:59+00:00", None, None),
            ("2026-06-15T09:00+00:00", "D2026-06-15", "Monday 15 June 2026"),
        ],
    ),
    "utc-08:59": (
        "2026-06-15T08:59+00:00",
        ("daily", 0, 9, "UTC"),
        [
            ("2026-06-15T08:59:30+00:00", None, None),
            ("2026-06-15T09:00+00:00", "D2026-06-15", "Monday 15 June 2026"),
        ],
    ),
    # Confirmed at the very send time: that send is not after the confirmation; the next day's is.
    "utc-09:00": (
        "2026-06-15T09:00+00:00",
        ("daily", 0, 9, "UTC"),
        [
            ("2026-06-15T09:00+00:00", None, None),
            ("2026-06-16T08:59+00:00", None, None),
            ("2026-06-16T09:00+00:00", "D2026-06-16", "Tuesday 16 June 2026"),
        ],
    ),
    "utc-23:59": (
        "2026-06-15T23:59+00:00",
        ("daily", 0, 9, "UTC"),
        [
            ("2026-06-16T08:59+00:00", None, None),
            ("2026-06-16T09:00+00:00", "D2026-06-16", "Tuesday 16 June 2026"),
        ],
    ),
    "tokyo-00:30": (
        "2026-06-15T00:30+09:00",
        ("daily", 0, 9, "Asia/Tokyo"),
        [
            ("2026-06-15T08:59+09:00", None, None),
            ("2026-06-15T09:00+09:00", "D2026-06-15", "Monday 15 June 2026"),
        ],
    ),
    "tokyo-08:59": (
        "2026-06-15T08:59+09:00",
        ("daily", 0, 9, "Asia/Tokyo"),
        [("2026-06-15T09:00+09:00", "D2026-06-15", "Monday 15 June 2026")],
    ),
    "tokyo-09:00": (
        "2026-06-15T09:00+09:00",
        ("daily", 0, 9, "Asia/Tokyo"),
        [
            ("2026-06-15T09:00+09:00", None, None),
            ("2026-06-16T09:00+09:00", "D2026-06-16", "Tuesday 16 June 2026"),
        ],
    ),
    "tokyo-23:59": (
        "2026-06-15T23:59+09:00",
        ("daily", 0, 9, "Asia/Tokyo"),
        [
            ("2026-06-16T08:59+09:00", None, None),
            ("2026-06-16T09:00+09:00", "D2026-06-16", "Tuesday 16 June 2026"),
        ],
    ),
    # Spring forward in New York: 02:00 does not exist on 8 March; a 02:00 digest goes at 03:00 EDT.
    "new-york-spring-gap": (
        "2026-03-07T12:00-05:00",
        ("daily", 0, 2, "America/New_York"),
        [
            ("2026-03-08T01:59-05:00", None, None),
            ("2026-03-08T03:00-04:00", "D2026-03-08", "Sunday 8 March 2026"),
            ("2026-03-09T01:59-04:00", None, None),
            ("2026-03-09T02:00-04:00", "D2026-03-09", "Monday 9 March 2026"),
        ],
    ),
    "new-york-spring-09:00": (
        "2026-03-08T01:30-05:00",
        ("daily", 0, 9, "America/New_York"),
        [
            ("2026-03-08T08:59-04:00", None, None),
            ("2026-03-08T09:00-04:00", "D2026-03-08", "Sunday 8 March 2026"),
        ],
    ),
    # Fall back in New York: 01:00-02:00 happens twice on 1 November; the digest goes once, at the first.
    "new-york-fall-overlap": (
        "2026-10-31T12:00-04:00",
        ("daily", 0, 1, "America/New_York"),
        [
            ("2026-11-01T01:00-04:00", "D2026-11-01", "Sunday 1 November 2026"),
            ("2026-11-01T01:30-05:00", None, None),
            ("2026-11-02T00:59-05:00", None, None),
            ("2026-11-02T01:00-05:00", "D2026-11-02", "Monday 2 November 2026"),
        ],
    ),
    # Confirmed in the second 01:30: the first 01:00 of the day is before it, so the next day's.
    "new-york-confirmed-in-overlap": (
        "2026-11-01T01:30-05:00",
        ("daily", 0, 1, "America/New_York"),
        [
            ("2026-11-01T01:59-05:00", None, None),
            ("2026-11-02T01:00-05:00", "D2026-11-02", "Monday 2 November 2026"),
        ],
    ),
    "berlin-spring-gap": (
        "2026-03-28T20:00+01:00",
        ("daily", 0, 2, "Europe/Berlin"),
        [
            ("2026-03-29T01:59+01:00", None, None),
            ("2026-03-29T03:00+02:00", "D2026-03-29", "Sunday 29 March 2026"),
        ],
    ),
    "utc-new-year": (
        "2026-12-31T23:59+00:00",
        ("daily", 0, 0, "UTC"),
        [("2027-01-01T00:00+00:00", "D2027-01-01", "Friday 1 January 2027")],
    ),
    "tokyo-new-year": (
        "2026-12-31T23:59+09:00",
        ("daily", 0, 9, "Asia/Tokyo"),
        [
            ("2027-01-01T08:59+09:00", None, None),
            ("2027-01-01T09:00+09:00", "D2027-01-01", "Friday 1 January 2027"),
        ],
    ),
    # Weekly across the year: 2026 has an ISO week 53 (28 December 2026 - 3 January 2027).
    "utc-weekly-thursday": (
        "2026-12-30T12:00+00:00",
        ("weekly", 3, 9, "UTC"),
        [
            ("2026-12-31T09:00+00:00", "W2026-53", "25–31 December 2026"),
            ("2027-01-07T08:59+00:00", None, None),
            ("2027-01-07T09:00+00:00", "W2027-01", "1–7 January 2027"),
        ],
    ),
    "tokyo-weekly-friday": (
        "2026-12-31T12:00+09:00",
        ("weekly", 4, 9, "Asia/Tokyo"),
        [
            ("2027-01-01T08:59+09:00", None, None),
            ("2027-01-01T09:00+09:00", "W2026-53", "26 December 2026 – 1 January 2027"),
            ("2027-01-08T09:00+09:00", "W2027-01", "2–8 January 2027"),
        ],
    ),
    "utc-weekly-monday": (
        "2026-12-31T23:59+00:00",
        ("weekly", 0, 0, "UTC"),
        [
            ("2027-01-03T23:59+00:00", None, None),
            ("2027-01-04T00:00+00:00", "W2027-01", "29 December 2026 – 4 January 2027"),
        ],
    ),
}


@pytest.mark.parametrize(
    ("now", "prefs", "runs"), [(at(c), p, r) for c, p, r in EDGES.values()], ids=list(EDGES)
)
def test_digests_are_due_at_the_readers_hour_at_every_edge(
    feed: Database,
    settings: Settings,
    smtp: LoopbackSMTP,
    now: datetime,
    prefs: tuple[str, int, int, str],
    runs: list[tuple[str, str | None, str | None]],
    more_papers,
) -> None:  # type: ignore[no-untyped-def]
    from dailypapers.digest.compose import due_digests

    frequency, weekday, hour, zone = prefs
    client = client_at(settings, feed, now)  # subscribed, confirmed and set up at `now`
    page = client.get(subscribe_and_confirm(client, smtp, "edge@example.org"))
    form = {
        "token": re.search(r'name="token" value="([^"]+)"', page.text).group(1),
        "csrf_token": csrf_of(page.text),
        "frequency": frequency,
        "weekday": str(weekday),
        "send_hour": str(hour),
        "timezone": zone,
        "max_papers": "3",
    }
    assert client.post("/subscription", data=form).status_code == 200
    mails = 1  # the confirmation
    for n, (instant, key, label) in enumerate(runs):
        when = at(instant)
        if key is not None and mails > 1:  # a new paper for every digest after the first
            more_papers(
                [(f"2612.{n:05d}", f"Edge Paper {n}", ["cs.CL"], 5)], (when.date() - now.date()).days + 1
            )
        with feed.read() as conn:  # the schedule's answer: which period is due at this instant
            assert [p.key for _, p, _ in due_digests(conn, when)] == ([key] if key else []), instant
        made, report = run_digests(feed, settings, now=lambda when=when: when)
        assert (made, report.sent) == ((1, 1) if key else (0, 0)), (instant, report.errors)
        if key is not None:
            mails += 1
            mail = smtp.wait_for(mails, timeout=10)[-1].message
            assert mail["Subject"].endswith(f", {label}")
            with feed.read() as conn:
                assert (
                    conn.scalar(
                        sa.select(outbox.c.period_key)
                        .where(outbox.c.kind == "digest")
                        .order_by(outbox.c.id.desc())
                        .limit(1)
                    )
                    == key
                )


# --- what mails and pages say -------------------------------------------------------------------------


def test_mail_links_come_from_site_url_not_the_host_header(
    feed: Database, settings: Settings, smtp: LoopbackSMTP, now: datetime
) -> None:
    client = client_at(settings, feed, now)
    evil = {"Host": "evil.example"}
    home = client.get("/", headers=evil)
    sent = client.post(
        "/subscribe", data={"email": "host@example.org", "csrf_token": csrf_of(home.text)}, headers=evil
    )
    assert sent.status_code == 200
    send_outbox(client)
    mail = smtp.wait_for(1, timeout=10)[-1].message
    assert "evil.example" not in mail.as_string()
    assert link(text_part(mail), "/subscribe/confirm").startswith(settings.site_url + "/")


def _corpus_record(arxiv_id: str) -> dict:  # type: ignore[type-arg]
    import gzip
    import json

    from dailypapers.demo import CORPUS

    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        return next(r for r in map(json.loads, lines) if r["id"] == arxiv_id)


def test_latex_in_titles_is_unicode_in_both_parts_of_the_mail(
    feed: Database, settings: Settings, smtp: LoopbackSMTP, now: datetime, more_papers
) -> None:  # type: ignore[no-untyped-def]
    record = _corpus_record("2606.13246")  # a real title of the demo corpus
    assert record["title"].startswith("A $q$-analogue")
    more_papers(
        [(record["id"], record["title"], record["categories"], 7)], 0
    )  # on the feed day of the others
    client = client_at(settings, feed, now)
    subscribe_and_confirm(client, smtp, "math@example.org")
    made, report = run_digests(
        feed, settings, now=lambda: now + timedelta(days=1)
    )  # after 08:00 UTC tomorrow
    assert made == 1 and report.sent == 1, report.errors
    mail = smtp.wait_for(2, timeout=10)[-1].message
    shown = "A q-analogue of the rational normal curve"
    assert shown in text_part(mail) and shown in html_part(mail)
    assert "$q$" not in text_part(mail) and "$q$" not in html_part(mail) and "$" not in mail["Subject"]


def test_preferences_of_an_unsubscribed_address_offer_to_subscribe_again(
    feed: Database, settings: Settings, smtp: LoopbackSMTP, now: datetime
) -> None:
    client = client_at(settings, feed, now)
    prefs_path = subscribe_and_confirm(client, smtp, "left@example.org")
    token = prefs_path.split("token=")[1].split("&")[0]
    page = client.get(f"/unsubscribe?token={token}")
    assert (
        client.post("/unsubscribe", data={"token": token, "csrf_token": csrf_of(page.text)}).status_code
        == 200
    )

    prefs = client.get(prefs_path)
    assert (
        prefs.status_code == 200 and "You are unsubscribed" in prefs.text and "left@example.org" in prefs.text
    )
    assert 'name="frequency"' not in prefs.text and ">Save<" not in prefs.text  # no editable form
    # Saving anyway (an old tab) changes nothing and says why.
    form = {
        "token": token,
        "csrf_token": csrf_of(prefs.text),
        "frequency": "weekly",
        "send_hour": "7",
        "timezone": "UTC",
    }
    stale = client.post("/subscription", data=form)
    assert stale.status_code == 409 and "Saved." not in stale.text and "You are unsubscribed" in stale.text
    with feed.read() as conn:
        row = conn.execute(sa.select(subscribers)).one()
    assert (row.status, row.frequency) == ("unsubscribed", "daily")
    # The page's button subscribes again: a new confirmation mail.
    again = re.search(
        r'<form class="subscribe-again" action="/subscribe" method="post">(.*?)</form>', prefs.text, re.S
    )
    assert again and 'name="email" value="left@example.org"' in again.group(1)
    client.app.state.clock = lambda: now + timedelta(hours=1)  # past the throttle of confirmation mails
    answer = client.post(
        "/subscribe", data={"email": "left@example.org", "csrf_token": csrf_of(again.group(1))}
    )
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    send_outbox(client)
    assert smtp.wait_for(2, timeout=10)[-1].rcpt_tos == ["left@example.org"]
    with feed.read() as conn:
        assert conn.scalar(sa.select(subscribers.c.status)) == "pending"
