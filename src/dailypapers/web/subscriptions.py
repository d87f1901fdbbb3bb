"""Digest subscription pages: subscribe, confirm, preferences (signed link, no password), unsubscribe.

Every state-changing form checks its CSRF token (web.csrf), except the RFC 8058 one-click POST to the
List-Unsubscribe URL, which mail providers send without cookies: its signed link is its authority.
Links in mails only ever show a page; the change happens on the page's button (a POST), so mail
scanners that open links cannot confirm or unsubscribe anyone.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dailypapers.digest import subscriptions as subs
from dailypapers.digest.schedule import WEEKDAYS, timezone_names
from dailypapers.digest.tokens import CONFIRM, InvalidToken
from dailypapers.web.app import render
from dailypapers.web.csrf import check_csrf, signer

router = APIRouter()
log = logging.getLogger(__name__)
MAX_FORM_BYTES = 64 * 1024


async def _form(request: Request) -> dict[str, list[str]]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=200)


async def _checked_form(request: Request) -> dict[str, list[str]]:
    """The form, once its CSRF token is checked (a CsrfError becomes the app's 403 page)."""
    form = await _form(request)
    check_csrf(request, _one(form, "csrf_token"))
    return form


def _one(form: dict[str, list[str]], name: str, default: str = "") -> str:
    return (form.get(name) or [default])[0]


def _message(request: Request, title: str, message: str, status_code: int = 200) -> Response:
    return render(request, "message.html", {"title": title, "message": message}, status_code)


def _bad_link(request: Request, exc: InvalidToken, again: bool = False) -> Response:
    message = f"{exc.args[0].capitalize()}." + (" Subscribe again to get a new one." if again else "")
    return _message(request, "Link not valid", message, 400)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _send_soon(request: Request) -> None:
    """Try to send the outbox now, in the background (the worker retries whatever fails)."""
    db, settings = request.app.state.db, request.app.state.settings

    def run() -> None:
        from dailypapers.digest.mail import SmtpSender
        from dailypapers.digest.outbox import deliver

        try:
            with SmtpSender.from_settings(settings) as smtp:
                deliver(db, settings, smtp, limit=20)
        except Exception as exc:  # noqa: BLE001 - the worker sends it later
            log.warning("could not send the outbox now (%s); the worker will retry", exc)

    threading.Thread(target=run, name="outbox-now", daemon=True).start()


@router.post("/subscribe", summary="Subscribe an address to the digest (double opt-in)")
async def subscribe(request: Request) -> Response:
    form = await _checked_form(request)
    raw = _one(form, "email").strip()
    try:
        address = subs.normalize_email(raw)
    except subs.InvalidEmail as exc:
        return render(request, "subscribe.html", {"title": "Subscribe", "email": raw, "error": str(exc)}, 400)
    db, settings = request.app.state.db, request.app.state.settings
    sign = signer(request)

    def work() -> bool:
        with db.write() as conn:
            return subs.subscribe(conn, sign, settings, address, _now())

    if await run_in_threadpool(work):
        _send_soon(request)
    # The same answer whatever the address's state: nothing here tells who is subscribed.
    return render(request, "subscribe_sent.html", {"title": "Check your inbox", "email": address})


@router.get("/subscribe", include_in_schema=False)
def subscribe_page(request: Request) -> Response:
    return render(request, "subscribe.html", {"title": "Subscribe", "email": "", "error": None})


@router.get("/subscribe/confirm", summary="The page of a confirmation link")
def confirm_page(request: Request, token: str = "") -> Response:
    settings = request.app.state.settings
    try:
        signer(request).check(CONFIRM, token, max_age=settings.digest_confirm_hours * 3600)
    except InvalidToken as exc:
        return _bad_link(request, exc, again=True)
    return render(request, "subscribe_confirm.html", {"title": "Confirm your subscription", "token": token})


@router.post("/subscribe/confirm", include_in_schema=False)
async def confirm(request: Request) -> Response:
    form = await _checked_form(request)
    db, settings = request.app.state.db, request.app.state.settings
    sign = signer(request)

    def work() -> Any:
        with db.write() as conn:
            return subs.confirm(conn, sign, _one(form, "token"), settings.digest_confirm_hours, _now())

    try:
        sub = await run_in_threadpool(work)
    except InvalidToken as exc:
        return _bad_link(request, exc, again=True)
    query = urlencode({"token": subs.manage_token(sign, sub), "welcome": "1"})
    return RedirectResponse(f"/subscription?{query}", status_code=303)


def _preferences_page(request: Request, sub: Any, prefs: subs.Preferences, token: str, *, saved: bool = False,
                      error: str | None = None, welcome: bool = False, status_code: int = 200) -> Response:  # fmt: skip
    searches = list(prefs.searches) + [("", "")] * max(0, 3 - len(prefs.searches))
    return render(request, "preferences.html", {
        "title": "Your digest", "sub": sub, "prefs": prefs, "token": token, "saved": saved, "error": error,
        "welcome": welcome, "weekdays": WEEKDAYS, "timezones": timezone_names(), "searches": searches,
    }, status_code)  # fmt: skip


@router.get("/subscription", summary="Digest preferences (from the signed link in every mail)")
def preferences(request: Request, token: str = "", welcome: str = "") -> Response:
    db = request.app.state.db
    try:
        with db.read() as conn:
            sub = subs.from_manage_token(conn, signer(request), token)
            prefs = subs.preferences_of(conn, sub)
    except InvalidToken as exc:
        return _bad_link(request, exc)
    return _preferences_page(request, sub, prefs, token, welcome=bool(welcome))


def _int(form: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return int(_one(form, name, str(default)))
    except ValueError as exc:
        raise subs.InvalidPreferences(f"{name.replace('_', ' ')} must be a whole number") from exc


@router.post("/subscription", include_in_schema=False)
async def save_preferences(request: Request) -> Response:
    form = await _checked_form(request)
    db = request.app.state.db
    token = _one(form, "token")
    sign = signer(request)

    def work() -> Response:
        with db.write() as conn:
            try:
                sub = subs.from_manage_token(conn, sign, token)
            except InvalidToken as exc:
                return _bad_link(request, exc)
            includes, excludes = form.get("include", []), form.get("exclude", [])
            try:
                prefs = subs.Preferences(
                    frequency=_one(form, "frequency", "daily"), weekday=_int(form, "weekday", 0),
                    send_hour=_int(form, "send_hour", 8), timezone=_one(form, "timezone", "UTC"),
                    max_papers=_int(form, "max_papers", 10),
                    categories=[c for c in _one(form, "categories").replace(",", " ").split() if c],
                    min_upvotes=_int(form, "min_upvotes", 0), paused=_one(form, "paused") == "on",
                    searches=[(i, e) for i, e in zip(includes, excludes, strict=False) if i.strip()],
                )  # fmt: skip
                subs.save_preferences(conn, sub, prefs, _now())
            except subs.InvalidPreferences as exc:
                return _preferences_page(request, sub, subs.preferences_of(conn, sub), token, error=str(exc), status_code=400)
            sub = subs.from_manage_token(conn, sign, token)
            return _preferences_page(request, sub, subs.preferences_of(conn, sub), token, saved=True)

    return await run_in_threadpool(work)


@router.get("/unsubscribe", summary="The page of an unsubscribe link")
def unsubscribe_page(request: Request, token: str = "") -> Response:
    db = request.app.state.db
    try:
        with db.read() as conn:
            sub = subs.from_manage_token(conn, signer(request), token)
    except InvalidToken as exc:
        return _bad_link(request, exc)
    return render(request, "unsubscribe.html", {"title": "Unsubscribe", "token": token, "email": sub.email,
                                                "done": sub.status == "unsubscribed"})  # fmt: skip


@router.post("/unsubscribe", summary="Unsubscribe (the page's button, or RFC 8058 one-click)")
async def unsubscribe(request: Request, token: str = "") -> Response:
    form = await _form(request)
    one_click = _one(form, "List-Unsubscribe") == "One-Click"
    if not one_click:
        check_csrf(request, _one(form, "csrf_token"))
    token = token or _one(form, "token")
    db = request.app.state.db
    sign = signer(request)

    def work() -> Any:
        with db.write() as conn:
            sub = subs.from_manage_token(conn, sign, token)
            subs.unsubscribe(conn, sub, _now())
            return sub

    try:
        sub = await run_in_threadpool(work)
    except InvalidToken as exc:
        if one_click:
            return Response(f"{exc.args[0]}\n", status_code=400, media_type="text/plain")
        return _bad_link(request, exc)
    if one_click:
        return Response("unsubscribed\n", media_type="text/plain")
    return render(request, "unsubscribe.html", {"title": "Unsubscribed", "token": token, "email": sub.email, "done": True})
