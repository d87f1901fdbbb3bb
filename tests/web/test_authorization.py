"""The authorization matrix: every route of the app × {anonymous, member, another member, moderator,
admin, banned member, reader} → the expected outcome.

The rows are checked against the app's own route table: a route without a row (or a row without a
route) fails the suite, so a new page cannot ship without someone deciding who may use it. Each cell is
a real request through the app, with a valid CSRF token and realistic values, on fresh targets (a new
comment for each cell that could change one), on SQLite and PostgreSQL.

Outcomes: OK (2xx, or a redirect anywhere but the sign-in page), SIGNIN (a redirect to /signin, or 401
for JSON), BAD (400: a forged link token, refused alike for everyone), FORBIDDEN (403), NOTFOUND (404). "member" is the author/owner of the targets the row makes;
"other" is another confirmed member; "banned" has a session cookie from before the ban (a ban ends the
sessions, so the browser is signed out); "reader" is a confirmed member whose API token is read-only.

On the pages each role is a browser with its session cookie. On the APIs (/api/...) each role is a
script with its own API token instead (`Authorization: Bearer`): write tokens for member, other,
moderator and admin, a read-only token for the reader, a token made before the ban for the banned
member, and none for anonymous; the APIs never take the session cookie.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from starlette.routing import Mount

from dailypapers.core.settings import Settings
from dailypapers.services import accounts, moderation
from dailypapers.services import api_tokens as api_token_service
from dailypapers.services.schemas import Member
from dailypapers.services.subscriptions import CSRF, signer
from dailypapers.store.db import Database
from dailypapers.store.tables import comment_flags, comments, feed_entries, papers
from dailypapers.web.app import create_app, site_routes

ROLES = ("anonymous", "member", "other", "moderator", "admin", "banned", "reader")
OK, SIGNIN, BAD, FORBIDDEN, NOTFOUND = "ok", "signin", "400", "403", "404"
PASSWORD = "correct horse battery staple 42"
NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
CSRF_COOKIE = "matrix-csrf-cookie-value-0123456789abcdef"


@dataclass
class World:
    """The app, one browser per role, and factories for fresh targets."""

    db: Database
    settings: Settings
    clients: dict[str, TestClient]
    users: dict[str, int]
    paper: str
    day: str
    token: str
    api_tokens: dict[str, str] = field(default_factory=dict)  # role → its API token's secret
    counter: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def fresh(self) -> int:
        self.counter += 1
        return self.counter

    def comment(self, by: str = "member", parent: int | None = None) -> int:
        """A new comment by `by` on the world's paper (inserted as the comments service stores it)."""
        with self.db.write() as conn:
            result = conn.execute(
                comments.insert().values(
                    arxiv_id=self.paper,
                    user_id=self.users[by],
                    parent_id=parent,
                    depth=0 if parent is None else 1,
                    body=f"comment {self.fresh()} about $x^2$",
                    created_at=NOW,
                )
            )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def hidden_comment(self) -> int:
        """A new comment by the member, hidden by the moderator."""
        cid = self.comment()
        with self.db.write() as conn:
            conn.execute(
                comments.update()
                .where(comments.c.id == cid)
                .values(hidden_at=NOW, hidden_by=self.users["moderator"], hidden_reason="matrix")
            )
        return cid

    def flagged_comment(self) -> int:
        """A new comment by the member, flagged by the other member."""
        cid = self.comment()
        with self.db.write() as conn:
            conn.execute(
                comment_flags.insert().values(
                    comment_id=cid, user_id=self.users["other"], reason="spam", note="", created_at=NOW
                )
            )
            conn.execute(comments.update().where(comments.c.id == cid).values(flag_count=1))
        return cid

    def spare_token(self) -> int:
        """A new read token of the member, to revoke."""
        member = self.extra["members"]["member"]
        return api_token_service.create_token(self.db, self.settings, member, "spare", "read", NOW).token.id

    def with_digest(self, role: str, cell: Cell) -> Cell:
        """`cell`, after the role's member subscribed to the digest through the API (a write token)."""
        if role in self.api_tokens and role not in ("reader", "banned"):
            answer = self.clients["anonymous"].put(
                "/api/v1/me/subscription",
                json={"frequency": "daily"},
                headers={"Authorization": f"Bearer {self.api_tokens[role]}"},
            )
            assert answer.status_code == 200, answer.text
        return cell

    def target_member(self, banned: bool = False) -> str:
        """A new member to ban or unban."""
        name = f"target{self.fresh()}"
        accounts.create_user(self.db, self.settings, name, f"{name}@example.org", PASSWORD, "member", NOW)
        if banned:
            moderation.operator_ban(self.db, name, "matrix", None, NOW)
        return name

    def stored_paper(self, arxiv_id: str | None = None) -> str:
        """A new paper in the store, on no feed day (a copy of the world's paper under a new id)."""
        arxiv_id = arxiv_id or f"2607.{self.fresh():05d}"
        with self.db.write() as conn:
            row = dict(
                conn.execute(sa.select(papers).where(papers.c.arxiv_id == self.paper)).mappings().one()
            )
            row.update(arxiv_id=arxiv_id, first_featured_at=None, vote_count=0, comment_count=0)
            conn.execute(papers.insert().values(**row))
        return arxiv_id

    def submission(self, by: str = "member") -> tuple[str, str]:
        """The world's paper submitted by `by` to a fresh day: (day, arxiv_id)."""
        day = (NOW.date() - timedelta(days=100 + self.fresh())).isoformat()
        with self.db.write() as conn:
            conn.execute(
                feed_entries.insert().values(
                    feed_date=datetime.fromisoformat(day).date(),
                    arxiv_id=self.paper,
                    featured_by="user:member",
                    featured_at=NOW,
                    submitted_by=self.users[by],
                )
            )
        return day, self.paper


