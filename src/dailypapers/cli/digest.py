"""`dailypapers digest …` and `dailypapers subscribers …`."""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

# SQLAlchemy, the settings and the tables are imported by the commands that run, so that
# `dailypapers --help` does not load them (tests/test_cli_startup.py).
if TYPE_CHECKING:
    from dailypapers.core.settings import Settings
    from dailypapers.store.db import Database

digest = typer.Typer(help="Email digests: preview, send, inbound unsubscribe mails.", no_args_is_help=True)
subscribers = typer.Typer(help="Digest subscribers: list and export.", no_args_is_help=True)
err = Console(stderr=True)


def get_settings() -> Settings:
    """The settings from the environment (imported here, not at start-up)."""
    from dailypapers.core.settings import get_settings as load

    return load()


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
    from dailypapers.store.db import Database

    settings = get_settings()
    db = Database(settings.database_url, busy_timeout=settings.sqlite_busy_timeout)
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
    import sqlalchemy as sa

    from dailypapers.digest.compose import preview
    from dailypapers.digest.render import render_digest
    from dailypapers.digest.subscriptions import InvalidEmail, normalize_email
    from dailypapers.jobs.digests import signer_for
    from dailypapers.store.tables import subscribers as subscribers_table

    when = _clock(now)
    settings = get_settings()
    db = _db()
    try:
        address = normalize_email(email)
    except InvalidEmail as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    signer = signer_for(db, settings)  # before the read: it may read the key from the database itself
    with db.read() as conn:
        sub = conn.execute(sa.select(subscribers_table).where(subscribers_table.c.email == address)).first()
        if sub is None:
            err.print(f"[red]error[/red] no subscriber {address}", highlight=False)
            raise typer.Exit(2)
        content = preview(conn, sub, settings, signer, when)
    if content.empty:
        err.print("nothing new for this subscriber: no digest would be sent (empty periods send nothing)")
    rendered = render_digest(content)
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
    import sqlalchemy as sa

    from dailypapers.digest.compose import build_content, due_digests, feed_window
    from dailypapers.jobs.digests import run_digests, signer_for
    from dailypapers.store.tables import outbox

    if not due:
        err.print("[red]error[/red] say --due (send the digests due now)")
        raise typer.Exit(2)
    fixed, when = now is not None, _clock(now)  # a bad --now is refused before the database is opened
    settings = get_settings()
    db = _db()
    if dry_run:
        signer = signer_for(db, settings)
        with db.read() as conn:
            for sub, period, fresh in due_digests(conn, when):
                window = feed_window(conn, sub, period) if fresh else None
                if window is None:
                    print(f"{sub.email}\t{period.key}\tnothing new")
                    continue
                content = build_content(conn, sub, period, window, settings, signer)
                count = len(content.top) + sum(len(s.papers) for s in content.saved)
                print(
                    f"{sub.email}\t{period.key}\t{count} papers"
                    + (" (empty: not sent)" if content.empty else "")
                )
            queued = conn.scalar(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == "queued")
            )
        print(f"outbox: {queued} queued")
        return
    made, report = run_digests(db, settings, now=(lambda: when) if fixed else None)
    for line in report.errors[:50]:
        err.print(f"[yellow]{line}[/yellow]", highlight=False)
    print(f"{made} digests composed; {report.line()}")


@digest.command("inbound")
def inbound() -> None:
    """Read one mail on stdin (from the mail server, for the mailto: List-Unsubscribe address) and
    unsubscribe the subscriber whose signed token its subject carries."""
    from email import message_from_binary_file, policy

    from dailypapers.digest.subscriptions import from_manage_token, unsubscribe
    from dailypapers.digest.tokens import InvalidToken
    from dailypapers.jobs.digests import signer_for

    settings = get_settings()
    db = _db()
    message = message_from_binary_file(sys.stdin.buffer, policy=policy.default)
    subject = str(message.get("Subject", ""))
    found = re.search(r"unsubscribe[\s:-]+([A-Za-z0-9_.-]+)", subject)
    if not found:
        err.print("no unsubscribe token in the subject: ignored")
        raise typer.Exit(1)
    signer = signer_for(db, settings)
    try:
        with db.write() as conn:
            sub = from_manage_token(conn, signer, found.group(1))
            unsubscribe(conn, sub, datetime.now(UTC))
    except InvalidToken as exc:
        err.print(f"ignored: {exc}")
        raise typer.Exit(1) from None
    print(f"unsubscribed {sub.email}")


def _rows(status: str | None) -> list[dict]:
    import sqlalchemy as sa

    from dailypapers.store.tables import saved_searches
    from dailypapers.store.tables import subscribers as subscribers_table

    db = _db()
    with db.read() as conn:
        q = sa.select(subscribers_table).order_by(subscribers_table.c.id)
        if status:
            q = q.where(subscribers_table.c.status == status)
        rows = [dict(r._mapping) for r in conn.execute(q)]
        searches: dict[int, list[dict]] = {}
        for s in conn.execute(sa.select(saved_searches).order_by(saved_searches.c.position)):
            searches.setdefault(s.subscriber_id, []).append({"include": s.include, "exclude": s.exclude})
    for row in rows:
        row["saved_searches"] = searches.get(row["id"], [])
    return rows


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
