"""kill -9 of `dailypapers ingest` at random points, then resume: the database ends as an
uninterrupted run leaves it, on SQLite and PostgreSQL, with and without network faults."""

from __future__ import annotations

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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dailypapers.core.models import as_utc
from dailypapers.store.checkpoints import acquire_lease
from dailypapers.store.db import Database
from dailypapers.store.tables import feed_entries, papers, source_state
from dailypapers.testing.replay import ReplayServer, Reply, harvest_routes

HARVEST = Path(__file__).parents[1] / "data" / "harvest"
OAI_PAGE = 7
LAUNCH = ["-m", "dailypapers.cli"]  # the CLI, as `dailypapers` runs it
SOURCES = {
    # source: (first command, resume command, seconds each request is held back by the server)
    "arxiv-oai": (["ingest", "arxiv-oai", "--since", "2000-01-01"], ["ingest", "arxiv-oai"], (0.01, 0.05)),
    "hf-daily": (["ingest", "hf-daily", "--since", "2026-08-17"], ["ingest", "hf-daily"], (0.002, 0.015)),
}
BOOKKEEPING = ("created_at", "modified_at")


Routes = dict[str, Callable[..., Reply]]


def slowed(routes: Routes, delays: tuple[float, float], seed: int) -> Routes:
    """The routes, each answer held back a random (seeded) while."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def wrap(app: Callable[..., Reply]) -> Callable[..., Reply]:
        def slow_app(rest: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
            with lock:
                pause = rng.uniform(*delays)
            time.sleep(pause)
            return app(rest, query, headers)

        return slow_app

    return {prefix: wrap(app) for prefix, app in routes.items()}


def serve(delays: tuple[float, float], *, fault_rate: float = 0.0, seed: int = 0) -> ReplayServer:
    server = ReplayServer(
        slowed(harvest_routes(HARVEST, oai_page_size=OAI_PAGE), delays, seed),
        fault_rate=fault_rate,
        seed=seed,
        fault_delay=0.8,
    )
    return server.start()


def cli_env(server: ReplayServer, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAILYPAPERS_")}
    env.update(
        {
            "DAILYPAPERS_DATABASE_URL": database_url,
            "DAILYPAPERS_ARXIV_API_URL": f"{server.url}/api/query",
            "DAILYPAPERS_ARXIV_OAI_URL": f"{server.url}/oai",
            "DAILYPAPERS_ARXIV_RSS_URL": f"{server.url}/rss",
            "DAILYPAPERS_HUB_API_URL": f"{server.url}/api",
            "DAILYPAPERS_ARXIV_REQUEST_INTERVAL": "0",
            "DAILYPAPERS_HUB_REQUEST_INTERVAL": "0",
            "DAILYPAPERS_HTTP_BACKOFF": "0.05",  # retries after injected faults take ~0.05 s, not ~2 s
            "DAILYPAPERS_HTTP_TIMEOUT": "0.5",
            "DAILYPAPERS_CONTACT_EMAIL": "tests@example.org",
        }
    )
    return env


def _plain(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


def stored(url: str) -> dict[str, Any]:
    """Papers (every column but the two bookkeeping times), feed entries, checkpoints and errors."""
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
            states = {
                r.name: (r.state, r.last_error, r.lease_owner) for r in conn.execute(sa.select(source_state))
            }
    finally:
        db.dispose()
    return {"papers": rows, "feed_entries": entries, "source_state": states}


@dataclass
class Cycle:
    """One start of the command and how it ended."""

    mode: (
        str  # "early": killed after a delay from its start; "mid": after some stored pages; "run": not killed
    )
    returncode: int
    agent: str  # in the User-Agent of this process's requests (its contact address)
    pages_printed: int
    stderr: str = field(repr=False, default="")


def _pages_printed(path: Path) -> int:
    try:
        lines = path.read_text(errors="replace").splitlines()
        return sum(1 for line in lines if line.startswith("  ") and ": read " in line)
    except FileNotFoundError:
        return 0


def kill_until_done(
    first: list[str],
    again: list[str],
    env: dict[str, str],
    server: ReplayServer,
    rng: random.Random,
    workdir: Path,
    *,
    kills: int,
    modes: list[str] | None = None,
) -> list[Cycle]:
    """Start the command, SIGKILL it at a random point, restart it, … `kills` times; then let it
    finish. Returns every cycle; fails the test on an exit status other than 0 or 1.

    modes: how each kill is timed ("early" or "mid"); random when not given."""
    cycles: list[Cycle] = []
    for n in range(kills + 1):
        log = workdir / f"stderr-{n}.txt"
        # Each process names itself in its User-Agent: a request of a killed process can reach the
        # server's log after its successor started.
        agent = f"cycle-{n}-{uuid.uuid4().hex[:6]}@example.org"
        with open(log, "w") as err:
            proc = subprocess.Popen(
                [sys.executable, *LAUNCH, *(first if n == 0 else again)],
                env={**env, "DAILYPAPERS_CONTACT_EMAIL": agent},
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        mode = "run" if n == kills else (modes[n] if modes else rng.choice(["early", "mid", "mid"]))
        deadline = time.monotonic() + 60
        if mode == "early":
            # Anywhere from start-up (imports, migrations, the first checkpoint) to the first pages.
            kill_at = time.monotonic() + rng.uniform(0.2, 1.4)
        else:
            pages, extra = rng.randint(1, 6), rng.uniform(0.0, 0.1)
        while proc.poll() is None and time.monotonic() < deadline:
            if mode == "early" and time.monotonic() >= kill_at:
                break
            if mode == "mid" and _pages_printed(log) >= pages:
                time.sleep(extra)
                break
            time.sleep(0.01)
        if mode != "run" and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        try:
            returncode = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"cycle {n} ({mode}) did not end: {log.read_text()[-2000:]}")
        text = log.read_text(errors="replace")
        cycles.append(Cycle(mode, returncode, agent, _pages_printed(log), text))
        if returncode in (0, 1):
            return cycles
        assert returncode == -signal.SIGKILL, f"cycle {n} ({mode}) exited {returncode}:\n{text[-3000:]}"
    pytest.fail(f"never finished: {cycles}")


def resumed_from_checkpoint(kind: str, server: ReplayServer, cycle: Cycle) -> bool:
    """Whether a cycle's first request continued an interrupted run rather than starting over."""
    mine = [e for e in list(server.log) if cycle.agent in e.headers.get("user-agent", "")]
    if not mine:
        return False
    query = mine[0].query
    if kind == "arxiv-oai":
        return "resumptionToken" in query
    return query.get("date") != "2026-08-17"


