"""ingest.importer.import_paths against SQLite and PostgreSQL, and the `import` command."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dailypapers.core.ranking import trending_score
from dailypapers.ingest.importer import ImportSummary, import_paths
from dailypapers.store.db import Database
from dailypapers.store.papers import count_papers, feed_days_of, get_paper_row
from dailypapers.store.tables import feed_entries, papers

UTC = UTC
T1 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
T2 = datetime(2026, 7, 2, 9, 30, tzinfo=UTC)
DATA = Path(__file__).resolve().parents[1] / "data"

ALL_FILES = [
    "listing-cs_2026-06-30.jsonl",
    "listing-cl_2025-09-18.jsonl",
    "listing-cs-unique-300.jsonl.gz",
    "kaggle-sample200.jsonl",
    "hub/newsletter-chinese_2024-06-01_placeholder.json",
    "hub/newsletter-chinese_2024-12-11_python-repr-items.json",
    "hub/newsletter-chinese_2025-01-10_wrapped-dict.json",
    "hub/newsletter-chinese_2025-01-11_no-data.json",
    "hub/newsletter-chinese_2025-03-10.json",
    "hub/newsletter-chinese_2026-08-21.json",
    "hub/pushpaper_2025-03-10.json",
]


def snapshot(db: Database) -> tuple[list[tuple], list[tuple]]:
    """Every column of every paper and feed entry, in a fixed order."""
    with db.read() as conn:
        p = [tuple(r) for r in conn.execute(sa.select(papers).order_by(papers.c.arxiv_id))]
        f = [
            tuple(r)
            for r in conn.execute(
                sa.select(feed_entries).order_by(feed_entries.c.feed_date, feed_entries.c.arxiv_id)
            )
        ]
    return p, f


def paper(db: Database, arxiv_id: str) -> dict[str, Any]:
    with db.read() as conn:
        row = get_paper_row(conn, arxiv_id)
    assert row is not None, arxiv_id
    return row


def n_papers(db: Database) -> int:
    with db.read() as conn:
        return count_papers(conn)


def entries(db: Database, arxiv_id: str) -> list[tuple[date, str]]:
    with db.read() as conn:
        q = (
            sa.select(feed_entries.c.feed_date, feed_entries.c.featured_by)
            .where(feed_entries.c.arxiv_id == arxiv_id)
            .order_by(feed_entries.c.feed_date)
        )
        return [tuple(r) for r in conn.execute(q)]


def utc(dt: datetime | None) -> datetime | None:
    """SQLite returns naive UTC, PostgreSQL aware: compare as aware UTC."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def unique_ids(path: Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return len({json.loads(line)["id"] for line in f if line.strip()})


def is_postgres(db: Database) -> bool:
    return db.engine.dialect.name == "postgresql"


# --- counts ------------------------------------------------------------------------------------


def test_import_listing_day_counts(db: Database, data: Path) -> None:
    path = data / "listing-cs_2026-06-30.jsonl"
    summary = import_paths(db, [path], now=T1)
    assert summary.read == 674
    # Duplicates inside the file are merged before writing.
    assert (summary.counts.new, summary.counts.updated, summary.counts.unchanged) == (532, 0, 0)
    assert summary.rejected == [] and summary.unreadable == [] and summary.notes == []
    assert not summary.nothing_read
    assert n_papers(db) == 532
    row = paper(db, "2606.28729")
    assert row["title"] == "Convertible Codes: MSR-to-MSR Conversion with Optimal Access and Bandwidth"
    assert row["authors"] == ["Yumeng Yang", "Han Cai", "Xianfu Lei", "Xiaohu Tang"]
    assert row["categories"] == ["cs.IT"] and row["primary_category"] == "cs.IT"
    assert utc(row["created_at"]) == T1 == utc(row["modified_at"])
    line = summary.line()
    # 142 lines repeat a paper already in the file: merged into it, so the parts add up to `read`.
    assert summary.merged == 142
    assert line.startswith("read 674, new 532, updated 0, unchanged 0, merged 142, rejected 0 — ")
    assert re.fullmatch(
        r"read 674, new 532, updated 0, unchanged 0, merged 142, rejected 0 — \d+\.\d s, [\d,]+ records/s",
        line,
    )


