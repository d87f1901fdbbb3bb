"""What every form page shares: reading a url-encoded body strictly, the time of a change, and waking
the in-process outbox job after a request queued a mail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs

from fastapi import Request

from dailypapers.services.runtime import Wakeable


class FormRefused(Exception):
    """A form body that is not read at all: too many fields or not UTF-8 (a 400 page)."""


async def read_form(request: Request, max_fields: int) -> dict[str, list[str]]:
    """The url-encoded form of the request body (already bounded by RequestLimits), or FormRefused."""
    body = await request.body()
    try:
        # Strict UTF-8, for the body and for its %-escapes: "%ff%fe" is not text, and must not
        # become "��" in an address.
        return parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=max_fields,
            encoding="utf-8",
            errors="strict",
        )
    except UnicodeDecodeError:
        raise FormRefused("This form is not valid UTF-8 text; nothing was changed.") from None
    except ValueError:  # parse_qs: more than max_fields
        raise FormRefused(
            f"This form has too many fields (at most {max_fields}); nothing was changed."
        ) from None


async def read_fields(request: Request, max_fields: int) -> dict[str, str]:
    """read_form with the first value of each field: the forms whose fields are all single."""
    return {name: values[0] for name, values in (await read_form(request, max_fields)).items()}


def request_time(request: Request) -> datetime:
    """The time of a change, aware and in UTC: the app's clock, app.state.clock, when set (tests run
    the flows at fixed instants), else real time."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return (clock() if clock is not None else datetime.now(UTC)).astimezone(UTC)


def wake_outbox(request: Request) -> None:
    """Ask the app's in-process scheduler (the demo's), if it has one, to send the outbox now: a web
    request only queues mail, it never sends it."""
    jobs: Wakeable | None = getattr(request.app.state, "jobs", None)
    if jobs is not None:
        jobs.wake("outbox")