# --- databases -----------------------------------------------------------------------------------


@pytest.fixture
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A factory: the URL of a fresh, empty database of a dialect ("sqlite" or "postgresql")."""
    made: list[str] = []
    admins: list[sa.Engine] = []

    def make(dialect: str) -> str:
        name = f"kill_{uuid.uuid4().hex[:12]}"
        if dialect == "sqlite":
            return f"sqlite:///{tmp_path / name}.db"
        if not admins:
            url = Database(request.getfixturevalue("postgres_url")).url
            admins.append(sa.create_engine(url, isolation_level="AUTOCOMMIT"))
        with admins[0].connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        made.append(name)
        return admins[0].url.set(database=name).render_as_string(hide_password=False)

    yield make
    for admin in admins:
        with admin.connect() as conn:
            for name in made:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Any]]:
    """What one uninterrupted, fault-free `dailypapers ingest` stores (a fresh SQLite database)."""
    found: dict[str, dict[str, Any]] = {}

    def of(kind: str) -> dict[str, Any]:
        if kind not in found:
            url = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'ref.db'}"
            server = serve((0.0, 0.0))
            try:
                done = subprocess.run(
                    [sys.executable, *LAUNCH, *SOURCES[kind][0]],
                    env=cli_env(server, url),
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
            finally:
                server.stop()
            assert done.returncode == 0, done.stderr
            found[kind] = stored(url)
        return found[kind]

    return of


# --- the tests -----------------------------------------------------------------------------------


def _kill_and_compare(
    dialect: str,
    kind: str,
    new_database: Callable[[str], str],
    reference: Callable[[str], dict[str, Any]],
    tmp_path: Path,
    *,
    seed: int,
    kills: int,
    fault_rate: float = 0.0,
) -> list[Cycle]:
    expected = reference(kind)
    first, again, delays = SOURCES[kind]
    url = new_database(dialect)
    server = serve(delays, fault_rate=fault_rate, seed=seed)
    try:
        cycles = kill_until_done(
            first, again, cli_env(server, url), server, random.Random(seed), tmp_path, kills=kills
        )
        got = stored(url)
        # (A resumed run can finish before its kill comes: fewer kills than planned is fine.)
        assert sum(c.returncode == -signal.SIGKILL for c in cycles) >= 1
        assert got["source_state"] == expected["source_state"]
        assert got["feed_entries"] == expected["feed_entries"]
        assert got["papers"].keys() == expected["papers"].keys()
        assert got["papers"] == expected["papers"]
        # At least one kill landed after pages were stored, and the next start went on from there.
        assert any(
            c.mode == "mid" and c.returncode == -signal.SIGKILL and resumed_from_checkpoint(kind, server, nxt)
            for c, nxt in zip(cycles, cycles[1:])
        ), cycles
        assert all("Traceback" not in c.stderr for c in cycles if c.returncode != -signal.SIGKILL)
    finally:
        server.stop()
    return cycles


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("kind", list(SOURCES))
def test_kill_9_then_resume_ends_like_an_uninterrupted_run(
    dialect: str,
    kind: str,
    new_database: Callable[[str], str],
    reference: Callable[[str], dict[str, Any]],
    tmp_path: Path,
) -> None:
    _kill_and_compare(dialect, kind, new_database, reference, tmp_path, seed=11, kills=3)


@pytest.mark.parametrize(
    ("dialect", "kind"),
    [
        ("sqlite", "arxiv-oai"),
        pytest.param("postgresql", "arxiv-oai", marks=pytest.mark.slow),
        pytest.param("sqlite", "hf-daily", marks=pytest.mark.slow),
        pytest.param("postgresql", "hf-daily", marks=pytest.mark.slow),
    ],
)
def test_kill_9_then_resume_with_random_faults(
    dialect: str,
    kind: str,
    new_database: Callable[[str], str],
    reference: Callable[[str], dict[str, Any]],
    tmp_path: Path,
) -> None:
    _kill_and_compare(dialect, kind, new_database, reference, tmp_path, seed=5, kills=2, fault_rate=0.3)


def test_rerunning_the_same_since_command_resumes(tmp_path: Path) -> None:
    # README: "dailypapers ingest arxiv-oai --set cs --since 2026-01-01  # a bulk back-fill (resumable)".
    # An operator (or cron) reruns the command as typed; the interrupted window should go on.
    first = SOURCES["arxiv-oai"][0]
    server = serve((0.005, 0.02), seed=3)
    try:
        env = cli_env(server, f"sqlite:///{tmp_path / 'since.db'}")
        cycles = kill_until_done(
            first, first, env, server, random.Random(3), tmp_path, kills=1, modes=["mid"]
        )
        assert cycles[0].returncode == -signal.SIGKILL and cycles[0].pages_printed >= 1
        assert resumed_from_checkpoint("arxiv-oai", server, cycles[1])
    finally:
        server.stop()


def test_ingest_leaves_a_source_alone_while_a_live_process_holds_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'held.db'}"
    db = Database(url)
    db.migrate()
    # This test's own process, alive on this host, holds the source (a worker running it).
    holder = f"{socket.gethostname()}:{os.getpid()}"
    with db.write() as conn:
        now = datetime.now(UTC)
        acquire_lease(conn, "arxiv-oai:cs", holder, now + timedelta(minutes=10), now)
    db.dispose()
    server = serve((0.0, 0.0))
    try:
        done = subprocess.run(
            [sys.executable, *LAUNCH, *SOURCES["arxiv-oai"][0]],
            env=cli_env(server, url),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.stop()
    assert done.returncode == 2 and "another process" in done.stderr, done.stderr
    assert server.log == []
    after = stored(url)
    assert after["papers"] == {} and after["source_state"]["arxiv-oai:cs"][2] == holder
