"""Upvotes and submissions: the ▲ button of every card and paper page, and "Submit paper".

POST /papers/{id}/vote (`csrf_token`, `value` "1" upvote / "0" take back, `next`): a form post that
returns to `next` at the card's anchor (303), or the new counts as JSON (Accept: application/json,
which web/static/vote.js sends). Nobody signed in: the sign-in page, which applies the vote and
returns (SignInNeeded with pending {"vote": id}); nothing changes before the member is known, so that
answer needs no CSRF token. GET/POST /submit: the form (`csrf_token`, `arxiv` id or URL, optional
`comment`), then the paper page (303), or 201 with the submission as JSON.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from dailypapers.services import comments as comment_service
from dailypapers.services import submissions
from dailypapers.services import votes as vote_service
from dailypapers.services.errors import BadRequest, Forbidden, NotFound, TooMany
from dailypapers.services.schemas import Member
from dailypapers.web.accounts import safe_return
from dailypapers.web.auth import acting_member
from dailypapers.web.csrf import check_csrf
from dailypapers.web.forms import FormRefused, read_fields, request_time, wake_outbox
from dailypapers.web.render import error_response, render, wants_json

router = APIRouter()
MAX_FORM_FIELDS = 10
MAX_NEXT_CHARS = 2000


class VoteForm(BaseModel):
    """POST /papers/{id}/vote."""

    model_config = ConfigDict(extra="ignore")
    value: str = Field("1", pattern="^[01]$")
    next: str = Field("", max_length=MAX_NEXT_CHARS)


class SubmitForm(BaseModel):
    """POST /submit: the paper (an arXiv id or URL) and an optional first comment."""

    model_config = ConfigDict(extra="ignore")
    arxiv: str = Field("", max_length=300)
    comment: str = Field("", max_length=200_000)  # the comment service applies the real limit


def card_anchor(arxiv_id: str) -> str:
    """The id of a paper's card on a list page (cards and paper page carry it)."""
    return "paper-" + arxiv_id.replace("/", "-").replace(".", "-")


async def _vote(request: Request, arxiv_id: str) -> Response:
    try:
        fields = await read_fields(request, MAX_FORM_FIELDS)
        form = VoteForm.model_validate(fields)
    except FormRefused as exc:
        return error_response(request, 400, str(exc))
    except ValidationError:
        return error_response(request, 400, 'value: "1" to upvote or "0" to take the upvote back')
    paper = vote_service.paper_id(arxiv_id)
    target = safe_return(form.next or f"/papers/{paper}")
    member = acting_member(request, return_to=target, pending={"vote": paper})
    check_csrf(request, fields.get("csrf_token"))
    state = request.app.state
    result = await run_in_threadpool(
        vote_service.vote, state.db, state.settings, member, paper, form.value == "1", request_time(request)
    )
    if wants_json(request):
        return JSONResponse(result.model_dump(mode="json"))
    anchor = "" if "#" in target else f"#{card_anchor(paper)}"
    return RedirectResponse(target + anchor, status_code=303)


@router.post("/papers/{arxiv_id}/vote", summary="Upvote a paper, or take the upvote back")
async def vote(request: Request, arxiv_id: str) -> Response:
    """Form fields `csrf_token`, `value` ("1" upvote, "0" take it back: sending it twice is harmless)
    and `next` (where to return); JSON answer: the paper's upvotes (imported + local) and `voted`."""
    return await _vote(request, arxiv_id)


@router.post("/papers/{archive}/{number}/vote", include_in_schema=False)
async def vote_old_style(request: Request, archive: str, number: str) -> Response:
    """The vote of an old-style id (hep-th/9901001)."""
    return await _vote(request, f"{archive}/{number}")


def _submit_page(
    request: Request,
    form: SubmitForm | None = None,
    error: str | None = None,
    link: str | None = None,
    status_code: int = 200,
    done: bool = False,
) -> Response:
    settings = request.app.state.settings
    context = {
        "title": "Submit a paper",
        "arxiv": form.arxiv if form else "",
        "comment": form.comment if form else "",
        "error": error,
        "link": link,
        "done": done,  # the paper was submitted; only the comment is left
        "max_age_days": settings.submit_max_age_days,
        "daily_cap": settings.submit_daily_cap,
        "comment_max_chars": settings.comment_max_chars,
    }
    return render(request, "submit.html", context, status_code)


@router.get("/submit", summary="The form to submit a paper to today's feed")
def submit_page(request: Request) -> Response:
    """Members who may act see the form; nobody signed in is sent to sign in first."""
    acting_member(request)
    return _submit_page(request)


def _refused(
    request: Request, form: SubmitForm, status: int, message: str, link: str | None = None, **extra: Any
) -> Response:
    if wants_json(request):
        body: dict[str, Any] = {"status": status, "message": message, **extra}
        if link:
            body["url"] = link
        headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None
        return JSONResponse({"error": body}, status_code=status, headers=headers)
    return _submit_page(request, form, message, link, status)


async def _first_comment(
    request: Request, member: Member, arxiv_id: str, body: str
) -> tuple[Any, str | None]:
    """Post the submission's first comment; (the comment, None) or (None, why it was refused)."""
    state = request.app.state
    try:
        comment = await run_in_threadpool(
            comment_service.post_comment,
            state.db,
            state.settings,
            member,
            arxiv_id,
            body,
            None,
            request_time(request),
        )
    except (BadRequest, Forbidden, NotFound, TooMany) as exc:
        return None, str(exc)
    wake_outbox(request)  # @mentions queue mails
    return comment, None


@router.post("/submit", include_in_schema=False)
async def submit(request: Request) -> Response:
    try:
        fields = await read_fields(request, MAX_FORM_FIELDS)
        form = SubmitForm.model_validate(fields)
    except FormRefused as exc:
        return error_response(request, 400, str(exc))
    except ValidationError:
        return error_response(request, 400, "arxiv: at most 300 characters; comment: too long")
    member = acting_member(request, return_to="/submit")
    check_csrf(request, fields.get("csrf_token"))
    state = request.app.state
    try:
        result = await run_in_threadpool(
            submissions.submit_paper, state.db, state.settings, member, form.arxiv, request_time(request)
        )
    except submissions.AlreadyFeatured as exc:
        return _refused(request, form, 409, str(exc), exc.url)
    except TooMany as exc:
        return _refused(request, form, 429, str(exc), retry_after=exc.retry_after)
    except Forbidden as exc:
        return _refused(request, form, 403, str(exc))
    except NotFound as exc:
        return _refused(request, form, 404, str(exc))
    except BadRequest as exc:
        return _refused(request, form, 400, str(exc))
    except submissions.ArxivUnavailable as exc:
        return _refused(request, form, 502, str(exc))
    comment, comment_error = (None, None)
    if form.comment.strip():
        comment, comment_error = await _first_comment(request, member, result.arxiv_id, form.comment)
    if wants_json(request):
        body = result.model_dump(mode="json")
        body["comment"] = comment.model_dump(mode="json") if comment is not None else None
        if comment_error:
            body["comment_error"] = comment_error
        return JSONResponse(body, status_code=201)
    if comment_error:
        message = f"Your paper is on today's feed, but your comment was not posted: {comment_error}"
        return _submit_page(request, SubmitForm(comment=form.comment), message, result.url, 200, done=True)
    return RedirectResponse(result.url, status_code=303)
