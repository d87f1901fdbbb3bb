"""`dailypapers worker` as a process against the replay server: it fills an empty database, a
killed worker's lease is taken over, SIGTERM stops it cleanly, faults lose nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dailypapers.core.models import as_utc
from dailypapers.store.db import Database
from dailypapers.store.tables import feed_entries, papers, source_state
from dailypapers.testing.replay import ReplayServer, Reply, harvest_routes

HARVEST = Path(__file__).parents[1] / "data" / "harvest"
RSS_SOURCE, HUB_SOURCE = "arxiv-rss:cs.AI,cs.CL,cs.CV,cs.LG", "hf-daily"
FIRST_HUB_DAY = date(2026, 8, 17)
LAUNCH = ["-m", "dailypapers.cli"]  # the CLI, as `dailypapers` runs it
BOOKKEEPING = ("created_at", "modified_at")


def start_days() -> int:
    """DAILYPAPERS_INGEST_START_DAYS: 120, or more when today is so late the Hub days would be missed."""
    return max(120, (datetime.now(UTC).date() - FIRST_HUB_DAY).days + 1)


def slowed(
    routes: dict[str, Callable[..., Reply]], delays: tuple[float, float]
) -> dict[str, Callable[..., Reply]]:
    """The routes, each answer held back a random (seeded) while."""
    rng = random.Random(1)
    lock = threading.Lock()

    def wrap(app: Callable[..., Reply]) -> Callable[..., Reply]:
        def slow_app(rest: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
            with lock:
                pause = rng.uniform(*delays)
            time.sleep(pause)
            return app(rest, query, headers)

        return slow_app

    return {prefix: wrap(app) for prefix, app in routes.items()}


def serve(
    delays: tuple[float, float] = (0.0, 0.0), *, fault_rate: float = 0.0, seed: int = 0
) -> ReplayServer:
    routes = harvest_routes(HARVEST)
    server = ReplayServer(
        slowed(routes, delays) if delays[1] else routes, fault_rate=fault_rate, seed=seed, fault_delay=0.8
    )
    return server.start()


def worker_env(server: ReplayServer, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAILYPAPERS_")}
    env.update(
        {
            "DAILYPAPERS_DATABASE_URL": database_url,
            "DAILYPAPERS_ARXIV_API_URL": f"{server.url}/api/query",
            "DAILYPAPERS_ARXIV_OAI_URL": f"{server.url}/oai",
            "DAILYPAPERS_ARXIV_RSS_URL": f"{server.url}/rss",
            "DAILYPAPERS_HUB_API_URL": f"{server.url}/api",
            "DAILYPAPERS_INGEST_START_DAYS": str(start_days()),
            "DAILYPAPERS_ARXIV_REQUEST_INTERVAL": "0",
            "DAILYPAPERS_HUB_REQUEST_INTERVAL": "0",
            "DAILYPAPERS_HTTP_BACKOFF": "0.05",  # retries after injected faults take ~0.05 s, not ~2 s
            "DAILYPAPERS_WORKER_EMBED": "0",  # ingestion is tested here; the embed round in tests/search
            "DAILYPAPERS_HTTP_TIMEOUT": "0.5",
            "DAILYPAPERS_CONTACT_EMAIL": "tests@example.org",
        }
    )
    return env


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *LAUNCH, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def start_worker(*args: str, env: dict[str, str], stderr: Path) -> subprocess.Popen[bytes]:
    with open(stderr, "w") as err:
        return subprocess.Popen(
            [sys.executable, *LAUNCH, "worker", *args], env=env, stdout=subprocess.DEVNULL, stderr=err
        )


def _plain(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


def stored(url: str) -> dict[str, Any]:
    """Papers (every column but the two bookkeeping times), feed entries and checkpoints."""
    db = Database(url)
    try:
        with db.read() as conn:
            rows = {}
            for r in conn.execute(sa.select(papers)).mappings():
                values = {k: _plain(v) for k, v in r.items() if k not in BOOKKEEPING}
                if values["published_at"] is None and values["first_featured_at"] is None:
                    # Without any date the score counts from created_at, when the paper was first seen.
                    del values["trending_score"], values["content_hash"]
                rows[r["arxiv_id"]] = values
            entries = {
                (r.feed_date, r.arxiv_id, r.featured_by, as_utc(r.featured_at))
                for r in conn.execute(sa.select(feed_entries))
            }
            states = {r.name: r.state for r in conn.execute(sa.select(source_state))}
    finally:
        db.dispose()
    return {"papers": rows, "feed_entries": entries, "source_state": states}


def source_rows(url: str) -> dict[str, dict[str, Any]]:
    db = Database(url)
    try:
        with db.read() as conn:
            return {r["name"]: dict(r) for r in conn.execute(sa.select(source_state)).mappings()}
    except sa.exc.DBAPIError:  # the worker has not created the tables yet
        return {}
    finally:
        db.dispose()


def wait_for_hub_progress(
    url: str, proc: subprocess.Popen[bytes], pages: int, timeout: float = 60
) -> dict[str, Any]:
    """Poll the database until the Hub run has stored `pages` pages; its source_state row."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the worker ended early ({proc.returncode})"
        row = source_rows(url).get(HUB_SOURCE)
        if row and (row["state"] or {}).get("index", 0) >= pages:
            return row
        time.sleep(0.02)
    pytest.fail(f"the Hub run did not reach {pages} pages")


