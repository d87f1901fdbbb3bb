"""Account pages: sign up, confirm the address (and send its mail again), sign in and out (here or
everywhere; with a password or through the OpenID Connect provider of the settings), the account page
(display name, preferences, change of address, the digest in one click, export, deletion), password
reset; and the session cookie with the request's current member. A sign-in can carry a pending
upvote (`vote`), applied once signed in.

Forms only, no JavaScript; every POST checks its CSRF token (web.csrf). The session cookie
(`dp_session`) is HttpOnly, SameSite=Lax, Secure when settings.site_url is https, and holds a random
token whose hash alone is stored (services.accounts): a sign-in always makes a new one and ends the
session the browser had, so a token planted before sign-in (session fixation) is worth nothing.
A "return to" parameter (`next`) is followed only when it is a path on this site (safe_return).
Mail links come from settings.site_url; a link only shows a page, and its button makes the change.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from dailypapers.services import accounts, api_tokens, oidc, subscriptions, votes
from dailypapers.services.accounts import AccountError, SignInRefused
from dailypapers.services.errors import BadRequest, Forbidden, NotFound
from dailypapers.services.schemas import Member
from dailypapers.services.subscriptions import InvalidToken
from dailypapers.web.auth import SignInNeeded, current_member
from dailypapers.web.csrf import check_csrf, signer
from dailypapers.web.forms import FormRefused, read_fields, request_time, wake_outbox
from dailypapers.web.render import message_page, render

router = APIRouter()
COOKIE = "dp_session"
OIDC_COOKIE = "dp_oidc"  # the signed state of a sign-in through the provider (services.oidc)
OIDC_PATH = "/signin/oidc"
MAX_VOTE_CHARS = 64
MAX_FORM_FIELDS = 20
MAX_TOKEN_CHARS = 2000
MAX_NEXT_CHARS = 2000
TokenQuery = Annotated[str, Query(max_length=MAX_TOKEN_CHARS)]
NextQuery = Annotated[str, Query(max_length=MAX_NEXT_CHARS)]
FIELD_LABELS = {"username": "username", "email": "address", "password": "password", "display_name": "name"}


class SignUpForm(BaseModel):
    """POST /signup."""

    model_config = ConfigDict(extra="ignore")
    username: str = Field("", max_length=64)
    email: str = Field("", max_length=320)
    password: str = Field("", max_length=1024)


class SignInForm(BaseModel):
    """POST /signin: a username or an address, the password, and where to return."""

    model_config = ConfigDict(extra="ignore")
    login: str = Field("", max_length=accounts.MAX_LOGIN_CHARS)
    password: str = Field("", max_length=1024)
    next: str = Field("", max_length=MAX_NEXT_CHARS)
    vote: str = Field("", max_length=MAX_VOTE_CHARS)  # an upvote to apply once signed in


class EmailForm(BaseModel):
    """POST /reset."""

    model_config = ConfigDict(extra="ignore")
    email: str = Field("", max_length=320)


class TokenForm(BaseModel):
    """POST /account/confirm."""

    model_config = ConfigDict(extra="ignore")
    token: str = Field("", max_length=MAX_TOKEN_CHARS)


class NewPasswordForm(BaseModel):
    """POST /reset/confirm."""

    model_config = ConfigDict(extra="ignore")
    token: str = Field("", max_length=MAX_TOKEN_CHARS)
    password: str = Field("", max_length=1024)


class DisplayNameForm(BaseModel):
    """POST /account."""

    model_config = ConfigDict(extra="ignore")
    display_name: str = Field("", max_length=200)


class EmailChangeForm(BaseModel):
    """POST /account/email: the new address, confirmed with the password."""

    model_config = ConfigDict(extra="ignore")
    email: str = Field("", max_length=320)
    password: str = Field("", max_length=1024)


class PreferencesForm(BaseModel):
    """POST /account/preferences: checkboxes (present: on)."""

    model_config = ConfigDict(extra="ignore")
    public_votes: str = Field("", max_length=10)
    notify_mentions: str = Field("", max_length=10)


class DeleteForm(BaseModel):
    """POST /account/delete: the password (an account without one: its username)."""

    model_config = ConfigDict(extra="ignore")
    password: str = Field("", max_length=1024)


# What /account?done=... says after a change (a fixed text: nothing from the query is shown).
DONE = {
    "resent": "We sent the confirmation mail again: open its link.",
    "throttled": "A mail went out a few minutes ago: please wait for it before asking again.",
    "email": "We sent a link to the new address: your address changes once you open it.",
    "email-changed": "Your address is changed.",
    "preferences": "Preferences saved.",
    "digest": "You are subscribed to the digest.",
}


def safe_return(target: str | None) -> str:
    """`target` when it is a path on this site ("/paper/1?x"), else "/": never another site
    ("//evil", "/\\evil", "https://evil", "javascript:") and never a header-splitting character."""
    target = target or ""
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)
    ):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


class SessionMember:
    """Puts the member of the request's session cookie on request.state.member (None when signed
    out), for pages and templates. Pure ASGI; static files skip the lookup."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        token = request.cookies.get(COOKIE)
        member = None
        if token and not scope["path"].startswith("/static/"):
            state = scope["app"].state
            member = await run_in_threadpool(
                accounts.member_of_session, state.db, state.settings, token, request_time(request)
            )
        request.state.member = member
        await self.app(scope, receive, send)


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form (first value of each field), CSRF-checked; FormRefused when unreadable."""
    fields = await read_fields(request, MAX_FORM_FIELDS)
    check_csrf(request, fields.get("csrf_token"))
    return fields


def _problems(exc: ValidationError) -> str:
    parts = [
        f"{FIELD_LABELS.get(str(e['loc'][0]) if e['loc'] else '', 'form')}: {e['msg']}"
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return "; ".join(dict.fromkeys(parts))


def _refused(request: Request, message: str) -> Response:
    return message_page(request, "Form not accepted", message, 400)


def _bad_link(request: Request, exc: InvalidToken) -> Response:
    return message_page(request, "Link not valid", f"{exc.args[0].capitalize()}.", 400)


def _session_cookie(request: Request, response: Response, token: str) -> None:
    settings = request.app.state.settings
    response.set_cookie(
        COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.site_url.startswith("https://"),
        path="/",
    )


def _signed_out(request: Request, target: str = "/") -> Response:
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


def _signin_redirect(request: Request) -> Response:
    return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)


def _signup_page(request: Request, form: SignUpForm | None = None, error: str | None = None) -> Response:
    context = {
        "title": "Sign up",
        "username": form.username if form else "",
        "email": form.email if form else "",
        "min_length": request.app.state.settings.password_min_length,
        "error": error,
    }
    return render(request, "signup.html", context, 400 if error else 200)


@router.get("/signup", summary="The sign-up form")
def signup_page(request: Request) -> Response:
    return _signup_page(request)


@router.post("/signup", include_in_schema=False)
async def signup(request: Request) -> Response:
    try:
        fields = await _form(request)
        form = SignUpForm.model_validate(fields)
    except FormRefused as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        return _signup_page(request, None, _problems(exc))
    state = request.app.state
    try:
        address, queued = await run_in_threadpool(
            accounts.sign_up,
            state.db,
            state.settings,
            signer(request),
            form.username,
            form.email,
            form.password,
            request_time(request),
        )
    except AccountError as exc:
        return _signup_page(request, form, f"{FIELD_LABELS.get(exc.field, exc.field)}: {exc}")
    if queued:
        wake_outbox(request)
    # The same page whether or not the address has an account: only the mail differs.
    return render(request, "signup_sent.html", {"title": "Check your inbox", "email": address})


@router.get("/account/confirm", summary="The page of an account confirmation link")
def confirm_page(request: Request, token: TokenQuery = "") -> Response:
    try:
        accounts.check_confirm_link(request.app.state.settings, signer(request), token, request_time(request))
    except InvalidToken as exc:
        return _bad_link(request, exc)
    return render(request, "account_confirm.html", {"title": "Confirm your address", "token": token})


@router.post("/account/confirm", include_in_schema=False)
async def confirm(request: Request) -> Response:
    try:
        token = TokenForm.model_validate(await _form(request)).token
    except FormRefused as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        return message_page(request, "Link not valid", f"Not confirmed: {_problems(exc)}.", 400)
    state = request.app.state
    try:
        await run_in_threadpool(
            accounts.confirm_email, state.db, state.settings, signer(request), token, request_time(request)
        )
    except InvalidToken as exc:
        return _bad_link(request, exc)
    if current_member(request) is not None:
        return RedirectResponse("/account?confirmed=1", status_code=303)
    return RedirectResponse("/signin?next=/account", status_code=303)


def _signin_page(
    request: Request,
    login: str = "",
    next_path: str = "",
    error: str | None = None,
    status_code: int = 200,
    vote: str = "",
) -> Response:
    settings = request.app.state.settings
    context = {
        "title": "Sign in",
        "login": login,
        "next": safe_return(next_path),
        "vote": vote,
        "error": error,
        "oidc_name": oidc.provider_name(settings) if oidc.enabled(settings) else "",
    }
    return render(request, "signin.html", context, status_code)


@router.get("/signin", summary="The sign-in form")
def signin_page(
    request: Request, next: NextQuery = "", vote: Annotated[str, Query(max_length=MAX_VOTE_CHARS)] = ""
) -> Response:
    return _signin_page(request, next_path=next, vote=vote)


async def _apply_vote(request: Request, token: str, arxiv_id: str) -> None:
    """The upvote a sign-in carried, given by the member just signed in (quietly nothing when the
    paper is unknown or the member may not vote yet)."""
    if not arxiv_id:
        return
    state, now = request.app.state, request_time(request)
    member = await run_in_threadpool(accounts.member_of_session, state.db, state.settings, token, now)
    if member is None:
        return
    try:
        await run_in_threadpool(votes.vote, state.db, state.settings, member, arxiv_id, True, now)
    except (NotFound, Forbidden, BadRequest):
        pass


async def _signed_in(request: Request, token: str, next_path: str, vote: str) -> Response:
    """End the browser's previous session, apply a pending vote, set the new cookie, go on."""
    await run_in_threadpool(accounts.sign_out, request.app.state.db, request.cookies.get(COOKIE))
    await _apply_vote(request, token, vote)
    response = RedirectResponse(safe_return(next_path), status_code=303)
    _session_cookie(request, response, token)
    return response


