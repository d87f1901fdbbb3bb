"""Bulk imports into SQLite with the keyword-index triggers suspended (search.bulk): the indexes are
rebuilt at the end, and an import killed half-way is repaired by the next command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dailypapers.ingest.importer import import_paths
from dailypapers.search.keyword import keyword_search
from dailypapers.search.query import parse_query
from dailypapers.store import fts as bulk
from dailypapers.store.db import Database
from dailypapers.store.tables import maintenance, papers

DATA = Path(__file__).parents[1] / "data"


def _big_listing(path: Path, count: int) -> Path:
    """`count` listing records made from the real 2026-06-30 listing, each under a new id, with a
    word of its own in the title (zq<n>) so that the keyword index can be checked paper by paper."""
    real = [json.loads(line) for line in (DATA / "listing-cs_2026-06-30.jsonl").read_text().splitlines()]
    with open(path, "w", encoding="utf-8") as f:
        for n in range(count):
            obj = dict(real[n % len(real)])
            obj["id"] = f"2001.{n:05d}"
            obj["title"] = f"{obj['title']} zq{n}"
            obj["listing_dates"] = ["2026-06-30"]
            f.write(json.dumps(obj) + "\n")
    return path


def _triggers(db: Database) -> set[str]:
    with db.read() as conn:
        return {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}


def _found(db: Database, word: str, titles_only: bool = False) -> int:
    with db.read() as conn:
        return (
            keyword_search(conn, parse_query(word), titles_only=titles_only).total
            if not titles_only
            else len(keyword_search(conn, parse_query(word), titles_only=True, count=False).hits)
        )


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'bulk.db'}")
    db.migrate()
    return db


def test_a_big_import_rebuilds_the_indexes_at_its_end(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _big_listing(tmp_path / "big.jsonl", 3000)
    assert not bulk.should_suspend(sqlite_db, [source])  # 3,000 records: row by row
    monkeypatch.setattr(bulk, "BULK_MIN_RECORDS", 1000)
    assert bulk.should_suspend(sqlite_db, [source])
    summary = import_paths(sqlite_db, [source])
    assert summary.counts.new == 3000
    assert any(note.startswith("keyword indexes rebuilt in") for note in summary.notes)
    assert set(bulk.TRIGGERS) <= _triggers(sqlite_db)
    with sqlite_db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(maintenance)).scalar_one() == 0
    for n in (0, 1234, 2999):
        assert _found(sqlite_db, f"zq{n}") == 1 and _found(sqlite_db, f"zq{n}", titles_only=True) == 1
    # The triggers work again: a later small import is indexed row by row.
    lines = _big_listing(tmp_path / "more.jsonl", 3001).read_text().splitlines()
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(lines[-1000:]) + "\n")  # 999 known papers and a new one
    assert not bulk.should_suspend(sqlite_db, [small])  # fewer than the papers already there
    import_paths(sqlite_db, [small])
    assert _found(sqlite_db, "zq3000") == 1


def test_only_one_suspension_at_a_time_and_a_dead_owner_is_repaired(
    sqlite_db: Database, tmp_path: Path
) -> None:
    assert bulk.suspend(sqlite_db)
    assert not bulk.suspend(sqlite_db)  # already suspended
    assert not set(bulk.TRIGGERS) & _triggers(sqlite_db)
    import_paths(sqlite_db, [DATA / "listing-cl_2025-09-18.jsonl"])  # not indexed while suspended
    assert _found(sqlite_db, "language") == 0
    assert bulk.repair(sqlite_db) is None  # its owner (this process) is alive
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with sqlite_db.write() as conn:
        owner = conn.execute(sa.select(maintenance.c.owner)).scalar_one()
        conn.execute(sa.update(maintenance).values(owner=owner.rsplit(":", 1)[0] + ":" + done.stdout.strip()))
    sqlite_db.migrate()  # every command migrates: the dead import's triggers come back
    assert set(bulk.TRIGGERS) <= _triggers(sqlite_db)
    assert _found(sqlite_db, "language") > 50


def test_postgresql_is_never_suspended(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "BULK_MIN_RECORDS", 1)
    source = _big_listing(tmp_path / "big.jsonl", 10)
    assert bulk.should_suspend(db, [source]) == db.is_sqlite


def test_an_import_killed_with_the_triggers_off_is_repaired(tmp_path: Path) -> None:
    """kill -9 of `dailypapers import` during a bulk import (30,000 records), then any command:
    the indexes and triggers come back, and importing again gives what one uninterrupted run gives."""
    path = tmp_path / "killed.db"
    source = _big_listing(tmp_path / "big.jsonl", 30_000)
    env = {**os.environ, "DAILYPAPERS_DATABASE_URL": f"sqlite:///{path}"}
    command = [sys.executable, "-m", "dailypapers.cli", "import", str(source)]
    run = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = Database(f"sqlite:///{path}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once the import has written some papers, triggers off
        time.sleep(0.2)
        if not path.exists():
            continue
        try:
            with db.read() as conn:
                marker = conn.execute(sa.select(maintenance.c.name)).first()
                count = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
        except sa.exc.OperationalError:  # the schema is not there yet
            continue
        if marker and count >= 2000:
            break
    else:
        pytest.fail("the import never reached the suspended state")
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert not set(bulk.TRIGGERS) & _triggers(db)
    # Any command repairs (each one migrates); `migrate` is the lightest.
    subprocess.run(
        [sys.executable, "-m", "dailypapers.cli", "migrate"], env=env, check=True, capture_output=True
    )
    assert set(bulk.TRIGGERS) <= _triggers(db)
    with db.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
    assert 2000 <= count < 30_000
    assert _found(db, "zq0") == 1 and _found(db, f"zq{count - 1}") == 1  # what was written is indexed
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one() == 30_000
        assert conn.execute(sa.select(sa.func.count()).select_from(maintenance)).scalar_one() == 0
        fts = conn.exec_driver_sql(
            "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH 'zq29999'"
        ).scalar_one()
    assert fts == 1 and _found(db, "zq29999", titles_only=True) == 1
    assert set(bulk.TRIGGERS) <= _triggers(db)
    db.dispose()