# --- databases and the reference -----------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database: a SQLite file, or a new database on the test cluster."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'worker.db'}"
        return
    admin = sa.create_engine(
        Database(request.getfixturevalue("postgres_url")).url, isolation_level="AUTOCOMMIT"
    )
    name = f"worker_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What one uninterrupted, fault-free `dailypapers worker --once` stores in a fresh database."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'ref.db'}"
    server = serve()
    try:
        done = cli("worker", "--once", env=worker_env(server, url))
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    return stored(url)


def rss_counts() -> tuple[int, int]:
    """(items, new or cross items) of the recorded RSS feed."""
    text = (HARVEST / "rss" / "rss-cs.AI_cs.CL_cs.CV_cs.LG.xml").read_text()
    announced = text.count("<arxiv:announce_type>new<") + text.count("<arxiv:announce_type>cross<")
    return text.count("<item>"), announced


# --- the tests -----------------------------------------------------------------------------------


def test_worker_once_fills_an_empty_database_then_nothing_is_due(
    database_url: str, reference: dict[str, Any]
) -> None:
    server = serve()
    try:
        env = worker_env(server, database_url)
        first = cli("worker", "--once", env=env)
        assert first.returncode == 0, first.stderr
        assert "Traceback" not in first.stderr
        got = stored(database_url)
        by_source: dict[str, int] = {}
        for _, _, featured_by, _ in got["feed_entries"]:
            by_source[featured_by] = by_source.get(featured_by, 0) + 1
        items, announced = rss_counts()
        hub_items = sum(len(json.loads(p.read_text())) for p in (HARVEST / "hub").glob("*.json"))
        assert by_source == {"arxiv-rss": announced, "hf-daily": hub_items}
        assert len(got["papers"]) == items + hub_items  # the two sources share no paper
        assert got == reference
        hub_days = {day for day, _, by, _ in got["feed_entries"] if by == "hf-daily"}
        assert hub_days == {date(2026, 8, d) for d in range(17, 22)}

        requests = len(server.log)
        second = cli("worker", "--once", env=env)
        assert second.returncode == 1, second.stderr  # nothing is due: nothing new
        assert len(server.log) == requests
        assert stored(database_url) == got

        shown = cli("sources", env=env)
        assert shown.returncode == 0, shown.stderr
        today = datetime.now(UTC).date().isoformat()
        text = shown.stdout
        assert f"{RSS_SOURCE}\n" in text and f"{HUB_SOURCE}\n" in text
        assert "'last_day': '2026-06-30'" in text and "'etag': " in text
        assert f"'last_date': '{today}'" in text
        assert text.count("next_run_at: ") == 2 and text.count("last_ok_at: ") == 2
        assert "lease_owner" not in text  # both leases were given back
    finally:
        server.stop()


