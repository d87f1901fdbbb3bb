"""The import's fast paths give the results of the plain ones: SQLite driver SQL, hashing, parse worker."""

from __future__ import annotations

import gc
import gzip
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

import dailypapers.ingest.importer as importer
import dailypapers.store.papers as store_papers
from dailypapers.core.models import CONTENT_FIELDS, PaperRecord, content_hash, merge_records
from dailypapers.ingest.importer import ImportSummary, import_paths
from dailypapers.ingest.parse_worker import ParseWorker, WorkerStopped
from dailypapers.store.db import Database
from dailypapers.store.tables import feed_entries, papers

UTC = UTC
T1 = datetime(2026, 7, 1, 8, 0, 0, 250_000, tzinfo=UTC)
T2 = datetime(2026, 7, 2, 9, 30, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))

DATA_FILES = [
    "listing-cs_2026-06-30.jsonl",
    "listing-cl_2025-09-18.jsonl",
    "listing-cs-unique-300.jsonl.gz",
    "kaggle-sample200.jsonl",
    "hub/newsletter-chinese_2024-12-11_python-repr-items.json",
    "hub/newsletter-chinese_2025-03-10.json",
    "hub/pushpaper_2025-03-10.json",
]


def sqlite_db(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    db.migrate()
    return db


def listing_line(arxiv_id: str, **fields: Any) -> str:
    obj = {
        "id": arxiv_id,
        "title": f"Paper {arxiv_id}",
        "authors": ["Ada Lovelace", "Émile Borel"],
        "categories": ["cs.LG", "stat.ML"],
        "comment": None,
        "summary": "An abstract\nwrapped over lines.",
        "listing_dates": ["2026-06-29"],
    }
    obj.update(fields)
    return json.dumps(obj, ensure_ascii=False)


def edge_case_files(tmp_path: Path) -> tuple[list[Path], list[Path]]:
    """Records that exercise every conversion, then newer versions of some (the UPDATE statement)."""
    first = tmp_path / "edge-first.jsonl"
    first.write_text(
        "\n".join(
            [
                listing_line(
                    "2606.00001v1",
                    title="Unicode: Schrödinger, 東京, ∑ and emoji 🚀",
                    summary="Code at https://github.com/a/b.\n  A second paragraph.",
                ),
                listing_line("2606.00002", comment="This paper has been withdrawn by the authors"),
                listing_line(
                    "2606.00003v3",
                    listing_dates=["2026-06-28", "2026-06-29", "2026-06-30"],
                    upvotes=12,
                    authors=[],
                    categories="cs.CL cs.AI",
                ),
                listing_line("2606.00004", summary="", comment="Project page: https://example.org/p"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    # A Hub capture featuring papers at a time with a +02:00 offset, and microseconds.
    hub = tmp_path / "daily_2026-06-30.json"
    hub.write_text(
        json.dumps(
            [
                {
                    "paper": {
                        "id": "2606.00001",
                        "title": "Unicode",
                        "summary": "s",
                        "upvotes": 7,
                        "authors": [{"name": "Ada Lovelace"}],
                        "publishedAt": "2026-06-27T10:00:00.123456Z",
                        "submittedOnDailyAt": "2026-06-30T08:15:00.5+02:00",
                    }
                },
                {
                    "paper": {
                        "id": "2606.00005",
                        "title": "Only on the Hub",
                        "summary": "s",
                        "upvotes": 0,
                        "authors": [],
                        "submittedOnDailyAt": "2026-06-30T23:59:59+02:00",
                    }
                },
            ]
        )
    )
    newer = tmp_path / "edge-newer.jsonl"
    newer.write_text(
        "\n".join(
            [
                listing_line("2606.00001v2", title="Renamed in v2", listing_dates=["2026-07-01"]),
                listing_line("2606.00003v3", categories=["cs.CV"], listing_dates=["2026-07-01"]),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return [first, hub], [newer]


def raw_rows(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored value as SQLite holds it (text, not what SQLAlchemy makes of it)."""
    with sqlite3.connect(db_path) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
            for table, key in (("papers", "arxiv_id"), ("feed_entries", "id"))
        }


def read_back(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row as SQLAlchemy reads it (JSON decoded, datetimes, booleans)."""
    with db.read() as conn:
        return {
            table.name: [tuple(r) for r in conn.execute(sa.select(table).order_by(key))]
            for table, key in ((papers, papers.c.arxiv_id), (feed_entries, feed_entries.c.id))
        }


def summary_facts(s: ImportSummary) -> tuple[Any, ...]:
    return (s.read, s.counts, [(r.path, r.line, r.reason) for r in s.rejected], s.unreadable, s.notes)


# --- SQLite: driver SQL stores and reads what SQLAlchemy would ----------------------------------


def test_sqlite_driver_sql_round_trips_like_sqlalchemy(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, then = edge_case_files(tmp_path)
    batches = [[data / f for f in DATA_FILES] + first, then, [data / f for f in DATA_FILES] + first]
    results = {}
    for mode in ("sqlalchemy", "driver"):
        with monkeypatch.context() as m:
            if mode == "sqlalchemy":
                m.setattr(store_papers, "_driver_sql_dialect", lambda dialect: False)
            db = sqlite_db(tmp_path / f"{mode}.db")
            summaries = [
                summary_facts(import_paths(db, files, batch_size=50, now=now, parse_in_worker=False))
                for files, now in zip(batches, (T1, T2, T2 + timedelta(days=1)))
            ]
            results[mode] = (summaries, read_back(db), raw_rows(tmp_path / f"{mode}.db"))
            db.dispose()
    plain, fast = results["sqlalchemy"], results["driver"]
    # The fixtures reach every statement: inserts, updates, feed entries, and a no-op re-import.
    counts = [s[1] for s in plain[0]]
    assert counts[0].new > 1000 and counts[1].updated == 2 and counts[2].new == counts[2].updated == 0
    assert fast[0] == plain[0]
    assert fast[1] == plain[1]  # read back through SQLAlchemy: equal values
    assert fast[2] == plain[2]  # and the very same stored text


def test_sqlite_driver_sql_loads_what_sqlalchemy_loads(data: Path, tmp_path: Path) -> None:
    first, then = edge_case_files(tmp_path)
    db = sqlite_db(tmp_path / "t.db")
    import_paths(db, [data / f for f in DATA_FILES] + first + then, now=T1, parse_in_worker=False)
    with db.read() as conn:
        ids = list(conn.scalars(sa.select(papers.c.arxiv_id))) + ["2606.99999"]
        assert len(ids) > 1000  # several IN (...) chunks
        fast = store_papers._load_stored_sqlite(conn, ids)
        plain_rows = {r.arxiv_id: r._asdict() for r in conn.execute(sa.select(*store_papers._ROW_COLUMNS))}
        plain_days: dict[str, set[date]] = {}
        for arxiv_id, day in conn.execute(sa.select(feed_entries.c.arxiv_id, feed_entries.c.feed_date)):
            plain_days.setdefault(arxiv_id, set()).add(day)
    assert fast == (plain_rows, plain_days)
    typed = lambda rows: {k: {c: type(v) for c, v in row.items()} for k, row in rows.items()}  # noqa: E731
    assert typed(fast[0]) == typed(plain_rows)  # bool stays bool, datetime stays datetime
    db.dispose()


def test_bind_processors_run_once_per_object_but_per_value_content() -> None:
    calls: list[Any] = []

    def process(value: Any) -> str:
        calls.append(value)
        return str(value)

    once = store_papers._once_per_object(process)
    shared = datetime(2026, 6, 30, tzinfo=UTC)
    equal_but_other = datetime(2026, 6, 30, 2, tzinfo=PLUS_TWO)  # == shared, other wall time
    assert [once(v) for v in (shared, shared, equal_but_other, None, None)] == [
        str(shared),
        str(shared),
        str(equal_but_other),
        "None",
        "None",
    ]
    assert calls == [shared, equal_but_other, None]


# --- content_hash: the same digests as the per-field formula it replaced -------------------------


def reference_content_hash(row: dict[str, Any]) -> str:
    """content_hash as first written: one value at a time (the stored hashes come from it)."""
    values = []
    for key in CONTENT_FIELDS:
        v = row.get(key)
        if isinstance(v, datetime):
            v = (v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)).isoformat()
        elif isinstance(v, float):
            v = round(v, 9)
        values.append(v)
    return hashlib.blake2b(orjson.dumps(values), digest_size=16).hexdigest()


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 6, 30, 12, 0, tzinfo=UTC),
        datetime(2026, 6, 30, 12, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 6, 30, 12, 0),  # naive, as SQLite returns it
        datetime(2026, 6, 30, 14, 0, 0, 500_000, tzinfo=PLUS_TWO),
        datetime(1, 1, 1, 0, 0, tzinfo=UTC),
        None,
    ],
)
def test_content_hash_matches_the_per_field_formula(when: datetime | None) -> None:
    rec = PaperRecord(
        arxiv_id="2606.00001",
        title="T",
        abstract="A ∑",
        authors=["Ada"],
        categories=["cs.LG"],
        version=2,
        published_at=when,
        updated_at=when,
        upvotes=3,
        feed_entries=[(date(2026, 6, 30), when or T1)],
    )
    row = merge_records(None, rec, T1)
    for variant in (row, {**row, "published_at": when, "first_featured_at": when}, {"title": "only"}):
        assert content_hash(variant) == reference_content_hash(variant)
    # Float noise below the rounding does not change the hash.
    assert content_hash({**row, "trending_score": row["trending_score"] + 1e-12}) == content_hash(row)


# --- the parse worker: the same import, parsed in a child process ----------------------------------


def messy_listing(tmp_path: Path, data: Path) -> Path:
    """Real lines with malformed, blank, non-object and invalid ones, and duplicates across batches."""
    lines = (data / "listing-cs_2026-06-30.jsonl").read_text().splitlines()
    bad = ["{not json", "", "[1, 2]", '{"id": "nope", "title": "x", "summary": "s"}']
    mixed = lines[:40] + bad + lines[:30]
    mixed += lines[40:200] + ['{"id": "2606.00001", "title": "", "summary": "s"}'] + lines[150:]
    path = tmp_path / "messy.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(mixed) + "\n").encode()))
    return path


def import_both_ways(
    make_db: Callable[[str], Database], paths: list[Path], **kwargs: Any
) -> dict[bool, tuple[Any, ...]]:
    outcomes = {}
    for in_worker in (False, True):
        db = make_db("worker" if in_worker else "in-process")
        ticks: list[tuple[int, int]] = []
        summary = import_paths(
            db,
            paths,
            now=T1,
            parse_in_worker=in_worker,
            progress=lambda done, total, ticks=ticks: ticks.append((done, total)),
            **kwargs,
        )
        outcomes[in_worker] = (summary_facts(summary), read_back(db), ticks)
    return outcomes


def test_worker_imports_what_in_process_parsing_imports(db: Database, data: Path, tmp_path: Path) -> None:
    paths = [
        messy_listing(tmp_path, data),
        data / "kaggle-sample200.jsonl",
        data / "listing-cs-unique-300.jsonl.gz",
    ]

    def fresh(name: str) -> Database:
        if db.engine.dialect.name == "sqlite":
            return sqlite_db(tmp_path / f"{name}.db")
        with db.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE feed_entries, papers RESTART IDENTITY CASCADE"))
        return db

    outcomes = import_both_ways(fresh, paths, batch_size=7)
    in_process, worker = outcomes[False], outcomes[True]
    facts = in_process[0]
    assert facts[0] > 900
    assert [r[1] for r in facts[2]] == [41, 43, 44, 235]  # the bad lines of the messy file
    assert worker[0] == facts
    assert worker[1] == in_process[1]
    # Progress: never backwards within a file, each file ending at its size.
    for path in paths:
        size = path.stat().st_size
        done = [d for d, total in worker[2] if total == size]
        assert done == sorted(done) and done[-1] == size


def test_worker_keeps_what_was_read_from_a_truncated_gzip(data: Path, tmp_path: Path) -> None:
    lines = (data / "listing-cs_2026-06-30.jsonl").read_bytes() * 3
    whole = gzip.compress(lines)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) * 9 // 10])
    paths = [cut, data / "kaggle-sample200.jsonl"]
    outcomes = import_both_ways(lambda name: sqlite_db(tmp_path / f"{name}.db"), paths)
    assert outcomes[True][:2] == outcomes[False][:2]
    rejected = outcomes[True][0][2]
    assert [(line, "truncated or corrupt" in reason) for _, line, reason in rejected] == [(0, True)]


def test_worker_raises_what_in_process_parsing_raises(data: Path, tmp_path: Path) -> None:
    whole = gzip.compress((data / "listing-cs_2026-06-30.jsonl").read_bytes() * 3)
    corrupt = tmp_path / "corrupt.jsonl.gz"
    # A sound first half (the format is detected, records are read), then a garbled deflate stream.
    corrupt.write_bytes(whole[: len(whole) // 2] + bytes(range(256)) * 64)

    def outcome(in_worker: bool) -> tuple[Any, ...]:
        db = sqlite_db(tmp_path / f"{in_worker}.db")
        try:
            summary = import_paths(db, [corrupt], now=T1, parse_in_worker=in_worker)
        except Exception as exc:  # noqa: BLE001 - what is raised is the point
            return ("raised", type(exc), str(exc))
        return ("done", summary_facts(summary), read_back(db))

    assert outcome(True) == outcome(False)


def test_a_killed_worker_is_an_error_not_a_hang(data: Path) -> None:
    with ParseWorker(data / "listing-cs_2026-06-30.jsonl") as worker:
        worker._proc.kill()  # before it could send anything: it takes a while to start
        with pytest.raises(WorkerStopped, match="stopped"):
            list(worker)


def test_closing_a_worker_early_stops_the_child_and_its_thread(data: Path) -> None:
    worker = ParseWorker(data / "listing-cs_2026-06-30.jsonl")
    items = iter(worker)
    assert isinstance(next(items), PaperRecord)
    worker.close()
    assert worker._proc.returncode is not None
    assert not worker._reader.is_alive()
    with pytest.raises(WorkerStopped):
        for _ in items:  # what was already received, then the stop
            pass


def test_interrupting_an_import_stops_the_worker(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers: list[ParseWorker] = []

    class Recorded(ParseWorker):
        def __init__(self, path: Path):
            super().__init__(path)
            workers.append(self)

    monkeypatch.setattr(importer, "ParseWorker", Recorded)

    def ctrl_c(done: int, total: int) -> None:
        raise KeyboardInterrupt

    db = sqlite_db(tmp_path / "t.db")
    with pytest.raises(KeyboardInterrupt):
        import_paths(
            db, [data / "listing-cs_2026-06-30.jsonl"], batch_size=20, progress=ctrl_c, parse_in_worker=True
        )
    [worker] = workers
    assert worker._proc.returncode is not None
    assert not any(t.name == "parse-worker-reader" for t in threading.enumerate())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_parsed_in_process(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The worker would open the path again and miss what detection read; and a pipe has no position.
    monkeypatch.setattr(importer, "ParseWorker", None)  # any use would fail
    fifo = tmp_path / "listing.jsonl"
    os.mkfifo(fifo)
    lines = (data / "listing-cs_2026-06-30.jsonl").read_bytes()
    writer = threading.Thread(target=fifo.write_bytes, args=(lines,))
    writer.start()
    summary = import_paths(sqlite_db(tmp_path / "t.db"), [fifo], batch_size=100, now=T1, parse_in_worker=True)
    writer.join()
    assert (summary.read, summary.counts.new, summary.rejected) == (674, 532, [])


# --- the cycle collector during an import ---------------------------------------------------------


@pytest.mark.parametrize("in_worker", [False, True])
def test_an_import_leaves_no_reference_cycles(data: Path, tmp_path: Path, in_worker: bool) -> None:
    # Why the collector can run rarely during an import. (Python-literal Hub items are the
    # exception: ast.literal_eval leaves a few cycles per item, which it still collects.)
    files = [data / f for f in DATA_FILES if "python-repr" not in f]
    db = sqlite_db(tmp_path / "t.db")
    gc.collect()
    gc.disable()
    try:
        import_paths(db, files, batch_size=100, now=T1, parse_in_worker=in_worker)
        import_paths(db, files, batch_size=100, now=T2, parse_in_worker=in_worker)
        # Only what refcounting cannot free is found here: an import leaves nothing.
        assert gc.collect() == 0
    finally:
        gc.enable()
    db.dispose()


def test_the_collector_thresholds_are_restored(data: Path, tmp_path: Path) -> None:
    db = sqlite_db(tmp_path / "t.db")
    before = gc.get_threshold()
    seen: list[tuple[int, ...]] = []
    first_file = [data / DATA_FILES[0]]
    import_paths(db, first_file, batch_size=100, progress=lambda d, t: seen.append(gc.get_threshold()))
    assert seen[0][0] >= importer._IMPORT_GC_THRESHOLD and seen[0][1:] == before[1:]
    assert gc.get_threshold() == before

    def fail(done: int, total: int) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        import_paths(db, first_file, batch_size=100, progress=fail)
    assert gc.get_threshold() == before
    # Automatic collection switched off (threshold 0) stays off.
    gc.set_threshold(0)
    try:
        import_paths(db, first_file, progress=lambda d, t: seen.append(gc.get_threshold()))
        assert seen[-1][0] == 0
    finally:
        gc.set_threshold(*before)
    db.dispose()
