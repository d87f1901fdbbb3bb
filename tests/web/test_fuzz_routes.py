"""Walks the app's own route table and sends hostile and generated values (hypothesis) to every path,
query and form parameter of every route, GET, HEAD and POST, with and without a valid CSRF token, on
SQLite and PostgreSQL: no answer may be a 5xx, and none may take longer than 2 s. The APIs' writes
(POST, PUT, DELETE under /api/) get JSON bodies instead of forms (API_BODIES: a valid one, then each
field hostile or of the wrong type), with and without a valid API token.

A route the walker cannot exercise (a path parameter with no generator, a method it does not send, a
POST route whose form no page renders) fails the suite: add what it needs here.
"""

from __future__ import annotations

import json
import mailbox
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from dailypapers.core.settings import Settings
from dailypapers.digest import subscriptions as subs
from dailypapers.digest.tokens import site_signer
from dailypapers.services import accounts, api_tokens, comments, moderation
from dailypapers.services.schemas import Member
from dailypapers.store.db import Database
from dailypapers.store.tables import feed_entries, outbox, papers, sign_in_attempts, subscribers
from dailypapers.web.app import create_app, site_routes

SLOWEST_S = 2.0
WALKER_PASSWORD = "the walker's own passphrase 1"
METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE"}
# A valid JSON body of each API write, by route (a new one without a body here fails the suite).
API_BODIES: dict[str, dict[str, Any]] = {
    "POST /api/papers/submit": {"paperId": "2606.31315", "comment": "A first comment, $x^2$."},
    "POST /api/v1/papers/{arxiv_id}/comments": {"body": "A comment, $x^2$.", "parent_id": None},
    "POST /api/v1/papers/{archive}/{number}/comments": {"body": "A comment."},
    "PUT /api/v1/papers/{arxiv_id}/vote": {},
    "DELETE /api/v1/papers/{arxiv_id}/vote": {},
    "PUT /api/v1/papers/{archive}/{number}/vote": {},
    "DELETE /api/v1/papers/{archive}/{number}/vote": {},
    "POST /api/v1/submissions": {"arxiv_id": "2606.31315", "comment": "Worth a read."},
    "PUT /api/v1/me/subscription": {
        "frequency": "weekly",
        "weekday": 0,
        "send_hour": 8,
        "timezone": "Europe/Berlin",
        "max_papers": 10,
        "categories": ["cs.CL"],
        "min_upvotes": 0,
        "paused": False,
        "searches": [{"include": "contrastive", "exclude": "medical"}],
    },
    "DELETE /api/v1/me/subscription": {},
    "POST /api/v1/subscriptions": {"email": "walker-api@example.org"},
}
# Values of the wrong type or size for a JSON field.
JSON_HOSTILE: list[Any] = [None, 0, -1, 2**63, 1.5, True, [], {}, ["x"], {"a": 1}, "", "x" * 70_000, "\x00"]
# Every value below is already percent-encoded, as it goes on the wire.
NASTY = [
    "",
    "%C2%B2",
    "%D9%A3",
    "%F0%9D%9F%97",
    "1" * 4301,
    "9" * 20,
    "-1",
    "0",
    "1e309",
    "nan",
    "%00",
    "a%00b",
    "%ff%fe",
    "%C0%AF",
    "%ff%fe%40example.org",
    "x" * 3000,
    "America",
    "Etc",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "%20",
    "%E2%80%AE",
    quote("😀" * 100),
    "%",
    "%zz",
    "+",
    "a" * 300,
]
# The values the sweep tries in each parameter, one at a time, every other parameter left valid.
SWEEP = [
    "%C2%B2",
    "1" * 4301,
    "99999999999999999999",
    "America",
    "a" * 300,
    "%00",
    "%ff%fe",
    "",
    "-1",
    "x" * 3000,
]
# Realistic values of query and form parameters, by name; any other name gets generated values only.
QUERY_VALUES = {
    "page": ["1", "2", "3"],
    "sort": ["trending", "upvotes", "newest"],
    "mode": ["hybrid", "keyword", "vector"],
    "q": [
        "learning",
        quote('author:"Hao Zhang"'),
        quote("diffusion -image"),
        quote("cat:cs.CL"),
        "xyzzyplugh",
    ],
    "welcome": ["1"],
    "frequency": ["daily", "weekly"],
    "weekday": ["0", "6"],
    "send_hour": ["0", "23"],
    "timezone": ["UTC", "Asia%2FTokyo"],
    "max_papers": ["1", "50"],
    "categories": ["cs.CL+cs.LG"],
    "min_upvotes": ["0", "5"],
    "paused": ["on"],
    "include": ["learning"],
    "exclude": ["medical"],
    "email": ["fuzz%40example.org"],
    "List-Unsubscribe": ["One-Click"],
}


