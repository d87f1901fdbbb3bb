"""`dailypapers ingest`, `worker` and `sources`: the remote sources and the background jobs."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from dailypapers.cli.common import MAX_REJECTIONS_SHOWN, database, day_option, err, get_settings, interrupt


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
    from dailypapers.services.ingest import IngestRefused, run_source

    settings = get_settings()
    try:
        since_day = day_option(since, "--since")
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False)
        raise typer.Exit(IngestRefused.exit_code) from None
    db = database(settings)
    db.migrate()

    def on_page(request, result) -> None:
        err.print(
            f"  {request.label}: read {result.read:,}, new {result.counts.new:,}",
            highlight=False,
            soft_wrap=True,
        )

    # SIGTERM ends the run like Ctrl-C: the page in flight is rolled back, the checkpoint is kept.
    signal.signal(signal.SIGTERM, interrupt)
    try:
        result = run_source(
            db,
            settings,
            source,
            categories=_split(categories),
            ids=_split(ids),
            oai_set=oai_set,
            granularity=period,
            since=since_day,
            on_page=on_page,
        )
    except IngestRefused as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None
    for rejected in result.rejected[:MAX_REJECTIONS_SHOWN]:
        err.print(f"[red]rejected[/red] {rejected}", highlight=False)
    print(result.line())
    raise typer.Exit(result.exit_code)


def _split(value: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when not given or empty)."""
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    return items or None


def worker(
    once: Annotated[bool, typer.Option(help="Run every due source once, then exit (for cron).")] = False,
) -> None:
    """Run the sources of setting worker_sources on their schedules until stopped."""
    from dailypapers.services.worker import run_worker

    settings = get_settings()
    db = database(settings)
    db.migrate()
    err.print(f"Worker: {settings.worker_sources} every {settings.worker_interval:.0f} s  (Ctrl-C to stop)")
    status = run_worker(
        db, settings, once=once, log=lambda line: err.print(line, highlight=False, soft_wrap=True)
    )
    raise typer.Exit(status)


def sources() -> None:
    """Show each source's checkpoint, last run and next scheduled run."""
    from dailypapers.services.ingest import source_status

    settings = get_settings()
    db = database(settings)
    db.migrate()
    rows = source_status(db)
    if not rows:
        print("No source has run yet.")
    for row in rows:
        print(f"{row.name}")
        for key in ("last_run_at", "last_ok_at", "next_run_at", "last_summary", "last_error", "lease_owner"):
            if getattr(row, key):
                print(f"  {key}: {getattr(row, key)}")
        print(f"  checkpoint: {row.checkpoint}")
