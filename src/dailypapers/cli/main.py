"""The command line: `dailypapers demo`, `serve`, `import`, `ingest`, `worker`, `sources`, `migrate`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from dailypapers.cli import digest as digest_cli
from dailypapers.cli import sources
from dailypapers.cli import users as users_cli
from dailypapers.cli.common import (
    MAX_REJECTIONS_SHOWN,
    HostOpt,
    PortOpt,
    database,
    err,
    get_settings,
)

# Each command imports what it needs when it runs: `--help` and light commands then start without
# loading SQLAlchemy, pydantic settings, numpy, onnxruntime, faiss or the web stack
# (tests/test_cli_startup.py).
if TYPE_CHECKING:
    from dailypapers.core.settings import Settings
    from dailypapers.services.runtime import Database, Wakeable

app = typer.Typer(
    help="dailypapers: a self-hostable research-paper feed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _serve(
    settings: Settings, db: Database, host: str | None, port: int | None, demo_mail: Path | None = None
) -> None:
    import uvicorn

    from dailypapers.web.app import create_app

    host, port = host or settings.host, port or settings.port
    mailbox: Path | None = None
    jobs: Wakeable | None = None
    if demo_mail is not None:
        from dailypapers.demo.mail import start_demo_mail

        try:
            settings, mailbox, jobs = start_demo_mail(settings, db, host, port, demo_mail)
        except RuntimeError as exc:  # its mail server's package is missing: say which
            err.print(f"[red]error[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None
        if mailbox is not None:
            err.print(
                f"Mail the demo sends stays on this machine: http://127.0.0.1:{port}/demo/mailbox "
                f"(shown to this machine only; {mailbox})"
            )
    err.print(f"Serving {settings.site_name} on [bold]http://{host}:{port}[/bold]  (Ctrl-C to stop)")
    from dailypapers.services.search import warm_up

    warm_up(db, settings)
    uvicorn.run(
        create_app(settings, db, mailbox=mailbox, jobs=jobs), host=host, port=port, log_level="warning"
    )


@app.command()
def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    database: Annotated[
        str | None, typer.Option(help="SQLite file to build (default: setting demo_database).")
    ] = None,
) -> None:
    """Build (or refresh) a SQLite database from the bundled corpus and serve it."""
    from dailypapers.demo import build_demo_db, demo_accounts
    from dailypapers.services.runtime import open_database

    settings = get_settings()
    path = Path(database or settings.demo_database)
    db = open_database(settings, f"sqlite:///{path}")  # `database` here is the option
    err.print(f"Building the demo database {path} from the bundled corpus…")
    summary = build_demo_db(db, settings)
    err.print(summary.line())
    for username, role, password in demo_accounts(db, settings):
        err.print(f"Demo {role}: sign in as [bold]{username}[/bold] with password [bold]{password}[/bold]")
    _serve(settings, db, host, port, demo_mail=path.with_name(path.stem + "-mail"))


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None) -> None:
    """Serve an existing database (setting database_url); migrates it first."""
    settings = get_settings()
    db = database(settings)
    db.migrate()
    _serve(settings, db, host, port)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest migration."""
    settings = get_settings()
    database(settings).migrate()
    err.print("Database is up to date.")


@app.command("import")
def import_(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files: arXiv listing JSONL, Kaggle snapshot JSONL, Hub daily_papers JSON; gzip or not."
        ),
    ],
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Import papers from files, detecting each file's format; safe to repeat."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    from dailypapers.services.imports import import_paths

    settings = get_settings()
    db = database(settings)
    db.migrate()
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not progress,
        transient=True,
    )
    task: list[TaskID] = []  # the bar of the file being read

    def on_file(path: Path, size: int) -> None:
        if task:
            bar.remove_task(task.pop())
        task.append(bar.add_task(path.name, total=size))

    def on_progress(done: int, total: int) -> None:
        bar.update(task[-1], completed=done, total=total)

    with bar:
        summary = import_paths(db, settings, paths, progress=on_progress, on_file=on_file)
    # One line per problem, never wrapped, so that paths stay whole for grep and copy-paste.
    for line in summary.unreadable:
        err.print(f"[red]unreadable[/red] {line}", highlight=False, soft_wrap=True)
    for note in summary.notes:
        err.print(f"[yellow]note[/yellow] {note}", highlight=False, soft_wrap=True)
    for rejected in summary.rejected[:MAX_REJECTIONS_SHOWN]:
        err.print(f"[red]rejected[/red] {rejected}", highlight=False, soft_wrap=True)
    if len(summary.rejected) > MAX_REJECTIONS_SHOWN:
        err.print(f"… and {len(summary.rejected) - MAX_REJECTIONS_SHOWN:,} more rejected records")
    print(summary.line())
    # Exit 1 when no record was read, whatever notes were printed (a big import's index rebuild).
    if summary.nothing_read:
        raise typer.Exit(1)


