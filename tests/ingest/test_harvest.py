"""harvest() for each source against the replay server, on SQLite and PostgreSQL: papers arrive,
reruns fetch only what is new, faults lose or duplicate nothing, a failed run resumes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dailypapers.core.models import PaperRecord, as_utc
from dailypapers.core.settings import Settings
from dailypapers.ingest.harvest import EXIT_ERROR, EXIT_NEW, EXIT_NOTHING_NEW, HarvestResult, harvest
from dailypapers.ingest.sources import build_client, build_source
from dailypapers.ingest.sources.base import Request
from dailypapers.store.checkpoints import get_status
from dailypapers.store.db import Database
from dailypapers.store.papers import upsert_batch
from dailypapers.store.tables import feed_entries, papers, source_state
from dailypapers.testing.replay import OAIApp, ReplayServer, Reply, harvest_routes

HARVEST = Path(__file__).parents[1] / "data" / "harvest"
RSS_FILE = HARVEST / "rss" / "rss-cs.AI_cs.CL_cs.CV_cs.LG.xml"
OAI_PAGE = 7
EPOCH = date(2000, 1, 1)
HUB_FIRST, HUB_LAST = date(2026, 8, 17), date(2026, 8, 21)
RSS_DAY = date(2026, 6, 30)
BOOKKEEPING = ("created_at", "modified_at")  # depend on when a run happened, not on what it read


# --- what the fixtures hold, read independently of the code under test --------------------------


def rss_items() -> list[dict[str, Any]]:
    """(id, version, announce type, categories) of every item of the recorded RSS feed."""

    def first(pattern: str, raw: str) -> str:
        found = re.search(pattern, raw, re.DOTALL)
        assert found is not None, pattern
        return found.group(1)

    items = []
    for raw in re.findall(r"<item>.*?</item>", RSS_FILE.read_text(), re.DOTALL):
        items.append(
            {
                "id": first(r"arXiv:(\S+?)v\d+", raw),
                "version": int(first(r"arXiv:\S+?v(\d+)", raw)),
                "type": first(r"<arxiv:announce_type>(.*?)<", raw),
                "categories": re.findall(r"<category>(.*?)</category>", raw),
                "title": " ".join(first(r"<title>(.*?)</title>", raw).split()),
            }
        )
    return items


def oai_records() -> list[tuple[str, str, bool]]:
    """(id, datestamp, deleted) of every recorded OAI record."""
    found = []
    for page in sorted((HARVEST / "oai").glob("*.xml")):
        for raw in re.findall(r"<record>.*?</record>", page.read_text(), re.DOTALL):
            ident = re.search(r"<identifier>oai:arXiv.org:(.*?)<", raw).group(1)  # type: ignore[union-attr]
            stamp = re.search(r"<datestamp>(.*?)<", raw).group(1)  # type: ignore[union-attr]
            found.append((ident, stamp, 'status="deleted"' in raw))
    return found


def hub_items() -> dict[str, list[dict[str, Any]]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((HARVEST / "hub").glob("*.json"))}


# --- the server, settings and runs ---------------------------------------------------------------


class Sleeps:
    """The harvest's and client's `sleep`: records each wait and hardly sleeps."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(0.001)


@pytest.fixture(scope="module")
def _replay() -> Iterator[ReplayServer]:
    with ReplayServer(harvest_routes(HARVEST, oai_page_size=OAI_PAGE), fault_delay=0.8) as server:
        yield server


@pytest.fixture
def replay(_replay: ReplayServer) -> Iterator[ReplayServer]:
    """The module's replay server, clean: no queued faults, no fault rate, an empty log."""
    routes = dict(_replay.routes)

    def reset() -> None:
        _replay.faults.clear()
        _replay.log.clear()
        _replay.fault_rate = 0.0
        _replay.routes.clear()
        _replay.routes.update(routes)

    reset()
    yield _replay
    reset()


def make_settings(server: ReplayServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "arxiv_api_url": f"{server.url}/api/query",
        "arxiv_oai_url": f"{server.url}/oai",
        "arxiv_rss_url": f"{server.url}/rss",
        "hub_api_url": f"{server.url}/api",
        "arxiv_request_interval": 0,
        "hub_request_interval": 0,
        "http_timeout": 1,
        "contact_email": "tests@example.org",
    }
    return Settings(**{**values, **overrides})


