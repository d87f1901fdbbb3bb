"""The command line: `dailypapers demo`, `serve`, `import`, `ingest`, `worker`, `sources`, `migrate`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from dailypapers.cli import digest as digest_cli
from dailypapers.cli import sources
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
    from dailypapers.store.db import Database

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
    mailbox = None
    if demo_mail is not None:
        from dailypapers.demo.mail import start_demo_mail

        settings, mailbox = start_demo_mail(settings, db, host, port, demo_mail)
        if mailbox is not None:
            err.print(
                f"Mail the demo sends stays on this machine: http://127.0.0.1:{port}/demo/mailbox "
                f"(shown to this machine only; {mailbox})"
            )
    err.print(f"Serving {settings.site_name} on [bold]http://{host}:{port}[/bold]  (Ctrl-C to stop)")
    from dailypapers.services.search import warm_up

    warm_up(db, settings)
    uvicorn.run(create_app(settings, db, mailbox=mailbox), host=host, port=port, log_level="warning")


@app.command()
def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    database: Annotated[
        str | None, typer.Option(help="SQLite file to build (default: setting demo_database).")
    ] = None,
) -> None:
    """Build (or refresh) a SQLite database from the bundled corpus and serve it."""
    from dailypapers.demo import build_demo_db

    settings = get_settings()
    path = Path(database or settings.demo_database)
    db = database(settings, f"sqlite:///{path}")
    err.print(f"Building the demo database {path} from the bundled corpus…")
    summary = build_demo_db(db)
    err.print(summary.line())
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
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from dailypapers.ingest.importer import import_paths

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
    task = {"id": None}

    def on_file(path: Path, size: int) -> None:
        if task["id"] is not None:
            bar.remove_task(task["id"])
        task["id"] = bar.add_task(path.name, total=size)

    def on_progress(done: int, total: int) -> None:
        bar.update(task["id"], completed=done, total=total)

    with bar:
        summary = import_paths(
            db, paths, batch_size=settings.import_batch_size, progress=on_progress, on_file=on_file
        )
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

    from dailypapers.services.search import search_options, search_papers

    settings = get_settings()
    db = database(settings)
    db.migrate()
    # An argument in another encoding than the terminal's arrives with surrogate escapes.
    query = query.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    result = search_papers(db, query, page=page, page_size=limit, options=search_options(settings))
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

    from dailypapers.search.vectors import IndexConfig
    from dailypapers.services import feed as services
    from dailypapers.services.search import get_embedder_cached, similar_papers

    settings = get_settings()
    db = database(settings)
    db.migrate()
    try:
        detail = services.paper_detail(db, arxiv_id)
    except (services.NotFound, services.BadRequest) as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    cards = similar_papers(
        db,
        detail.arxiv_id,
        get_embedder_cached(settings.embedding_model),
        k=limit,
        config=IndexConfig.from_settings(settings),
    )
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

    from dailypapers.search.embed import get_embedder
    from dailypapers.search.vectors import IndexConfig, count_pending, embed_pending, refresh_index

    settings = get_settings()
    db = database(settings)
    db.migrate()
    embedder = get_embedder(settings.embedding_model)
    todo = count_pending(db, embedder.name)
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
        summary = embed_pending(
            db, embedder, batch_size=settings.embed_batch_size, progress=lambda n: bar.advance(task, n)
        )
    print(f"{embedder.name}: {summary.line()}")
    print(refresh_index(db, embedder.name, IndexConfig.from_settings(settings), rebuild=rebuild_index))


app.command()(sources.ingest)
app.command()(sources.worker)
app.command()(sources.sources)
app.add_typer(digest_cli.digest, name="digest")
app.add_typer(digest_cli.subscribers, name="subscribers")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