@dataclass
class Cell:
    """One request: method, path (formatted), form fields (POST), a JSON body (the APIs) and headers."""

    method: str
    path: str
    form: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None


Prepare = Callable[[World, str], Cell]


def get(path: str) -> Prepare:
    return lambda w, role: Cell("GET", path.format(paper=w.paper, day=w.day))


def post(path: str, **form: str) -> Prepare:
    return lambda w, role: Cell("POST", path.format(paper=w.paper, day=w.day), dict(form))


def api(method: str, path: str, json: dict[str, Any] | None = None) -> Prepare:
    """An API request with the role's token (none for anonymous)."""
    return lambda w, role: Cell(method, path.format(paper=w.paper, day=w.day), json=json)


def tokens(outcome: str, read_only: str = FORBIDDEN) -> dict[str, str]:
    """An API write: `outcome` for write tokens, 403 for the read-only token and the banned member's,
    401 (SIGNIN) without a token."""
    return {
        **dict.fromkeys(ROLES, outcome),
        "anonymous": SIGNIN,
        "banned": FORBIDDEN,
        "reader": read_only,
    }


def everyone(outcome: str) -> dict[str, str]:
    return dict.fromkeys(ROLES, outcome)


def signed_in(outcome: str, others: str = SIGNIN) -> dict[str, str]:
    """`outcome` for every signed-in role; `others` for anonymous and the (signed-out) banned member."""
    return {role: others if role in ("anonymous", "banned") else outcome for role in ROLES}


def moderators(outcome: str = OK) -> dict[str, str]:
    """`outcome` for moderators and admins, 403 for members, sign-in for the signed out."""
    return {
        "anonymous": SIGNIN,
        "banned": SIGNIN,
        "member": FORBIDDEN,
        "other": FORBIDDEN,
        "reader": FORBIDDEN,
        "moderator": outcome,
        "admin": outcome,
    }


