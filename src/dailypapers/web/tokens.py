"""Personal API tokens on the web side: `api_member` (the gate of every API route that needs a member:
`Authorization: Bearer <token>`), and the account page's forms to create and revoke tokens.

A new token's secret is shown once, on the page that answers the creating POST (never in a URL or a
redirect, and POST answers are not stored: web.security sends Cache-Control no-store); the account
page shows only its prefix afterwards.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import Scope as ASGIScope

from dailypapers.services import api_tokens
from dailypapers.services.errors import BadRequest, Forbidden, Unauthorized
from dailypapers.services.schemas import Member
from dailypapers.web.accounts import member_form, render_account
from dailypapers.web.forms import FormRefused, request_time
from dailypapers.web.render import message_page, render

router = APIRouter()

Scope = Literal["read", "write"]
NO_TOKEN = "This needs an API token: send `Authorization: Bearer <token>` (make one on your account page)."
TokenId = Annotated[int, Path(ge=1, le=api_tokens.MAX_ID, description="The token's id")]


def bearer_token(headers: Headers) -> str | None:
    """The token of a request's Authorization header ("" when it is not a Bearer one), None without."""
    header = headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def api_member(request: Request, scope: Scope = "read", *, required: bool = True) -> Member | None:
    """The member whose token the request carries (`Authorization: Bearer <token>`), checked for
    `scope` (write includes read) and recorded as used. No token: None, or Unauthorized when
    `required`; an unknown, revoked or malformed token: Unauthorized; a read token on a write, or a
    member who may not act (unconfirmed, banned): Forbidden. Never the session cookie: the API takes
    tokens only, so that no cross-site form can use a member's session."""
    secret = bearer_token(request.headers)
    if secret is None:
        if required:
            raise Unauthorized(NO_TOKEN)
        return None
    # One lookup per request and scope, however many times a route asks.
    checked: dict[str, Member] | None = getattr(request.state, "api_members", None)
    if checked is None:
        checked = request.state.api_members = {}
    if scope not in checked:
        db = request.app.state.db
        known: tuple[str, api_tokens.TokenHolder | None] | None = getattr(request.state, "api_token", None)
        holder = known[1] if known and known[0] == secret else api_tokens.token_holder(db, secret)
        checked[scope] = api_tokens.authorize(db, holder, scope, request_time(request))
    return checked[scope]


def remember_holder(scope: ASGIScope, secret: str, holder: api_tokens.TokenHolder | None) -> None:
    """Keep a request's token lookup (made by the rate limits) for api_member, so that a request
    reads its token once."""
    scope.setdefault("state", {})["api_token"] = (secret, holder)


class TokenCreateForm(BaseModel):
    """POST /account/tokens: the token's name and scope."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field("", max_length=api_tokens.MAX_NAME_CHARS * 2)
    scope: Scope = "read"


def _problems(exc: ValidationError) -> str:
    parts = [
        f"token {'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}"
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return "; ".join(dict.fromkeys(parts))


@router.post("/account/tokens", include_in_schema=False)
async def create_token(request: Request) -> Response:
    """Make an API token: a page that shows its secret once; a refusal: the account page, saying why."""
    try:
        member, fields = await member_form(request)
    except FormRefused as exc:
        return message_page(request, "Form not accepted", str(exc), 400)
    state = request.app.state
    try:
        form = TokenCreateForm.model_validate(fields)
        created = await run_in_threadpool(
            api_tokens.create_token,
            state.db,
            state.settings,
            member,
            form.name,
            form.scope,
            request_time(request),
        )
    except ValidationError as exc:
        return await run_in_threadpool(render_account, request, member, error=_problems(exc))
    except (BadRequest, Forbidden) as exc:
        return await run_in_threadpool(render_account, request, member, error=str(exc))
    context = {"title": "Your new API token", "created": created}
    return render(request, "token_created.html", context)


@router.post("/account/tokens/{token_id}/revoke", include_in_schema=False)
async def revoke_token(request: Request, token_id: TokenId) -> Response:
    """Revoke one of the member's tokens, then back to the account page's token list."""
    try:
        member, _ = await member_form(request)
    except FormRefused as exc:
        return message_page(request, "Form not accepted", str(exc), 400)
    state = request.app.state
    await run_in_threadpool(api_tokens.revoke_token, state.db, member, token_id, request_time(request))
    return RedirectResponse("/account#tokens", status_code=303)
