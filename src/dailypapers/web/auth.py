"""Who may do what, for every page that changes something: the request's member (put there by
web.accounts.SessionMember), and the two gates routes call before a service.

- `acting_member(request)`: a signed-in member who may act (a confirmed address, not banned). Nobody
  signed in → SignInNeeded, which the app answers with a redirect to the sign-in page that returns
  to `return_to` (a JSON client gets 401); signed in but unconfirmed → Forbidden (403, in words).
- `moderating_member(request)`: the same, and a moderator or admin, else Forbidden.

Services check again (services.errors.Forbidden): the web gate gives the right answer to a browser,
the service keeps the rule whoever calls it.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request

from dailypapers.services.errors import Forbidden
from dailypapers.services.schemas import Member
from dailypapers.web.forms import request_time


class SignInNeeded(PermissionError):
    """Nobody is signed in; `return_to` is where the sign-in page sends the member back."""

    def __init__(self, return_to: str, pending: dict[str, str] | None = None) -> None:
        super().__init__("Please sign in first.")
        self.return_to = return_to
        self.pending = pending or {}  # an action the sign-in applies (e.g. {"vote": "2401.00001"})

    def signin_url(self) -> str:
        """/signin?next=...(&vote=...): the sign-in page, then back here."""
        url = "/signin?next=" + quote(self.return_to, safe="/")
        for name, value in self.pending.items():
            url += f"&{name}={quote(value, safe='')}"
        return url


def current_member(request: Request) -> Member | None:
    """The signed-in member of this request (web.accounts.SessionMember), or None."""
    member: Member | None = getattr(request.state, "member", None)
    return member


def acting_member(
    request: Request, return_to: str | None = None, pending: dict[str, str] | None = None
) -> Member:
    """The signed-in member who may act now; SignInNeeded (back to `return_to`, default this page)
    or Forbidden otherwise."""
    member = current_member(request)
    if member is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(return_to or (here if request.method == "GET" else "/"), pending)
    now = request_time(request)
    if member.banned_at(now):
        raise Forbidden(f"Your account is banned: {member.ban_reason or 'no reason given'}.")
    if not member.email_confirmed:
        raise Forbidden(
            "Please confirm your address first: open the link in the mail we sent you "
            "(your account page can send it again)."
        )
    return member


def moderating_member(request: Request, return_to: str | None = None) -> Member:
    """A signed-in moderator or admin who may act now; SignInNeeded or Forbidden otherwise."""
    member = acting_member(request, return_to)
    if not member.is_moderator:
        raise Forbidden("Only moderators may do this.")
    return member