def _enc(text: str) -> str:
    return quote(text, safe="")


def _generated(realistic: list[str]) -> st.SearchStrategy[str]:
    """A parameter value: realistic, hostile or any text (no surrogates: they cannot be sent)."""
    options = [st.sampled_from(NASTY), st.text(max_size=40).map(_enc)]
    if realistic:
        options.insert(0, st.sampled_from(realistic))
    return st.one_of(options)


@dataclass
class Plan:
    """How to exercise one route and method."""

    method: str
    path_format: str
    path_params: list[str]
    query_params: list[str]
    static_files: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path_format}"


class Unwalkable(Exception):
    """A route the walker has no way to exercise."""


def _query_params(dependant: Any) -> list[str]:
    """The query parameters a route declares, those of its dependencies too."""
    names = [p.alias for p in dependant.query_params]
    for sub in dependant.dependencies:
        names += [n for n in _query_params(sub) if n not in names]
    return names


def plans_of(routes: list[BaseRoute]) -> list[Plan | Unwalkable]:
    """One Plan per route and method (GET covers HEAD), or an Unwalkable saying what is missing."""
    plans: list[Plan | Unwalkable] = []
    for route in site_routes(routes):
        if isinstance(route, Mount) and isinstance(route.app, StaticFiles):
            directory = Path(str(route.app.directory))
            files = sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
            plans.append(Plan("GET", route.path + "/{path}", ["path"], [], files))
        elif isinstance(route, APIRoute | Route):
            params = list(route.param_convertors)
            query = _query_params(route.dependant) if isinstance(route, APIRoute) else []
            for method in sorted((route.methods or set()) - {"HEAD"}):
                if method not in METHODS:
                    plans.append(
                        Unwalkable(f"{method} {route.path}: the walker sends only {sorted(METHODS)}")
                    )
                else:
                    plans.append(Plan(method, route.path_format, params, query))
        else:
            plans.append(Unwalkable(f"{route!r}: a kind of route the walker does not know"))
    return plans


def _route_table() -> list[Plan | Unwalkable]:
    # The same create_app as the fixture's (the demo mailbox included), to name the tests at collection.
    app = create_app(Settings(database_url="sqlite://"), Database("sqlite://"), mailbox=Path("unused"))
    return plans_of(app.routes)


ROUTE_TABLE = _route_table()