def test_import_every_sample_file(db: Database, data: Path) -> None:
    summary = import_paths(db, [data / f for f in ALL_FILES], now=T1)
    assert summary.unreadable == [] and summary.rejected == []
    assert summary.read == 674 + 162 + 300 + 200 + 26 + 9 + 13 + 17 + 24
    # The placeholder and the no_data file are notes, not errors.
    assert len(summary.notes) == 2
    assert any("placeholder" in n for n in summary.notes)
    assert any("no_data" in n for n in summary.notes)
    hub_ids = 26 + 9 + (13 + 24 - 13) + 17
    expected = 532 + 154 + 300 + 200 + hub_ids
    assert n_papers(db) == expected
    c = summary.counts
    assert c.new == expected
    # The second bot's capture of 2025-03-10 has more upvotes for some shared papers.
    assert c.new + c.updated + c.unchanged == 532 + 154 + 300 + 200 + 26 + 9 + 13 + 17 + 24
    assert summary.merged == (674 - 532) + (162 - 154)
    assert c.new + c.updated + c.unchanged + summary.merged == summary.read
    # Raw day files take their listing day from the file name (532 + 154 papers); the two
    # 2025-03-10 Hub captures share 13 entries.
    assert c.feed_entries_added == 532 + 154 + 300 + 26 + 9 + 13 + 17 + (24 - 13)
    with db.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(feed_entries)) == c.feed_entries_added


def test_kaggle_import_stores_versions_dates_and_refs(db: Database, data: Path) -> None:
    summary = import_paths(db, [data / "kaggle-sample200.jsonl"], now=T1)
    assert summary.counts.new == 200
    row = paper(db, "0704.0001")
    assert row["version"] == 2
    assert utc(row["published_at"]) == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert utc(row["updated_at"]) == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)
    assert row["doi"] == "10.1103/PhysRevD.76.013009"
    assert row["journal_ref"] == "Phys.Rev.D76:013009,2007"
    assert row["authors"][0] == "C. Balázs"
    assert row["first_featured_at"] is None
    assert row["trending_score"] == pytest.approx(trending_score(0, row["published_at"]))
    assert paper(db, "0704.0156")["withdrawn"] is True
    assert feed_days_of_safe(db, "0704.0001") == []


def feed_days_of_safe(db: Database, arxiv_id: str) -> list[date]:
    with db.read() as conn:
        return feed_days_of(conn, arxiv_id)


# --- idempotence -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names",
    [
        ["listing-cs_2026-06-30.jsonl"],
        ["listing-cs-unique-300.jsonl.gz"],
        ["kaggle-sample200.jsonl"],
        ["hub/newsletter-chinese_2024-12-11_python-repr-items.json"],
        ALL_FILES,
    ],
    ids=["listing-day", "listing-gz", "kaggle", "hub-repr", "all"],
)
def test_importing_the_same_files_twice_changes_nothing(db: Database, data: Path, names: list[str]) -> None:
    paths = [data / n for n in names]
    first = import_paths(db, paths, now=T1)
    before = snapshot(db)
    assert before[0], "nothing was imported"
    second = import_paths(db, paths, now=T2)
    assert snapshot(db) == before  # byte for byte, including modified_at
    assert second.read == first.read
    assert (second.counts.new, second.counts.updated, second.counts.feed_entries_added) == (0, 0, 0)
    assert second.counts.unchanged == first.counts.new + first.counts.updated + first.counts.unchanged
    assert second.rejected == [] and second.unreadable == []


def test_small_batches_give_the_same_result(db: Database, data: Path, tmp_path: Path) -> None:
    # Duplicates of one paper then fall into different batches (and transactions).
    paths = [
        data / "listing-cs_2026-06-30.jsonl",
        data / "hub/pushpaper_2025-03-10.json",
        data / "hub/newsletter-chinese_2025-03-10.json",
    ]
    small = import_paths(db, paths, batch_size=7, now=T1)
    reference = Database(f"sqlite:///{tmp_path / 'reference.db'}")
    reference.migrate()
    big = import_paths(reference, paths, now=T1)
    assert small.read == big.read
    norm = lambda rows: [tuple(utc(v) if isinstance(v, datetime) else v for v in r) for r in rows]  # noqa: E731
    got, want = snapshot(db), snapshot(reference)
    assert norm(got[0]) == norm(want[0])
    # Feed entry ids may differ; the entries themselves may not.
    assert [r[1:] for r in norm(got[1])] == [r[1:] for r in norm(want[1])]
    reference.dispose()


# --- merging across files ---------------------------------------------------------------------


