"""Bulk Kaggle import: a generated million-record Kaggle snapshot imported into SQLite and PostgreSQL.

The file is made from the 200 real records of tests/data/kaggle-sample200.jsonl (arXiv's Kaggle
OAI snapshot): record i takes a seeded-random real record, gets the i-th new-style id (YYMM.NNNNN,
ascending over the 132 months 2015-01..2025-12, as the real snapshot is sorted by id), its title
and abstract words shuffled and re-wrapped the way the snapshot wraps them, and its version dates
moved into the id's month; authors, authors_parsed, categories, comments, journal-ref and DOI are
the real ones. It is written as plain JSON lines, like Kaggle's own download (--gzip: gzipped),
one record at a time, to WORKDIR/kaggle-bulk-N-seedS.jsonl[.gz], and reused by later runs with
the same --workdir, --records, --seed and --gzip.

Each database is imported in a child process of its own, through import_paths (what
`dailypapers import` calls, batch size 2000 as the setting's default), so that its memory figures
are its own. For each it prints: records read, papers in the database (must equal --records, or
the script fails), seconds of the import_paths call, papers/s (records read / those seconds), the
peak RSS of the importing process (getrusage RUSAGE_SELF) and of the parsing process import_paths
starts for big files (VmHWM sampled from /proc; getrusage RUSAGE_CHILDREN is printed as well, but
it also counts the importer's pages mapped while the child was being spawned), the CPU seconds of
both (which, unlike the wall time, hardly change when other work shares the machine; the load
averages before and after each import are printed too), and the importer's and parser's RSS
after each tenth of the records is written, to show whether memory grows as the import goes on.

    .venv/bin/python bench/ingest_bulk.py --records 100000 --workdir /var/tmp/bulk
    .venv/bin/python bench/ingest_bulk.py --db sqlite --workdir /var/tmp/bulk   # 1,000,000 records

PostgreSQL: the server of DAILYPAPERS_TEST_POSTGRES_URL (or --postgres-url), in a database
created and dropped by the script, else a throwaway cluster (dailypapers.testing.postgres, fsync
off). The server's own memory is not part of the figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests/data/kaggle-sample200.jsonl"
BENCH_DATABASE = "dailypapers_bench_bulk"
BATCH_SIZE = 2000  # the default of the import_batch_size setting
# New-style ids with five-digit numbers exist from 2015-01 on; 132 months of up to 99,999 each.
MONTHS = [(year, month) for year in range(2015, 2026) for month in range(1, 13)]
MAX_RECORDS = len(MONTHS) * 99_999
WRAP = 80  # the snapshot's abstracts and titles are hard-wrapped near 80 columns
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --- the file -------------------------------------------------------------------------------


def ascending_ids(count: int) -> Iterator[tuple[str, datetime]]:
    """`count` distinct new-style ids in ascending order, spread evenly over MONTHS, with the
    first moment of each id's month."""
    per_month, extra = divmod(count, len(MONTHS))
    for slot, (year, month) in enumerate(MONTHS):
        start = datetime(year, month, 1, tzinfo=UTC)
        for number in range(1, per_month + (slot < extra) + 1):
            yield f"{year % 100:02d}{month:02d}.{number:05d}", start


def wrap(words: list[str], first_indent: str, next_indent: str) -> str:
    """Greedy wrap at WRAP columns, as arXiv wraps titles ("\\n  ") and abstracts ("\\n")."""
    lines: list[str] = []
    line = first_indent
    for word in words:
        if len(line) + len(word) >= WRAP and line.strip():
            lines.append(line)
            line = next_indent
        line = f"{line} {word}" if line.strip() else line + word
    lines.append(line)
    return "\n".join(lines)


def rfc2822(moment: datetime) -> str:
    """A date as the snapshot writes version dates: 'Mon, 2 Apr 2007 19:18:42 GMT'."""
    return (
        f"{WEEKDAYS[moment.weekday()]}, {moment.day} {MONTH_NAMES[moment.month - 1]} {moment.year} "
        f"{moment:%H:%M:%S} GMT"
    )