@router.post("/signin", include_in_schema=False)
async def signin(request: Request) -> Response:
    try:
        form = SignInForm.model_validate(await _form(request))
    except FormRefused as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        return _signin_page(request, error=f"Not signed in: {_problems(exc)}.", status_code=400)
    state = request.app.state
    client = request.client.host if request.client else None
    try:
        token = await run_in_threadpool(
            accounts.sign_in,
            state.db,
            state.settings,
            form.login,
            form.password,
            client,
            request_time(request),
            request.headers.get("user-agent"),
        )
    except SignInRefused as exc:
        response = _signin_page(
            request, form.login, form.next, str(exc), 429 if exc.retry_after else 403, form.vote
        )
        if exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    # The browser's previous session (if any) ends: a sign-in always starts a new one.
    return await _signed_in(request, token, form.next, form.vote)


def _oidc_failed(request: Request, message: str) -> Response:
    settings = request.app.state.settings
    words = f"Sign-in with {oidc.provider_name(settings)} failed: {message}."
    response = message_page(request, "Not signed in", words, 400)
    response.delete_cookie(OIDC_COOKIE, path=OIDC_PATH, httponly=True, samesite="lax")
    return response


@router.get("/signin/oidc", summary="Sign in through the OpenID Connect provider (a redirect to it)")
async def signin_oidc(
    request: Request, next: NextQuery = "", vote: Annotated[str, Query(max_length=MAX_VOTE_CHARS)] = ""
) -> Response:
    state = request.app.state
    if not oidc.enabled(state.settings):
        return message_page(request, "Not available", "This site has no identity provider set up.", 404)
    try:
        started = await run_in_threadpool(
            oidc.start, state.settings, signer(request), safe_return(next), vote, request_time(request)
        )
    except oidc.OidcError as exc:
        return _oidc_failed(request, str(exc))
    response = RedirectResponse(started.url, status_code=303)
    response.set_cookie(
        OIDC_COOKIE,
        started.cookie,
        max_age=oidc.STATE_MINUTES * 60,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a top-level GET: the cookie comes with it
        secure=state.settings.site_url.startswith("https://"),
        path=OIDC_PATH,
    )
    return response


