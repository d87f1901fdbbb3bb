"""The subscription forms refuse what they cannot take with a clear 4xx, never a 500: bodies too large
or with too many fields, bytes that are not UTF-8, and every preference outside its bounds. And the
demo mailbox answers only this machine. On SQLite and PostgreSQL."""

from __future__ import annotations

import mailbox
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from dailypapers.core.settings import Settings
from dailypapers.digest import subscriptions as subs
from dailypapers.services.subscriptions import signer
from dailypapers.store.db import Database
from dailypapers.store.tables import saved_searches, subscribers
from dailypapers.web.app import create_app

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORMS = ["/subscribe", "/subscribe/confirm", "/subscription", "/unsubscribe"]


@pytest.fixture
def settings(db: Database) -> Settings:
    return Settings(database_url=db.url, site_url="http://testserver")


@pytest.fixture
def client(db: Database, settings: Settings) -> TestClient:
    db.migrate()
    app = create_app(settings, db)
    app.state.clock = lambda: NOW
    return TestClient(app)


def csrf_of(client: TestClient) -> str:
    return CSRF.search(client.get("/subscribe").text).group(1)


def reader(db: Database, settings: Settings) -> str:
    """An active subscriber; returns the token of their preferences link."""
    sign = signer(db, settings)
    with db.write() as conn:
        subs.subscribe(conn, sign, settings, "reader@example.org", NOW)
        sub = conn.execute(sa.select(subscribers)).one()
        subs.confirm(conn, sign, subs.confirm_url(sign, settings.site_url, sub).split("token=")[1], 48, NOW)
        return subs.manage_token(sign, conn.execute(sa.select(subscribers)).one())


def stored(db: Database) -> tuple:  # type: ignore[type-arg]
    with db.read() as conn:
        row = conn.execute(sa.select(subscribers)).one()
        searches = conn.execute(sa.select(saved_searches.c.include, saved_searches.c.exclude)).all()
    return (
        row.frequency,
        row.weekday,
        row.send_hour,
        row.timezone,
        row.max_papers,
        row.categories,
        row.min_upvotes,
        row.status,
        sorted(searches),
    )


def form_body(fields: list[tuple[str, str]]) -> dict[str, object]:
    from urllib.parse import urlencode

    return {"content": urlencode(fields), "headers": {"content-type": "application/x-www-form-urlencoded"}}


@pytest.mark.parametrize("path", FORMS)
def test_too_many_fields_is_a_400_not_a_500(client: TestClient, path: str) -> None:
    fields = [(f"f{n}", "x") for n in range(201)]
    answer = client.post(path, **form_body(fields))  # type: ignore[arg-type]
    assert answer.status_code == 400 and "too many fields" in answer.text


@pytest.mark.parametrize("path", FORMS)
def test_a_body_too_large_is_a_413(client: TestClient, path: str) -> None:
    answer = client.post(path, **form_body([("email", "x" * 70_000)]))  # type: ignore[arg-type]
    assert answer.status_code == 413 and "too large" in answer.text


@pytest.mark.parametrize(
    "body", [b"email=%ff%fe@example.org", b"email=\xff\xfe@example.org", b"email=%c0%af@example.org"]
)
def test_forms_that_are_not_utf8_text_are_refused(client: TestClient, db: Database, body: bytes) -> None:
    token = csrf_of(client)
    answer = client.post(
        "/subscribe",
        content=body + b"&csrf_token=" + token.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400 and "not valid UTF-8" in answer.text and "\ufffd" not in answer.text
    with db.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(subscribers)) == 0


def test_an_address_in_other_scripts_is_text_and_accepted(client: TestClient, db: Database) -> None:
    answer = client.post("/subscribe", data={"email": "o'brien+ü@exämple.org", "csrf_token": csrf_of(client)})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    with db.read() as conn:
        assert conn.scalar(sa.select(subscribers.c.email)) == "o'brien+ü@exämple.org"


