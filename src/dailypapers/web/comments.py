"""Comment pages: post a comment or a reply under a paper, edit it (its author, for a while), delete
it, flag someone else's (services.comments keeps the rules).

Plain forms, no JavaScript: every POST checks its CSRF token and answers with a 303 back to `next`
(a path on this site, web.accounts.safe_return) or to the comment; a client that asks for JSON gets
the comment (201 for a new one) or the flag. A refused form (too long, too fast, empty) comes back as
a page with the words and the member's text still in it. Nobody signed in → the sign-in page, which
returns to the paper.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from dailypapers.core.settings import Settings
from dailypapers.services import comments
from dailypapers.services.comments import MAX_NOTE_CHARS, REASONS, CommentPage
from dailypapers.services.errors import BadRequest, TooMany
from dailypapers.services.schemas import CommentView, Member
from dailypapers.web.accounts import safe_return
from dailypapers.web.auth import acting_member
from dailypapers.web.csrf import check_csrf
from dailypapers.web.forms import FormRefused, read_fields, request_time, wake_outbox
from dailypapers.web.render import message_page, render, wants_json

router = APIRouter()
MAX_FORM_FIELDS = 10
MAX_NEXT_CHARS = 2000
MAX_BODY_CHARS = 100_000  # the form's bound; settings.comment_max_chars (at most this) is the rule
MAX_ID = 2**31 - 1  # an INTEGER column on both databases
CommentId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _empty_none(value: object) -> object:
    return None if value == "" else value


class CommentForm(BaseModel):
    """POST /papers/{arxiv_id}/comments: the text, the comment it answers (none: top level), where to
    return."""

    model_config = ConfigDict(extra="ignore")
    body: str = Field("", max_length=MAX_BODY_CHARS)
    parent_id: Annotated[Annotated[int, Field(ge=1, le=MAX_ID)] | None, BeforeValidator(_empty_none)] = None
    next: str = Field("", max_length=MAX_NEXT_CHARS)


class EditForm(BaseModel):
    """POST /comments/{comment_id}/edit."""

    model_config = ConfigDict(extra="ignore")
    body: str = Field("", max_length=MAX_BODY_CHARS)


class DeleteForm(BaseModel):
    """POST /comments/{comment_id}/delete."""

    model_config = ConfigDict(extra="ignore")
    next: str = Field("", max_length=MAX_NEXT_CHARS)


class FlagForm(BaseModel):
    """POST /comments/{comment_id}/flag: one of services.comments.REASONS and an optional note."""

    model_config = ConfigDict(extra="ignore")
    reason: str = Field("", max_length=40)
    note: str = Field("", max_length=MAX_NOTE_CHARS * 4)  # the service says "too long" in words


async def _fields(request: Request) -> dict[str, str]:
    """The url-encoded form (first value of each field), CSRF-checked; FormRefused when unreadable."""
    fields = await read_fields(request, MAX_FORM_FIELDS)
    check_csrf(request, fields.get("csrf_token"))
    return fields


def _problems(exc: ValidationError) -> str:
    parts = [
        f"{e['loc'][0] if e['loc'] else 'form'}: {e['msg']}"
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return "; ".join(dict.fromkeys(parts))


def _back(next_path: str, default: str) -> str:
    """`next_path` when it is a safe path on this site, else `default`."""
    return next_path if next_path and safe_return(next_path) == next_path else default


def _anchor(view: CommentView) -> str:
    return f"/papers/{view.arxiv_id}#c{view.id}"


def _form_page(
    request: Request,
    *,
    title: str,
    action: str,
    body: str,
    error: str | None,
    arxiv_id: str,
    parent_id: int | None = None,
    page: CommentPage | None = None,
    status_code: int = 200,
    retry_after: int | None = None,
) -> Response:
    """The comment form on a page of its own (comment_edit.html): to edit, or to try a refused comment
    again with its text kept."""
    settings: Settings = request.app.state.settings
    context = {
        "title": title,
        "action": action,
        "body": body,
        "error": error,
        "arxiv_id": arxiv_id,
        "parent_id": parent_id,
        "page": page,
        "max_chars": settings.comment_max_chars,
    }
    response = render(request, "comment_edit.html", context, status_code)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _refused(request: Request, exc: FormRefused) -> Response:
    return message_page(request, "Form not accepted", str(exc), 400)


@router.post("/papers/{arxiv_id}/comments", summary="Post a comment or a reply on a paper")
async def post_comment(request: Request, arxiv_id: str) -> Response:
    member = acting_member(request, f"/papers/{arxiv_id}#comments")
    try:
        fields = await _fields(request)
        form = CommentForm.model_validate(fields)
    except FormRefused as exc:
        return _refused(request, exc)
    except ValidationError as exc:
        if wants_json(request):
            raise BadRequest(_problems(exc)) from None
        return _retry_page(request, arxiv_id, fields.get("body", ""), None, _problems(exc), 400)
    state = request.app.state
    try:
        view = await run_in_threadpool(
            comments.post_comment,
            state.db,
            state.settings,
            member,
            arxiv_id,
            form.body,
            form.parent_id,
            request_time(request),
        )
    except (BadRequest, TooMany) as exc:
        if wants_json(request):
            raise
        retry = exc.retry_after if isinstance(exc, TooMany) else None
        return _retry_page(
            request, arxiv_id, form.body, form.parent_id, str(exc), 429 if retry else 400, retry
        )
    wake_outbox(request)
    if wants_json(request):
        return JSONResponse(view.model_dump(mode="json"), 201)
    return RedirectResponse(_back(form.next, _anchor(view)), 303)


def _retry_page(
    request: Request,
    arxiv_id: str,
    body: str,
    parent_id: int | None,
    error: str,
    status_code: int,
    retry_after: int | None = None,
) -> Response:
    return _form_page(
        request,
        title="Your comment was not posted",
        action=f"/papers/{arxiv_id}/comments",
        body=body,
        error=error,
        arxiv_id=arxiv_id,
        parent_id=parent_id,
        status_code=status_code,
        retry_after=retry_after,
    )


async def _page(request: Request, member: Member, comment_id: int) -> CommentPage:
    state = request.app.state
    page: CommentPage = await run_in_threadpool(
        comments.comment_page, state.db, state.settings, member, comment_id, request_time(request)
    )
    return page


def _edit_page(
    request: Request, page: CommentPage, body: str, error: str | None = None, status_code: int = 200
) -> Response:
    view = page.comment
    return _form_page(
        request,
        title="Edit your comment",
        action=f"/comments/{view.id}/edit",
        body=body,
        error=error,
        arxiv_id=view.arxiv_id,
        page=page,
        status_code=status_code,
    )


@router.get("/comments/{comment_id}/edit", summary="The form to edit one's comment")
async def edit_page(request: Request, comment_id: CommentId) -> Response:
    member = acting_member(request)
    page = await _page(request, member, comment_id)
    if not page.comment.can_edit:
        return _cannot(request, page, "edit")
    return _edit_page(request, page, page.body)


def _cannot(request: Request, page: CommentPage, doing: str) -> Response:
    """Why this member may not edit or flag this comment, in words."""
    view = page.comment
    settings: Settings = request.app.state.settings
    if doing == "edit" and not page.body and not view.deleted:
        why = "Only its author may edit a comment."
    elif view.deleted:
        why = "This comment was deleted."
    elif view.hidden:
        why = "This comment was hidden by a moderator."
    elif doing == "edit":
        why = (
            f"Comments may be edited for {settings.comment_edit_minutes} minutes after posting; "
            "this one can no longer be changed (you may delete it)."
        )
    else:
        why = "You cannot flag your own comment (you may edit or delete it)."
    return message_page(request, f"You cannot {doing} this comment", why, 403)


@router.post("/comments/{comment_id}/edit", summary="Save the new text of one's comment")
async def edit_comment(request: Request, comment_id: CommentId) -> Response:
    member = acting_member(request)
    try:
        fields = await _fields(request)
        form = EditForm.model_validate(fields)
    except FormRefused as exc:
        return _refused(request, exc)
    except ValidationError as exc:
        if wants_json(request):
            raise BadRequest(_problems(exc)) from None
        page = await _page(request, member, comment_id)
        return _edit_page(request, page, fields.get("body", ""), _problems(exc), 400)
    state = request.app.state
    try:
        view = await run_in_threadpool(
            comments.edit_comment,
            state.db,
            state.settings,
            member,
            comment_id,
            form.body,
            request_time(request),
        )
    except BadRequest as exc:
        if wants_json(request):
            raise
        page = await _page(request, member, comment_id)
        return _edit_page(request, page, form.body, str(exc), 400)
    wake_outbox(request)
    if wants_json(request):
        return JSONResponse(view.model_dump(mode="json"))
    return RedirectResponse(_anchor(view), 303)


@router.post("/comments/{comment_id}/delete", summary="Delete one's comment")
async def delete_comment(request: Request, comment_id: CommentId) -> Response:
    member = acting_member(request)
    try:
        form = DeleteForm.model_validate(await _fields(request))
    except FormRefused as exc:
        return _refused(request, exc)
    except ValidationError as exc:
        raise BadRequest(_problems(exc)) from None
    state = request.app.state
    view = await run_in_threadpool(
        comments.delete_comment, state.db, state.settings, member, comment_id, request_time(request)
    )
    if wants_json(request):
        return JSONResponse(view.model_dump(mode="json"))
    return RedirectResponse(_back(form.next, _anchor(view)), 303)


def _flag_page(
    request: Request,
    page: CommentPage,
    reason: str = "",
    note: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "title": "Flag a comment",
        "page": page,
        "reasons": REASONS,
        "reason": reason,
        "note": note,
        "max_note": MAX_NOTE_CHARS,
        "error": error,
    }
    return render(request, "comment_flag.html", context, status_code)


@router.get("/comments/{comment_id}/flag", summary="The form to flag a comment for the moderators")
async def flag_page(request: Request, comment_id: CommentId) -> Response:
    member = acting_member(request)
    page = await _page(request, member, comment_id)
    if not page.comment.can_flag:
        return _cannot(request, page, "flag")
    return _flag_page(request, page)


@router.post("/comments/{comment_id}/flag", summary="Flag a comment for the moderators")
async def flag_comment(request: Request, comment_id: CommentId) -> Response:
    member = acting_member(request)
    try:
        fields = await _fields(request)
        form = FlagForm.model_validate(fields)
    except FormRefused as exc:
        return _refused(request, exc)
    except ValidationError as exc:
        if wants_json(request):
            raise BadRequest(_problems(exc)) from None
        page = await _page(request, member, comment_id)
        return _flag_page(request, page, "", fields.get("note", ""), _problems(exc), 400)
    state = request.app.state
    try:
        flag = await run_in_threadpool(
            comments.flag_comment,
            state.db,
            state.settings,
            member,
            comment_id,
            form.reason,
            form.note,
            request_time(request),
        )
    except BadRequest as exc:
        if wants_json(request):
            raise
        page = await _page(request, member, comment_id)
        return _flag_page(request, page, form.reason, form.note, str(exc), 400)
    if wants_json(request):
        return JSONResponse(flag.model_dump(mode="json"))
    return RedirectResponse(f"/papers/{flag.arxiv_id}?flagged={comment_id}#c{comment_id}", 303)