@router.get(f"{OIDC_PATH}/callback", summary="The OpenID Connect provider's redirect back")
async def signin_oidc_callback(
    request: Request,
    code: Annotated[str, Query(max_length=MAX_TOKEN_CHARS)] = "",
    state: Annotated[str, Query(max_length=MAX_TOKEN_CHARS)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
    error_description: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    app_state = request.app.state
    params = {"code": code, "state": state, "error": error, "error_description": error_description}
    now = request_time(request)
    try:
        done = await run_in_threadpool(
            oidc.finish, app_state.settings, signer(request), request.cookies.get(OIDC_COOKIE), params, now
        )
        client = request.client.host if request.client else None
        token = await run_in_threadpool(
            accounts.sign_in_oidc,
            app_state.db,
            app_state.settings,
            done.identity,
            client,
            now,
            request.headers.get("user-agent"),
        )
    except oidc.OidcError as exc:
        return _oidc_failed(request, str(exc))
    except SignInRefused as exc:
        return _oidc_failed(request, str(exc).rstrip("."))
    response = await _signed_in(request, token, done.next_path, done.vote)
    response.delete_cookie(OIDC_COOKIE, path=OIDC_PATH, httponly=True, samesite="lax")
    return response


@router.post("/signout", include_in_schema=False)
async def signout(request: Request) -> Response:
    try:
        await _form(request)
    except FormRefused as exc:
        return _refused(request, str(exc))
    await run_in_threadpool(accounts.sign_out, request.app.state.db, request.cookies.get(COOKIE))
    return _signed_out(request)


@router.post("/signout/everywhere", include_in_schema=False)
async def signout_everywhere(request: Request) -> Response:
    try:
        await _form(request)
    except FormRefused as exc:
        return _refused(request, str(exc))
    member = current_member(request)
    if member is None:
        return _signin_redirect(request)
    await run_in_threadpool(accounts.sign_out_everywhere, request.app.state.db, member.id)
    return _signed_out(request)


def render_account(
    request: Request,
    member: Member,
    *,
    saved: bool = False,
    confirmed: bool = False,
    error: str | None = None,
    done: str = "",
) -> Response:
    """The account page of `member`, with what a form just did (`saved`, `confirmed`, `done`) or why
    it was refused (`error`: a 400); its sections include the member's API tokens (web.tokens)."""
    db = request.app.state.db
    context = {
        "title": "Your account",
        "member": member,
        "saved": saved,
        "confirmed": confirmed,
        "error": error,
        "notice": DONE.get(done),
        "has_password": accounts.has_password(db, member.id),
        "digest": subscriptions.member_subscription(db, signer(request), member),
        "can_act": member.can_act(request_time(request)),
        "tokens": api_tokens.list_tokens(db, member),
    }
    return render(request, "account.html", context, 400 if error else 200)


@router.get("/account", summary="The member's account page")
def account_page(
    request: Request,
    confirmed: Annotated[str, Query(max_length=10)] = "",
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    member = current_member(request)
    if member is None:
        return _signin_redirect(request)
    return render_account(request, member, confirmed=bool(confirmed), done=done)


async def member_form(request: Request) -> tuple[Member, dict[str, str]]:
    """The signed-in member and the CSRF-checked form of an account page's POST; FormRefused when
    unreadable, SignInNeeded (the sign-in page, then the account page) when nobody is signed in."""
    fields = await _form(request)
    member = current_member(request)
    if member is None:
        raise SignInNeeded("/account")
    return member, fields


def _field_error(exc: AccountError) -> str:
    return f"{FIELD_LABELS.get(exc.field, exc.field)}: {exc}"


def _done(what: str) -> Response:
    return RedirectResponse(f"/account?done={what}", status_code=303)


@router.post("/account/confirm/resend", include_in_schema=False)
async def resend_confirmation(request: Request) -> Response:
    try:
        member, _ = await member_form(request)
    except FormRefused as exc:
        return _refused(request, str(exc))
    state = request.app.state
    queued = await run_in_threadpool(
        accounts.resend_confirmation,
        state.db,
        state.settings,
        signer(request),
        member.id,
        request_time(request),
    )
    if queued:
        wake_outbox(request)
        return _done("resent")
    return _done("throttled" if not member.email_confirmed else "resent")


@router.post("/account/email", include_in_schema=False)
async def change_email(request: Request) -> Response:
    try:
        member, fields = await member_form(request)
    except FormRefused as exc:
        return _refused(request, str(exc))
    state = request.app.state
    try:
        form = EmailChangeForm.model_validate(fields)
        _, queued = await run_in_threadpool(
            accounts.request_email_change,
            state.db,
            state.settings,
            signer(request),
            member.id,
            form.email,
            form.password,
            request_time(request),
        )
    except ValidationError as exc:
        return render_account(request, member, error=_problems(exc))
    except AccountError as exc:
        return render_account(request, member, error=_field_error(exc))
    if queued:
        wake_outbox(request)
    return _done("email" if queued else "throttled")


@router.get("/account/email/confirm", summary="The page of an email-change link")
def email_confirm_page(request: Request, token: TokenQuery = "") -> Response:
    try:
        address = accounts.check_email_change_link(
            request.app.state.settings, signer(request), token, request_time(request)
        )
    except InvalidToken as exc:
        return _bad_link(request, exc)
    if current_member(request) is None:
        target = "/account/email/confirm?token=" + quote(token, safe="")
        return RedirectResponse("/signin?next=" + quote(target, safe="/"), status_code=303)
    context = {"title": "Confirm your new address", "token": token, "email": address}
    return render(request, "account_email_confirm.html", context)


@router.post("/account/email/confirm", include_in_schema=False)
async def email_confirm(request: Request) -> Response:
    try:
        member, fields = await member_form(request)
        token = TokenForm.model_validate(fields).token
    except FormRefused as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        return message_page(request, "Link not valid", f"Not changed: {_problems(exc)}.", 400)
    state = request.app.state
    try:
        await run_in_threadpool(
            accounts.confirm_email_change,
            state.db,
            state.settings,
            signer(request),
            member.id,
            token,
            request_time(request),
        )
    except InvalidToken as exc:
        return _bad_link(request, exc)
    except AccountError as exc:
        return message_page(request, "Address not changed", f"Not changed: {exc}.", 409)
    return _done("email-changed")


@router.post("/account/preferences", include_in_schema=False)
async def save_preferences(request: Request) -> Response:
    try:
        member, fields = await member_form(request)
    except FormRefused as exc:
        return _refused(request, str(exc))
    try:
        form = PreferencesForm.model_validate(fields)
    except ValidationError as exc:
        return render_account(request, member, error=_problems(exc))
    await run_in_threadpool(
        accounts.set_preferences,
        request.app.state.db,
        member.id,
        bool(form.public_votes),
        bool(form.notify_mentions),
        request_time(request),
    )
    return _done("preferences")


@router.post("/account/digest", include_in_schema=False)
async def subscribe_digest(request: Request) -> Response:
    try:
        member, _ = await member_form(request)
    except FormRefused as exc:
        return _refused(request, str(exc))
    try:
        await run_in_threadpool(
            subscriptions.subscribe_member,
            request.app.state.db,
            signer(request),
            member,
            request_time(request),
        )
    except Forbidden as exc:
        return render_account(request, member, error=str(exc))
    return _done("digest")


@router.get("/account/export.json", summary="The member's data as JSON (a download)")
def export_account(request: Request) -> Response:
    member = current_member(request)
    if member is None:
        return _signin_redirect(request)
    data = accounts.export_account(request.app.state.db, member.id)
    response = JSONResponse(data.model_dump(mode="json"))
    response.headers["Content-Disposition"] = f'attachment; filename="dailypapers-{member.username}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _delete_page(request: Request, member: Member, error: str | None = None) -> Response:
    context = {
        "title": "Delete your account",
        "member": member,
        "has_password": accounts.has_password(request.app.state.db, member.id),
        "error": error,
    }
    return render(request, "account_delete.html", context, 400 if error else 200)


@router.get("/account/delete", summary="What deleting the account does, and its form")
def delete_page(request: Request) -> Response:
    member = current_member(request)
    if member is None:
        return _signin_redirect(request)
    return _delete_page(request, member)


@router.post("/account/delete", include_in_schema=False)
async def delete_account(request: Request) -> Response:
    try:
        member, fields = await member_form(request)
    except FormRefused as exc:
        return _refused(request, str(exc))
    state = request.app.state
    try:
        confirmation = DeleteForm.model_validate(fields).password
        await run_in_threadpool(
            accounts.delete_account, state.db, state.settings, member.id, confirmation, request_time(request)
        )
    except ValidationError as exc:
        return _delete_page(request, member, _problems(exc))
    except AccountError as exc:
        return _delete_page(request, member, _field_error(exc))
    return _signed_out(request, "/account/deleted")


@router.get("/account/deleted", summary="Says that the account is deleted")
def deleted_page(request: Request) -> Response:
    return message_page(
        request,
        "Account deleted",
        "Your account is deleted: your upvotes are withdrawn, your comments show as [deleted], and your "
        "submissions stay in the feed without your name.",
    )


@router.post("/account", include_in_schema=False)
async def save_account(request: Request) -> Response:
    try:
        member, fields = await member_form(request)
    except FormRefused as exc:
        return _refused(request, str(exc))
    try:
        name = DisplayNameForm.model_validate(fields).display_name
        member = await run_in_threadpool(
            accounts.set_display_name, request.app.state.db, member.id, name, request_time(request)
        )
    except ValidationError as exc:
        return render_account(request, member, error=_problems(exc))
    except AccountError as exc:
        return render_account(request, member, error=f"{FIELD_LABELS.get(exc.field, exc.field)}: {exc}")
    request.state.member = member  # the header shows the new name at once
    return render_account(request, member, saved=True)


@router.get("/reset", summary="Ask for a password-reset link")
def reset_page(request: Request) -> Response:
    return render(request, "reset.html", {"title": "Forgot your password?", "email": "", "sent": False})


@router.post("/reset", include_in_schema=False)
async def reset(request: Request) -> Response:
    try:
        raw = EmailForm.model_validate(await _form(request)).email
    except FormRefused as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        context = {"title": "Forgot your password?", "email": "", "sent": False, "error": _problems(exc)}
        return render(request, "reset.html", context, 400)
    state = request.app.state
    try:
        address = await run_in_threadpool(
            accounts.request_reset, state.db, state.settings, signer(request), raw, request_time(request)
        )
    except AccountError as exc:
        context = {
            "title": "Forgot your password?",
            "email": raw.strip()[:254],
            "sent": False,
            "error": str(exc),
        }
        return render(request, "reset.html", context, 400)
    wake_outbox(request)
    # The same answer whether or not the address has an account.
    return render(request, "reset.html", {"title": "Check your inbox", "email": address, "sent": True})


def _reset_confirm_page(request: Request, token: str, error: str | None = None) -> Response:
    context = {
        "title": "Choose a new password",
        "token": token,
        "min_length": request.app.state.settings.password_min_length,
        "error": error,
    }
    return render(request, "reset_confirm.html", context, 400 if error else 200)


@router.get("/reset/confirm", summary="The page of a password-reset link")
def reset_confirm_page(request: Request, token: TokenQuery = "") -> Response:
    state = request.app.state
    try:
        accounts.check_reset_link(state.db, state.settings, signer(request), token, request_time(request))
    except InvalidToken as exc:
        return _bad_link(request, exc)
    return _reset_confirm_page(request, token)


@router.post("/reset/confirm", include_in_schema=False)
async def reset_confirm(request: Request) -> Response:
    try:
        form = NewPasswordForm.model_validate(await _form(request))
    except FormRefused as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        return message_page(request, "Link not valid", f"Not changed: {_problems(exc)}.", 400)
    state = request.app.state
    try:
        await run_in_threadpool(
            accounts.reset_password,
            state.db,
            state.settings,
            signer(request),
            form.token,
            form.password,
            request_time(request),
        )
    except InvalidToken as exc:
        return _bad_link(request, exc)
    except AccountError as exc:
        return _reset_confirm_page(request, form.token, f"password: {exc}")
    response = _signed_out(request, "/signin?next=/account")
    return response