# The matrix: "METHOD /path/{param}" exactly as the route table has it → (prepare, expected outcomes).
MATRIX: dict[str, tuple[Prepare, dict[str, str]]] = {
    # Reading is public.
    "GET /openapi.json": (get("/openapi.json"), everyone(OK)),
    "GET /api/docs": (get("/api/docs"), everyone(OK)),
    "GET /favicon.ico": (get("/favicon.ico"), everyone(OK)),
    "GET /healthz": (get("/healthz"), everyone(OK)),
    "GET /readyz": (get("/readyz"), everyone(OK)),
    "GET /static": (get("/static/site.css"), everyone(OK)),
    "GET /api/docs/assets": (get("/api/docs/assets/swagger-ui.css"), everyone(OK)),
    "GET /.json": (get("/.json"), everyone(OK)),
    "GET /index.json": (get("/index.json"), everyone(OK)),
    "GET /": (get("/"), everyone(OK)),
    "GET /papers/date": (get("/papers/date?day={day}"), everyone(OK)),
    "GET /papers/{arxiv_id}/similar.json": (get("/papers/{paper}/similar.json"), everyone(OK)),
    "GET /papers/{arxiv_id}/similar": (get("/papers/{paper}/similar"), everyone(OK)),
    "GET /papers/{archive}/{number}/similar.json": (
        get("/papers/hep-th/9901001/similar.json"),
        everyone(OK),
    ),
    "GET /papers/{archive}/{number}/similar": (get("/papers/hep-th/9901001/similar"), everyone(OK)),
    "GET /papers/{kind}/{key}": (get("/papers/date/{day}"), everyone(OK)),
    "GET /papers/{arxiv_id}": (get("/papers/{paper}"), everyone(OK)),
    "GET /search.json": (get("/search.json?q=learning&mode=keyword"), everyone(OK)),
    "GET /search": (get("/search?q=learning&mode=keyword"), everyone(OK)),
    # Digest subscriptions: anyone with an address; the links' tokens are the authority.
    "GET /subscribe": (get("/subscribe"), everyone(OK)),
    "POST /subscribe": (
        lambda w, role: Cell("POST", "/subscribe", {"email": f"reader{w.fresh()}@example.org"}),
        everyone(OK),
    ),
    "GET /subscribe/confirm": (get("/subscribe/confirm?token=forged"), everyone(BAD)),
    "POST /subscribe/confirm": (post("/subscribe/confirm", token="forged"), everyone(BAD)),
    "GET /subscription": (get("/subscription?token=forged"), everyone(BAD)),
    "POST /subscription": (post("/subscription", token="forged"), everyone(BAD)),
    "GET /unsubscribe": (get("/unsubscribe?token=forged"), everyone(BAD)),
    "POST /unsubscribe": (post("/unsubscribe", token="forged"), everyone(BAD)),
    # Accounts.
    "GET /signup": (get("/signup"), everyone(OK)),
    "POST /signup": (
        lambda w, role: Cell(
            "POST",
            "/signup",
            {"username": f"new{w.fresh()}", "email": f"new{w.counter}@example.org", "password": PASSWORD},
        ),
        everyone(OK),
    ),
    "GET /account/confirm": (get("/account/confirm?token=forged"), everyone(BAD)),
    "POST /account/confirm": (post("/account/confirm", token="forged"), everyone(BAD)),
    "GET /signin": (get("/signin"), everyone(OK)),
    # Each signs in as itself (nobody: a wrong login); the banned member is told of the ban.
    "POST /signin": (
        lambda w, role: Cell(
            "POST",
            "/signin",
            {"login": "nobody" if role == "anonymous" else f"matrix-{role}", "password": PASSWORD},
        ),
        {**signed_in(OK), "anonymous": FORBIDDEN, "banned": FORBIDDEN},
    ),
    "POST /signout": (post("/signout"), everyone(OK)),
    "POST /signout/everywhere": (post("/signout/everywhere"), signed_in(OK)),
    "GET /account": (get("/account"), signed_in(OK)),
    "POST /account": (post("/account", display_name="A name"), signed_in(OK)),
    "GET /reset": (get("/reset"), everyone(OK)),
    "POST /reset": (post("/reset", email="someone@example.org"), everyone(OK)),
    "GET /reset/confirm": (get("/reset/confirm?token=forged"), everyone(BAD)),
    "POST /reset/confirm": (post("/reset/confirm", token="forged", password=PASSWORD), everyone(BAD)),
    # More of the account (only its member; OIDC is not configured here).
    "GET /account/delete": (get("/account/delete"), signed_in(OK)),
    "GET /account/deleted": (get("/account/deleted"), everyone(OK)),
    "GET /account/email/confirm": (get("/account/email/confirm?token=forged"), everyone(BAD)),
    "GET /account/export.json": (get("/account/export.json"), signed_in(OK)),
    "POST /account/confirm/resend": (post("/account/confirm/resend"), signed_in(OK)),
    "POST /account/email": (
        post("/account/email", email="new@example.org", password="wrong password"),
        signed_in(BAD),
    ),
    "POST /account/email/confirm": (post("/account/email/confirm", token="forged"), signed_in(BAD)),
    "POST /account/preferences": (post("/account/preferences", public_votes="on"), signed_in(OK)),
    "POST /account/digest": (post("/account/digest"), signed_in(OK)),
    "POST /account/delete": (post("/account/delete", password="wrong password"), signed_in(BAD)),
    "POST /account/tokens": (post("/account/tokens", name="matrix token", scope="read"), signed_in(OK)),
    # Only its member revokes a token: another member's id is a 404, as an unknown one.
    "POST /account/tokens/{token_id}/revoke": (
        lambda w, role: Cell("POST", f"/account/tokens/{w.spare_token()}/revoke"),
        {**signed_in(NOTFOUND), "member": OK},
    ),
    "GET /signin/oidc": (get("/signin/oidc"), everyone(NOTFOUND)),
    "GET /signin/oidc/callback": (get("/signin/oidc/callback?code=c&state=s"), everyone(BAD)),
    # Comments: members who can act post and flag others' comments; only the author edits or deletes.
    "POST /papers/{arxiv_id}/comments": (post("/papers/{paper}/comments", body="A comment."), signed_in(OK)),
    "GET /comments/{comment_id}/edit": (
        lambda w, role: Cell("GET", f"/comments/{w.comment()}/edit"),
        {**signed_in(FORBIDDEN), "member": OK},
    ),
    "POST /comments/{comment_id}/edit": (
        lambda w, role: Cell("POST", f"/comments/{w.comment()}/edit", {"body": "Edited."}),
        {**signed_in(FORBIDDEN), "member": OK},
    ),
    "POST /comments/{comment_id}/delete": (
        lambda w, role: Cell("POST", f"/comments/{w.comment()}/delete"),
        {**signed_in(FORBIDDEN), "member": OK},
    ),
    "GET /comments/{comment_id}/flag": (
        lambda w, role: Cell("GET", f"/comments/{w.comment()}/flag"),
        {**signed_in(OK), "member": FORBIDDEN},
    ),
    "POST /comments/{comment_id}/flag": (
        lambda w, role: Cell("POST", f"/comments/{w.comment()}/flag", {"reason": "spam", "note": ""}),
        {**signed_in(OK), "member": FORBIDDEN},
    ),
    # Moderation: moderators and admins act; the log is public.
    "GET /moderation": (get("/moderation"), moderators(OK)),
    "GET /moderation.json": (get("/moderation.json"), moderators(OK)),
    "GET /moderation/log": (get("/moderation/log"), everyone(OK)),
    "GET /moderation/log.json": (get("/moderation/log.json"), everyone(OK)),
    "POST /moderation/comments/{comment_id}/hide": (
        lambda w, role: Cell("POST", f"/moderation/comments/{w.comment()}/hide", {"reason": "matrix"}),
        moderators(OK),
    ),
    "POST /moderation/comments/{comment_id}/restore": (
        lambda w, role: Cell(
            "POST", f"/moderation/comments/{w.hidden_comment()}/restore", {"reason": "matrix"}
        ),
        moderators(OK),
    ),
    "POST /moderation/comments/{comment_id}/dismiss": (
        lambda w, role: Cell(
            "POST", f"/moderation/comments/{w.flagged_comment()}/dismiss", {"reason": "matrix"}
        ),
        moderators(OK),
    ),
    "POST /moderation/submissions/{day}/{arxiv_id:path}/remove": (
        lambda w, role: Cell(
            "POST", "/moderation/submissions/{}/{}/remove".format(*w.submission()), {"reason": "matrix"}
        ),
        moderators(OK),
    ),
    "POST /users/{username}/ban": (
        lambda w, role: Cell("POST", f"/users/{w.target_member()}/ban", {"reason": "matrix", "days": "3"}),
        moderators(OK),
    ),
    "POST /users/{username}/unban": (
        lambda w, role: Cell("POST", f"/users/{w.target_member(banned=True)}/unban", {"reason": "matrix"}),
        moderators(OK),
    ),
    # Votes and submissions: members who can act.
    "POST /papers/{arxiv_id}/vote": (post("/papers/{paper}/vote", value="1"), signed_in(OK)),
    "POST /papers/{archive}/{number}/vote": (post("/papers/hep-th/9901001/vote", value="1"), signed_in(OK)),
    "GET /submit": (get("/submit"), signed_in(OK)),
    "POST /submit": (
        lambda w, role: Cell("POST", "/submit", {"arxiv": w.stored_paper(), "comment": ""}),
        signed_in(OK),
    ),
    # The Hub-compatible API: reads are public; submitting takes a write token.
    "GET /api/daily_papers": (api("GET", "/api/daily_papers?date={day}"), everyone(OK)),
    "GET /api/papers/search": (api("GET", "/api/papers/search?q=learning&limit=3"), everyone(OK)),
    "GET /api/papers/{arxiv_id:arxiv}": (api("GET", "/api/papers/{paper}"), everyone(OK)),
    "GET /api/papers/{archive}/{number}": (api("GET", "/api/papers/hep-th/9901001"), everyone(OK)),
    "GET /api/papers/{arxiv_id:arxiv}/comments": (api("GET", "/api/papers/{paper}/comments"), everyone(OK)),
    "GET /api/papers/{archive}/{number}/comments": (
        api("GET", "/api/papers/hep-th/9901001/comments"),
        everyone(OK),
    ),
    "GET /papers/{arxiv_id}.md": (get("/papers/{paper}.md"), everyone(OK)),
    "GET /papers/{archive}/{number}.md": (get("/papers/hep-th/9901001.md"), everyone(OK)),
    "POST /api/papers/submit": (
        lambda w, role: Cell("POST", "/api/papers/submit", json={"paperId": w.stored_paper()}),
        tokens(OK),
    ),
    # API v1: reads are public (a banned member's token is refused where the answer depends on who
    # asks); writes take a write token; "me" takes any token.
    "GET /api/v1/feeds/latest": (api("GET", "/api/v1/feeds/latest?limit=3"), everyone(OK)),
    "GET /api/v1/feeds/{kind}/{key}": (api("GET", "/api/v1/feeds/date/{day}?limit=3"), everyone(OK)),
    "GET /api/v1/search": (api("GET", "/api/v1/search?q=learning&mode=keyword"), everyone(OK)),
    "GET /api/v1/papers/{arxiv_id}": (api("GET", "/api/v1/papers/{paper}"), everyone(OK)),
    "GET /api/v1/papers/{archive}/{number:arxiv_number}": (
        api("GET", "/api/v1/papers/hep-th/9901001"),
        everyone(OK),
    ),
    "GET /api/v1/papers/{arxiv_id}/similar": (api("GET", "/api/v1/papers/{paper}/similar"), everyone(OK)),
    "GET /api/v1/papers/{archive}/{number:arxiv_number}/similar": (
        api("GET", "/api/v1/papers/hep-th/9901001/similar"),
        everyone(OK),
    ),
    "GET /api/v1/papers/{arxiv_id}/comments": (
        api("GET", "/api/v1/papers/{paper}/comments"),
        {**everyone(OK), "banned": FORBIDDEN},
    ),
    "GET /api/v1/papers/{archive}/{number:arxiv_number}/comments": (
        api("GET", "/api/v1/papers/hep-th/9901001/comments"),
        {**everyone(OK), "banned": FORBIDDEN},
    ),
    "POST /api/v1/papers/{arxiv_id}/comments": (
        api("POST", "/api/v1/papers/{paper}/comments", {"body": "A comment, $x^2$."}),
        tokens(OK),
    ),
    "POST /api/v1/papers/{archive}/{number:arxiv_number}/comments": (
        api("POST", "/api/v1/papers/hep-th/9901001/comments", {"body": "A comment."}),
        tokens(OK),
    ),
    "PUT /api/v1/papers/{arxiv_id}/vote": (api("PUT", "/api/v1/papers/{paper}/vote"), tokens(OK)),
    "DELETE /api/v1/papers/{arxiv_id}/vote": (api("DELETE", "/api/v1/papers/{paper}/vote"), tokens(OK)),
    "PUT /api/v1/papers/{archive}/{number:arxiv_number}/vote": (
        api("PUT", "/api/v1/papers/hep-th/9901001/vote"),
        tokens(OK),
    ),
    "DELETE /api/v1/papers/{archive}/{number:arxiv_number}/vote": (
        api("DELETE", "/api/v1/papers/hep-th/9901001/vote"),
        tokens(OK),
    ),
    "POST /api/v1/submissions": (
        lambda w, role: Cell("POST", "/api/v1/submissions", json={"arxiv_id": w.stored_paper()}),
        tokens(OK),
    ),
    "GET /api/v1/members/{username}": (
        api("GET", "/api/v1/members/matrix-member"),
        {**everyone(OK), "banned": FORBIDDEN},
    ),
    "GET /api/v1/members/{username}/submissions": (
        api("GET", "/api/v1/members/matrix-member/submissions"),
        everyone(OK),
    ),
    "GET /api/v1/me": (api("GET", "/api/v1/me"), {**everyone(OK), "anonymous": SIGNIN, "banned": FORBIDDEN}),
    # A member's digest: any token reads it, a write token changes or ends it (made first, so that
    # there is one to read or end).
    "GET /api/v1/me/subscription": (
        lambda w, role: w.with_digest(role, Cell("GET", "/api/v1/me/subscription")),
        {**everyone(OK), "anonymous": SIGNIN, "banned": FORBIDDEN, "reader": NOTFOUND},
    ),
    "PUT /api/v1/me/subscription": (
        api("PUT", "/api/v1/me/subscription", {"frequency": "weekly", "weekday": 0}),
        tokens(OK),
    ),
    "DELETE /api/v1/me/subscription": (
        lambda w, role: w.with_digest(role, Cell("DELETE", "/api/v1/me/subscription")),
        tokens(OK, read_only=FORBIDDEN),
    ),
    "POST /api/v1/subscriptions": (
        lambda w, role: Cell("POST", "/api/v1/subscriptions", json={"email": f"api{w.fresh()}@example.org"}),
        everyone(OK),
    ),
    "GET /api/v1/moderation/log": (api("GET", "/api/v1/moderation/log"), everyone(OK)),
    # Feeds are public.
    "GET /feed.atom": (get("/feed.atom"), everyone(OK)),
    "GET /papers/{arxiv_id}/comments.atom": (get("/papers/{paper}/comments.atom"), everyone(OK)),
    "GET /papers/{archive}/{number}/comments.atom": (
        get("/papers/hep-th/9901001/comments.atom"),
        everyone(OK),
    ),
    "GET /papers/{kind}/{key}.atom": (get("/papers/date/{day}.atom"), everyone(OK)),
    "GET /categories/{category}.atom": (get("/categories/cs.CL.atom"), everyone(OK)),
    "GET /search.atom": (get("/search.atom?q=learning"), everyone(OK)),
    "GET /users/{username}/submissions.atom": (get("/users/matrix-member/submissions.atom"), everyone(OK)),
    "GET /feed.rss": (get("/feed.rss"), everyone(OK)),
    "GET /papers/{arxiv_id}/comments.rss": (get("/papers/{paper}/comments.rss"), everyone(OK)),
    "GET /papers/{archive}/{number}/comments.rss": (get("/papers/hep-th/9901001/comments.rss"), everyone(OK)),
    "GET /papers/{kind}/{key}.rss": (get("/papers/date/{day}.rss"), everyone(OK)),
    "GET /categories/{category}.rss": (get("/categories/cs.CL.rss"), everyone(OK)),
    "GET /search.rss": (get("/search.rss?q=learning"), everyone(OK)),
    "GET /users/{username}/submissions.rss": (get("/users/matrix-member/submissions.rss"), everyone(OK)),
    # Exports are public (a member's upvotes only when the member made them public: 404 otherwise).
    "GET /papers/{arxiv_id}.bib": (get("/papers/{paper}.bib"), everyone(OK)),
    "GET /papers/{kind}/{key}.bib": (get("/papers/date/{day}.bib"), everyone(OK)),
    "GET /search.bib": (get("/search.bib?q=learning&mode=keyword"), everyone(OK)),
    "GET /users/{username}/upvotes.bib": (get("/users/matrix-member/upvotes.bib"), everyone(NOTFOUND)),
    "GET /papers/{arxiv_id}.ris": (get("/papers/{paper}.ris"), everyone(OK)),
    "GET /papers/{kind}/{key}.ris": (get("/papers/date/{day}.ris"), everyone(OK)),
    "GET /search.ris": (get("/search.ris?q=learning&mode=keyword"), everyone(OK)),
    "GET /users/{username}/upvotes.ris": (get("/users/matrix-member/upvotes.ris"), everyone(NOTFOUND)),
    # Member pages and avatars are public.
    "GET /users/{username}": (get("/users/matrix-member"), everyone(OK)),
    "GET /users/{username}/avatar.svg": (get("/users/matrix-member/avatar.svg"), everyone(OK)),
}


