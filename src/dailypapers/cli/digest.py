"""`dailypapers digest …` and `dailypapers subscribers …`."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from dailypapers.cli.common import database, err, get_settings

# The services (and with them SQLAlchemy and the settings) are imported by the commands that run, so
# that `dailypapers --help` does not load them (tests/test_cli_startup.py).
if TYPE_CHECKING:
    from dailypapers.services.runtime import Database

digest = typer.Typer(help="Email digests: preview, send, inbound unsubscribe mails.", no_args_is_help=True)
subscribers = typer.Typer(help="Digest subscribers: list and export.", no_args_is_help=True)


NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="TIME",
        help="Act as if it were TIME (ISO 8601 with its offset, e.g. 2026-11-30T09:00Z); default: now.",
    ),
]


def _clock(now: str | None) -> datetime:
    """`--now` as an aware UTC time (real time when not given)."""
    if now is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(now)
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 time: {now!r}", param_hint="--now") from None
    if when.tzinfo is None:
        raise typer.BadParameter("give the time's offset, e.g. 2026-11-30T09:00Z", param_hint="--now")
    return when.astimezone(UTC)


def _db() -> Database:
    db = database(get_settings())
    db.migrate()
    return db


@digest.command("preview")
def preview_(
    email: Annotated[str, typer.Argument(help="A subscriber's address.")],
    out: Annotated[
        Path | None, typer.Option(help="Write to this file (.html: the HTML part; else the text part).")
    ] = None,
    html: Annotated[bool, typer.Option(help="Print the HTML part instead of the text part.")] = False,
    now: NowOpt = None,
) -> None:
    """Render the subscriber's next digest as it would be now (nothing is recorded or sent)."""
    from dailypapers.services.digests import preview
    from dailypapers.services.errors import BadRequest, NotFound

    when = _clock(now)
    settings = get_settings()
    db = _db()
    try:
        rendered = preview(db, settings, email, when)
    except (BadRequest, NotFound) as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if rendered.empty:
        err.print("nothing new for this subscriber: no digest would be sent (empty periods send nothing)")
    as_html = html or (out is not None and out.suffix.lower() in (".html", ".htm"))
    body = rendered.html if as_html else f"Subject: {rendered.subject}\n\n{rendered.text}"
    if out is None:
        sys.stdout.write(body)
    else:
        out.write_text(body, encoding="utf-8")
        err.print(f"wrote {out}")


@digest.command("send")
def send(
    due: Annotated[bool, typer.Option("--due", help="Compose every due digest and send the outbox.")] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Only say whose digest is due and how many papers it would have."),
    ] = False,
    now: NowOpt = None,
) -> None:
    """Compose the digests that are due now and send what the outbox holds, over SMTP (settings smtp_*)."""
    from dailypapers.services.digests import due_digests, send_due

    if not due:
        err.print("[red]error[/red] say --due (send the digests due now)")
        raise typer.Exit(2)
    fixed, when = now is not None, _clock(now)  # a bad --now is refused before the database is opened
    settings = get_settings()
    db = _db()
    if dry_run:
        plan = due_digests(db, settings, when)
        for due_digest in plan.digests:
            if due_digest.papers is None:
                print(f"{due_digest.email}\t{due_digest.period_key}\tnothing new")
                continue
            print(
                f"{due_digest.email}\t{due_digest.period_key}\t{due_digest.papers} papers"
                + (" (empty: not sent)" if due_digest.empty else "")
            )
        print(f"outbox: {plan.queued} queued")
        return
    made, report = send_due(db, settings, when if fixed else None)
    for line in report.errors[:50]:
        err.print(f"[yellow]{line}[/yellow]", highlight=False)
    print(f"{made} digests composed; {report.line()}")


@digest.command("inbound")
def inbound() -> None:
    """Read one mail on stdin (from the mail server, for the mailto: List-Unsubscribe address) and
    unsubscribe the subscriber whose signed token its subject carries."""
    from email import message_from_binary_file, policy

    from dailypapers.services.digests import unsubscribe_by_mail
    from dailypapers.services.errors import BadRequest
    from dailypapers.services.subscriptions import InvalidToken

    settings = get_settings()
    db = _db()
    message = message_from_binary_file(sys.stdin.buffer, policy=policy.default)
    try:
        address = unsubscribe_by_mail(db, settings, str(message.get("Subject", "")), datetime.now(UTC))
    except BadRequest as exc:
        err.print(f"{exc}: ignored")
        raise typer.Exit(1) from None
    except InvalidToken as exc:
        err.print(f"ignored: {exc}")
        raise typer.Exit(1) from None
    print(f"unsubscribed {address}")


def _rows(status: str | None) -> list[dict[str, Any]]:
    """The subscribers (of `status` when given), each as field → value."""
    from dailypapers.services.digests import subscribers as all_subscribers

    return [asdict(record) for record in all_subscribers(_db(), get_settings(), status)]


StatusOpt = Annotated[
    str | None, typer.Option(help="Only this status: pending, active, paused, unsubscribed.")
]


@subscribers.command("list")
def list_(status: StatusOpt = None) -> None:
    """Print the subscribers as a table."""
    from rich.table import Table

    rows = _rows(status)
    table = Table(title=f"{len(rows)} subscribers")
    for column in ("email", "status", "schedule", "topics", "bounces"):
        table.add_column(column)
    for r in rows:
        when = f"{r['frequency']} {r['send_hour']:02d}:00 {r['timezone']}"
        topics = ", ".join(r["categories"] or []) or "all"
        if r["saved_searches"]:
            topics += f" + {len(r['saved_searches'])} searches"
        table.add_row(r["email"], r["status"], when, topics, str(r["bounces"]))
    Console().print(table)


@subscribers.command("export")
def export(
    status: StatusOpt = None,
    format: Annotated[str, typer.Option(help="csv or json.")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export the subscribers with their preferences (CSV or JSON)."""
    rows = _rows(status)
    fields = [
        "email",
        "status",
        "frequency",
        "weekday",
        "send_hour",
        "timezone",
        "max_papers",
        "categories",
        "min_upvotes",
        "saved_searches",
        "bounces",
        "paused_reason",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
    ]
    stream = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
    try:
        if format == "json":
            json.dump([{k: r[k] for k in fields} for r in rows], stream, default=str, indent=1)
            stream.write("\n")
        elif format == "csv":
            writer = csv.DictWriter(stream, fieldnames=fields)
            writer.writeheader()
            for r in rows:
                writer.writerow({k: (json.dumps(r[k]) if isinstance(r[k], list) else r[k]) for k in fields})
        else:
            err.print("[red]error[/red] --format is csv or json")
            raise typer.Exit(2)
    finally:
        if out:
            stream.close()