def test_newer_version_updates_the_paper(db: Database, data: Path, tmp_path: Path) -> None:
    kaggle = data / "kaggle-sample200.jsonl"
    import_paths(db, [kaggle], now=T1)
    obj = json.loads(next(line for line in lines_of(kaggle) if '"id":"0704.0001"' in line))
    obj["versions"].append({"version": "v3", "created": "Wed, 1 Jan 2025 10:00:00 GMT"})
    obj["title"] = "Calculation of prompt diphoton production: the revised version"
    obj["abstract"] = "  A revised abstract.\n"
    obj["comments"] = "40 pages, 16 figures"
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps(obj) + "\n")
    summary = import_paths(db, [newer], now=T2)
    assert (summary.counts.new, summary.counts.updated, summary.counts.unchanged) == (0, 1, 0)
    row = paper(db, "0704.0001")
    assert row["version"] == 3
    assert row["title"] == "Calculation of prompt diphoton production: the revised version"
    assert row["abstract"] == "A revised abstract."
    assert row["comment"] == "40 pages, 16 figures"
    assert utc(row["updated_at"]) == datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
    assert utc(row["published_at"]) == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert row["doi"] == "10.1103/PhysRevD.76.013009"
    assert utc(row["created_at"]) == T1 and utc(row["modified_at"]) == T2
    # Re-importing the older capture fills nothing and overwrites nothing.
    before = snapshot(db)
    again = import_paths(db, [kaggle], now=T2 + timedelta(days=1))
    assert (again.counts.new, again.counts.updated, again.counts.unchanged) == (0, 0, 200)
    assert snapshot(db) == before


def test_older_version_first_then_newer_in_one_file(db: Database, data: Path, tmp_path: Path) -> None:
    obj = json.loads(lines_of(data / "kaggle-sample200.jsonl")[0])
    v1 = {**obj, "versions": obj["versions"][:1], "title": "Old title"}
    path = tmp_path / "both.jsonl"
    path.write_text(json.dumps(obj) + "\n" + json.dumps(v1) + "\n")
    summary = import_paths(db, [path], now=T1)
    assert summary.read == 2 and summary.counts.new == 1
    assert paper(db, "0704.0001")["version"] == 2
    assert paper(db, "0704.0001")["title"].startswith("Calculation of prompt diphoton")


def _listing_line_for_hub_paper(data: Path, arxiv_id: str, day: str) -> dict[str, Any]:
    doc = json.loads((data / "hub/newsletter-chinese_2025-03-10.json").read_text())
    p = next(i["paper"] for i in doc if i["paper"]["id"] == arxiv_id)
    return {
        "id": p["id"],
        "pdf": f"https://arxiv.org/pdf/{p['id']}",
        "abs": f"https://arxiv.org/abs/{p['id']}",
        "authors": [a["name"] for a in p["authors"]],
        "title": p["title"],
        "categories": ["cs.CV", "cs.AI"],
        "comment": None,
        "summary": p["summary"],
        "listing_dates": [day],
    }


@pytest.mark.parametrize("hub_first", [False, True], ids=["listing-then-hub", "hub-then-listing"])
def test_listing_and_hub_make_one_paper(db: Database, data: Path, tmp_path: Path, hub_first: bool) -> None:
    listing = tmp_path / "listing.jsonl"
    listing.write_text(json.dumps(_listing_line_for_hub_paper(data, "2503.05236", "2025-03-07")) + "\n")
    hub = [data / "hub/newsletter-chinese_2025-03-10.json", data / "hub/pushpaper_2025-03-10.json"]
    paths = [*hub, listing] if hub_first else [listing, *hub]
    summary = import_paths(db, paths, now=T1)
    assert summary.rejected == [] and summary.unreadable == []
    with db.read() as conn:
        ids = conn.scalars(sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id.like("2503.05236%"))).all()
    assert ids == ["2503.05236"]
    assert entries(db, "2503.05236") == [(date(2025, 3, 7), "arxiv-listing"), (date(2025, 3, 10), "hf-daily")]
    row = paper(db, "2503.05236")
    assert row["imported_upvotes"] == 87  # the later Hub capture; never lowered by the earlier one
    assert row["categories"] == ["cs.CV", "cs.AI"] and row["primary_category"] == "cs.CV"
    assert row["code_urls"][0] == "https://github.com/CodeGoat24/UnifiedReward"
    assert row["project_url"] == "https://codegoat24.github.io/UnifiedReward/"
    assert utc(row["published_at"]) == datetime(2025, 3, 7, 8, 36, 5, tzinfo=UTC)
    assert utc(row["first_featured_at"]) == datetime(2025, 3, 7, tzinfo=UTC)
    assert row["trending_score"] == pytest.approx(trending_score(87, datetime(2025, 3, 7, tzinfo=UTC)))