def load_sample(path: Path) -> list[tuple[dict[str, Any], list[str], list[str], list[timedelta]]]:
    """The real records, each with its title words, abstract words and version offsets from v1."""
    sample = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        created = [parsedate_to_datetime(v["created"]) for v in record["versions"]]
        offsets = [moment - created[0] for moment in created]
        sample.append((record, record["title"].split(), record["abstract"].split(), offsets))
    return sample


def varied_records(count: int, seed: int, sample_path: Path = SAMPLE) -> Iterator[dict[str, Any]]:
    """The generated records, one at a time (deterministic for a given count and seed)."""
    rng = random.Random(seed)
    sample = load_sample(sample_path)
    for arxiv_id, month_start in ascending_ids(count):
        real, title_words, abstract_words, offsets = sample[rng.randrange(len(sample))]
        title_words = rng.sample(title_words, len(title_words))
        abstract_words = rng.sample(abstract_words, len(abstract_words))
        # v1 somewhere in the id's month; later versions as far after it as in the real record.
        first = month_start + timedelta(seconds=rng.randrange(28 * 86400))
        versions = [{"version": f"v{n}", "created": rfc2822(first + off)} for n, off in enumerate(offsets, 1)]
        yield {
            **real,
            "id": arxiv_id,
            "title": wrap(title_words, "", "  "),
            "abstract": wrap(abstract_words, "  ", "") + "\n",
            "versions": versions,
            "update_date": (first + offsets[-1]).date().isoformat(),
        }


def write_snapshot(path: Path, count: int, seed: int) -> float:
    """Write the file (gzip when its name ends in .gz) through a .part file; the seconds it took."""
    started = time.perf_counter()
    part = path.with_name(path.name + ".part")
    opener: Callable[[Path], TextIO] = (
        (lambda p: gzip.open(p, "wt", encoding="utf-8", compresslevel=6))
        if path.suffix == ".gz"
        else (lambda p: open(p, "w", encoding="utf-8", buffering=1 << 20))
    )
    with opener(part) as out:
        for record in varied_records(count, seed):
            # ensure_ascii, as in the snapshot ("Bal\u00e1zs").
            out.write(json.dumps(record, separators=(",", ":")))
            out.write("\n")
    part.rename(path)
    return time.perf_counter() - started


def snapshot(workdir: Path, count: int, seed: int, gzipped: bool) -> tuple[Path, float | None]:
    """The file for these parameters, written unless already there; (path, seconds spent writing)."""
    path = workdir / f"kaggle-bulk-{count}-seed{seed}.jsonl{'.gz' if gzipped else ''}"
    if path.exists():
        return path, None
    return path, write_snapshot(path, count, seed)


# --- measuring, in the child that imports ---------------------------------------------------


def _status_kib(status: str, field: str) -> int:
    for line in status.splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


class ChildMemory:
    """Samples the memory of this process's children (the parsing process) until stopped.

    `peak_kib` is the highest VmHWM seen, `rss_kib` the latest VmRSS.
    """

    def __init__(self, every: float = 0.2):
        self.peak_kib = 0
        self.rss_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), daemon=True)
        self._thread.start()

    def _watch(self, every: float) -> None:
        me = str(os.getpid())
        while not self._stop.wait(every):
            rss = 0
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    if stat.read_text().rsplit(")", 1)[1].split()[1] != me:
                        continue
                    status = (stat.parent / "status").read_text()
                except (OSError, IndexError):
                    continue  # gone meanwhile
                self.peak_kib = max(self.peak_kib, _status_kib(status, "VmHWM:"))
                rss += _status_kib(status, "VmRSS:")
            self.rss_kib = rss

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()


def cpu_seconds(who: int) -> float:
    """User + system CPU seconds of this process (RUSAGE_SELF) or its ended children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def own_rss_kib() -> int:
    """This process's resident memory now."""
    return _status_kib(Path("/proc/self/status").read_text(), "VmRSS:")