def run(
    db: Database,
    server: ReplayServer,
    kind: str,
    *,
    since: date | None = None,
    today: date | None = None,
    categories: list[str] | None = None,
    ids: list[str] | None = None,
    page_size: int | None = None,
    on_page: Callable[[Request, HarvestResult], None] | None = None,
    sleeps: Sleeps | None = None,
    lease: tuple[str, float] | None = None,
    **overrides: Any,
) -> HarvestResult:
    """One harvest of source `kind` from the replay server."""
    settings = make_settings(server, **overrides)
    source = build_source(kind, settings, categories=categories, ids=ids)
    if page_size is not None:
        source.page_size = page_size  # type: ignore[attr-defined]
    sleeps = sleeps or Sleeps()
    with build_client(settings) as client:
        client.backoff_base = 0.05
        client.sleep = sleeps
        return harvest(
            db,
            source,
            client,
            since=since,
            today=today,
            policy=settings.feature_policy,
            categories=settings.feature_category_list(),
            on_page=on_page,
            sleep=sleeps,
            lease=lease,
        )


def _plain(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


def _content_row(row: Any) -> dict[str, Any]:
    values = {k: _plain(v) for k, v in row.items() if k not in BOOKKEEPING}
    if values["published_at"] is None and values["first_featured_at"] is None:
        # Without any date the score counts from created_at, the moment the paper was first seen.
        del values["trending_score"], values["content_hash"]
    return values


def content(db: Database) -> tuple[dict[str, dict[str, Any]], set[tuple[Any, ...]]]:
    """Every paper's content columns (by id) and every feed entry: what a run stored."""
    with db.read() as conn:
        rows = {r["arxiv_id"]: _content_row(r) for r in conn.execute(sa.select(papers)).mappings()}
        entries = {
            (r.feed_date, r.arxiv_id, r.featured_by, as_utc(r.featured_at))
            for r in conn.execute(sa.select(feed_entries))
        }
    return rows, entries


def everything(db: Database) -> tuple[Any, ...]:
    """Papers with every column (bookkeeping included), feed entries with ids, checkpoints."""
    with db.read() as conn:
        rows = {
            r["arxiv_id"]: {k: _plain(v) for k, v in r.items()}
            for r in conn.execute(sa.select(papers)).mappings()
        }
        entries = {tuple(map(_plain, r)) for r in conn.execute(sa.select(feed_entries))}
        states = dict(conn.execute(sa.select(source_state.c.name, source_state.c.state)).all())
    return rows, entries, states


def checkpoint(db: Database, name: str) -> dict[str, Any]:
    with db.read() as conn:
        return {r["name"]: r for r in get_status(conn)}[name]


def statuses(server: ReplayServer) -> list[int]:
    return [entry.status for entry in server.log]


# --- fault-free reference runs, each into its own fresh SQLite database ------------------------

REFERENCE_RUNS: dict[str, dict[str, Any]] = {
    "arxiv-oai": {"since": EPOCH},
    "arxiv-rss": {},
    "arxiv-api": {"since": EPOCH, "page_size": 7},
    "hf-daily": {"since": HUB_FIRST, "today": HUB_LAST},
}


@pytest.fixture(scope="module")
def reference(_replay: ReplayServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What each source stores without faults (content() of a fresh database)."""
    found = {}
    for kind, options in REFERENCE_RUNS.items():
        db = Database(f"sqlite:///{tmp_path_factory.mktemp('reference') / 'ref.db'}")
        db.migrate()
        result = run(db, _replay, kind, **options)
        assert result.error is None and result.complete, result.line()
        found[kind] = content(db)
        db.dispose()
    _replay.log.clear()
    return found


# --- arxiv-rss -----------------------------------------------------------------------------------


def test_rss_papers_arrive_then_a_rerun_costs_a_304(db: Database, replay: ReplayServer) -> None:
    items = rss_items()
    first = run(db, replay, "arxiv-rss")
    assert first.exit_code == EXIT_NEW and first.complete and first.error is None
    assert (first.pages, first.read, first.counts.new, first.rejected) == (1, len(items), len(items), [])
    rows, entries = content(db)
    assert set(rows) == {i["id"] for i in items}
    announced = {i["id"] for i in items if i["type"] in ("new", "cross")}
    assert {(day, arxiv_id, by) for day, arxiv_id, by, _ in entries} == {
        (RSS_DAY, i, "arxiv-rss") for i in announced
    }
    state = checkpoint(db, "arxiv-rss:cs.AI,cs.CL,cs.CV,cs.LG")["state"]
    assert state["etag"] and state["last_day"] == RSS_DAY.isoformat()

    before = everything(db)
    replay.log.clear()
    second = run(db, replay, "arxiv-rss")
    assert second.exit_code == EXIT_NOTHING_NEW and second.complete and second.read == 0
    assert len(replay.log) == 1 and replay.log[0].headers["if-none-match"] == state["etag"]
    assert statuses(replay) == [304]
    assert everything(db) == before


def test_atom_feed_stores_what_the_rss_feed_stores(
    db: Database, replay: ReplayServer, reference: dict
) -> None:
    result = run(db, replay, "arxiv-rss", arxiv_rss_url=f"{replay.url}/atom")
    assert result.exit_code == EXIT_NEW
    assert content(db) == reference["arxiv-rss"]


def test_rss_day_without_announcements_is_nothing_new(db: Database, replay: ReplayServer) -> None:
    result = run(db, replay, "arxiv-rss", categories=["empty-day"])
    assert result.exit_code == EXIT_NOTHING_NEW and result.complete and result.error is None
    assert content(db) == ({}, set())
    assert checkpoint(db, "arxiv-rss:empty-day")["state"]["last_day"] == "2026-07-04"


def test_missing_feed_is_an_error(db: Database, replay: ReplayServer) -> None:
    result = run(db, replay, "arxiv-rss", categories=["cs.XX"])
    assert result.exit_code == EXIT_ERROR and not result.complete
    assert "HTTP 404" in (result.error or "")
    assert statuses(replay) == [404]  # a 404 is not retried
    row = checkpoint(db, "arxiv-rss:cs.XX")
    assert "HTTP 404" in row["last_error"] and row["last_ok_at"] is None and "error" in row["last_summary"]


def test_a_replacement_updates_the_stored_paper(db: Database, replay: ReplayServer) -> None:
    replaced = [i for i in rss_items() if i["type"] == "replace"]
    assert len(replaced) == 10
    # A v1 stored earlier (as the arXiv API would have stored it) ...
    v1 = replaced[0]["id"]
    first_seen = datetime(2007, 4, 2, 18, 0, tzinfo=UTC)
    with db.write() as conn:
        upsert_batch(
            conn,
            [
                PaperRecord(
                    arxiv_id=v1,
                    version=1,
                    title="An old title",
                    abstract="Old words.",
                    authors=["Some One"],
                    categories=["hep-ph"],
                    published_at=first_seen,
                    source="arxiv-api",
                )
            ],
            datetime.now(UTC),
        )
    result = run(db, replay, "arxiv-rss")
    assert result.counts.updated == 1 and result.error is None
    row = content(db)[0][v1]
    # ... takes the replacement's content, keeps its first-version date, and is not featured again.
    assert row["version"] == replaced[0]["version"] == 2
    assert row["title"] == replaced[0]["title"] and row["abstract"].startswith("A fully differential")
    assert row["authors"] == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert row["doi"] == "10.1103/PhysRevD.76.013009"
    assert row["published_at"] == first_seen
    assert not any(e[1] == v1 for e in content(db)[1])


def test_replacements_update_papers_of_a_bulk_harvest(db: Database, replay: ReplayServer) -> None:
    replaced = [i for i in rss_items() if i["type"] == "replace"]
    assert run(db, replay, "arxiv-oai", since=EPOCH).exit_code == EXIT_NEW  # no version numbers
    result = run(db, replay, "arxiv-rss")
    assert result.counts.updated == len(replaced)
    rows, entries = content(db)
    for item in replaced:
        assert (rows[item["id"]]["version"], rows[item["id"]]["title"]) == (item["version"], item["title"])
        assert not any(e[1] == item["id"] for e in entries)
    # The bulk harvest read again afterwards does not undo the replacements.
    again = run(db, replay, "arxiv-oai", since=EPOCH)
    assert again.counts.new == 0 and again.counts.updated == 0
    assert content(db)[0] == rows


def test_a_cross_list_adds_categories(db: Database, replay: ReplayServer) -> None:
    cross = next(i for i in rss_items() if i["type"] == "cross")
    primary = cross["categories"][0]
    with db.write() as conn:
        record = PaperRecord(
            arxiv_id=cross["id"], version=1, title=cross["title"], categories=[primary], source="arxiv-rss"
        )
        upsert_batch(conn, [record], datetime.now(UTC))
    run(db, replay, "arxiv-rss")
    rows, entries = content(db)
    assert rows[cross["id"]]["categories"] == list(dict.fromkeys([primary, *cross["categories"]]))
    assert len(rows[cross["id"]]["categories"]) > 1
    assert rows[cross["id"]]["primary_category"] == primary
    assert {(e[0], e[2]) for e in entries if e[1] == cross["id"]} == {(RSS_DAY, "arxiv-rss")}


# --- arxiv-oai -----------------------------------------------------------------------------------


def test_oai_harvest_then_a_rerun_starts_at_harvested_until(
    db: Database, replay: ReplayServer, reference: dict
) -> None:
    records = oai_records()
    cut = date(2008, 11, 26)
    early = {i for i, stamp, deleted in records if stamp <= cut.isoformat() and not deleted}
    first = run(db, replay, "arxiv-oai", since=EPOCH, today=cut)
    assert first.exit_code == EXIT_NEW and first.complete
    assert first.counts.new == len(early) and set(content(db)[0]) == early
    assert first.pages == -(-sum(1 for _, s, _ in records if s <= cut.isoformat()) // OAI_PAGE)
    assert first.skipped == 1  # the deleted record
    assert checkpoint(db, "arxiv-oai:cs")["state"] == {"harvested_until": cut.isoformat()}

    replay.log.clear()
    today = date(2026, 11, 30)
    second = run(db, replay, "arxiv-oai", today=today)
    assert (
        replay.log[0].query["from"] == cut.isoformat() and replay.log[0].query["until"] == today.isoformat()
    )
    assert all("resumptionToken" in e.query for e in replay.log[1:])
    assert second.exit_code == EXIT_NEW
    assert second.counts.new == sum(1 for _, _, deleted in records if not deleted) - len(early)
    # Harvesting in two windows stores what one harvest of everything stores.
    assert content(db) == reference["arxiv-oai"]
    assert content(db)[1] == set()  # OAI never features

    before = everything(db)
    replay.log.clear()
    third = run(db, replay, "arxiv-oai", today=today)
    assert replay.log[0].query["from"] == today.isoformat() and len(replay.log) == 1
    assert third.exit_code == EXIT_NOTHING_NEW and third.complete and third.pages == 1
    assert everything(db) == before


def test_a_persisting_feed_error_keeps_the_checkpoint_and_the_next_run_completes(
    db: Database, replay: ReplayServer, reference: dict
) -> None:
    broken = Reply(
        200,
        b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRe',
        {"Content-Type": "text/xml"},
    )

    def break_after_three(request: Request, result: HarvestResult) -> None:
        if result.pages == 3:
            replay.inject(*[broken] * 4)  # the first fetch and all three page retries

    failed = run(db, replay, "arxiv-oai", since=EPOCH, on_page=break_after_three)
    assert failed.exit_code == EXIT_ERROR and not failed.complete
    assert "malformed" in (failed.error or "") and failed.pages == 3
    row = checkpoint(db, "arxiv-oai:cs")
    assert row["state"]["pages"] == 3 and row["state"]["token"].endswith(f"|{3 * OAI_PAGE}")
    assert "malformed" in row["last_error"]
    assert len(content(db)[0]) == 3 * OAI_PAGE

    replay.log.clear()
    resumed = run(db, replay, "arxiv-oai")
    assert replay.log[0].query.get("resumptionToken") == row["state"]["token"]  # resumed, not restarted
    assert resumed.exit_code == EXIT_NEW and resumed.complete
    assert resumed.counts.new == len(reference["arxiv-oai"][0]) - 3 * OAI_PAGE
    assert content(db) == reference["arxiv-oai"]
    assert checkpoint(db, "arxiv-oai:cs")["last_error"] is None


def test_a_network_failure_that_persists_keeps_the_checkpoint(
    db: Database, replay: ReplayServer, reference: dict
) -> None:
    def down_after_five(request: Request, result: HarvestResult) -> None:
        if result.pages == 5:
            replay.inject(*[DOWN] * 7)  # the first try and http_retries (6) more

    failed = run(db, replay, "arxiv-oai", since=EPOCH, on_page=down_after_five)
    assert failed.exit_code == EXIT_ERROR and "HTTP 503" in (failed.error or "") and failed.pages == 5
    assert checkpoint(db, "arxiv-oai:cs")["state"]["pages"] == 5
    resumed = run(db, replay, "arxiv-oai")
    assert resumed.complete and content(db) == reference["arxiv-oai"]


def test_an_oai_error_is_not_retried(db: Database, replay: ReplayServer) -> None:
    replay.inject(Reply(200, OAIApp._error("badArgument", "Illegal date"), {"Content-Type": "text/xml"}))
    result = run(db, replay, "arxiv-oai", since=EPOCH)
    assert result.exit_code == EXIT_ERROR and "badArgument" in (result.error or "")
    assert len(replay.log) == 1


def test_an_expired_resumption_token_restarts_the_window(
    db: Database, replay: ReplayServer, reference: dict
) -> None:
    expired = Reply(200, OAIApp._error("badResumptionToken", "expired"), {"Content-Type": "text/xml"})

    def expire_after_four(request: Request, result: HarvestResult) -> None:
        if result.pages == 4:
            replay.inject(expired)

    result = run(db, replay, "arxiv-oai", since=EPOCH, on_page=expire_after_four)
    assert result.exit_code == EXIT_NEW and result.complete
    fresh_starts = [e for e in replay.log if "metadataPrefix" in e.query]
    assert len(fresh_starts) == 2
    assert content(db) == reference["arxiv-oai"]


def test_an_oai_refresh_with_a_later_revision_refreshes_the_paper(db: Database, replay: ReplayServer) -> None:
    # OAI's arXiv format has no version numbers: a later `updated` day is a newer version.
    records = [
        r
        for p in sorted((HARVEST / "oai").glob("*.xml"))
        for r in re.findall(rb"<record>.*?</record>", p.read_bytes(), re.DOTALL)
    ]
    first = next(r for r in records if b"<id>0704.0001</id>" in r)
    assert run(db, replay, "arxiv-oai", since=EPOCH).complete
    today = datetime.now(UTC).date()
    newer = (
        first.replace(b"<datestamp>2008-11-26</datestamp>", f"<datestamp>{today}</datestamp>".encode())
        .replace(b"<updated>2007-07-24</updated>", f"<updated>{today}</updated>".encode())
        .replace(b"<title>Calculation of prompt", b"<title>A revised calculation of prompt")
    )
    app = OAIApp([newer])
    replay.routes["/oai"] = lambda rest, query, headers: app(query, headers)
    result = run(db, replay, "arxiv-oai")  # from harvested_until: today
    assert result.complete and result.counts.updated == 1
    row = content(db)[0]["0704.0001"]
    assert row["title"].startswith("A revised calculation")
    assert row["updated_at"] == datetime.combine(today, datetime.min.time(), tzinfo=UTC)


def test_a_run_that_lost_its_lease_stops_without_writing(db: Database, replay: ReplayServer) -> None:
    # A lease lasts LEASE_SECONDS (600) from the last page, but one page may wait up to
    # http_max_wait (900 s) on a Retry-After: another worker can then take the source over.
    def taken_over(request: Request, result: HarvestResult) -> None:
        if result.pages == 2:
            with db.write() as conn:
                conn.execute(
                    sa.update(source_state)
                    .where(source_state.c.name == "arxiv-oai:cs")
                    .values(
                        lease_owner="another-host:4242", lease_until=datetime.now(UTC) + timedelta(minutes=10)
                    )
                )

    result = run(db, replay, "arxiv-oai", since=EPOCH, on_page=taken_over, lease=("this-host:1", 600.0))
    assert result.exit_code == EXIT_ERROR and "lease" in (result.error or "") and not result.complete
    row = checkpoint(db, "arxiv-oai:cs")
    assert row["lease_owner"] == "another-host:4242"
    # The third page was fetched but neither its papers nor its checkpoint were written.
    assert result.pages == 2 and row["state"]["pages"] == 2
    assert len(content(db)[0]) == 2 * OAI_PAGE


# --- arxiv-api -----------------------------------------------------------------------------------


def test_api_window_pages_through_and_a_rerun_reads_only_the_overlap(
    db: Database, replay: ReplayServer
) -> None:
    today = datetime.now(UTC).date()
    first = run(db, replay, "arxiv-api", since=EPOCH, page_size=7)
    assert first.exit_code == EXIT_NEW and first.complete
    assert [e.query["start"] for e in replay.log] == ["0", "7", "14", "21", "28"]
    assert first.counts.new == 30 and len(content(db)[0]) == 30
    assert "submittedDate:[200001010000 TO " in replay.log[0].query["search_query"]
    assert checkpoint(db, "arxiv-api:cs.AI,cs.CL,cs.CV,cs.LG")["state"] == {"done_until": today.isoformat()}
    # Announced papers are featured on their announcement day if they are in a followed category.
    rows, entries = content(db)
    follow = {"cs.AI", "cs.CL", "cs.CV", "cs.LG"}
    assert {e[1] for e in entries} == {i for i, r in rows.items() if follow & set(r["categories"])}
    assert all(e[2] == "arxiv-api" for e in entries)

    before = everything(db)
    replay.log.clear()
    second = run(db, replay, "arxiv-api", page_size=7)
    start = (today - timedelta(days=2)).strftime("%Y%m%d")
    assert f"submittedDate:[{start}0000 TO {today:%Y%m%d}2359]" in replay.log[0].query["search_query"]
    assert second.exit_code == EXIT_NOTHING_NEW and len(replay.log) == 1
    assert everything(db) == before


def test_api_ids(db: Database, replay: ReplayServer) -> None:
    # 0808.05394 does not exist: arXiv leaves it out of the answer, which is not an error.
    result = run(db, replay, "arxiv-api", ids=["0808.05394", "1707.08567"])
    assert result.exit_code == EXIT_NEW and result.counts.new == 1 and result.error is None
    assert run(db, replay, "arxiv-api", ids=["astro-ph/0601001"]).counts.new == 1
    rows, entries = content(db)
    assert set(rows) == {"1707.08567", "astro-ph/0601001"} and entries == set()  # ids are never featured
    assert run(db, replay, "arxiv-api", ids=["0808.05394", "1707.08567"]).exit_code == EXIT_NOTHING_NEW


def test_api_error_feed_is_reported_in_arxivs_words(db: Database, replay: ReplayServer) -> None:
    result = run(db, replay, "arxiv-api", ids=["abc"])
    assert result.exit_code == EXIT_ERROR
    assert "HTTP 400" in (result.error or "") and "incorrect id format for abc" in (result.error or "")
    assert len(replay.log) == 1


def test_api_empty_page_hiccup_is_fetched_again(db: Database, replay: ReplayServer, reference: dict) -> None:
    hiccup = Reply(
        200,
        (
            b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
            b'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"><title>arXiv Query</title>'
            b"<opensearch:totalResults>30</opensearch:totalResults><opensearch:startIndex>7</opensearch:startIndex>"
            b"<opensearch:itemsPerPage>7</opensearch:itemsPerPage></feed>"
        ),
    )

    def hiccup_after_first(request: Request, result: HarvestResult) -> None:
        if result.pages == 1:
            replay.inject(hiccup, hiccup)

    sleeps = Sleeps()
    result = run(db, replay, "arxiv-api", since=EPOCH, page_size=7, on_page=hiccup_after_first, sleeps=sleeps)
    assert result.complete and result.error is None
    assert [e.query["start"] for e in replay.log] == ["0", "7", "7", "7", "14", "21", "28"]
    assert content(db) == reference["arxiv-api"]


# --- hf-daily ------------------------------------------------------------------------------------


def test_hub_days_arrive_and_a_rerun_reads_only_the_refresh_days(db: Database, replay: ReplayServer) -> None:
    days = hub_items()
    first = run(db, replay, "hf-daily", since=HUB_FIRST, today=HUB_LAST)
    assert first.exit_code == EXIT_NEW and first.complete
    assert [e.query["date"] for e in replay.log] == list(days)
    rows, entries = content(db)
    expected = {
        (date.fromisoformat(i["paper"]["submittedOnDailyAt"][:10]), i["paper"]["id"])
        for items in days.values()
        for i in items
    }
    assert {(e[0], e[1]) for e in entries} == expected
    assert set(rows) == {i for _, i in expected}
    upvotes = {i["paper"]["id"]: i["paper"]["upvotes"] for items in days.values() for i in items}
    assert {k: r["imported_upvotes"] for k, r in rows.items()} == upvotes
    assert checkpoint(db, "hf-daily")["state"]["last_date"] == HUB_LAST.isoformat()

    before = everything(db)
    replay.log.clear()
    second = run(db, replay, "hf-daily", today=HUB_LAST)
    refresh = [(HUB_LAST - timedelta(days=n)).isoformat() for n in (3, 2, 1, 0)]
    assert [e.query["date"] for e in replay.log] == refresh
    assert second.exit_code == EXIT_NOTHING_NEW and second.counts.new == 0
    assert everything(db) == before


def test_hub_rerun_sends_the_stored_etags(db: Database, replay: ReplayServer) -> None:
    run(db, replay, "hf-daily", since=HUB_FIRST, today=HUB_LAST)
    stored = checkpoint(db, "hf-daily")["state"]["etags"]
    assert set(stored) == {f"{(HUB_LAST - timedelta(days=n)).isoformat()}#0" for n in range(4)}
    replay.log.clear()
    second = run(db, replay, "hf-daily", today=HUB_LAST)
    assert [e.headers.get("if-none-match") for e in replay.log] == [
        stored[f"{e.query['date']}#0"] for e in replay.log
    ]
    assert statuses(replay) == [304] * 4 and second.read == 0


def test_hub_new_day_arrives_on_the_next_run(db: Database, replay: ReplayServer) -> None:
    run(db, replay, "hf-daily", since=HUB_FIRST, today=date(2026, 8, 19))
    before = len(content(db)[0])
    result = run(db, replay, "hf-daily", today=HUB_LAST)
    assert [e.query["date"] for e in replay.log][-4:] == [
        "2026-08-18",
        "2026-08-19",
        "2026-08-20",
        "2026-08-21",
    ]
    assert result.exit_code == EXIT_NEW and result.counts.new == len(content(db)[0]) - before > 0


@pytest.mark.parametrize("granularity", ["week", "month"])
def test_hub_by_week_or_month_stores_what_the_days_store(
    db: Database, replay: ReplayServer, granularity: str
) -> None:
    settings = make_settings(replay)
    source = build_source("hf-daily", settings, granularity=granularity)
    with build_client(settings) as client:
        result = harvest(db, source, client, since=HUB_FIRST, today=HUB_LAST)
    assert result.complete and result.exit_code == EXIT_NEW
    key = "2026-W34" if granularity == "week" else "2026-08"
    # 110 papers: a full page of 100, then the rest.
    assert [(e.query[granularity], e.query["p"]) for e in replay.log] == [(key, "0"), (key, "1")]
    rows, entries = content(db)
    days = hub_items()
    expected = {
        (date.fromisoformat(i["paper"]["submittedOnDailyAt"][:10]), i["paper"]["id"])
        for items in days.values()
        for i in items
    }
    assert {(e[0], e[1]) for e in entries} == expected  # each paper on the day the Hub featured it
    assert checkpoint(db, f"hf-daily:{granularity}")["state"]["last_date"] == HUB_LAST.isoformat()


# --- faults --------------------------------------------------------------------------------------

TIMEOUT = Reply(200, b"", delay=0.8)  # longer than the fault tests' http_timeout=0.5
CUT = Reply(200, b"", truncate=-1)  # the real answer cut in half
LIMITED = Reply(429, b"Too Many Requests", {"Retry-After": "2"})
DOWN = Reply(503, b"Service Unavailable")
MALFORMED = {
    "arxiv-oai": Reply(
        200, b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><List'
    ),
    "arxiv-rss": Reply(200, b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>x</title>'),
    "arxiv-api": Reply(200, b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry>'),
    "hf-daily": Reply(200, b'[{"paper": {"id": "2608.0'),
}
# Faults to queue after a given number of stored pages (0: before the first request).
# "malformed" stands for the source's own MALFORMED reply.
FAULT_PLAN: dict[str, dict[int, list[Reply | str]]] = {
    "arxiv-oai": {
        0: [LIMITED],
        2: [DOWN, DOWN],
        4: [CUT],
        6: ["malformed"],
        9: [TIMEOUT],
        12: [CUT, LIMITED],
        28: [DOWN, "malformed"],
    },
    "arxiv-rss": {0: [LIMITED, DOWN, CUT, TIMEOUT, "malformed"]},
    "arxiv-api": {0: [DOWN], 1: [CUT], 2: ["malformed"], 4: [LIMITED, CUT]},
    "hf-daily": {0: [CUT], 1: [LIMITED], 2: ["malformed", DOWN], 4: [CUT, CUT]},
}


@pytest.mark.parametrize("kind", list(REFERENCE_RUNS))
def test_injected_faults_lose_and_duplicate_nothing(
    db: Database, replay: ReplayServer, reference: dict, kind: str
) -> None:
    plan = {
        n: [MALFORMED[kind] if f == "malformed" else f for f in faults]
        for n, faults in FAULT_PLAN[kind].items()
    }
    replay.inject(*plan.get(0, []))

    def inject(request: Request, result: HarvestResult) -> None:
        replay.inject(*plan.get(result.pages, []))

    sleeps = Sleeps()
    result = run(db, replay, kind, on_page=inject, sleeps=sleeps, http_timeout=0.5, **REFERENCE_RUNS[kind])
    assert result.error is None and result.complete, result.line()
    assert content(db) == reference[kind]
    served = statuses(replay)
    assert served.count(429) == sum(f is LIMITED for faults in plan.values() for f in faults)
    assert served.count(503) == sum(f is DOWN for faults in plan.values() for f in faults)
    if any(f is LIMITED for faults in plan.values() for f in faults):
        assert max(sleeps.waits) >= 2  # Retry-After was honoured


# Seeds whose first request draws a fault (so even the one-request RSS run meets one).
RANDOM_SEEDS = {
    "arxiv-oai": "arxiv-oai-0",
    "arxiv-rss": "arxiv-rss-0",
    "arxiv-api": "arxiv-api-2",
    "hf-daily": "hf-daily-3",
}


@pytest.mark.parametrize("kind", list(REFERENCE_RUNS))
def test_random_faults_lose_and_duplicate_nothing(
    db: Database, replay: ReplayServer, reference: dict, kind: str
) -> None:
    replay.fault_rate = 0.3
    replay.rng.seed(RANDOM_SEEDS[kind])
    result = run(db, replay, kind, http_timeout=0.5, **REFERENCE_RUNS[kind])
    assert result.error is None and result.complete, result.line()
    assert content(db) == reference[kind]
    assert len(replay.log) > result.pages  # faults were served and retried


# --- the featuring policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "featured_by"),
    [("all", {"arxiv-rss", "hf-daily"}), ("arxiv-new", {"arxiv-rss"}), ("community", {"hf-daily"})],
)
def test_feature_policy_decides_which_feed_entries_exist(
    db: Database, replay: ReplayServer, reference: dict, policy: str, featured_by: set[str]
) -> None:
    for kind in ("arxiv-oai", "arxiv-rss", "hf-daily"):
        result = run(db, replay, kind, feature_policy=policy, **REFERENCE_RUNS[kind])
        assert result.error is None
    rows, entries = content(db)
    expected = set()
    for kind in featured_by:
        expected |= reference[kind][1]
    assert entries == expected
    # Papers arrive whatever the policy; the Hub's upvotes too.
    assert set(rows) == set().union(*(reference[k][0] for k in ("arxiv-oai", "arxiv-rss", "hf-daily")))
    hub_rows = reference["hf-daily"][0]
    assert all(rows[i]["imported_upvotes"] == r["imported_upvotes"] for i, r in hub_rows.items())
    assert all(rows[i]["first_featured_at"] is None for i in rows if not any(e[1] == i for e in entries))


def test_feature_categories_narrow_arxiv_new(db: Database, replay: ReplayServer) -> None:
    result = run(db, replay, "arxiv-rss", feature_policy="arxiv-new", feature_categories="cs.CV")
    assert result.error is None
    _, entries = content(db)
    expected = {i["id"] for i in rss_items() if i["type"] in ("new", "cross") and "cs.CV" in i["categories"]}
    assert expected and {e[1] for e in entries} == expected
