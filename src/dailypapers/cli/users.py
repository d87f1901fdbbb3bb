"""`dailypapers users create|promote|ban|unban|list`: the operator's account commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from dailypapers.cli.common import database, err, get_settings

# The services (and with them SQLAlchemy and the settings) are imported by the commands that run, so
# that `dailypapers --help` does not load them (tests/test_cli_startup.py).
if TYPE_CHECKING:
    from dailypapers.services.runtime import Database
    from dailypapers.services.schemas import Member

users = typer.Typer(help="Member accounts: create, promote, ban, unban, list.", no_args_is_help=True)
RoleOpt = Annotated[str, typer.Option(help="member, moderator or admin.")]


def _db() -> Database:
    db = database(get_settings())
    db.migrate()
    return db


def _line(member: Member) -> str:
    banned = ""
    if member.banned_until is not None:
        banned = f" · banned until {member.banned_until:%Y-%m-%d %H:%M} UTC: {member.ban_reason}"
    confirmed = "" if member.email_confirmed else " (unconfirmed)"
    return f"{member.username} · {member.role} · {member.email}{confirmed}{banned}"


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]error[/red] {exc}", highlight=False)
    return typer.Exit(2)


@users.command("create")
def create(
    username: Annotated[str, typer.Argument(help="2-32 letters, digits, - or _.")],
    email: Annotated[str, typer.Argument(help="The member's address (counts as confirmed).")],
    role: RoleOpt = "member",
) -> None:
    """Create an account; the password is asked twice (or read from standard input)."""
    from dailypapers.services.accounts import AccountError, create_user

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        member = create_user(_db(), get_settings(), username, email, password, role, datetime.now(UTC))
    except AccountError as exc:
        raise _fail(exc) from None
    typer.echo(f"created {_line(member)}")


@users.command("promote")
def promote(username: Annotated[str, typer.Argument()], role: RoleOpt = "moderator") -> None:
    """Give a member a role (moderator by default; `--role member` demotes); the moderation log shows it."""
    from dailypapers.services.errors import BadRequest, NotFound
    from dailypapers.services.moderation import operator_set_role

    try:
        member = operator_set_role(_db(), username, role, datetime.now(UTC))
    except (BadRequest, NotFound) as exc:
        raise _fail(exc) from None
    typer.echo(_line(member))


@users.command("ban")
def ban(
    username: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why (shown to the member and in the moderation log).")],
    days: Annotated[float | None, typer.Option(min=0.01, help="How long; without it, for good.")] = None,
) -> None:
    """Ban a member (their sessions end at once); the moderation log shows it."""
    from dailypapers.services.errors import BadRequest, NotFound
    from dailypapers.services.moderation import operator_ban

    now = datetime.now(UTC)
    until = now + timedelta(days=days) if days is not None else None
    try:
        member = operator_ban(_db(), username, reason, until, now)
    except (BadRequest, NotFound) as exc:
        raise _fail(exc) from None
    typer.echo(_line(member))


@users.command("unban")
def unban(
    username: Annotated[str, typer.Argument()],
    reason: Annotated[
        str, typer.Option(help="Why (shown in the moderation log).")
    ] = "lifted by the operator",
) -> None:
    """Lift a member's ban; the moderation log shows it."""
    from dailypapers.services.errors import BadRequest, NotFound
    from dailypapers.services.moderation import operator_unban

    try:
        member = operator_unban(_db(), username, reason, datetime.now(UTC))
    except (BadRequest, NotFound) as exc:
        raise _fail(exc) from None
    typer.echo(_line(member))


@users.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False) -> None:
    """Every member: username, role, address, ban."""
    from dailypapers.services.accounts import list_users

    for member in list_users(_db()):
        typer.echo(json.dumps(member.model_dump(mode="json")) if as_json else _line(member))