def run_import(url: str, path: Path, batch_size: int, records: int) -> dict[str, Any]:
    """In the child: migrate a fresh database, import the file once, check and measure."""
    from dailypapers.ingest.importer import import_paths
    from dailypapers.store.db import Database
    from dailypapers.store.papers import count_papers

    db = Database(url)
    db.migrate()
    children = ChildMemory()
    timeline: list[dict[str, float]] = []
    written = 0
    started = time.perf_counter()

    def on_progress(done: int, size: int) -> None:
        # Called once per written batch. Every batch but the last is full (the ids are distinct),
        # so this counts the records written; the file position would be the parser's, ahead of it.
        nonlocal written
        written = min(written + batch_size, records)
        if written * 10 >= records * (len(timeline) + 1):
            point = {
                "written": written,
                "seconds": time.perf_counter() - started,
                "rss_mib": own_rss_kib() / 1024,
                "parser_rss_mib": children.rss_kib / 1024,
            }
            timeline.append(point)
            print(
                f"  {written:>9,} written {point['seconds']:7.1f} s  importer {point['rss_mib']:5.0f} MiB"
                f"  parser {point['parser_rss_mib']:5.0f} MiB",
                file=sys.stderr,
                flush=True,
            )

    cpu_before = cpu_seconds(resource.RUSAGE_SELF)
    summary = import_paths(db, [path], batch_size=batch_size, progress=on_progress)
    cpu_importer = cpu_seconds(resource.RUSAGE_SELF) - cpu_before
    children.stop()
    with db.read() as conn:
        in_db = count_papers(conn)
    db.dispose()
    return {
        "read": summary.read,
        "new": summary.counts.new,
        "rejected": len(summary.rejected),
        "unreadable": summary.unreadable,
        "in_db": in_db,
        "seconds": summary.seconds,
        # ru_maxrss is in KiB on Linux.
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "parser_hwm_mib": children.peak_kib / 1024,
        "children_maxrss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        # CPU seconds tell the work apart from waiting for the CPU when the machine is busy;
        # the parsing process is this process's only child, and it has ended (ParseWorker.close).
        "cpu_importer": cpu_importer,
        "cpu_parser": cpu_seconds(resource.RUSAGE_CHILDREN),
        "timeline": timeline,
    }


def in_child(url: str, path: Path, batch_size: int, records: int) -> dict[str, Any]:
    """run_import in a fresh Python process (its progress lines go to this stderr)."""
    command = [
        sys.executable,
        __file__,
        "--child",
        url,
        "--path",
        str(path),
        "--batch-size",
        str(batch_size),
        "--records",
        str(records),
    ]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout)


# --- databases --------------------------------------------------------------------------------


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


def remove_sqlite_files(db_file: Path) -> None:
    """Delete a SQLite database with its -wal and -shm files."""
    for path in db_file.parent.glob(f"{db_file.name}*"):
        path.unlink()