class _Forms(HTMLParser):
    """The POST forms of a page: action → [(name, value)] as a browser would send them untouched."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, list[tuple[str, str]]] = {}
        self._fields: list[tuple[str, str]] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._fields = self.forms.setdefault(a.get("action", ""), [])
        elif self._fields is None or "name" not in a:
            if tag == "option" and self._fields is not None and self._select is not None:
                self._fields.append((self._select, a.get("value", "")))
                self._select = None
        elif tag == "select":
            self._select = a["name"]
        elif tag in ("input", "textarea") and (a.get("type") != "checkbox" or "checked" in a):
            self._fields.append((a["name"], a.get("value", "on" if a.get("type") == "checkbox" else "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._fields = None


@dataclass
class Site:
    """The app under test with what the walker knows of it."""

    client: TestClient
    db: Database
    settings: Settings
    path_values: dict[str, list[str]]
    plans: list[Plan | Unwalkable]
    manage_token: str = ""
    confirm_token: str = ""
    account_confirm_token: str = ""
    reset_token: str = ""
    email_change_token: str = ""
    subscribers: int = 0
    admin: Member | None = None  # the walker's own account (walk_as_admin)
    author: Member | None = None  # another member, whose comments the walker flags and moderates
    flagger: Member | None = None  # a third member, who flags them

    def new_subscriber(self, sign_in: bool = True) -> None:
        """Tokens of a new subscriber (a route's test may unsubscribe the previous one), and a new
        member, signed in when asked, with the tokens of their mails (a route's test may sign out, or
        use the single-use reset link)."""
        self.subscribers += 1
        email = f"walker{self.subscribers}@example.org"
        self.manage_token, self.confirm_token = _subscriber_tokens(self.db, self.settings, email)
        self.account_confirm_token, self.reset_token, session = _member_tokens(
            self.db, self.settings, f"walker{self.subscribers}", sign_in
        )
        if session:
            self.client.cookies.set("dp_session", session, domain="testserver.local")

    @property
    def tokens(self) -> list[str]:
        """Every kind of valid link token the site has made."""
        return [
            self.manage_token,
            self.confirm_token,
            self.account_confirm_token,
            self.reset_token,
            self.email_change_token,
        ]

    def token_for(self, path: str) -> str:
        """The valid token of a path's links."""
        if path.startswith("/account/email"):
            return self.email_change_token
        if path.startswith("/account"):
            return self.account_confirm_token
        return self.reset_token if path.startswith("/reset") else self.manage_token

    def walk_as_admin(self, plan: Plan) -> None:
        """Sign the browser in (a new session) as the walker's confirmed admin, who sees every form of
        the site, and make the targets `plan` changes (a comment of the right kind, a member to ban or
        unban, a submission to remove, an address-change link); the resend-confirmation route keeps
        the unconfirmed member of new_subscriber, the only one offered it."""
        now = datetime.now(UTC)
        admin = self.admin
        assert admin is not None and self.author is not None and self.flagger is not None
        if plan.path_format.startswith("/account/email"):
            # An address-change link of an admin of its own (account mails are throttled per member).
            name = f"walkeradmin{self.subscribers}"
            admin = accounts.create_user(
                self.db, self.settings, name, f"{name}@example.org", WALKER_PASSWORD, "admin", now
            )
            self.email_change_token = _email_change_token(self.db, self.settings, admin.id, name, now)
        if plan.path_format != "/account/confirm/resend":
            with self.db.write() as conn:  # the wrong passwords of earlier routes' hostile forms
                conn.execute(sign_in_attempts.delete())
                if plan.path_format == "/account/digest":  # offered only to a member not subscribed
                    conn.execute(subscribers.delete().where(subscribers.c.user_id == admin.id))
            session = accounts.sign_in(
                self.db, self.settings, admin.username, WALKER_PASSWORD, "walker-fixture", now
            )
            self.client.cookies.set("dp_session", session, domain="testserver.local")
        paper = self.path_values["arxiv_id"][0]
        if "{comment_id}" in plan.path_format:
            mine = plan.path_format.endswith(("/edit", "/delete")) and "/moderation/" not in plan.path_format
            comment = comments.post_comment(
                self.db, self.settings, admin if mine else self.author, paper, "A comment, $x^2$.", None, now
            )
            if plan.path_format.endswith("/restore"):
                moderation.hide_comment(self.db, self.settings, admin, comment.id, "walker", now)
            if plan.path_format.endswith("/dismiss"):
                comments.flag_comment(self.db, self.settings, self.flagger, comment.id, "spam", "", now)
            self.path_values["comment_id"] = [str(comment.id), "1", "2147483647"]
        if "{username}" in plan.path_format:
            target = f"walkertarget{self.subscribers}"
            accounts.create_user(
                self.db, self.settings, target, f"{target}@example.org", WALKER_PASSWORD, "member", now
            )
            if plan.path_format.endswith("/unban"):
                moderation.ban_member(self.db, self.settings, admin, target, "walker", None, now)
            self.path_values["username"] = [target, "walkerbystander", "WalkerBystander"]
        if "{token_id}" in plan.path_format:
            # A spare token to revoke: never the walker's own, which every API request carries.
            spare = api_tokens.create_token(self.db, self.settings, admin, "spare", "read", now).token.id
            self.path_values["token_id"] = [str(spare), "2147483647"]
        if "{day}" in plan.path_format:
            day = now.date()
            with self.db.write() as conn:
                entry = (feed_entries.c.feed_date == day) & (feed_entries.c.arxiv_id == paper)
                conn.execute(feed_entries.delete().where(entry))
                conn.execute(
                    feed_entries.insert().values(
                        feed_date=day,
                        arxiv_id=paper,
                        featured_by="user:walkerauthor",
                        featured_at=now,
                        submitted_by=self.author.id,
                    )
                )
            self.path_values["day"] = [day.isoformat(), "2026-02-30", "1999-01-01"]


def _subscriber_tokens(db: Database, settings: Settings, email: str) -> tuple[str, str]:
    """A subscriber's (manage, confirm) tokens, made as the app makes them."""
    signer = site_signer(db, settings)
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    with db.write() as conn:
        subs.subscribe(conn, signer, settings, email, now)
        sub = conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).one()
    confirm = parse_qs(urlsplit(subs.confirm_url(signer, settings.site_url, sub)).query)["token"][0]
    return subs.manage_token(signer, sub), confirm


