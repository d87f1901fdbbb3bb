"""What the CLI's commands share: the console, common options, settings and database."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from dailypapers.core.settings import Settings
    from dailypapers.services.runtime import Database

err = Console(stderr=True)

HostOpt = Annotated[str | None, typer.Option(help="Address to listen on (default: setting host).")]
PortOpt = Annotated[int | None, typer.Option(help="Port to listen on (default: setting port).")]
# Only this many rejection lines are printed; the summary line always has the full count.
MAX_REJECTIONS_SHOWN = 50


def get_settings() -> Settings:
    """The settings from the environment (imported here, not at start-up)."""
    from dailypapers.core.settings import get_settings as load

    return load()


def database(settings: Settings, url: str | None = None) -> Database:
    """The database of the settings (or of `url`), not migrated (imported here, not at start-up)."""
    from dailypapers.services.runtime import open_database

    return open_database(settings, url)


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def day_option(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a YYYY-MM-DD date") from None
