"""Account pages: sign up, confirm the address, sign in and out (here or everywhere), the account
page (display name), password reset; and the session cookie with the request's current member.

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
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from dailypapers.services import accounts
from dailypapers.services.accounts import AccountError, SignInRefused
from dailypapers.services.schemas import Member
from dailypapers.services.subscriptions import InvalidToken
from dailypapers.web.auth import current_member
from dailypapers.web.csrf import check_csrf, signer
from dailypapers.web.forms import FormRefused, read_form, request_time, wake_outbox
from dailypapers.web.render import message_page, render

router = APIRouter()
COOKIE = "dp_session"
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
    fields = {name: values[0] for name, values in (await read_form(request, MAX_FORM_FIELDS)).items()}
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
    request: Request, login: str = "", next_path: str = "", error: str | None = None, status_code: int = 200
) -> Response:
    context = {"title": "Sign in", "login": login, "next": safe_return(next_path), "error": error}
    return render(request, "signin.html", context, status_code)


@router.get("/signin", summary="The sign-in form")
def signin_page(request: Request, next: NextQuery = "") -> Response:
    return _signin_page(request, next_path=next)


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
        response = _signin_page(request, form.login, form.next, str(exc), 429 if exc.retry_after else 403)
        if exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    # The browser's previous session (if any) ends: a sign-in always starts a new one.
    await run_in_threadpool(accounts.sign_out, state.db, request.cookies.get(COOKIE))
    response = RedirectResponse(safe_return(form.next), status_code=303)
    _session_cookie(request, response, token)
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


def _account_page(
    request: Request,
    member: Member,
    *,
    saved: bool = False,
    confirmed: bool = False,
    error: str | None = None,
) -> Response:
    context = {
        "title": "Your account",
        "member": member,
        "saved": saved,
        "confirmed": confirmed,
        "error": error,
    }
    return render(request, "account.html", context, 400 if error else 200)


@router.get("/account", summary="The member's account page")
def account_page(request: Request, confirmed: Annotated[str, Query(max_length=10)] = "") -> Response:
    member = current_member(request)
    if member is None:
        return _signin_redirect(request)
    return _account_page(request, member, confirmed=bool(confirmed))


@router.post("/account", include_in_schema=False)
async def save_account(request: Request) -> Response:
    try:
        fields = await _form(request)
    except FormRefused as exc:
        return _refused(request, str(exc))
    member = current_member(request)
    if member is None:
        return _signin_redirect(request)
    try:
        name = DisplayNameForm.model_validate(fields).display_name
        member = await run_in_threadpool(
            accounts.set_display_name, request.app.state.db, member.id, name, request_time(request)
        )
    except ValidationError as exc:
        return _account_page(request, member, error=_problems(exc))
    except AccountError as exc:
        return _account_page(request, member, error=f"{FIELD_LABELS.get(exc.field, exc.field)}: {exc}")
    request.state.member = member  # the header shows the new name at once
    return _account_page(request, member, saved=True)


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