def test_same_day_from_listing_and_hub_is_one_feed_entry(db: Database, data: Path, tmp_path: Path) -> None:
    listing = tmp_path / "listing.jsonl"
    listing.write_text(json.dumps(_listing_line_for_hub_paper(data, "2503.05236", "2025-03-10")) + "\n")
    import_paths(db, [listing, data / "hub/newsletter-chinese_2025-03-10.json"], now=T1)
    assert entries(db, "2503.05236") == [(date(2025, 3, 10), "arxiv-listing")]
    assert paper(db, "2503.05236")["imported_upvotes"] == 65


def _hub_upvotes(path: Path) -> dict[str, int]:
    return {i["paper"]["id"]: i["paper"]["upvotes"] for i in json.loads(path.read_text())}


def test_hub_upvotes_never_go_down(db: Database, data: Path) -> None:
    later, earlier = data / "hub/pushpaper_2025-03-10.json", data / "hub/newsletter-chinese_2025-03-10.json"
    import_paths(db, [later], now=T1)
    assert paper(db, "2503.05236")["imported_upvotes"] == 87
    summary = import_paths(db, [earlier], now=T2)
    up_later, up_earlier = _hub_upvotes(later), _hub_upvotes(earlier)
    shared = set(up_later) & set(up_earlier)
    assert len(shared) == len(up_earlier) == 13  # every paper of the earlier capture is shared
    assert summary.counts.new == 0
    assert any(up_earlier[i] < up_later[i] for i in shared)
    for arxiv_id in shared:
        assert paper(db, arxiv_id)["imported_upvotes"] == max(up_later[arxiv_id], up_earlier[arxiv_id])
    # Shared papers whose earlier capture has no more votes are left exactly as they were.
    lower = [i for i in shared if up_earlier[i] <= up_later[i]]
    assert summary.counts.unchanged == len(lower)
    assert summary.counts.updated == len(shared) - len(lower)
    for arxiv_id in lower:
        assert utc(paper(db, arxiv_id)["modified_at"]) == T1


# --- bad input -----------------------------------------------------------------------------------


