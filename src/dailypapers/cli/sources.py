"""`dailypapers ingest`, `worker` and `sources`: the remote sources and the background jobs."""

from __future__ import annotations

import signal
from datetime import UTC
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
    from dailypapers.ingest.harvest import EXIT_ERROR, harvest
    from dailypapers.ingest.sources import build_client, build_source

    settings = get_settings()
    try:
        since_day = day_option(since, "--since")
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
    db = database(settings)
    db.migrate()

    def on_page(request, result) -> None:  # type: ignore[no-untyped-def]
        err.print(
            f"  {request.label}: read {result.read:,}, new {result.counts.new:,}",
            highlight=False,
            soft_wrap=True,
        )

    from datetime import datetime, timedelta

    from dailypapers.jobs.worker import LEASE_SECONDS
    from dailypapers.store.checkpoints import acquire_lease, lease_owner_id, release_lease

    # SIGTERM ends the run like Ctrl-C: the page in flight is rolled back, the checkpoint is kept.
    signal.signal(signal.SIGTERM, interrupt)
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


def worker(
    once: Annotated[bool, typer.Option(help="Run every due source once, then exit (for cron).")] = False,
) -> None:
    """Run the sources of setting worker_sources on their schedules until stopped."""
    from dailypapers.jobs.worker import Worker

    settings = get_settings()
    db = database(settings)
    db.migrate()
    w = Worker(db, settings, log=lambda line: err.print(line, highlight=False, soft_wrap=True))
    w.install_signal_handlers()
    err.print(f"Worker: {settings.worker_sources} every {settings.worker_interval:.0f} s  (Ctrl-C to stop)")
    raise typer.Exit(w.run(once=once))


def sources() -> None:
    """Show each source's checkpoint, last run and next scheduled run."""
    from dailypapers.store.checkpoints import get_status

    settings = get_settings()
    db = database(settings)
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
