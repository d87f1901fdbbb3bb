"""Digest subscription pages: subscribe, confirm, preferences (signed link, no password), unsubscribe.

Every state-changing form checks its CSRF token (web.csrf), except the RFC 8058 one-click POST to the
List-Unsubscribe URL, which mail providers send without cookies: its signed link is its authority.
Links in mails only ever show a page; the change happens on the page's button (a POST), so mail
scanners that open links cannot confirm or unsubscribe anyone.

Form bodies are read here, not by a framework (web.security.RequestLimits has already refused one over
64 KiB with a 413): at most MAX_FORM_FIELDS fields of strict UTF-8 (else 400), before anything else
looks at them; then each form's pydantic
model (below, and services.subscriptions.Preferences) checks every field against its bounds, and a
refused form comes back with a 400 that says which field and why. Mail links are made from the
setting site_url only, never from the request's Host header. The time of every change is the
app's clock: app.state.clock (a callable returning an aware datetime; tests set it), else real time.

A subscription queues its confirmation mail in the outbox; the worker sends it (in the demo, its
in-process scheduler, woken at once): no request thread ever talks to a mail server.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails
from starlette.concurrency import run_in_threadpool

from dailypapers.services import subscriptions as subs
from dailypapers.services.subscriptions import InvalidToken, Subscription
from dailypapers.web.csrf import check_csrf, signer
from dailypapers.web.forms import FormRefused, read_form, request_time, wake_outbox
from dailypapers.web.render import message_page, render

router = APIRouter()
MAX_FORM_FIELDS = 100  # the preferences form, the largest, has 12 fields and two per saved search
MAX_TOKEN_CHARS = 2000  # a confirmation token carries the address: a few hundred characters
TokenText = Annotated[str, Field(max_length=MAX_TOKEN_CHARS)]
TokenQuery = Annotated[str, Query(max_length=MAX_TOKEN_CHARS)]

# What a refused field is called on the page.
FIELD_LABELS = {
    "email": "address",
    "token": "link",
    "frequency": "frequency",
    "weekday": "day",
    "send_hour": "hour",
    "timezone": "time zone",
    "max_papers": "papers per digest",
    "categories": "arXiv categories",
    "min_upvotes": "minimum upvotes",
    "paused": "pause",
    "searches": "saved searches",
}


class SubscribeForm(BaseModel):
    """POST /subscribe: the address, normalised (subs.InvalidEmail says why one is refused)."""

    model_config = ConfigDict(extra="ignore")
    email: str = Field("", validate_default=True)  # a missing address is refused like an empty one

    @field_validator("email")
    @classmethod
    def _address(cls, raw: str) -> str:
        return subs.normalize_email(raw)


class TokenForm(BaseModel):
    """POST /subscribe/confirm and /unsubscribe: the signed link's token."""

    model_config = ConfigDict(extra="ignore")
    token: TokenText = ""


class PreferencesForm(BaseModel):
    """POST /subscription: the preferences page's fields as the browser sends them; `preferences()`
    turns them into subs.Preferences, whose own bounds then apply."""

    model_config = ConfigDict(extra="ignore")
    token: TokenText = ""
    frequency: str = "daily"
    weekday: str = "0"
    send_hour: str = "8"
    timezone: str = "UTC"
    max_papers: str = "10"
    categories: Annotated[str, Field(max_length=subs.MAX_CATEGORIES * (subs.MAX_CATEGORY_CHARS + 1))] = ""
    min_upvotes: str = "0"
    paused: str = ""
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    def preferences(self) -> subs.Preferences:
        """The preferences this form asks for (ValidationError naming each field out of bounds)."""
        excludes = self.exclude + [""] * max(0, len(self.include) - len(self.exclude))
        return subs.Preferences.model_validate(
            {
                "frequency": self.frequency,
                "weekday": self.weekday,
                "send_hour": self.send_hour,
                "timezone": self.timezone.strip(),
                "max_papers": self.max_papers,
                "min_upvotes": self.min_upvotes,
                "categories": self.categories.replace(",", " ").split(),
                "paused": self.paused == "on",
                "searches": [
                    (i.strip(), e.strip()) for i, e in zip(self.include, excludes, strict=False) if i.strip()
                ],
            }
        )