def test_malformed_lines_are_reported_and_the_good_ones_imported(
    db: Database, data: Path, tmp_path: Path
) -> None:
    good = lines_of(data / "kaggle-sample200.jsonl")[:4]
    bad_id = json.loads(good[3])
    bad_id["id"] = "07O4.0004"
    no_title = json.loads(good[3])
    del no_title["title"]
    content = [
        good[0],  # 1
        good[1][: len(good[1]) // 2],  # 2: cut in the middle
        good[2],  # 3
        "[1, 2, 3]",  # 4: a JSON array
        json.dumps(bad_id),  # 5
        "",  # 6: blank lines are skipped silently
        json.dumps(no_title),  # 7
        '"a string"',  # 8
        "{not json at all}",  # 9
        good[3],  # 10
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(content) + "\n")
    summary = import_paths(db, [path], now=T1)
    assert summary.read == 3 and summary.counts.new == 3
    assert n_papers(db) == 3
    assert {r.path for r in summary.rejected} == {str(path)}
    got = [(r.line, r.reason) for r in summary.rejected]
    assert [line for line, _ in got] == [2, 4, 5, 7, 8, 9]
    assert got[0][1].startswith("malformed JSON")
    assert got[1][1] == "line is a JSON list, not an object"
    assert "not an arXiv id" in got[2][1] and "07O4.0004" in got[2][1]
    assert got[3][1] == "missing title"
    assert got[4][1] == "line is a JSON str, not an object"
    assert got[5][1].startswith("malformed JSON")
    assert str(summary.rejected[0]).startswith(f"{path}:2: malformed JSON")
    assert summary.line().startswith("read 3, new 3, updated 0, unchanged 0, merged 0, rejected 6 — ")
    assert not summary.nothing_read


def test_unreadable_files_are_reported_and_the_others_import(
    db: Database, data: Path, tmp_path: Path
) -> None:
    noise = tmp_path / "noise.bin"
    noise.write_bytes(random.Random(1).randbytes(4096))
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    missing = tmp_path / "does-not-exist.jsonl"
    folder = tmp_path / "a-folder"
    folder.mkdir()
    paths = [
        noise,
        data / "kaggle-sample200.jsonl",
        empty,
        missing,
        folder,
        data / "listing-cs-unique-300.jsonl.gz",
    ]
    summary = import_paths(db, paths, now=T1)
    assert summary.read == 500 and n_papers(db) == 500
    assert len(summary.unreadable) == 4
    for path, line in zip([noise, empty, missing, folder], summary.unreadable, strict=True):
        assert line.startswith(f"{path}: ")
    assert "No such file" in summary.unreadable[2]
    assert summary.rejected == []


def test_nothing_read() -> None:
    assert ImportSummary().nothing_read
    assert not ImportSummary(read=1).nothing_read
    assert not ImportSummary(notes=["x: placeholder"], files_without_papers=1).nothing_read
    # A note that is not about a file (the big-import index rebuild) is not reading anything.
    assert ImportSummary(notes=["keyword indexes rebuilt in 0.1 s"]).nothing_read


def test_only_unreadable_files_read_nothing(db: Database, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    summary = import_paths(db, [empty, tmp_path / "missing.json"], now=T1)
    assert summary.nothing_read and len(summary.unreadable) == 2 and n_papers(db) == 0


def test_gzip_and_plain_files_import_the_same(db: Database, data: Path, tmp_path: Path) -> None:
    plain = tmp_path / "corpus.jsonl"
    plain.write_bytes(gzip.decompress((data / "listing-cs-unique-300.jsonl.gz").read_bytes()))
    first = import_paths(db, [plain], now=T1)
    assert first.counts.new == 300
    before = snapshot(db)
    second = import_paths(db, [data / "listing-cs-unique-300.jsonl.gz"], now=T2)
    assert second.counts.unchanged == 300 and snapshot(db) == before
    # Gzipped Kaggle and Hub files work too, whatever their names.
    gz_kaggle = tmp_path / "kaggle.jsonl.gz"
    gz_kaggle.write_bytes(gzip.compress((data / "kaggle-sample200.jsonl").read_bytes()))
    gz_hub = tmp_path / "hub_2025-03-10.json"
    gz_hub.write_bytes(gzip.compress((data / "hub/pushpaper_2025-03-10.json").read_bytes()))
    third = import_paths(db, [gz_kaggle, gz_hub], now=T2)
    assert third.read == 224 and third.unreadable == [] and third.rejected == []
    assert n_papers(db) == 300 + 200 + 24


def _complete_lines_before_the_cut(cut: bytes) -> list[bytes]:
    """The whole lines a gzip reader can recover from a truncated stream."""
    reader = gzip.GzipFile(fileobj=io.BytesIO(cut))
    got = b""
    try:
        while chunk := reader.read1(65536):
            got += chunk
    except EOFError:
        pass
    return got.split(b"\n")[:-1]


def _big_gzip(data: Path, n: int) -> bytes:
    """n real Kaggle records (the sample, repeated under fresh ids), gzipped: ~1.5 kB per line."""
    base = lines_of(data / "kaggle-sample200.jsonl")
    out = []
    for i in range(n):
        obj = json.loads(base[i % len(base)])
        obj["id"] = f"2501.{i:05d}"
        out.append(json.dumps(obj))
    return gzip.compress(("\n".join(out) + "\n").encode())


def _kept_ids(db: Database) -> set[str]:
    with db.read() as conn:
        return set(conn.scalars(sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id.notlike("0704.%"))))


def test_truncated_gzip_keeps_what_was_read(db: Database, data: Path, tmp_path: Path) -> None:
    whole = _big_gzip(data, 1500)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) * 8 // 10])
    recoverable = [json.loads(line)["id"] for line in _complete_lines_before_the_cut(cut.read_bytes())]
    assert 1000 < len(recoverable) < 1500
    summary = import_paths(db, [cut, data / "kaggle-sample200.jsonl"], now=T1)
    from_cut = summary.read - 200
    assert 0 < from_cut <= len(recoverable)
    assert n_papers(db) == from_cut + 200
    assert summary.unreadable == []
    assert len(summary.rejected) == 1
    r = summary.rejected[0]
    assert (r.path, r.line) == (str(cut), 0) and "truncated or corrupt" in r.reason
    # What was kept is the start of the file.
    assert _kept_ids(db) == set(recoverable[:from_cut])


_LOSES_THE_LAST_BUFFER = (
    "BUG: open_binary wraps GzipFile in a 1 MiB BufferedReader whose fill calls GzipFile.read(1 MiB); "
    "at a truncation the EOFError discards everything decompressed in that fill, so up to 1 MiB of "
    "complete records before the cut are lost (a small truncated file is even reported unreadable "
    "with nothing kept). Fill with GzipFile.readinto1 instead"
)