# Rows whose request ends the role's session: the sessions are made again after them.
ENDS_SESSIONS = {"POST /signout", "POST /signout/everywhere"}


def _route_ids(app: Any) -> set[str]:
    ids = set()
    for route in site_routes(app.routes):
        if isinstance(route, Mount):
            ids.add(f"GET {route.path}")
            continue
        for method in sorted((getattr(route, "methods", None) or set()) - {"HEAD"}):
            ids.add(f"{method} {route.path}")
    return ids


def outcome(response: Any) -> str:
    """The outcome class of a response (see the module docstring)."""
    location = response.headers.get("location", "")
    if response.status_code in (301, 302, 303, 307, 308) and location.startswith("/signin"):
        return SIGNIN
    if response.status_code == 401:
        return SIGNIN
    if response.status_code in (400, 403, 404):
        return str(response.status_code)
    return OK if response.status_code < 400 else f"status {response.status_code}"


def sign_in_again(world: World) -> None:
    """A new session for each signed-in role (after a row that signed them out)."""
    for role in ROLES:
        if role not in ("anonymous", "banned"):
            session = accounts.sign_in(
                world.db, world.settings, f"matrix-{role}", PASSWORD, f"matrix-{role}", NOW
            )
            world.clients[role].cookies.set("dp_session", session, domain="testserver.local")