@app.command()
def search(
    query: Annotated[
        str,
        typer.Argument(
            help='Words, "phrases", prefix*, -exclude, title:/author:/abstract:, cat:, after:/before:.'
        ),
    ],
    page: Annotated[int, typer.Option(min=1, help="Result page.")] = 1,
    limit: Annotated[int, typer.Option(min=1, max=200, help="Results per page.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Search the papers and print a table (or JSON)."""
    from rich.table import Table

    from dailypapers.services.search import search as search_papers

    settings = get_settings()
    db = database(settings)
    db.migrate()
    # An argument in another encoding than the terminal's arrives with surrogate escapes.
    query = query.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    result = search_papers(db, settings, query, page=page, page_size=limit)
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    for note in result.notes:
        err.print(f"[yellow]note[/yellow] {note}", highlight=False)
    noun = "paper" if result.total == 1 and not result.total_capped else "papers"
    plus = "+" if result.total_capped else ""
    table = Table(
        title=f"{result.total:,}{plus} {noun} · {result.mode} · page {result.page} of {result.pages}",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("arXiv")
    table.add_column("title")
    table.add_column("authors")
    table.add_column("▲", justify="right")
    for n, card in enumerate(result.papers, start=(result.page - 1) * limit + 1):
        table.add_row(str(n), card.arxiv_id, card.title, card.authors_short, str(card.upvotes))
    Console().print(table)
    if not result.papers:
        raise typer.Exit(1)


@app.command()
def similar(
    arxiv_id: Annotated[str, typer.Argument(help="An arXiv id or URL.")],
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many papers.")] = 10,
) -> None:
    """Print the papers nearest to one (by embedding); run `embed` first."""
    from rich.table import Table

    from dailypapers.services.errors import BadRequest, NotFound
    from dailypapers.services.papers import paper_detail
    from dailypapers.services.search import similar as similar_papers

    settings = get_settings()
    db = database(settings)
    db.migrate()
    try:
        detail = paper_detail(db, settings, arxiv_id)
    except (NotFound, BadRequest) as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    cards = similar_papers(db, settings, detail.arxiv_id, k=limit)
    if not cards:
        err.print(f"{detail.arxiv_id} has no vector yet: run `dailypapers embed`")
        raise typer.Exit(1)
    table = Table(title=f"Similar to {detail.arxiv_id}: {detail.title}", title_justify="left")
    for name in ("#", "arXiv", "title", "authors"):
        table.add_column(name)
    for n, card in enumerate(cards, start=1):
        table.add_row(str(n), card.arxiv_id, card.title, card.authors_short)
    Console().print(table)


@app.command()
def embed(
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    rebuild_index: Annotated[
        bool, typer.Option(help="Build the saved HNSW index again from scratch.")
    ] = False,
) -> None:
    """Embed new and changed papers with the setting embedding_model (unchanged text is skipped), then
    bring the vector index up to date (the saved HNSW index, or pgvector's)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from dailypapers.services.search import count_pending, embed_papers

    settings = get_settings()
    db = database(settings)
    db.migrate()
    todo = count_pending(db, settings)
    bar = Progress(
        TextColumn("[bold]embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not progress,
        transient=True,
    )
    with bar:
        task = bar.add_task("embed", total=todo)
        report = embed_papers(
            db, settings, rebuild_index=rebuild_index, progress=lambda n: bar.advance(task, n)
        )
    print(f"{report.model}: {report.summary.line()}")
    print(report.index)


app.command()(sources.ingest)
app.command()(sources.worker)
app.command()(sources.sources)
app.add_typer(digest_cli.digest, name="digest")
app.add_typer(digest_cli.subscribers, name="subscribers")
app.add_typer(users_cli.users, name="users")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
