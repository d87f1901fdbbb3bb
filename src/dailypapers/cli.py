"""The command line: `dailypapers demo`, `serve`, `import`, `migrate`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dailypapers.settings import Settings, get_settings
from dailypapers.store.db import Database

app = typer.Typer(
    help="dailypapers: a self-hostable research-paper feed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

HostOpt = Annotated[str | None, typer.Option(help="Address to listen on (default: setting host).")]
PortOpt = Annotated[int | None, typer.Option(help="Port to listen on (default: setting port).")]
# Only this many rejection lines are printed; the summary line always has the full count.
MAX_REJECTIONS_SHOWN = 50


def _database(settings: Settings, url: str | None = None) -> Database:
    return Database(url or settings.database_url, busy_timeout=settings.sqlite_busy_timeout)


def _serve(settings: Settings, db: Database, host: str | None, port: int | None) -> None:
    import uvicorn

    from dailypapers.web.app import create_app

    host, port = host or settings.host, port or settings.port
    err.print(f"Serving {settings.site_name} on [bold]http://{host}:{port}[/bold]  (Ctrl-C to stop)")
    uvicorn.run(create_app(settings, db), host=host, port=port, log_level="warning")


@app.command()
def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    database: Annotated[str | None, typer.Option(help="SQLite file to build (default: setting demo_database).")] = None,
) -> None:
    """Build (or refresh) a SQLite database from the bundled corpus and serve it."""
    from dailypapers.demo import build_demo_db

    settings = get_settings()
    path = Path(database or settings.demo_database)
    db = Database(f"sqlite:///{path}", busy_timeout=settings.sqlite_busy_timeout)
    err.print(f"Building the demo database {path} from the bundled corpus…")
    summary = build_demo_db(db)
    err.print(summary.line())
    _serve(settings, db, host, port)


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None) -> None:
    """Serve an existing database (setting database_url); migrates it first."""
    settings = get_settings()
    db = _database(settings)
    db.migrate()
    _serve(settings, db, host, port)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest migration."""
    settings = get_settings()
    _database(settings).migrate()
    err.print("Database is up to date.")


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Files: arXiv listing JSONL, Kaggle snapshot JSONL, Hub daily_papers JSON; gzip or not.")],
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Import papers from files, detecting each file's format; safe to repeat."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from dailypapers.ingest.importer import import_paths

    settings = get_settings()
    db = _database(settings)
    db.migrate()
    bar = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        console=err, disable=not progress, transient=True,
    )  # fmt: skip
    task = {"id": None}

    def on_file(path: Path, size: int) -> None:
        if task["id"] is not None:
            bar.remove_task(task["id"])
        task["id"] = bar.add_task(path.name, total=size)

    def on_progress(done: int, total: int) -> None:
        bar.update(task["id"], completed=done, total=total)

    with bar:
        summary = import_paths(db, paths, batch_size=settings.import_batch_size, progress=on_progress, on_file=on_file)
    for line in summary.unreadable:
        err.print(f"[red]unreadable[/red] {line}", highlight=False)
    for note in summary.notes:
        err.print(f"[yellow]note[/yellow] {note}", highlight=False)
    for rejected in summary.rejected[:MAX_REJECTIONS_SHOWN]:
        err.print(f"[red]rejected[/red] {rejected}", highlight=False)
    if len(summary.rejected) > MAX_REJECTIONS_SHOWN:
        err.print(f"… and {len(summary.rejected) - MAX_REJECTIONS_SHOWN:,} more rejected records")
    print(summary.line())
    if summary.nothing_read:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
