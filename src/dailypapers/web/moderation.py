"""Moderation pages: the moderators' queue, the actions (hide, restore, keep, remove a submission,
ban, unban) and the public moderation log.

Every action is a plain form POST (CSRF-checked, a reason required) that answers 303 back to a safe
`next` (or the queue, or the member page), or JSON when the client asks for it. Nobody signed in is
sent to the sign-in page; a member who is not a moderator gets 403 (web.auth.moderating_member).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from dailypapers.services import moderation
from dailypapers.services.errors import BadRequest
from dailypapers.web.accounts import safe_return
from dailypapers.web.auth import moderating_member
from dailypapers.web.csrf import check_csrf
from dailypapers.web.forms import FormRefused, read_fields, request_time
from dailypapers.web.render import render, wants_json

router = APIRouter()
MAX_FORM_FIELDS = 10
MAX_NEXT_CHARS = 2000
QUEUE = "/moderation"
PageParam = Annotated[int, Query(ge=1, le=1_000_000)]
CommentId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class ReasonForm(BaseModel):
    """POST /moderation/comments/{id}/hide|restore|dismiss, /moderation/submissions/{day}/{id}/remove,
    /users/{name}/unban: why (the log shows it) and where to return."""

    model_config = ConfigDict(extra="ignore")
    csrf_token: str = Field("", max_length=500)
    reason: str = Field("", max_length=2000)
    next: str = Field("", max_length=MAX_NEXT_CHARS)


class BanForm(ReasonForm):
    """POST /users/{name}/ban: why, and for how many days (empty or 0: for good)."""

    days: str = Field("", max_length=10)

    def ban_days(self) -> int | None:
        """The days as a number; None for good; BadRequest when not a whole number."""
        text = self.days.strip()
        if not text:
            return None
        if not (text.isascii() and text.isdigit()):
            raise BadRequest("days: a whole number of days (0 or empty: for good)")
        return int(text)


async def _read(request: Request, model: type[ReasonForm]) -> Any:
    """The form as `model`, CSRF-checked; BadRequest for an unreadable or oversized form."""
    try:
        fields = await read_fields(request, MAX_FORM_FIELDS)
    except FormRefused as exc:
        raise BadRequest(str(exc)) from None
    check_csrf(request, fields.get("csrf_token"))
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise BadRequest(problems) from None


def _done(request: Request, form: ReasonForm, default: str, result: BaseModel) -> Response:
    """JSON of the result for a JSON client, else 303 back to `next` (or `default`)."""
    if wants_json(request):
        return JSONResponse(result.model_dump(mode="json"))
    return RedirectResponse(safe_return(form.next) if form.next else default, status_code=303)


def _day(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"day: a date as YYYY-MM-DD, not {text[:20]!r}") from None


@router.get("/moderation", summary="The moderators' queue (moderators only)")
@router.get("/moderation.json", include_in_schema=False)
def queue_page(request: Request) -> Response:
    moderator = moderating_member(request, QUEUE)
    state = request.app.state
    found = moderation.queue(state.db, state.settings, moderator, request_time(request))
    if wants_json(request):
        return JSONResponse(found.model_dump(mode="json"))
    return render(request, "moderation.html", {"title": "Moderation queue", "queue": found})


@router.get("/moderation/log", summary="The public moderation log")
@router.get("/moderation/log.json", include_in_schema=False)
def log_page(request: Request, page: PageParam = 1) -> Response:
    found = moderation.log(request.app.state.db, page)
    if wants_json(request):
        return JSONResponse(found.model_dump(mode="json"))
    return render(request, "moderation_log.html", {"title": "Moderation log", "log": found})


async def _comment_action(request: Request, comment_id: int, action: Any) -> Response:
    moderator = moderating_member(request, QUEUE)
    form = await _read(request, ReasonForm)
    state = request.app.state
    result = await run_in_threadpool(
        action, state.db, state.settings, moderator, comment_id, form.reason, request_time(request)
    )
    return _done(request, form, QUEUE, result)


@router.post("/moderation/comments/{comment_id}/hide", include_in_schema=False)
async def hide_comment(request: Request, comment_id: CommentId) -> Response:
    return await _comment_action(request, comment_id, moderation.hide_comment)


@router.post("/moderation/comments/{comment_id}/restore", include_in_schema=False)
async def restore_comment(request: Request, comment_id: CommentId) -> Response:
    return await _comment_action(request, comment_id, moderation.restore_comment)


@router.post("/moderation/comments/{comment_id}/dismiss", include_in_schema=False)
async def dismiss_flags(request: Request, comment_id: CommentId) -> Response:
    return await _comment_action(request, comment_id, moderation.dismiss_flags)


@router.post("/moderation/submissions/{day}/{arxiv_id:path}/remove", include_in_schema=False)
async def remove_submission(request: Request, day: str, arxiv_id: str) -> Response:
    moderator = moderating_member(request, QUEUE)
    form = await _read(request, ReasonForm)
    state = request.app.state
    result = await run_in_threadpool(
        moderation.remove_submission,
        state.db,
        state.settings,
        moderator,
        _day(day),
        arxiv_id,
        form.reason,
        request_time(request),
    )
    return _done(request, form, QUEUE, result)


class BanAnswer(BaseModel):
    """The JSON answer of a ban or unban: the member's name and ban."""

    username: str
    banned_until: datetime | None
    ban_reason: str | None


@router.post("/users/{username}/ban", include_in_schema=False)
async def ban_member(request: Request, username: str) -> Response:
    moderator = moderating_member(request, f"/users/{username}")
    form = await _read(request, BanForm)
    state = request.app.state
    member = await run_in_threadpool(
        moderation.ban_member,
        state.db,
        state.settings,
        moderator,
        username,
        form.reason,
        form.ban_days(),
        request_time(request),
    )
    answer = BanAnswer(
        username=member.username, banned_until=member.banned_until, ban_reason=member.ban_reason
    )
    return _done(request, form, f"/users/{member.username}", answer)


@router.post("/users/{username}/unban", include_in_schema=False)
async def unban_member(request: Request, username: str) -> Response:
    moderator = moderating_member(request, f"/users/{username}")
    form = await _read(request, ReasonForm)
    state = request.app.state
    member = await run_in_threadpool(
        moderation.unban_member,
        state.db,
        state.settings,
        moderator,
        username,
        form.reason,
        request_time(request),
    )
    answer = BanAnswer(username=member.username, banned_until=None, ban_reason=None)
    return _done(request, form, f"/users/{member.username}", answer)