def test_truncated_gzip_keeps_every_complete_record(db: Database, data: Path, tmp_path: Path) -> None:
    whole = _big_gzip(data, 1500)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) * 8 // 10])
    recoverable = [json.loads(line)["id"] for line in _complete_lines_before_the_cut(cut.read_bytes())]
    summary = import_paths(db, [cut], now=T1)
    assert summary.read == len(recoverable)
    assert _kept_ids(db) == set(recoverable)


def test_truncated_small_gzip_keeps_what_was_read(db: Database, data: Path, tmp_path: Path) -> None:
    # The real 300-line corpus sample (about 0.7 MB unpacked) cut in half.
    whole = (data / "listing-cs-unique-300.jsonl.gz").read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    recoverable = _complete_lines_before_the_cut(cut.read_bytes())
    assert 100 < len(recoverable) < 300
    summary = import_paths(db, [cut], now=T1)
    assert summary.unreadable == []
    assert summary.read == len(recoverable)
    assert [(r.line, "truncated" in r.reason) for r in summary.rejected] == [(0, True)]


def test_gzip_header_only_is_unreadable(db: Database, data: Path, tmp_path: Path) -> None:
    stub = tmp_path / "stub.jsonl.gz"
    stub.write_bytes((data / "listing-cs-unique-300.jsonl.gz").read_bytes()[:12])
    summary = import_paths(db, [stub, data / "kaggle-sample200.jsonl"], now=T1)
    assert summary.read == 200
    assert len(summary.unreadable) == 1 and summary.unreadable[0].startswith(str(stub))


def test_corrupt_gzip_is_reported_and_the_others_import(db: Database, data: Path, tmp_path: Path) -> None:
    whole = (data / "listing-cs-unique-300.jsonl.gz").read_bytes()
    corrupt = tmp_path / "corrupt.jsonl.gz"
    corrupt.write_bytes(whole[:10] + bytes(range(256)) * 8)
    summary = import_paths(db, [corrupt, data / "kaggle-sample200.jsonl"], now=T1)
    assert summary.read == 200 and len(summary.unreadable) == 1


def test_impossible_date_in_a_file_name_does_not_abort_the_import(
    db: Database, data: Path, tmp_path: Path
) -> None:
    odd = tmp_path / "daily_2025-02-30.json"
    odd.write_bytes((data / "hub/newsletter-chinese_2026-08-21.json").read_bytes())
    summary = import_paths(db, [odd, data / "kaggle-sample200.jsonl"], now=T1)
    assert summary.read == 217


# Records the parsers accept but the database cannot hold. Each must be rejected (or stored),
# never abort the import: (line, fails on SQLite too).
_UNSTORABLE = {
    "huge-version": ({"id": "2501.00002v99999999999999999999", "title": "T", "summary": "S"}, True),
    "huge-upvotes": ({"id": "2501.00002", "title": "T", "summary": "S", "upvotes": 2**63}, True),
    "int32-upvotes": ({"id": "2501.00002", "title": "T", "summary": "S", "upvotes": 2**31}, False),
    "long-id": ({"id": "abcdefghijklmnopqrstuvwxyzabcdefgh/0101001", "title": "T", "summary": "S"}, False),
    "long-category": ({"id": "2501.00002", "title": "T", "summary": "S", "categories": ["x" * 40]}, False),
    "year-1-offset": (
        {"paper": {"id": "2501.00002", "title": "T", "submittedOnDailyAt": "0001-01-01T00:00:00+01:00"}},
        True,
    ),
}


@pytest.mark.parametrize("case", list(_UNSTORABLE))
def test_a_record_the_database_cannot_hold_does_not_abort_the_import(
    db: Database, tmp_path: Path, request: pytest.FixtureRequest, case: str
) -> None:
    bad, everywhere = _UNSTORABLE[case]
    hub = "paper" in bad
    good = [
        {"paper": {"id": f"2501.0000{i}", "title": "Good", "submittedOnDailyAt": "2025-01-02T00:00:00Z"}}
        if hub
        else {"id": f"2501.0000{i}", "title": "Good", "summary": "S", "listing_date": "2025-01-02"}
        for i in (1, 3)
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in (good[0], bad, good[1])))
    summary = import_paths(db, [path], now=T1)
    assert summary.read + len(summary.rejected) == 3
    paper(db, "2501.00001")
    paper(db, "2501.00003")