@pytest.fixture(scope="module")
def world(demo_db: Database) -> Iterator[World]:
    """The demo app, one signed-in browser per role (the banned one signed in before the ban)."""
    settings = Settings(
        database_url=demo_db.url,
        page_size=30,
        comment_rate_limit=1000,
        api_rate_limit_address="100000/minute",
        api_rate_limit_token="100000/minute",
        submit_daily_cap=1000,
        submit_max_age_days=0,
    )
    app = create_app(settings, demo_db)
    app.state.clock = lambda: NOW
    token = signer(demo_db, settings).sign(CSRF, CSRF_COOKIE)
    users: dict[str, int] = {}
    clients: dict[str, TestClient] = {}
    api_tokens: dict[str, str] = {}
    members: dict[str, Member] = {}
    roles = {
        "member": "member",
        "other": "member",
        "moderator": "moderator",
        "admin": "admin",
        "banned": "member",
        "reader": "member",
    }
    with TestClient(app, base_url="http://testserver.local") as base:
        feed = base.get("/index.json").json()
        for role in ROLES:
            client = TestClient(app, base_url="http://testserver.local", follow_redirects=False)
            client.cookies.set("dp_csrf", CSRF_COOKIE, domain="testserver.local")
            if role != "anonymous":
                name = f"matrix-{role}"
                member = accounts.create_user(
                    demo_db,
                    settings,
                    name,
                    f"{name}@example.org",
                    PASSWORD,
                    roles[role],
                    NOW - timedelta(days=30),
                )
                users[role] = member.id
                members[role] = member
                session = accounts.sign_in(demo_db, settings, name, PASSWORD, f"matrix-{role}", NOW)
                client.cookies.set("dp_session", session, domain="testserver.local")
                scope = "read" if role == "reader" else "write"
                api_tokens[role] = api_token_service.create_token(
                    demo_db, settings, member, f"matrix {role}", scope, NOW
                ).secret
            clients[role] = client
        moderation.operator_ban(demo_db, "matrix-banned", "matrix test", None, NOW)
        world = World(
            demo_db, settings, clients, users, feed["papers"][0]["arxiv_id"], feed["key"], token, api_tokens
        )
        world.extra["members"] = members
        world.stored_paper("hep-th/9901001")
        yield world
        for client in clients.values():
            client.close()


