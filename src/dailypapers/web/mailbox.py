"""/demo/mailbox: the mails `dailypapers demo` sent, read from its local Maildir (demo only: the
route exists only when create_app is given a mailbox folder).

The mails hold everyone's confirmation and preference links, so the mailbox answers only clients on
this machine (a loopback address): `dailypapers demo --host 0.0.0.0` shows the site to the network,
not the mailbox. Everyone else gets a 404 that says why.
"""

from __future__ import annotations

import mailbox
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from dailypapers.web.render import message_page, render
from dailypapers.web.security import is_loopback

ONLY_HERE = "The demo mailbox is only shown on the machine that runs the demo: open it from 127.0.0.1 there."


def _not_here(request: Request) -> Response | None:
    """The 404 page for a client that is not on this machine, else None."""
    if is_loopback(request.client.host if request.client else None):
        return None
    return message_page(request, "Not found", ONLY_HERE, 404)


router = APIRouter()
KEY = re.compile(r"^[A-Za-z0-9._,:=-]{1,200}$")


def _box(request: Request) -> mailbox.Maildir:
    folder: Path = request.app.state.mailbox
    return mailbox.Maildir(folder, create=True)


def _message(request: Request, key: str) -> EmailMessage:
    if not KEY.match(key):
        raise HTTPException(404)
    try:
        raw = _box(request).get_bytes(key)
    except KeyError:
        raise HTTPException(404) from None
    return message_from_bytes(raw, policy=policy.default)


@router.get("/demo/mailbox", summary="The demo's local mailbox", include_in_schema=False)
def mailbox_page(request: Request) -> Response:
    if (refused := _not_here(request)) is not None:
        return refused
    box = _box(request)
    mails = []
    for key in box.keys():
        msg = message_from_bytes(box.get_bytes(key), policy=policy.default)
        try:
            when = parsedate_to_datetime(str(msg["Date"]))
        except (TypeError, ValueError):
            when = None
        mails.append(
            {"key": key, "to": str(msg["To"] or ""), "subject": str(msg["Subject"] or ""), "date": when}
        )
    mails.sort(key=lambda m: (m["date"] is not None, m["date"]), reverse=True)
    return render(
        request, "mailbox.html", {"title": "Mailbox (demo)", "mails": mails[:200], "count": len(mails)}
    )


@router.get("/demo/mailbox/{key}.html", include_in_schema=False)
def mail_html(request: Request, key: str) -> Response:
    if (refused := _not_here(request)) is not None:
        return refused
    part = _message(request, key).get_body(preferencelist=("html",))
    if part is None:
        raise HTTPException(404)
    # The mail's own HTML, as a mail client shows it: no script may run (sandbox), links work.
    return HTMLResponse(
        part.get_content(),
        headers={"Content-Security-Policy": "sandbox allow-popups allow-forms allow-top-navigation"},
    )


@router.get("/demo/mailbox/{key}.txt", include_in_schema=False)
def mail_text(request: Request, key: str) -> Response:
    if (refused := _not_here(request)) is not None:
        return refused
    msg = _message(request, key)
    part = msg.get_body(preferencelist=("plain",))
    headers = "".join(
        f"{name}: {msg[name]}\n"
        for name in (
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
        )
        if msg[name]
    )
    return PlainTextResponse(headers + "\n" + (part.get_content() if part is not None else ""))