def _reason(error: ErrorDetails) -> str:
    """Why pydantic refused a value: a validator's own ValueError message, else pydantic's."""
    return str(error["ctx"]["error"]) if error["type"] == "value_error" else str(error["msg"])


def _problems(exc: ValidationError) -> str:
    """One line naming each refused field and why."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        label = FIELD_LABELS.get(str(error["loc"][0]) if error["loc"] else "", "form")
        parts.append(f"{label}: {_reason(error)}")
    return "; ".join(dict.fromkeys(parts))


async def _form(request: Request) -> dict[str, list[str]]:
    """The url-encoded form of the request body, or FormRefused."""
    return await read_form(request, MAX_FORM_FIELDS)


def _fields(form: dict[str, list[str]], lists: tuple[str, ...] = ()) -> dict[str, str | list[str]]:
    """The form as a model reads it: the first value of each field, every value of `lists`."""
    return {name: (values if name in lists else values[0]) for name, values in form.items()}


async def _checked_form(request: Request) -> dict[str, list[str]]:
    """The form, once its CSRF token is checked (a CsrfError becomes the app's 403 page)."""
    form = await _form(request)
    check_csrf(request, _one(form, "csrf_token"))
    return form


def _one(form: dict[str, list[str]], name: str, default: str = "") -> str:
    return (form.get(name) or [default])[0]


def _refused(request: Request, exc: FormRefused) -> Response:
    return message_page(request, "Form not accepted", str(exc), 400)


def _bad_link(request: Request, exc: InvalidToken, again: bool = False) -> Response:
    message = f"{exc.args[0].capitalize()}." + (" Subscribe again to get a new one." if again else "")
    return message_page(request, "Link not valid", message, 400)


@router.post("/subscribe", summary="Subscribe an address to the digest (double opt-in)")
async def subscribe(request: Request) -> Response:
    try:
        form = await _checked_form(request)
    except FormRefused as exc:
        return _refused(request, exc)
    try:
        address = SubscribeForm.model_validate(_fields(form)).email
    except ValidationError as exc:
        error = "; ".join(_reason(e) for e in exc.errors(include_url=False, include_input=False))
        raw = _one(form, "email").strip()[: subs.MAX_EMAIL_CHARS]
        return render(request, "subscribe.html", {"title": "Subscribe", "email": raw, "error": error}, 400)
    db, settings = request.app.state.db, request.app.state.settings
    sign, now = signer(request), request_time(request)
    # Links in the mail come from settings.site_url, never from this request's Host header.
    if await run_in_threadpool(subs.subscribe, db, settings, sign, address, now):
        wake_outbox(request)
    # The same answer whatever the address's state: nothing here tells who is subscribed.
    return render(request, "subscribe_sent.html", {"title": "Check your inbox", "email": address})


@router.get("/subscribe", include_in_schema=False)
def subscribe_page(request: Request) -> Response:
    return render(request, "subscribe.html", {"title": "Subscribe", "email": "", "error": None})


@router.get("/subscribe/confirm", summary="The page of a confirmation link")
def confirm_page(request: Request, token: TokenQuery = "") -> Response:
    try:
        subs.check_confirm_link(request.app.state.settings, signer(request), token)
    except InvalidToken as exc:
        return _bad_link(request, exc, again=True)
    return render(request, "subscribe_confirm.html", {"title": "Confirm your subscription", "token": token})


@router.post("/subscribe/confirm", include_in_schema=False)
async def confirm(request: Request) -> Response:
    try:
        form = await _checked_form(request)
        token = TokenForm.model_validate(_fields(form)).token
    except FormRefused as exc:
        return _refused(request, exc)
    except ValidationError as exc:
        return message_page(request, "Link not valid", f"Not confirmed: {_problems(exc)}.", 400)
    db, settings = request.app.state.db, request.app.state.settings
    sign, now = signer(request), request_time(request)
    try:
        manage_token = await run_in_threadpool(subs.confirm, db, settings, sign, token, now)
    except InvalidToken as exc:
        return _bad_link(request, exc, again=True)
    query = urlencode({"token": manage_token, "welcome": "1"})
    return RedirectResponse(f"/subscription?{query}", status_code=303)


def _preferences_page(
    request: Request,
    sub: Subscription,
    token: str,
    *,
    saved: bool = False,
    error: str | None = None,
    welcome: bool = False,
    status_code: int = 200,
) -> Response:
    """The preferences form; for an unsubscribed address, a page that says so and offers to subscribe again."""
    prefs = sub.preferences
    searches = list(prefs.searches) + [("", "")] * max(0, 3 - len(prefs.searches))
    return render(
        request,
        "preferences.html",
        {
            "title": "Your digest",
            "sub": sub,
            "prefs": prefs,
            "token": token,
            "saved": saved,
            "error": error,
            "welcome": welcome,
            "weekdays": subs.WEEKDAYS,
            "timezones": subs.timezone_names(),
            "searches": searches,
            "unsubscribed": sub.unsubscribed,
        },
        status_code,
    )


@router.get("/subscription", summary="Digest preferences (from the signed link in every mail)")
def preferences(
    request: Request, token: TokenQuery = "", welcome: Annotated[str, Query(max_length=10)] = ""
) -> Response:
    state = request.app.state
    try:
        sub = subs.subscription(state.db, state.settings, signer(request), token)
    except InvalidToken as exc:
        return _bad_link(request, exc)
    return _preferences_page(request, sub, token, welcome=bool(welcome))


@router.post("/subscription", include_in_schema=False)
async def save_preferences(request: Request) -> Response:
    try:
        form = await _checked_form(request)
    except FormRefused as exc:
        return _refused(request, exc)
    try:
        fields = PreferencesForm.model_validate(_fields(form, lists=("include", "exclude")))
        token, prefs, problem = fields.token, fields.preferences(), None
    except ValidationError as exc:
        # The form's own fields, or the preferences they ask for, out of bounds: nothing is saved.
        token, prefs, problem = _one(form, "token")[:MAX_TOKEN_CHARS], None, _problems(exc)
    db, settings, sign, now = (
        request.app.state.db,
        request.app.state.settings,
        signer(request),
        request_time(request),
    )
    try:
        if prefs is None:
            sub = await run_in_threadpool(subs.subscription, db, settings, sign, token)
        else:
            sub = await run_in_threadpool(subs.save_preferences, db, settings, sign, token, prefs, now)
    except InvalidToken as exc:
        return _bad_link(request, exc)
    if sub.unsubscribed:
        # Nothing to save for an address that gets no digest: the page says so instead.
        return _preferences_page(request, sub, token, status_code=409)
    if prefs is None:
        return _preferences_page(request, sub, token, error=problem, status_code=400)
    return _preferences_page(request, sub, token, saved=True)


@router.get("/unsubscribe", summary="The page of an unsubscribe link")
def unsubscribe_page(request: Request, token: TokenQuery = "") -> Response:
    state = request.app.state
    try:
        sub = subs.subscription(state.db, state.settings, signer(request), token)
    except InvalidToken as exc:
        return _bad_link(request, exc)
    return render(
        request,
        "unsubscribe.html",
        {"title": "Unsubscribe", "token": token, "email": sub.email, "done": sub.unsubscribed},
    )


@router.post("/unsubscribe", summary="Unsubscribe (the page's button, or RFC 8058 one-click)")
async def unsubscribe(request: Request, token: TokenQuery = "") -> Response:
    try:
        form = await _form(request)
    except FormRefused as exc:
        return _refused(request, exc)
    one_click = _one(form, "List-Unsubscribe") == "One-Click"
    if not one_click:
        check_csrf(request, _one(form, "csrf_token"))
    try:
        token = token or TokenForm.model_validate(_fields(form)).token
    except ValidationError as exc:
        if one_click:
            return Response(f"{_problems(exc)}\n", status_code=400, media_type="text/plain")
        return message_page(request, "Link not valid", f"Not unsubscribed: {_problems(exc)}.", 400)
    db, settings, sign, now = (
        request.app.state.db,
        request.app.state.settings,
        signer(request),
        request_time(request),
    )
    try:
        sub = await run_in_threadpool(subs.unsubscribe, db, settings, sign, token, now)
    except InvalidToken as exc:
        if one_click:
            return Response(f"{exc.args[0]}\n", status_code=400, media_type="text/plain")
        return _bad_link(request, exc)
    if one_click:
        return Response("unsubscribed\n", media_type="text/plain")
    return render(
        request,
        "unsubscribe.html",
        {"title": "Unsubscribed", "token": token, "email": sub.email, "done": True},
    )
