"""The command line: `dailypapers demo`, `serve`, `import`, `ingest`, `worker`, `sources`, `migrate`."""

from __future__ import annotations

import signal
import sys
from datetime import UTC, date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

# Each command imports what it needs when it runs: `--help` and light commands then start without
# loading SQLAlchemy, pydantic settings, numpy, onnxruntime, faiss or the web stack
# (tests/test_cli_startup.py).
if TYPE_CHECKING:
    from dailypapers.settings import Settings
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


def get_settings() -> Settings:
    """The settings from the environment (imported here, not at start-up)."""
    from dailypapers.settings import get_settings as load

    return load()


def _database(settings: Settings, url: str | None = None) -> Database:
    from dailypapers.store.db import Database

    return Database(url or settings.database_url, busy_timeout=settings.sqlite_busy_timeout)


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
    from dailypapers.search.service import warm_up

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
    db = _database(settings, f"sqlite:///{path}")
    err.print(f"Building the demo database {path} from the bundled corpus…")
    summary = build_demo_db(db)
    err.print(summary.line())
    _serve(settings, db, host, port, demo_mail=path.with_name(path.stem + "-mail"))


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
    db = _database(settings)
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


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _day_option(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a YYYY-MM-DD date") from None


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="arxiv-rss, arxiv-api, arxiv-oai or hf-daily.")],
    categories: Annotated[
        str | None, typer.Option(help="Comma-separated arXiv categories (default: setting arxiv_categories).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Start from this day (YYYY-MM-DD) instead of the checkpoint.")
    ] = None,
    ids: Annotated[
        str | None, typer.Option(help="arxiv-api only: fetch these comma-separated arXiv ids.")
    ] = None,
    oai_set: Annotated[
        str | None,
        typer.Option("--set", help="arxiv-oai only: the OAI set (default: setting arxiv_oai_set)."),
    ] = None,
    period: Annotated[str, typer.Option(help="hf-daily only: fetch by date, week or month.")] = "date",
) -> None:
    """Run one source once, from its checkpoint. Exit status: 0 new papers, 1 none, 2 error."""
    from dailypapers.ingest.harvest import EXIT_ERROR, harvest
    from dailypapers.ingest.sources import build_client, build_source

    settings = get_settings()
    try:
        since_day = _day_option(since, "--since")
        src = build_source(
            source,
            settings,
            categories=[c.strip() for c in categories.split(",") if c.strip()] if categories else None,
            ids=[i.strip() for i in ids.split(",") if i.strip()] if ids else None,
            oai_set=oai_set,
            granularity=period,
        )
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_ERROR) from None
    db = _database(settings)
    db.migrate()

    def on_page(request, result) -> None:  # type: ignore[no-untyped-def]
        err.print(
            f"  {request.label}: read {result.read:,}, new {result.counts.new:,}",
            highlight=False,
            soft_wrap=True,
        )

    from datetime import datetime, timedelta

    from dailypapers.ingest.worker import LEASE_SECONDS
    from dailypapers.store.checkpoints import acquire_lease, lease_owner_id, release_lease

    # SIGTERM ends the run like Ctrl-C: the page in flight is rolled back, the checkpoint is kept.
    signal.signal(signal.SIGTERM, _interrupt)
    owner, now = lease_owner_id(), datetime.now(UTC)
    with db.write() as conn:
        # Two runs of one source at once would interleave their checkpoints.
        if not acquire_lease(conn, src.name, owner, now + timedelta(seconds=LEASE_SECONDS), now):
            err.print(f"[red]error[/red] {src.name} is being run by another process (a worker?); try later")
            raise typer.Exit(EXIT_ERROR)
    try:
        with build_client(settings) as client:
            result = harvest(
                db,
                src,
                client,
                since=since_day,
                policy=settings.feature_policy,
                categories=settings.feature_category_list(),
                on_page=on_page,
                lease=(owner, LEASE_SECONDS),
            )
    finally:
        with db.write() as conn:
            release_lease(conn, src.name, owner)
    for rejected in result.rejected[:MAX_REJECTIONS_SHOWN]:
        err.print(f"[red]rejected[/red] {rejected}", highlight=False)
    print(result.line())
    raise typer.Exit(result.exit_code)


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run every due source once, then exit (for cron).")] = False,
) -> None:
    """Run the sources of setting worker_sources on their schedules until stopped."""
    from dailypapers.ingest.worker import Worker

    settings = get_settings()
    db = _database(settings)
    db.migrate()
    w = Worker(db, settings, log=lambda line: err.print(line, highlight=False, soft_wrap=True))
    w.install_signal_handlers()
    err.print(f"Worker: {settings.worker_sources} every {settings.worker_interval:.0f} s  (Ctrl-C to stop)")
    raise typer.Exit(w.run(once=once))


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

    from dailypapers.search.service import search_options, search_papers

    settings = get_settings()
    db = _database(settings)
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

    from dailypapers import services
    from dailypapers.search.service import get_embedder_cached, similar_papers
    from dailypapers.search.vectors import IndexConfig

    settings = get_settings()
    db = _database(settings)
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
    db = _database(settings)
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


@app.command()
def sources() -> None:
    """Show each source's checkpoint, last run and next scheduled run."""
    from dailypapers.store.checkpoints import get_status

    settings = get_settings()
    db = _database(settings)
    db.migrate()
    with db.read() as conn:
        rows = get_status(conn)
    if not rows:
        print("No source has run yet.")
    for row in rows:
        print(f"{row['name']}")
        for key in ("last_run_at", "last_ok_at", "next_run_at", "last_summary", "last_error", "lease_owner"):
            if row.get(key):
                print(f"  {key}: {row[key]}")
        print(f"  checkpoint: {row['state']}")


from dailypapers.digest.cli import digest as _digest_app  # noqa: E402
from dailypapers.digest.cli import subscribers as _subscribers_app  # noqa: E402

app.add_typer(_digest_app, name="digest")
app.add_typer(_subscribers_app, name="subscribers")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
