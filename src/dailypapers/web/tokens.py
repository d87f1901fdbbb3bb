"""Personal API tokens on the web side: `api_member` (the gate of every API route that needs a member:
`Authorization: Bearer <token>`), and the account page's forms to create and revoke tokens."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request

from dailypapers.services.errors import Unauthorized
from dailypapers.services.schemas import Member

router = APIRouter()

Scope = Literal["read", "write"]


def api_member(request: Request, scope: Scope = "read", *, required: bool = True) -> Member | None:
    """The member whose token the request carries (`Authorization: Bearer <token>`), checked for
    `scope` (write includes read) and recorded as used. No token: None, or Unauthorized when
    `required`; an unknown, revoked or malformed token: Unauthorized; a read token on a write, or a
    member who may not act (unconfirmed, banned): Forbidden. Never the session cookie: the API takes
    tokens only, so that no cross-site form can use a member's session."""
    raise Unauthorized("API tokens are not implemented yet")
