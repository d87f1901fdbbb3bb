"""Accounts through the pages, on SQLite and PostgreSQL: sign up → confirmation mail (outbox, a real
SMTP server on loopback) → confirm → sign in → account page → sign out; the same answers whether or
not an account exists; throttling with backoff at an injected clock; single-use, expiring reset
links; sessions stored hashed, renewed at sign-in, sliding; open redirects, bans and CSRF refused."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dailypapers.core.settings import Settings
from dailypapers.jobs.outbox import deliver_outbox
from dailypapers.services import accounts, moderation
from dailypapers.store.db import Database
from dailypapers.store.tables import outbox, sessions, users
from dailypapers.testing.smtp import LoopbackSMTP
from dailypapers.web.app import create_app

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple 42"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    """The site's clock (app.state.clock), moved by the tests."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def settings(mail_settings: Callable[..., Settings]) -> Settings:
    return mail_settings(
        mail_from="Daily Papers <accounts@example.org>",
        signin_free_attempts=3,
        signin_backoff_seconds=2.0,
        signin_backoff_max_seconds=60.0,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(settings: Settings, db: Database, clock: Clock) -> Iterator[TestClient]:
    app = create_app(settings, db)
    app.state.clock = clock
    with TestClient(app) as c:
        yield c


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def post_form(client: TestClient, page: str, action: str, fields: dict[str, str], **kwargs: object):  # type: ignore[no-untyped-def]
    """Open `page`, then post its form to `action` with the page's CSRF token."""
    html = client.get(page).text
    return client.post(action, data={**fields, "csrf_token": csrf_of(html)}, **kwargs)  # type: ignore[arg-type]


def deliver(client: TestClient, smtp: LoopbackSMTP, count: int) -> list[str]:
    """Send the outbox as the worker does, at the site's clock; the plain text of the mails so far."""
    state = client.app.state  # type: ignore[attr-defined]
    report = deliver_outbox(state.db, state.settings, now=state.clock)
    assert not report.errors
    received = smtp.wait_for(count, timeout=10)
    return [m.message.get_body(preferencelist=("plain",)).get_content() for m in received]


def link_path(text: str, path: str) -> str:
    found = re.search(r"http://testserver" + re.escape(path) + r"\?token=[A-Za-z0-9_.%=-]+", text)
    assert found, f"no {path} link in the mail:\n{text}"
    parts = urlsplit(found.group(0))
    return f"{parts.path}?{parts.query}"


def sign_up(client: TestClient, username: str, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return post_form(
        client, "/signup", "/signup", {"username": username, "email": email, "password": password}
    )


def sign_in(client: TestClient, login: str, password: str = PASSWORD, next_path: str = ""):  # type: ignore[no-untyped-def]
    return post_form(
        client,
        "/signin",
        "/signin",
        {"login": login, "password": password, "next": next_path},
        follow_redirects=False,
    )


def make_member(db: Database, settings: Settings, username: str = "ada", role: str = "member") -> None:
    accounts.create_user(db, settings, username, f"{username}@example.org", PASSWORD, role, START)


def test_sign_up_confirm_sign_in_and_out(client: TestClient, smtp: LoopbackSMTP, db: Database) -> None:
    assert "Sign in" in client.get("/").text
    answer = sign_up(client, "ada", "Ada@Example.org")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    with db.read() as conn:
        row = conn.execute(sa.select(users)).one()
        queued = conn.execute(sa.select(outbox)).one()
    assert row.email == "Ada@example.org" and row.email_confirmed_at is None and row.role == "member"
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    assert queued.user_id == row.id and queued.subscriber_id is None and queued.status == "queued"

    mail = deliver(client, smtp, 1)[-1]
    assert smtp.messages[-1].rcpt_tos == ["Ada@example.org"]
    confirm = link_path(mail, "/account/confirm")
    page = client.get(confirm)  # the link only shows a button
    assert page.status_code == 200 and "Confirm my address" in page.text
    with db.read() as conn:
        assert conn.execute(sa.select(users.c.email_confirmed_at)).scalar() is None
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = client.post(
        "/account/confirm", data={"token": token, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/signin?next=/account"

    signed_in = sign_in(client, "ADA", next_path="/account")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/account"
    cookie = signed_in.headers["set-cookie"]
    assert "dp_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # site_url is http here
    account = client.get("/account")
    assert account.status_code == 200 and "(confirmed)" in account.text and "Sign out" in account.text
    renamed = client.post("/account", data={"display_name": "Ada L.", "csrf_token": csrf_of(account.text)})
    assert renamed.status_code == 200 and "Saved." in renamed.text and ">Ada L.</a>" in renamed.text

    out = client.post("/signout", data={"csrf_token": csrf_of(renamed.text)}, follow_redirects=False)
    assert out.status_code == 303
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 0
    assert client.get("/account", follow_redirects=False).headers["location"] == "/signin?next=/account"
    assert "Sign in" in client.get("/").text


def test_sign_up_answers_the_same_for_a_known_address(
    client: TestClient, smtp: LoopbackSMTP, db: Database
) -> None:
    first = sign_up(client, "ada", "ada@example.org")
    again = sign_up(client, "someone", "ada@example.org")
    assert first.status_code == again.status_code == 200
    assert first.text == again.text
    mails = deliver(client, smtp, 2)
    assert "/account/confirm" in mails[0]
    assert (
        "You already have an account" in mails[1] and "ada" in mails[1] and "/account/confirm" not in mails[1]
    )
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() == 1
    # Usernames are public: a taken one (any case) is said on the form.
    taken = sign_up(client, "ADA", "other@example.org")
    assert taken.status_code == 400 and "this username is taken" in taken.text


def test_sign_up_refuses_weak_passwords_and_bad_fields(client: TestClient) -> None:
    assert "one of the most common passwords" in sign_up(client, "ada", "ada@example.org", "password123").text
    assert "at least 10 characters" in sign_up(client, "ada", "ada@example.org", "short").text
    assert sign_up(client, "<script>", "ada@example.org").status_code == 400
    assert sign_up(client, "ada", "not an address").status_code == 400


def test_sign_in_says_the_same_for_unknown_login_and_wrong_password(
    client: TestClient, db: Database, settings: Settings
) -> None:
    make_member(db, settings)
    unknown = sign_in(client, "nobody", PASSWORD)
    wrong = sign_in(client, "ada", "wrong password here")
    assert unknown.status_code == wrong.status_code == 403
    assert accounts.WRONG_LOGIN in unknown.text and accounts.WRONG_LOGIN in wrong.text
    assert unknown.text.replace("nobody", "ada") == wrong.text
    assert sign_in(client, "ada@example.org").status_code == 303  # the address works as a login too


def test_throttling_backs_off_per_account_and_per_address(
    client: TestClient, db: Database, settings: Settings, clock: Clock
) -> None:
    make_member(db, settings)
    for _ in range(settings.signin_free_attempts):
        assert sign_in(client, "ada", "wrong password here").status_code == 403
    assert sign_in(client, "ada", "wrong password here").status_code == 403  # the first past the free ones
    blocked = sign_in(client, "ada")  # even the right password waits now
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "2"
    assert "Too many failed sign-ins" in blocked.text
    clock.advance(seconds=3)
    assert sign_in(client, "ada", "wrong password here").status_code == 403
    assert sign_in(client, "ada").headers["retry-after"] == "4"  # doubled
    clock.advance(seconds=5)
    assert sign_in(client, "ada").status_code == 303  # the account's failures are forgotten
    # The address still counts its failures: another account from it waits too.
    make_member(db, settings, "bob")
    assert sign_in(client, "bob", "wrong password here").status_code == 403
    assert sign_in(client, "bob").status_code == 429
    # An unknown login is throttled just like a real one.
    clock.advance(hours=2)
    for _ in range(settings.signin_free_attempts + 1):
        sign_in(client, "nobody", "wrong password here")
    assert sign_in(client, "nobody", "wrong password here").status_code == 429


def test_session_token_is_stored_only_hashed_and_renewed_at_sign_in(
    client: TestClient, db: Database, settings: Settings
) -> None:
    make_member(db, settings)
    client.cookies.set("dp_session", "planted-by-an-attacker-0123456789", domain="testserver.local")
    first = sign_in(client, "ada")
    token = client.cookies.get("dp_session")
    assert token and token != "planted-by-an-attacker-0123456789"
    with db.read() as conn:
        stored = conn.execute(sa.select(sessions.c.id)).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()] and token not in stored
    assert first.status_code == 303
    second = sign_in(client, "ada")  # signing in again: a new session, the old one ends
    assert second.status_code == 303 and client.cookies.get("dp_session") != token
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 1


def test_sessions_slide_and_expire(
    client: TestClient, db: Database, settings: Settings, clock: Clock
) -> None:
    make_member(db, settings)
    sign_in(client, "ada")
    clock.advance(days=settings.session_days - 1)
    assert client.get("/account").status_code == 200  # used: it lives session_days from now
    clock.advance(days=settings.session_days - 1)
    assert client.get("/account").status_code == 200
    clock.advance(days=settings.session_days + 1)
    assert client.get("/account", follow_redirects=False).status_code == 303
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 0


def test_sign_out_everywhere(settings: Settings, db: Database, clock: Clock) -> None:
    make_member(db, settings)
    app = create_app(settings, db)
    app.state.clock = clock
    with TestClient(app) as laptop, TestClient(app) as phone:
        sign_in(laptop, "ada")
        sign_in(phone, "ada")
        page = phone.get("/account")
        out = phone.post(
            "/signout/everywhere", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
        )
        assert out.status_code == 303
        assert laptop.get("/account", follow_redirects=False).status_code == 303
        assert phone.get("/account", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/%0d%0aSet-Cookie:x=1",
        "/\r\nLocation: https://evil.example",
        "evil.example",
        "",
    ],
)
def test_return_to_is_only_a_path_on_this_site(
    client: TestClient, db: Database, settings: Settings, target: str
) -> None:
    make_member(db, settings)
    answer = sign_in(client, "ada", next_path=target)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("/") and not location.startswith("//")
    assert urlsplit(location).netloc == "" and "\\" not in location and "\n" not in location
    if target.startswith("/%0d"):
        assert location == target  # percent-escapes stay escaped: a path on this site
    else:
        assert location == "/"
    page = client.get("/signin", params={"next": target})
    assert 'name="next" value="/"' in page.text or target.startswith("/%0d")


def test_a_relative_return_is_followed(client: TestClient, db: Database, settings: Settings) -> None:
    make_member(db, settings)
    assert sign_in(client, "ada", next_path="/search?q=x").headers["location"] == "/search?q=x"


def test_banned_member_is_refused_and_signed_out(
    client: TestClient, db: Database, settings: Settings, clock: Clock
) -> None:
    make_member(db, settings)
    sign_in(client, "ada")
    assert client.get("/account").status_code == 200
    moderation.operator_ban(db, "ada", "spam", START + timedelta(days=7), START)
    assert client.get("/account", follow_redirects=False).status_code == 303  # the session ended
    refused = sign_in(client, "ada")
    assert refused.status_code == 403 and "banned until 2026-12-14" in refused.text and "spam" in refused.text
    moderation.operator_unban(db, "ada", "lifted", START)
    assert sign_in(client, "ada").status_code == 303


def test_posts_without_csrf_are_refused(client: TestClient, db: Database, settings: Settings) -> None:
    make_member(db, settings)
    for action, fields in [
        ("/signin", {"login": "ada", "password": PASSWORD}),
        ("/signup", {"username": "bob", "email": "bob@example.org", "password": PASSWORD}),
        ("/reset", {"email": "ada@example.org"}),
        ("/signout", {}),
        ("/signout/everywhere", {}),
        ("/account", {"display_name": "x"}),
        ("/account/confirm", {"token": "x"}),
        ("/reset/confirm", {"token": "x", "password": PASSWORD}),
    ]:
        answer = client.post(action, data=fields, follow_redirects=False)
        assert answer.status_code == 403, action
    assert "dp_session" not in client.cookies


def test_reset_link_works_once_and_expires(
    client: TestClient, smtp: LoopbackSMTP, db: Database, settings: Settings, clock: Clock
) -> None:
    make_member(db, settings)
    sign_in(client, "ada")
    unknown = post_form(client, "/reset", "/reset", {"email": "nobody@example.org"})
    known = post_form(client, "/reset", "/reset", {"email": "ada@example.org"})
    assert unknown.status_code == known.status_code == 200
    assert unknown.text.replace("nobody@", "ada@") == known.text  # the same answer
    path = link_path(deliver(client, smtp, 1)[-1], "/reset/confirm")
    assert len(smtp.messages) == 1  # nothing went to the unknown address
    page = client.get(path)
    assert page.status_code == 200 and "Choose a new password" in page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    weak = client.post(
        "/reset/confirm", data={"token": token, "password": "password123", "csrf_token": csrf_of(page.text)}
    )
    assert weak.status_code == 400 and "common" in weak.text
    new = "a brand new passphrase 7"
    done = client.post(
        "/reset/confirm",
        data={"token": token, "password": new, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.get("/account", follow_redirects=False).status_code == 303  # signed out everywhere
    again = client.post(
        "/reset/confirm",
        data={"token": token, "password": "yet another passphrase 9", "csrf_token": csrf_of(page.text)},
    )
    assert again.status_code == 400 and "used already" in again.text
    assert client.get(path).status_code == 400
    assert sign_in(client, "ada").status_code == 403
    assert sign_in(client, "ada", new).status_code == 303

    # A second link, opened too late.
    clock.advance(minutes=20)  # past the mail throttle
    post_form(client, "/reset", "/reset", {"email": "ada@example.org"})
    late = link_path(deliver(client, smtp, 2)[-1], "/reset/confirm")
    clock.advance(minutes=settings.password_reset_minutes + 1)
    expired = client.get(late)
    assert expired.status_code == 400 and "expired" in expired.text


def test_a_banned_members_mail_is_dropped(
    client: TestClient, smtp: LoopbackSMTP, db: Database, settings: Settings
) -> None:
    make_member(db, settings)
    post_form(client, "/reset", "/reset", {"email": "ada@example.org"})
    moderation.operator_ban(db, "ada", "spam", None, START)
    report = deliver_outbox(db, settings, now=client.app.state.clock)  # type: ignore[attr-defined]
    assert report.dropped == 1 and report.sent == 0 and smtp.messages == []


def test_secure_cookie_behind_https(db: Database, clock: Clock) -> None:
    settings = Settings(database_url=db.url, site_url="https://papers.example.org")
    make_member(db, settings)
    app = create_app(settings, db)
    app.state.clock = clock
    with TestClient(app, base_url="https://testserver") as client:
        answer = sign_in(client, "ada")
        assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]


def test_control_characters_in_a_login_are_a_wrong_login(db: Database, settings: Settings) -> None:
    make_member(db, settings)
    for login in ("ada\x00", "\x00@example.org", "ada@example.org\x00"):
        with pytest.raises(accounts.SignInRefused, match="Wrong username or password"):
            accounts.sign_in(db, settings, login, PASSWORD, "192.0.2.1\x00", START, "agent\x00")
    assert accounts.sign_in(db, settings, "ada", PASSWORD, "192.0.2.2", START, "agent\x00/1.0")


def test_confirmation_link_expires_and_a_forged_one_is_refused(
    client: TestClient, smtp: LoopbackSMTP, db: Database, settings: Settings, clock: Clock
) -> None:
    sign_up(client, "ada", "ada@example.org")
    path = link_path(deliver(client, smtp, 1)[-1], "/account/confirm")
    assert client.get(path.replace("token=", "token=x")).status_code == 400
    reset_like = client.get("/account/confirm?token=" + path.split("token=")[1][:-3] + "abc")
    assert reset_like.status_code == 400 and "not valid" in reset_like.text
    clock.advance(hours=settings.account_confirm_hours + 1)
    expired = client.get(path)
    assert expired.status_code == 400 and "expired" in expired.text
    with db.read() as conn:
        assert conn.execute(sa.select(users.c.email_confirmed_at)).scalar() is None
