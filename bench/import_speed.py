"""Import speed: a file imported twice into a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PATH = ROOT.parent / "shared/data/arxiv-listings-cs/daily_arxiv_listings_unique.jsonl.gz"
BENCH_DATABASE = "dailypapers_bench_import"

EPILOG = f"""
For each database a child process runs the imports, so its peak memory is that database's
alone. Printed per import: records read, new and unchanged papers, papers in the database,
seconds, records/s, and the peak RSS of the importing process and of the parsing process it
starts for big files. Without --postgres-url a throwaway PostgreSQL cluster is started
(dailypapers.testing.postgres); with one, the database {BENCH_DATABASE} is created on
that server, used and dropped.
"""


class ChildPeakRss:
    """Samples the peak RSS (VmHWM) of this process's children until stopped, in MiB.

    getrusage(RUSAGE_CHILDREN) cannot tell: its maximum includes each child's instant between
    fork and exec, when it still maps all of this process.
    """

    def __init__(self, every: float = 0.25):
        self.mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), daemon=True)
        self._thread.start()

    def _watch(self, every: float) -> None:
        me = str(os.getpid())
        while not self._stop.wait(every):
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    if stat.read_text().rsplit(")", 1)[1].split()[1] != me:
                        continue
                    status = (stat.parent / "status").read_text()
                except (OSError, IndexError):
                    continue  # gone meanwhile
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.mib = max(self.mib, int(line.split()[1]) / 1024)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.mib


def run_imports(url: str, path: Path, batch_size: int, parse_in_worker: bool | None, runs: int) -> list[dict]:
    """In the child: migrate, import `runs` times, one result per import."""
    from dailypapers.ingest.importer import import_paths
    from dailypapers.store.db import Database
    from dailypapers.store.papers import count_papers

    db = Database(url)
    db.migrate()
    results = []
    parser_rss = ChildPeakRss()
    for _ in range(runs):
        # Passed only when set, so the script also measures versions without the parameter.
        options = {} if parse_in_worker is None else {"parse_in_worker": parse_in_worker}
        summary = import_paths(db, [path], batch_size=batch_size, **options)
        with db.read() as conn:
            in_db = count_papers(conn)
        results.append(
            {
                "read": summary.read,
                "new": summary.counts.new,
                "unchanged": summary.counts.unchanged,
                "in_db": in_db,
                "seconds": summary.seconds,
                # ru_maxrss: KiB on Linux, this process's high-water mark so far.
                "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "parser_rss_mib": parser_rss.mib,
            }
        )
    parser_rss.stop()
    db.dispose()
    return results


def in_child(url: str, args: argparse.Namespace) -> list[dict]:
    command = [
        sys.executable,
        __file__,
        "--child",
        url,
        "--path",
        str(args.path),
        "--batch-size",
        str(args.batch_size),
        "--runs",
        str(args.runs),
    ]
    if args.no_worker:
        command.append("--no-worker")
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def fresh_postgres(server_url: str) -> tuple[str, Callable[[], None]]:
    """A new, empty database on the server of `server_url`: its URL, and a function dropping it."""
    import sqlalchemy as sa

    from dailypapers.store.db import normalize_url

    admin = sa.create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
        conn.exec_driver_sql(f"CREATE DATABASE {BENCH_DATABASE}")

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        admin.dispose()

    url = sa.engine.make_url(normalize_url(server_url)).set(database=BENCH_DATABASE)
    return url.render_as_string(hide_password=False), drop


def print_row(name: str, run: int, r: dict[str, Any]) -> None:
    rate = r["read"] / r["seconds"] if r["seconds"] else 0.0
    print(
        f"{name:<11} {run:>3} {r['read']:>7,} {r['new']:>7,} {r['unchanged']:>9,} {r['in_db']:>7,} "
        f"{r['seconds']:>8.2f} {rate:>10,.0f} {r['rss_mib']:>5.0f} MiB {r['parser_rss_mib']:>6.0f} MiB",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--path", type=Path, default=DEFAULT_PATH, help="file to import (default: %(default)s)")
    ap.add_argument("--postgres-url", help="PostgreSQL server to use instead of a throwaway cluster")
    ap.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    ap.add_argument("--batch-size", type=int, default=2000, help="records per write (default: %(default)s)")
    ap.add_argument("--runs", type=int, default=2, help="imports per database (default: %(default)s)")
    ap.add_argument("--no-worker", action="store_true", help="parse in the importing process")
    ap.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        parse_in_worker = False if args.no_worker else None
        print(json.dumps(run_imports(args.child, args.path, args.batch_size, parse_in_worker, args.runs)))
        return

    print(f"file: {args.path} ({args.path.stat().st_size / 2**20:.1f} MiB)")
    print(
        f"machine: {os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    where = (
        "in the importing process (--no-worker)" if args.no_worker else "as import_paths decides (default)"
    )
    print(f"batch size {args.batch_size}; parsing {where}\n")
    print(
        f"{'database':<11} {'run':>3} {'read':>7} {'new':>7} {'unchanged':>9} {'in db':>7} {'seconds':>8} "
        f"{'records/s':>10} {'peak RSS':>9} {'parser RSS':>10}"
    )
    with ExitStack() as stack:
        targets = [("SQLite", f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/bench.db")]
        if not args.skip_postgres:
            server = args.postgres_url
            if server is None:
                from dailypapers.testing.postgres import throwaway_cluster

                server = stack.enter_context(throwaway_cluster())
            url, drop = fresh_postgres(server)
            stack.callback(drop)
            targets.append(("PostgreSQL", url))
        for name, url in targets:
            for run, result in enumerate(in_child(url, args), start=1):
                print_row(name, run, result)


if __name__ == "__main__":
    main()