@pytest.mark.parametrize("address", ["\x00a@example.org", "a\u202e@example.org", "x" * 250 + "@example.org"])
def test_addresses_that_are_not_valid_are_refused(client: TestClient, db: Database, address: str) -> None:
    answer = client.post("/subscribe", data={"email": address, "csrf_token": csrf_of(client)})
    assert answer.status_code == 400 and "That address is not valid" in answer.text
    with db.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(subscribers)) == 0


# (field, value, what the page says) for a preference out of its bounds.
OUT_OF_BOUNDS = [
    ("timezone", "America", "unknown time zone"),
    ("timezone", "Europe/" + "x" * 293, "time zone: String should have at most 64 characters"),
    ("timezone", "../../etc/passwd", "unknown time zone"),
    ("min_upvotes", "99999999999999999999", "minimum upvotes"),
    ("min_upvotes", "1000001", "minimum upvotes"),
    ("min_upvotes", "-1", "minimum upvotes"),
    ("min_upvotes", "9" * 5000, "minimum upvotes"),
    ("send_hour", "24", "hour"),
    ("send_hour", "²", "hour"),
    ("send_hour", "", "hour"),
    ("weekday", "7", "day"),
    ("max_papers", "0", "papers per digest"),
    ("max_papers", "51", "papers per digest"),
    ("frequency", "hourly", "frequency"),
    ("categories", " ".join(["cs.CL"] * 51), "arXiv categories"),
    ("categories", "<script>", "not an arXiv category"),
    ("categories", "cs." + "x" * 600, "arXiv categories"),
]


@pytest.mark.parametrize(("field", "value", "says"), OUT_OF_BOUNDS)
def test_preferences_out_of_bounds_give_the_form_back_with_a_400(
    client: TestClient, db: Database, settings: Settings, field: str, value: str, says: str
) -> None:
    token = reader(db, settings)
    before = stored(db)
    form = {
        "token": token,
        "csrf_token": csrf_of(client),
        "frequency": "weekly",
        "weekday": "2",
        "send_hour": "7",
        "timezone": "Europe/Paris",
        "max_papers": "5",
        "categories": "cs.CL",
        "min_upvotes": "3",
        field: value,
    }
    answer = client.post("/subscription", data=form)
    assert answer.status_code == 400 and "Not saved" in answer.text and says in answer.text
    assert 'name="frequency"' in answer.text  # the form, to fix and send again
    assert stored(db) == before


@pytest.mark.parametrize(
    ("include", "says"),
    [
        ([f"topic {n}" for n in range(11)], "saved searches: List should have at most 10 items"),
        (["x" * 501], "saved searches"),
        (["contrastive\x00learning"], "control characters"),
    ],
)
def test_saved_searches_out_of_bounds_are_refused(
    client: TestClient, db: Database, settings: Settings, include: list[str], says: str
) -> None:
    token = reader(db, settings)
    before = stored(db)
    form = {"token": token, "csrf_token": csrf_of(client), "include": include, "exclude": [""] * len(include)}
    answer = client.post("/subscription", data=form)
    assert answer.status_code == 400 and says in answer.text
    assert stored(db) == before


def test_preferences_at_their_bounds_are_saved(client: TestClient, db: Database, settings: Settings) -> None:
    token = reader(db, settings)
    include = [f"topic {n}" for n in range(10)]
    form = {
        "token": token,
        "csrf_token": csrf_of(client),
        "frequency": "weekly",
        "weekday": "6",
        "send_hour": "23",
        "timezone": "Pacific/Kiritimati",
        "max_papers": "50",
        "categories": ", ".join(["cs.CL", "math.AG"] * 25),
        "min_upvotes": "1000000",
        "include": include,
        "exclude": ["x" * 500] + [""] * 9,
    }
    answer = client.post("/subscription", data=form)
    assert answer.status_code == 200 and "Saved." in answer.text
    frequency, weekday, hour, zone, papers, categories, upvotes, status, searches = stored(db)
    assert (frequency, weekday, hour, zone, papers, categories, upvotes) == (
        "weekly",
        6,
        23,
        "Pacific/Kiritimati",
        50,
        ["cs.CL", "math.AG"],
        1_000_000,
    )
    assert len(searches) == 10 and ("topic 0", "x" * 500) in searches


TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    [
        "",
        "0",
        "-1",
        "23",
        "24",
        "1e3",
        "²",
        "9" * 30,
        "America",
        "Asia/Tokyo",
        "on",
        "daily",
        "weekly",
        "cs.CL",
    ]
)
PREF_FIELDS = [
    "frequency",
    "weekday",
    "send_hour",
    "timezone",
    "max_papers",
    "categories",
    "min_upvotes",
    "paused",
    "include",
    "exclude",
    "token",
    "email",
    "List-Unsubscribe",
]


def test_no_form_value_makes_a_5xx(client: TestClient, db: Database, settings: Settings) -> None:
    token = reader(db, settings)
    csrf = csrf_of(client)

    @hypothesis_settings(
        max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(
        path=st.sampled_from(FORMS),
        values=st.dictionaries(st.sampled_from(PREF_FIELDS), TEXT, max_size=8),
        real_token=st.booleans(),
        real_csrf=st.booleans(),
    )
    def post(path: str, values: dict[str, str], real_token: bool, real_csrf: bool) -> None:
        fields = list(values.items())
        fields += [("token", token)] if real_token else []
        fields += [("csrf_token", csrf)] if real_csrf else []
        answer = client.post(path, **form_body(fields))  # type: ignore[arg-type]
        assert answer.status_code < 500, (path, fields, answer.text[-300:])

    post()


# --- the demo mailbox ---------------------------------------------------------------------------------


@pytest.fixture
def mailbox_app(db: Database, settings: Settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    db.migrate()
    folder = tmp_path / "demo-mail"
    box = mailbox.Maildir(folder, create=True)
    mail = EmailMessage()
    mail["To"], mail["Subject"] = "someone@example.org", "Confirm your subscription to Daily Papers"
    mail.set_content("http://testserver/subscribe/confirm?token=secret")
    key = box.add(mail)
    return create_app(settings, db, mailbox=folder), key


@pytest.mark.parametrize(
    "host", ["203.0.113.5", "192.168.1.20", "::ffff:203.0.113.5", "2001:db8::1", "testclient"]
)
def test_the_demo_mailbox_is_not_shown_to_other_machines(mailbox_app, host: str) -> None:  # type: ignore[no-untyped-def]
    app, key = mailbox_app
    client = TestClient(app, client=(host, 1234))
    for path in ("/demo/mailbox", f"/demo/mailbox/{key}.html", f"/demo/mailbox/{key}.txt"):
        answer = client.get(path)
        assert answer.status_code == 404 and "only shown on the machine that runs the demo" in answer.text
        assert "token=secret" not in answer.text


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"])
def test_the_demo_mailbox_is_shown_on_this_machine(mailbox_app, host: str) -> None:  # type: ignore[no-untyped-def]
    app, key = mailbox_app
    client = TestClient(app, client=(host, 1234))
    page = client.get("/demo/mailbox")
    assert page.status_code == 200 and "Confirm your subscription to Daily Papers" in page.text
    assert "token=secret" in client.get(f"/demo/mailbox/{key}.txt").text


def test_each_saved_search_is_offered_as_a_feed(client: TestClient, db: Database, settings: Settings) -> None:
    token = reader(db, settings)
    fields = [("token", token), ("csrf_token", csrf_of(client)), ("frequency", "daily"), ("send_hour", "8")]
    fields += [("timezone", "UTC"), ("max_papers", "10"), ("min_upvotes", "0")]
    fields += [("include", 'contrastive "vision language"'), ("exclude", "medical  x-ray")]
    fields += [("include", ""), ("exclude", "")]
    assert client.post("/subscription", **form_body(fields)).status_code in (200, 303)  # type: ignore[arg-type]
    page = client.get("/subscription", params={"token": token}).text
    wanted = quote('contrastive "vision language" -medical -x-ray')
    assert f'href="/search.atom?q={wanted}"' in page and f'href="/search.rss?q={wanted}"' in page
    assert page.count("/search.atom?q=") == 1  # none for the empty search row
    feed = client.get(f"/search.atom?q={wanted}")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