def test_a_killed_worker_is_taken_over_and_ends_like_an_uninterrupted_one(
    database_url: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    server = serve((0.002, 0.012))
    try:
        env = worker_env(server, database_url)
        proc = start_worker("--once", env=env, stderr=tmp_path / "killed.txt")
        row = wait_for_hub_progress(database_url, proc, pages=random.Random(7).randint(5, 60))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        # The dead worker still holds the Hub's lease, for ten minutes.
        owner = f"{socket.gethostname()}:{proc.pid}"
        held = source_rows(database_url)[HUB_SOURCE]
        assert held["lease_owner"] == owner and as_utc(held["lease_until"]) > datetime.now(UTC)
        assert row["next_run_at"] is None

        again = cli("worker", "--once", env=env)
        assert again.returncode in (0, 1), again.stderr
        assert "Traceback" not in again.stderr
        assert HUB_SOURCE in again.stderr and "complete" in again.stderr  # it ran: the lease was taken over
        assert source_rows(database_url)[HUB_SOURCE]["lease_owner"] is None
        assert stored(database_url) == reference
    finally:
        server.stop()


def test_sigterm_stops_the_worker_after_the_page_in_progress(
    database_url: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    server = serve((0.002, 0.012))
    try:
        env = worker_env(server, database_url)
        log = tmp_path / "stopped.txt"
        proc = start_worker(env=env, stderr=log)  # not --once: it would run until stopped
        wait_for_hub_progress(database_url, proc, pages=20)
        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(30)
        text = log.read_text()
        assert returncode == 0, text  # the RSS run brought new papers; the Hub run was interrupted
        assert "SIGTERM: stopping" in text and f"{HUB_SOURCE}: stopped after" in text
        assert "Traceback" not in text
        hub = source_rows(database_url)[HUB_SOURCE]
        assert hub["lease_owner"] is None and hub["next_run_at"] is None  # due again at once
        assert 20 <= hub["state"]["index"] < len(hub["state"]["periods"])

        again = cli("worker", "--once", env=env)
        assert again.returncode in (0, 1), again.stderr
        assert stored(database_url) == reference
    finally:
        server.stop()


def test_a_second_sigterm_stops_at_once(database_url: str, reference: dict[str, Any], tmp_path: Path) -> None:
    server = serve((0.002, 0.012))
    try:
        env = {**worker_env(server, database_url), "DAILYPAPERS_HTTP_TIMEOUT": "30"}
        log = tmp_path / "stopped.txt"
        proc = start_worker(env=env, stderr=log)
        wait_for_hub_progress(database_url, proc, pages=5)
        # The next Hub page takes long to come: the page in progress the first SIGTERM waits for.
        server.inject(Reply(200, b"[]", {"Content-Type": "application/json"}, delay=20))
        deadline = time.monotonic() + 30
        while server.faults:  # taken by the next request, which the server now holds back
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.01)
        index = source_rows(database_url)[HUB_SOURCE]["state"]["index"]
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert proc.poll() is None  # graceful: it waits for the page in progress
        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(15)
        text = log.read_text()
        assert returncode == 130, text
        assert "Traceback" not in text
        hub = source_rows(database_url)[HUB_SOURCE]
        assert hub["state"]["index"] == index  # the page in progress was abandoned, not stored
        assert hub["lease_owner"] is None

        again = cli("worker", "--once", env=worker_env(server, database_url))
        assert again.returncode in (0, 1), again.stderr
        assert stored(database_url) == reference
    finally:
        server.stop()


def test_a_stop_during_the_request_interval_is_not_an_error(tmp_path: Path) -> None:
    # With the real intervals (3 s for arXiv) a SIGTERM nearly always lands in the client's wait.
    url = f"sqlite:///{tmp_path / 'interval.db'}"
    server = serve()
    try:
        env = {**worker_env(server, url), "DAILYPAPERS_HUB_REQUEST_INTERVAL": "0.3"}
        log = tmp_path / "stopped.txt"
        proc = start_worker(env=env, stderr=log)
        wait_for_hub_progress(url, proc, pages=3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
        assert f"{HUB_SOURCE}: stopped after" in log.read_text()
        hub = source_rows(url)[HUB_SOURCE]
        assert hub["last_error"] is None, hub["last_summary"]
        shown = cli("sources", env=env)
        assert "last_error" not in shown.stdout, shown.stdout
    finally:
        server.stop()


@pytest.mark.slow
def test_worker_with_random_faults_loses_and_duplicates_nothing(
    database_url: str, reference: dict[str, Any]
) -> None:
    server = serve(fault_rate=0.3, seed=4)
    try:
        done = cli("worker", "--once", env=worker_env(server, database_url), timeout=300)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        faults = sum(1 for e in server.log if e.status in (429, 503))
        assert faults > 0 and len(server.log) > 1 + start_days() + 1
        assert stored(database_url) == reference
    finally:
        server.stop()