def _email_change_token(
    db: Database, settings: Settings, member_id: int, username: str, now: datetime
) -> str:
    """The token of the link that confirms a new address of a member, taken from the mail queued."""
    signer = site_signer(db, settings)
    accounts.request_email_change(
        db, settings, signer, member_id, f"{username}.new@example.org", WALKER_PASSWORD, now
    )
    with db.read() as conn:
        body = conn.execute(
            sa.select(outbox.c.body_text).where(outbox.c.to_addr == f"{username}.new@example.org")
        ).scalar_one()
    found = re.search(r"/account/email/confirm\?token=(\S+)", body)
    assert found, body
    return unquote(found.group(1))


def _member_tokens(db: Database, settings: Settings, username: str, sign_in: bool) -> tuple[str, str, str]:
    """A new member's (confirm link, reset link, session) tokens, taken from the mails the site
    queued, and a session signed in from an address of its own (so the walker's failed sign-ins
    never throttle it)."""
    signer = site_signer(db, settings)
    now = datetime.now(UTC)
    accounts.sign_up(db, settings, signer, username, f"{username}@example.org", WALKER_PASSWORD, now)
    accounts.request_reset(db, settings, signer, f"{username}@example.org", now)
    with db.read() as conn:
        bodies = dict(
            conn.execute(
                sa.select(outbox.c.kind, outbox.c.body_text).where(
                    outbox.c.to_addr == f"{username}@example.org"
                )
            ).all()
        )
    confirm = re.search(r"/account/confirm\?token=(\S+)", bodies["account-confirm"])
    reset = re.search(r"/reset/confirm\?token=(\S+)", bodies["password-reset"])
    assert confirm and reset
    session = (
        accounts.sign_in(db, settings, username, WALKER_PASSWORD, "walker-fixture", now) if sign_in else ""
    )
    return unquote(confirm.group(1)), unquote(reset.group(1)), session


def _old_style_paper_on_the_feed(db: Database, day: date, now: datetime) -> None:
    """hep-th/9901001 on the feed's newest day, so its page and its vote button exist."""
    with db.write() as conn:
        row = dict(conn.execute(sa.select(papers).limit(1)).mappings().one())
        row.update(arxiv_id="hep-th/9901001", title="An old-style paper", trending_score=1e6, vote_count=0)
        conn.execute(papers.insert().values(**row))
        conn.execute(
            feed_entries.insert().values(
                feed_date=day, arxiv_id="hep-th/9901001", featured_by="walker", featured_at=now
            )
        )