def test_every_route_has_a_row_and_every_row_a_route(world: World) -> None:
    routes = _route_ids(world.clients["anonymous"].app)
    missing = sorted(routes - MATRIX.keys())
    extra = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes without a row in the authorization matrix: {missing}"
    assert not extra, f"rows for routes the app no longer has: {extra}"


@pytest.mark.parametrize("route", sorted(MATRIX))
def test_route_answers_each_role_as_the_matrix_says(world: World, route: str) -> None:
    prepare, expected = MATRIX[route]
    assert set(expected) == set(ROLES), f"{route}: the row must name every role"
    got = {}
    for role in ROLES:
        cell = prepare(world, role)
        client = world.clients[role]
        if cell.path.startswith("/api/") and not cell.path.startswith("/api/docs"):
            # A script with the role's token, and no cookie: the APIs take tokens only.
            headers = dict(cell.headers)
            if role in world.api_tokens:
                headers["Authorization"] = f"Bearer {world.api_tokens[role]}"
            response = world.clients["anonymous"].request(
                cell.method, cell.path, headers=headers, json=cell.json
            )
        elif cell.method == "GET":
            response = client.get(cell.path, headers=cell.headers)
        else:
            form = {**(cell.form or {}), "csrf_token": world.token}
            response = client.post(cell.path, data=form, headers=cell.headers)
        got[role] = outcome(response)
    if route in ENDS_SESSIONS:
        sign_in_again(world)
    assert got == expected, f"{route}: {got}"