def postgres_version(url: str) -> str:
    """The server's version string (for the report)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar())
    finally:
        engine.dispose()


# --- report -----------------------------------------------------------------------------------


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def check(name: str, result: dict[str, Any], records: int) -> None:
    """Fail loudly unless every generated record was read and is in the database."""
    problems = []
    if result["unreadable"]:
        problems.append(f"unreadable: {result['unreadable']}")
    if result["rejected"]:
        problems.append(f"{result['rejected']:,} records rejected")
    if result["read"] != records:
        problems.append(f"read {result['read']:,} records")
    if result["in_db"] != records:
        problems.append(f"{result['in_db']:,} papers in the database")
    if problems:
        sys.exit(f"{name}: expected {records:,} papers, but " + "; ".join(problems))


def table_row(name: str, records: int, file_mib: float, r: dict[str, Any]) -> str:
    """One markdown row of the summary."""
    rate = r["read"] / r["seconds"] if r["seconds"] else 0.0
    return (
        f"| {name:<10} | {records:>9,} | {file_mib:>8,.0f} MiB | {r['in_db']:>9,} | {r['seconds']:>8.1f} "
        f"| {rate:>8,.0f} | {r['rss_mib']:>13.0f} MiB | {r['parser_hwm_mib']:>11.0f} MiB "
        f"| {r['children_maxrss_mib']:>11.0f} MiB | {r['cpu_importer']:>8.1f} + {r['cpu_parser']:.1f} |"
    )


def timeline_row(name: str, r: dict[str, Any]) -> str:
    """The importer's (and parser's) RSS after each tenth of the records, as one markdown row."""
    points = " ".join(f"{p['rss_mib']:.0f}({p['parser_rss_mib']:.0f})" for p in r["timeline"])
    return f"| {name:<10} | {points} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--records", type=int, default=1_000_000, help="records to generate (default: %(default)s)"
    )
    ap.add_argument(
        "--workdir",
        type=Path,
        help="where the file and the SQLite database go; the file is kept and reused "
        "(default: a temporary folder, removed at the end)",
    )
    ap.add_argument(
        "--seed", type=int, default=2026, help="random seed of the variation (default: %(default)s)"
    )
    ap.add_argument("--gzip", action="store_true", help="write the file gzipped (default: plain JSON lines)")
    ap.add_argument(
        "--db", choices=("sqlite", "postgresql", "both"), default="both", help="default: %(default)s"
    )
    ap.add_argument(
        "--postgres-url",
        default=os.environ.get("DAILYPAPERS_TEST_POSTGRES_URL"),
        help="PostgreSQL server to use (default: $DAILYPAPERS_TEST_POSTGRES_URL, else a throwaway cluster)",
    )
    ap.add_argument(
        "--batch-size", type=int, default=BATCH_SIZE, help="records per write (default: %(default)s)"
    )
    ap.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    ap.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        print(json.dumps(run_import(args.child, args.path, args.batch_size, args.records)))
        return
    if not 1 <= args.records <= MAX_RECORDS:
        ap.error(f"--records must be between 1 and {MAX_RECORDS:,}")

    with ExitStack() as stack:
        if args.workdir:
            workdir = args.workdir
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dailypapers-bulk-")))
        path, wrote = snapshot(workdir, args.records, args.seed, args.gzip)
        file_mib = path.stat().st_size / 2**20
        made = f"written in {wrote:.0f} s" if wrote is not None else "reused"
        print(f"file: {path} ({args.records:,} records, {file_mib:,.0f} MiB, {made})")
        print(
            f"machine: {os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}; batch size {args.batch_size}",
            flush=True,
        )

        targets: list[tuple[str, str]] = []
        if args.db in ("sqlite", "both"):
            db_file = workdir / f"bulk-{args.records}.db"
            remove_sqlite_files(db_file)
            stack.callback(remove_sqlite_files, db_file)
            targets.append(("SQLite", f"sqlite:///{db_file}"))
        if args.db in ("postgresql", "both"):
            server = args.postgres_url
            if server is None:
                from dailypapers.testing.postgres import throwaway_cluster

                server = stack.enter_context(throwaway_cluster())
            url, drop = fresh_postgres(server)
            stack.callback(drop)
            where = "" if args.postgres_url else " (throwaway cluster, fsync off)"
            print(f"PostgreSQL {postgres_version(url)}{where}")
            targets.append(("PostgreSQL", url))

        results = []
        for name, url in targets:
            # Other work on the machine slows the import down: the load averages tell.
            print(f"{name}: importing … (load average before: {load()})", flush=True)
            result = in_child(url, path, args.batch_size, args.records)
            print(f"{name}: done (load average after: {load()})", flush=True)
            check(name, result, args.records)
            results.append((name, result))

        print(
            "\n| database   |   records |         file |     in db |  seconds | papers/s | importer peak RSS "
            "| parser peak RSS | RUSAGE_CHILDREN | CPU s: importer + parser |"
        )
        print(
            "|------------|----------:|-------------:|----------:|---------:|---------:|------------------:"
            "|----------------:|----------------:|-------------------------:|"
        )
        for name, result in results:
            print(table_row(name, args.records, file_mib, result))
        print(
            "\nRSS in MiB after each tenth of the records was written, importer (parser; 0: not running):\n"
        )
        print("| database   | 10 % … 100 % |\n|------------|---|")
        for name, result in results:
            print(timeline_row(name, result))


if __name__ == "__main__":
    main()