def test_feature_times_with_an_offset_are_stored_as_utc(
    db: Database, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    path = tmp_path / "hub.jsonl"
    item = {"paper": {"id": "2501.00001", "title": "T", "submittedOnDailyAt": "2025-03-10T10:00:00+02:00"}}
    path.write_text(json.dumps(item) + "\n")
    import_paths(db, [path], now=T1)
    eight_utc = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
    assert utc(paper(db, "2501.00001")["first_featured_at"]) == eight_utc
    with db.read() as conn:
        featured_at = conn.scalar(sa.select(feed_entries.c.featured_at))
    assert utc(featured_at) == eight_utc


# --- progress hooks ------------------------------------------------------------------------------


def test_progress_and_on_file_hooks(db: Database, data: Path) -> None:
    paths = [data / "listing-cs_2026-06-30.jsonl", data / "kaggle-sample200.jsonl"]
    files: list[tuple[Path, int]] = []
    ticks: list[tuple[int, int]] = []
    import_paths(
        db,
        paths,
        batch_size=50,
        progress=lambda d, t: ticks.append((d, t)),
        on_file=lambda p, s: files.append((p, s)),
        now=T1,
    )
    assert files == [(p, p.stat().st_size) for p in paths]
    # Several ticks per file, never decreasing within a file, ending at the file's size.
    first_size = paths[0].stat().st_size
    first = [d for d, t in ticks if t == first_size]
    assert len(first) > 2 and first == sorted(first) and first[-1] == first_size
    assert ticks[-1] == (paths[1].stat().st_size,) * 2


# --- the `import` command ------------------------------------------------------------------------


def _cli(tmp_path: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DAILYPAPERS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "dailypapers.cli", "import", "--no-progress", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


_SUMMARY = (
    r"read {read}, new {new}, updated 0, unchanged {unchanged}, merged 0, rejected {rejected}"
    r" — \d+\.\d s, [\d,]+ records/s"
)


def test_cli_import(data: Path, tmp_path: Path) -> None:
    kaggle = data / "kaggle-sample200.jsonl"
    first = _cli(tmp_path, kaggle)
    assert first.returncode == 0, first.stderr
    assert re.fullmatch(_SUMMARY.format(read=200, new=200, unchanged=0, rejected=0), first.stdout.strip())
    second = _cli(tmp_path, kaggle)
    assert second.returncode == 0, second.stderr
    assert re.fullmatch(_SUMMARY.format(read=200, new=0, unchanged=200, rejected=0), second.stdout.strip())
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    assert n_papers(db) == 200
    db.dispose()


def test_cli_reports_rejections_and_unreadable_files(data: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.jsonl"
    good = lines_of(data / "kaggle-sample200.jsonl")[:2]
    mixed.write_text(f"{good[0]}\n[1]\n{good[1]}\n")
    missing = tmp_path / "missing.json"
    result = _cli(tmp_path, missing, mixed)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(_SUMMARY.format(read=2, new=2, unchanged=0, rejected=1), result.stdout.strip())
    err = " ".join(result.stderr.split())
    assert f"unreadable {missing}:" in err
    assert f"rejected {mixed}:2: line is a JSON list, not an object" in err


def test_cli_exits_1_when_nothing_could_be_read(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "nope", "title": "T", "summary": "S"}\n{"id": "2501.00001", "summary": "S"}\n')
    # Unreadable files and files whose every record is rejected: nothing read at all.
    result = _cli(tmp_path, empty, tmp_path / "missing.jsonl", bad)
    assert result.returncode == 1
    assert re.fullmatch(_SUMMARY.format(read=0, new=0, unchanged=0, rejected=2), result.stdout.strip())
    assert result.stderr.count("unreadable") == 2
    assert result.stderr.count("rejected") == 2


def test_cli_a_file_with_no_papers_is_not_a_failure(data: Path, tmp_path: Path) -> None:
    # A no_data capture was read fine; it just holds no papers: a note, exit 0.
    result = _cli(tmp_path, data / "hub/newsletter-chinese_2025-01-11_no-data.json")
    assert result.returncode == 0, result.stderr
    assert "note" in result.stderr and "no_data" in result.stderr
    assert re.fullmatch(_SUMMARY.format(read=0, new=0, unchanged=0, rejected=0), result.stdout.strip())


def _api_entries_without_authors() -> list[dict[str, Any]]:
    """Real arXiv API entries (a recorded query), flattened the way third-party dumps store them
    (arxiv_id, abstract, …) and without their authors: a JSON-lines format the importer does not know."""
    import xml.etree.ElementTree as ET

    atom, arxiv = "{http://www.w3.org/2005/Atom}", "{http://arxiv.org/schemas/atom}"
    recorded = json.loads((DATA / "harvest/arxiv-api/q_testing_s0_m100_cfe7536492ca.json").read_text())
    return [
        {
            "arxiv_id": entry.findtext(f"{atom}id").rsplit("/abs/", 1)[1],
            "title": entry.findtext(f"{atom}title"),
            "abstract": entry.findtext(f"{atom}summary"),
            "categories": [c.get("term") for c in entry.findall(f"{atom}category")],
            "primary_category": entry.find(f"{arxiv}primary_category").get("term"),
            "published": entry.findtext(f"{atom}published"),
            "updated": entry.findtext(f"{atom}updated"),
        }
        for entry in ET.fromstring(recorded["body"]).iter(f"{atom}entry")
    ]


def test_cli_exits_1_for_an_unknown_format_even_after_the_big_import_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from dailypapers.cli import app
    from dailypapers.core.settings import get_settings
    from dailypapers.store import fts as bulk

    path = tmp_path / "arxiv-api-2022.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in _api_entries_without_authors()))
    # The 48,623-record file was a big import, whose index rebuild prints a note; so is this one here.
    monkeypatch.setattr(bulk, "BULK_MIN_RECORDS", 1)
    monkeypatch.setenv("DAILYPAPERS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["import", "--no-progress", str(path)])
    finally:
        get_settings.cache_clear()
    assert "keyword indexes rebuilt" in result.stderr, result.stderr
    assert result.exit_code == 1, result.output
    assert f"unreadable {path}: JSON lines of an unknown format" in result.stderr
    assert re.fullmatch(_SUMMARY.format(read=0, new=0, unchanged=0, rejected=0), result.stdout.strip())


def test_cli_summary_counts_merged_duplicates_across_and_within_batches(data: Path, tmp_path: Path) -> None:
    a, b, c = lines_of(data / "kaggle-sample200.jsonl")[:3]
    path = tmp_path / "dupes.jsonl"
    # Batches of 2 distinct papers: [a a b] (one merged), [c a], [b]; a and b are then written
    # again, unchanged; the JSON list is rejected and is not read.
    path.write_text("\n".join([a, a, b, c, a, "[1]", b]) + "\n")
    env = {
        "DAILYPAPERS_IMPORT_BATCH_SIZE": "2",
        "DAILYPAPERS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "dailypapers.cli", "import", "--no-progress", str(path)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"read 6, new 3, updated 0, unchanged 2, merged 1, rejected 1 — \d+\.\d s, [\d,]+ records/s",
        result.stdout.strip(),
    )


_POOL = lines_of(DATA / "kaggle-sample200.jsonl")[:5]


def _revised(line: str) -> str:
    """The same paper with other metadata (as a later snapshot would have it)."""
    obj = json.loads(line)
    obj["comments"] = f"{obj.get('comments') or ''} (revised)"
    return json.dumps(obj)


_GOOD_SET = set(_POOL) | {_revised(line) for line in _POOL}
_GOOD_LINES = st.sampled_from(_POOL + [_revised(line) for line in _POOL])
_BAD_LINES = st.sampled_from(
    ["[1, 2]", "{cut off", json.dumps({"id": "not-an-id", "abstract": "A", "title": "T"})]
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.one_of(_GOOD_LINES, _GOOD_LINES, _BAD_LINES), min_size=1, max_size=24).filter(
        lambda lines: any(line in _GOOD_SET for line in lines)
    ),
    batch_size=st.integers(1, 8),
    in_worker=st.booleans(),
)
def test_summary_parts_always_add_up_to_read(
    db: Database, tmp_path: Path, lines: list[str], batch_size: int, in_worker: bool
) -> None:
    # The database keeps what earlier examples imported: the sum holds whatever it holds.
    path = tmp_path / "dupes.jsonl"
    path.write_text("\n".join(lines) + "\n")
    summary = import_paths(db, [path], batch_size=batch_size, now=T1, parse_in_worker=in_worker)
    good = [line for line in lines if line in _GOOD_SET]
    distinct = len({json.loads(line)["id"] for line in good})
    assert summary.read == len(good) and len(summary.rejected) == len(lines) - len(good)
    c = summary.counts
    assert c.new + c.updated + c.unchanged + summary.merged == summary.read
    if batch_size == 1:
        assert summary.merged == 0  # every record is written on its own
    if batch_size > distinct:
        assert summary.merged == len(good) - distinct  # one batch holds the whole file
    read, *parts = map(
        int,
        re.match(
            r"read (\d+), new (\d+), updated (\d+), unchanged (\d+), merged (\d+)", summary.line()
        ).groups(),
    )
    assert read == sum(parts)