@pytest.fixture(scope="module")
def site(demo_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo app with its mailbox, a subscriber, and realistic values for every path parameter."""
    folder = tmp_path_factory.mktemp("mail") / "Maildir"
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "site@example.org", "reader@example.org", "Confirm"
    mail["Date"] = "Wed, 01 Jul 2026 12:00:00 +0000"
    mail.set_content("Open http://testserver/subscribe/confirm?token=x")
    mail.add_alternative("<p><a href='http://testserver/'>Confirm</a></p>", subtype="html")
    key = mailbox.Maildir(folder, create=True).add(mail)
    settings = Settings(
        database_url=demo_db.url,
        page_size=30,
        comment_rate_limit=100_000,
        submit_max_age_days=0,
        submit_daily_cap=100_000,
        api_tokens_per_member=100_000,
        api_rate_limit_address="1000000/minute",
        api_rate_limit_token="1000000/minute",
    )
    app = create_app(settings, demo_db, mailbox=folder)
    with TestClient(app, raise_server_exceptions=False) as client:
        feed = client.get("/index.json").json()
        day = date.fromisoformat(feed["key"])
        week = "{}-W{:02d}".format(*day.isocalendar()[:2])
        ids = [p["arxiv_id"] for p in feed["papers"][:3]]
        path_values = {
            "arxiv_id": [*ids, f"{ids[0]}.json", f"{ids[0]}v1", f"{ids[0]}v99", "2606.31315"],
            "kind": ["date", "week", "month", "hep-th"],
            "key": [day.isoformat(), f"{day.isoformat()}.json", week, day.isoformat()[:7], key],
            "archive": ["hep-th", "math"],
            "number": ["9901001", "0101001v2"],
            # Made for each route by Site.walk_as_admin; these are the fallbacks of generated values.
            "comment_id": ["1", "2147483647"],
            "username": ["walkerbystander", "WalkerBystander"],  # never the author: it may be banned
            "day": [day.isoformat(), "2026-02-30"],
            "token_id": ["2147483647"],
            "category": ["cs.CL", "cs.LG", "math.AG", "hep-th"],
        }
        now = datetime.now(UTC)
        author, flagger, admin = (
            accounts.create_user(demo_db, settings, n, f"{n}@example.org", WALKER_PASSWORD, role, now)
            for n, role in (("walkerauthor", "member"), ("walkerflagger", "member"), ("walkeradmin", "admin"))
        )
        accounts.create_user(
            demo_db,
            settings,
            "walkerbystander",
            "walkerbystander@example.org",
            WALKER_PASSWORD,
            "member",
            now,
        )
        _old_style_paper_on_the_feed(demo_db, day, now)
        # Every request carries the walker admin's write token (the APIs read it, the pages ignore it);
        # the hostile requests also go without it, or with a forged one.
        token = api_tokens.create_token(demo_db, settings, admin, "walker", "write", now).secret
        client.headers["authorization"] = f"Bearer {token}"
        # The first search in each mode loads the embedder and the vector index: not a request's cost.
        for mode in ("hybrid", "keyword", "vector"):
            assert client.get(f"/search?q=learning&mode={mode}").status_code == 200
        yield Site(
            client,
            demo_db,
            settings,
            path_values,
            plans_of(app.routes),
            admin=admin,
            author=author,
            flagger=flagger,
        )


def _forms_for(site: Site, action: str) -> list[list[tuple[str, str]]]:
    """Every form posting to `action` that a GET route renders, crawled with realistic values and
    the subscriber's tokens; each form as a browser would send it (CSRF token and cookie included)."""
    found = []
    for plan in site.plans:
        if not isinstance(plan, Plan) or plan.method != "GET" or plan.static_files:
            continue
        path = plan.path_format
        for name in plan.path_params:
            path = path.replace("{" + name + "}", site.path_values[name][0])
        for token in site.tokens:
            query = f"?token={token}" if "token" in plan.query_params else ""
            response = site.client.get(path + query)
            if "html" in response.headers.get("content-type", ""):
                parser = _Forms()
                parser.feed(response.text)
                found += [f for a, f in parser.forms.items() if a == action]
    return found


@dataclass
class Sent:
    """One request as sent, and how it went."""

    method: str
    url: str
    body: bytes | None = None
    content_type: str | None = None
    status: int = 0
    seconds: float = 0.0
    body_length: int = 0

    headers: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        # The start and the end of the body: the sweep puts the value it tries last.
        shown = (
            self.body
            if self.body is None or len(self.body) <= 300
            else self.body[:120] + b"..." + self.body[-120:]
        )
        body = "" if self.body is None else f" body[{len(self.body)}]={shown!r}"
        return f"{self.method} {self.url[:200]}{body} → {self.status} in {self.seconds:.2f} s"


def send(client: TestClient, request: Sent) -> Sent:
    """Send `request`, recording its status and time."""
    headers = {"content-type": request.content_type} if request.content_type else {}
    headers.update(request.headers)
    started = time.perf_counter()
    response = client.request(request.method, request.url, content=request.body, headers=headers)
    request.seconds = time.perf_counter() - started
    request.status, request.body_length = response.status_code, len(response.content)
    return request


def fault(request: Sent) -> str | None:
    """What is wrong with an answer, or None."""
    if request.status >= 500:
        return "5xx"
    if request.seconds > SLOWEST_S:
        return f"slower than {SLOWEST_S} s"
    if request.method == "HEAD" and request.body_length:
        return "HEAD answered with a body"
    return None


def _plan(site: Site, plan_id: str) -> Plan:
    """The route's plan; fails for a route the walker cannot exercise, or that the app lost."""
    for plan in site.plans:
        if isinstance(plan, Unwalkable) and str(plan).startswith(plan_id):
            pytest.fail(str(plan))
        if isinstance(plan, Plan) and plan.id == plan_id:
            missing = [p for p in plan.path_params if p not in site.path_values and not plan.static_files]
            if missing:
                pytest.fail(
                    f"{plan_id}: no generator for path parameter(s) {missing}: add them to path_values"
                )
            return plan
    pytest.fail(f"{plan_id} is no longer in the app's route table")


def is_api_write(plan: Plan) -> bool:
    """A write of the APIs: a JSON body (or none) and a token, not a form."""
    return plan.path_format.startswith("/api/") and plan.method in ("POST", "PUT", "DELETE")


def api_body(plan: Plan) -> dict[str, Any] | None:
    """The valid JSON body of an API write (None: the route takes no body); fails for a route without one."""
    if plan.id not in API_BODIES:
        pytest.fail(f"{plan.id}: an API write without a valid body in API_BODIES")
    return API_BODIES[plan.id] or None


def json_sent(method: str, url: str, body: Any, headers: dict[str, str] | None = None) -> Sent:
    """A request with a JSON body (or none)."""
    if body is None:
        return Sent(method, url, headers=headers or {})
    return Sent(method, url, json.dumps(body).encode(), "application/json", headers=headers or {})


NO_TOKEN = [{"authorization": ""}, {"authorization": "Bearer dp_forged"}, {"authorization": "Basic eDp5"}]


def api_write_requests(plan: Plan, path: dict[str, str], query: list[tuple[str, str]]) -> list[Sent]:
    """The sweep of an API write: the valid body; each field hostile or of the wrong type; no body, a
    body that is not JSON or not an object, an oversized one; and no token or a forged one."""
    body = api_body(plan)
    url = _url(plan, path, query)
    sent = [json_sent(plan.method, url, body)]
    for name in body or {}:
        for value in [*(unquote(v) for v in SWEEP), *JSON_HOSTILE]:
            sent.append(json_sent(plan.method, url, {**(body or {}), name: value}))
        sent.append(json_sent(plan.method, url, {k: v for k, v in (body or {}).items() if k != name}))
    sent += [
        Sent(plan.method, url, b"{not json", "application/json"),
        Sent(plan.method, url, b"[1, 2]", "application/json"),
        Sent(plan.method, url, b"\xff\xfe", "application/json"),
        Sent(plan.method, url, _encode([("body", "x")]), "application/x-www-form-urlencoded"),
        json_sent(plan.method, url, {**(body or {}), "big": "x" * 70_000}),
        json_sent(plan.method, url, {f"f{i}": 1 for i in range(201)}),
    ]
    sent += [json_sent(plan.method, url, body, headers) for headers in NO_TOKEN]
    return sent


def _url(plan: Plan, path: dict[str, str], query: list[tuple[str, str]]) -> str:
    url = plan.path_format
    for name, value in path.items():
        url = url.replace("{" + name + "}", value)
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")


def _encode(pairs: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{k}={v}" for k, v in pairs).encode()


def _baseline(
    site: Site, plan: Plan
) -> tuple[dict[str, str], list[tuple[str, str]], list[tuple[str, str]] | None]:
    """A valid request of the route, for a new subscriber: path values, query and (for POST) the
    form a page renders."""
    site.new_subscriber(sign_in=plan.path_format == "/account/confirm/resend")
    site.walk_as_admin(plan)
    path = {p: (plan.static_files or site.path_values[p])[0] for p in plan.path_params}
    query = [(q, QUERY_VALUES[q][0]) for q in plan.query_params if q in QUERY_VALUES]
    if "token" in plan.query_params:
        query.append(("token", site.token_for(plan.path_format)))
    if plan.method not in ("POST", "PUT", "DELETE") or is_api_write(plan):
        return path, query, None
    forms = _forms_for(site, _url(plan, path, []))
    if not forms:
        pytest.fail(
            f"{plan.id}: no page renders a form that posts here, so the walker has no valid form to start from"
        )
    return path, query, [(k, _enc(v)) for k, v in forms[0]]


ROUTE_IDS = [p.id if isinstance(p, Plan) else str(p).split(":")[0] for p in ROUTE_TABLE]


@pytest.mark.parametrize("plan_id", ROUTE_IDS)
def test_one_hostile_value_at_a_time(site: Site, plan_id: str) -> None:
    """Each parameter in turn gets each SWEEP value, the others valid; then 201 fields, an
    oversized body and an overlong address. Every failure is listed at once."""
    plan = _plan(site, plan_id)
    path, query, form = _baseline(site, plan)
    requests: list[Sent] = []

    def add(
        path_: dict[str, str],
        query_: list[tuple[str, str]],
        form_: list[tuple[str, str]] | None,
        method: str = plan.method,
    ) -> None:
        body = None if form_ is None else _encode(form_)
        requests.append(
            Sent(
                method,
                _url(plan, path_, query_),
                body,
                "application/x-www-form-urlencoded" if body is not None else None,
            )
        )

    if is_api_write(plan):
        requests += api_write_requests(plan, path, query)
        body = api_body(plan)
        for name in path:
            for value in SWEEP:
                requests.append(json_sent(plan.method, _url(plan, {**path, name: value}, query), body))
        failures = [
            f"{fault(r)}: {r.describe()}" for r in (send(site.client, r) for r in requests) if fault(r)
        ]
        assert not failures, f"{len(failures)} of {len(requests)} requests failed:\n" + "\n".join(failures)
        return
    add(path, query, form)
    if plan.method == "GET":
        add(path, query, form, "HEAD")
    for name in path:
        for value in SWEEP:
            add({**path, name: value}, query, form)
    names = list(dict.fromkeys([*plan.query_params, *(k for k, _ in query)]))
    for name in names:
        for value in SWEEP:
            add(path, [(k, v) for k, v in query if k != name] + [(name, value)], form)
    add(path, query + [(f"f{i}", "1") for i in range(201)], form)
    add(path, query + [("q", "x" * 9000)], form)
    if form is not None:
        for name in dict.fromkeys(k for k, _ in form):
            for value in SWEEP:
                add(path, query, [(k, v) for k, v in form if k != name] + [(name, value)])
        add(path, query, form + [(f"f{i}", "1") for i in range(201)])
        add(path, query, form + [("include", "learning")] * 201)
        add(path, query, form + [("big", "x" * 70_000)])
        add(path, query, [(k, v) for k, v in form if k != "csrf_token"])
    failures = [f"{fault(r)}: {r.describe()}" for r in (send(site.client, r) for r in requests) if fault(r)]
    assert not failures, f"{len(failures)} of {len(requests)} requests failed:\n" + "\n".join(failures)


@st.composite
def hostile_requests(draw: st.DrawFn, site: Site, plan: Plan, form: list[tuple[str, str]] | None) -> Sent:
    """A request of `plan` with generated path, query and form values, with and without a valid CSRF token."""
    path = {p: draw(_generated(plan.static_files or site.path_values[p])) for p in plan.path_params}
    tokens = site.tokens
    query: list[tuple[str, str]] = []
    for name in plan.query_params:
        realistic = tokens if name == "token" else QUERY_VALUES.get(name, [])
        if draw(st.booleans()):
            query.append((name, draw(_generated(realistic))))
    if draw(st.integers(0, 9)) == 0:
        query += [(f"x{i}", "1") for i in range(draw(st.sampled_from([5, 201])))]
    method = plan.method if plan.method != "GET" else draw(st.sampled_from(["GET", "HEAD"]))
    headers = draw(st.sampled_from([{}, {}, *NO_TOKEN]))
    if is_api_write(plan):
        valid = api_body(plan) or {}
        json_values = st.one_of(
            st.sampled_from(JSON_HOSTILE),
            st.text(max_size=40),
            st.integers(),
            st.sampled_from(list(valid.values()) or [""]),
        )
        body = draw(st.dictionaries(st.sampled_from([*valid, "x"]), json_values, max_size=4))
        return json_sent(
            method, _url(plan, path, query), draw(st.sampled_from([body, {**valid, **body}])), headers
        )
    if form is None:
        return Sent(
            method, _url(plan, path, query), headers=headers if plan.path_format.startswith("/api/") else {}
        )
    fields = []
    csrf = draw(st.sampled_from(["valid", "missing", "forged"]))
    for name, value in form:
        if name == "csrf_token":
            fields += {"valid": [(name, value)], "missing": [], "forged": [(name, "forged")]}[csrf]
        elif name == "token":
            fields.append((name, draw(st.sampled_from([*tokens, *NASTY]))))
        elif draw(st.booleans()):
            fields.append((name, draw(_generated(QUERY_VALUES.get(name, [value])))))
    for name in draw(st.lists(st.sampled_from(sorted(QUERY_VALUES)), max_size=3)):
        fields.append((name, draw(_generated(QUERY_VALUES[name]))))
    if draw(st.integers(0, 9)) == 0:
        fields += [("include", "learning")] * draw(st.sampled_from([20, 201, 400]))
    content_type = draw(
        st.sampled_from(
            ["application/x-www-form-urlencoded"] * 4
            + ["multipart/form-data; boundary=x", "application/json", "text/plain; charset=utf-8", None]
        )
    )
    return Sent(method, _url(plan, path, query), _encode(draw(st.permutations(fields))), content_type)


@pytest.mark.parametrize("plan_id", ROUTE_IDS)
def test_generated_values(site: Site, plan_id: str) -> None:
    """Hypothesis: generated values in every parameter of the route, about 15 requests a route."""
    plan = _plan(site, plan_id)
    form = _baseline(site, plan)[2]

    @settings(
        max_examples=15,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(hostile_requests(site, plan, form))
    def answers_without_fault(request: Sent) -> None:
        problem = fault(send(site.client, request))
        assert problem is None, f"{problem}: {request.describe()}"

    answers_without_fault()


def test_every_route_is_walked() -> None:
    """The route table has no route the walker cannot exercise (a new route without a plan fails here)."""
    unwalkable = [str(p) for p in ROUTE_TABLE if isinstance(p, Unwalkable)]
    assert not unwalkable, "\n".join(unwalkable)
    assert {re.sub(r"\{.*", "", p.path_format) for p in ROUTE_TABLE if isinstance(p, Plan)} >= {
        "/",
        "/search",
        "/subscribe",
    }
