"""core.models.merge_records and content_hash: the merge policy of the import."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dailypapers.core.models import CONTENT_FIELDS, PaperRecord, content_hash, merge_records
from dailypapers.core.ranking import trending_score
from dailypapers.ingest.formats import parse_kaggle

UTC = UTC
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)
DATA = Path(__file__).parents[1] / "data"


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    """What the store hands back: the merged content plus bookkeeping columns."""
    return {**row, "content_hash": content_hash(row)}


def rec(**kw: Any) -> PaperRecord:
    base: dict[str, Any] = {"arxiv_id": "2501.01234", "title": "A title"}
    return PaperRecord(**(base | kw))


@pytest.fixture(scope="module")
def kaggle_line() -> dict[str, Any]:
    for line in (DATA / "kaggle-sample200.jsonl").read_text().splitlines():
        obj = json.loads(line)
        if obj["id"] == "0704.0001":
            return obj
    raise AssertionError("0704.0001 not in the sample")


def test_new_paper_takes_everything() -> None:
    featured = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
    r = rec(
        version=2,
        abstract="Abstract.",
        authors=["A", "B"],
        categories=["cs.LG", "cs.AI", "cs.LG"],
        comment="10 pages",
        journal_ref="J. 1",
        doi="10.1/x",
        published_at=datetime(2025, 3, 1, tzinfo=UTC),
        updated_at=datetime(2025, 3, 5, tzinfo=UTC),
        code_urls=["https://github.com/a/b", "https://github.com/a/b"],
        project_url="https://a.github.io/b",
        upvotes=7,
        feed_entries=[(date(2025, 3, 11), featured + timedelta(days=1)), (date(2025, 3, 10), featured)],
    )
    row = merge_records(None, r, NOW)
    assert row["version"] == 2
    assert row["title"] == "A title" and row["abstract"] == "Abstract."
    assert row["authors"] == ["A", "B"]
    assert row["categories"] == ["cs.LG", "cs.AI"]
    assert row["primary_category"] == "cs.LG"
    assert (row["comment"], row["journal_ref"], row["doi"]) == ("10 pages", "J. 1", "10.1/x")
    assert row["code_urls"] == ["https://github.com/a/b"]
    assert row["project_url"] == "https://a.github.io/b"
    assert row["withdrawn"] is False
    assert row["imported_upvotes"] == 7 and row["vote_count"] == 0
    assert row["first_featured_at"] == featured
    assert row["created_at"] == NOW
    assert row["trending_score"] == trending_score(7, featured)
    assert set(CONTENT_FIELDS) <= set(row)


def test_new_paper_without_anything_optional() -> None:
    row = merge_records(None, rec(), NOW)
    assert row["version"] is None
    assert row["categories"] == [] and row["primary_category"] is None
    assert row["imported_upvotes"] == 0
    assert row["first_featured_at"] is None and row["published_at"] is None
    # No date at all: the first-seen time is the reference.
    assert row["trending_score"] == trending_score(0, NOW)


def test_reference_time_prefers_first_featured_then_published() -> None:
    pub = datetime(2025, 1, 1, tzinfo=UTC)
    feat = datetime(2025, 2, 1, tzinfo=UTC)
    assert merge_records(None, rec(published_at=pub), NOW)["trending_score"] == trending_score(0, pub)
    row = merge_records(None, rec(published_at=pub, feed_entries=[(feat.date(), feat)]), NOW)
    assert row["trending_score"] == trending_score(0, feat)


def test_newer_version_overwrites() -> None:
    old = _stored(
        merge_records(
            None,
            rec(
                version=1,
                title="Old title",
                abstract="Old abstract.",
                authors=["A"],
                categories=["cs.CL"],
                comment="old comment",
                doi="10.1/old",
                published_at=datetime(2025, 1, 1, tzinfo=UTC),
                code_urls=["https://github.com/a/old"],
            ),
            NOW,
        )
    )
    new = rec(
        version=2,
        title="New title",
        abstract="New abstract.",
        authors=["A", "B"],
        categories=["cs.LG", "cs.CL"],
        comment="new comment",
        updated_at=datetime(2025, 2, 1, tzinfo=UTC),
        code_urls=["https://github.com/a/new"],
    )
    row = merge_records(old, new, LATER)
    assert row["version"] == 2
    assert row["title"] == "New title" and row["abstract"] == "New abstract."
    assert row["authors"] == ["A", "B"]
    assert row["comment"] == "new comment"
    assert row["updated_at"] == datetime(2025, 2, 1, tzinfo=UTC)
    # Fields the newer record does not have are kept.
    assert row["doi"] == "10.1/old"
    assert row["published_at"] == datetime(2025, 1, 1, tzinfo=UTC)
    # Categories unioned, the newer record's primary first; code links unioned.
    assert row["categories"] == ["cs.LG", "cs.CL"]
    assert row["primary_category"] == "cs.LG"
    assert row["code_urls"] == ["https://github.com/a/old", "https://github.com/a/new"]
    assert row["created_at"] == NOW  # the first-seen time is kept
    assert content_hash(row) != old["content_hash"]


def test_newer_version_over_unknown_version() -> None:
    old = _stored(merge_records(None, rec(title="Hub title"), NOW))
    row = merge_records(old, rec(version=1, title="arXiv title"), NOW)
    assert (row["version"], row["title"]) == (1, "arXiv title")


@pytest.mark.parametrize("version", [1, None])
def test_older_or_unknown_version_only_fills_gaps(version: int | None) -> None:
    old = _stored(
        merge_records(
            None,
            rec(
                version=2,
                title="Current",
                abstract="",
                authors=[],
                categories=["cs.LG"],
                comment="v2 comment",
            ),
            NOW,
        )
    )
    older = rec(
        version=version,
        title="Stale title",
        abstract="Filled abstract.",
        authors=["X", "Y"],
        categories=["cs.AI", "cs.LG"],
        comment="stale comment",
        journal_ref="J. 2",
        published_at=datetime(2024, 12, 1, tzinfo=UTC),
    )
    row = merge_records(old, older, LATER)
    assert row["version"] == 2
    assert row["title"] == "Current"
    assert row["comment"] == "v2 comment"
    assert row["abstract"] == "Filled abstract."
    assert row["authors"] == ["X", "Y"]
    assert row["journal_ref"] == "J. 2"
    assert row["published_at"] == datetime(2024, 12, 1, tzinfo=UTC)
    # The stored primary stays first.
    assert row["categories"] == ["cs.LG", "cs.AI"]
    assert row["primary_category"] == "cs.LG"


def test_equal_version_does_not_overwrite() -> None:
    old = _stored(merge_records(None, rec(version=3, title="First"), NOW))
    row = merge_records(old, rec(version=3, title="Second"), NOW)
    assert row["title"] == "First"
    assert content_hash(row) == old["content_hash"]


def test_upvotes_take_the_maximum() -> None:
    row = _stored(merge_records(None, rec(upvotes=40), NOW))
    assert merge_records(row, rec(upvotes=12), NOW)["imported_upvotes"] == 40
    assert merge_records(row, rec(upvotes=None), NOW)["imported_upvotes"] == 40
    higher = merge_records(row, rec(upvotes=55), NOW)
    assert higher["imported_upvotes"] == 55
    assert higher["trending_score"] > row["trending_score"]


def test_negative_upvotes_count_as_zero() -> None:
    assert merge_records(None, rec(upvotes=-5), NOW)["imported_upvotes"] == 0
    row = _stored(merge_records(None, rec(), NOW))
    assert merge_records(row, rec(upvotes=-5), NOW)["imported_upvotes"] == 0


def test_local_votes_are_kept_and_counted() -> None:
    row = _stored(merge_records(None, rec(upvotes=3), NOW))
    row["vote_count"] = 5
    merged = merge_records(row, rec(upvotes=3), NOW)
    assert merged["vote_count"] == 5
    assert merged["trending_score"] == trending_score(8, NOW)


def test_withdrawn() -> None:
    v1 = _stored(merge_records(None, rec(version=1), NOW))
    # A newer version decides: a withdrawal notice as v2 withdraws, a v3 replacement un-withdraws.
    v2 = _stored(merge_records(v1, rec(version=2, withdrawn=True), NOW))
    assert v2["withdrawn"] is True
    assert merge_records(v2, rec(version=3, withdrawn=False), NOW)["withdrawn"] is False
    # An older or unknown version can only set it, never clear it.
    assert merge_records(v2, rec(version=1, withdrawn=False), NOW)["withdrawn"] is True
    assert merge_records(v2, rec(withdrawn=False), NOW)["withdrawn"] is True
    assert merge_records(v1, rec(withdrawn=True), NOW)["withdrawn"] is True


def test_first_featured_at_is_the_minimum() -> None:
    d1 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    d0 = datetime(2025, 3, 7, 0, 0, tzinfo=UTC)
    row = _stored(merge_records(None, rec(feed_entries=[(d1.date(), d1)]), NOW))
    assert row["first_featured_at"] == d1
    earlier = merge_records(row, rec(feed_entries=[(d0.date(), d0)]), NOW)
    assert earlier["first_featured_at"] == d0
    assert earlier["trending_score"] == trending_score(0, d0)
    later = merge_records(row, rec(feed_entries=[(date(2025, 4, 1), datetime(2025, 4, 1, tzinfo=UTC))]), NOW)
    assert later["first_featured_at"] == d1
    assert merge_records(row, rec(), NOW)["first_featured_at"] == d1


def test_first_featured_at_across_time_zones() -> None:
    utc_nine = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    row = _stored(merge_records(None, rec(feed_entries=[(utc_nine.date(), utc_nine)]), NOW))
    # 10:00 in UTC+02:00 is 08:00 UTC: earlier, even though the wall-clock time is later.
    plus_two = datetime(2025, 3, 10, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    merged = merge_records(row, rec(feed_entries=[(plus_two.date(), plus_two)]), NOW)
    assert merged["first_featured_at"] == datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
    assert merged["first_featured_at"].utcoffset() == timedelta(0)


def _as_sqlite_returns(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite hands DateTime(timezone=True) columns back naive (in UTC)."""
    out = dict(row)
    for k, v in out.items():
        if isinstance(v, datetime):
            out[k] = v.astimezone(UTC).replace(tzinfo=None)
    return out


def _as_postgres_returns(row: dict[str, Any], hours: int = -5) -> dict[str, Any]:
    """PostgreSQL hands them back aware, in the session time zone."""
    tz = timezone(timedelta(hours=hours))
    return {k: (v.astimezone(tz) if isinstance(v, datetime) else v) for k, v in row.items()}


def test_content_hash_is_stable_across_naive_and_aware_utc(kaggle_line: dict[str, Any]) -> None:
    r = parse_kaggle(kaggle_line)
    r.feed_entries = [(date(2007, 4, 3), datetime(2007, 4, 3, tzinfo=UTC))]
    row = merge_records(None, r, NOW)
    h = content_hash(row)
    assert content_hash(_as_sqlite_returns(row)) == h
    assert content_hash(_as_postgres_returns(row)) == h
    # Re-merging the same record into the stored row (either way it comes back) changes nothing.
    for stored in (_as_sqlite_returns(row), _as_postgres_returns(row, 9)):
        stored["content_hash"] = h
        again = merge_records(stored, parse_kaggle(kaggle_line), LATER)
        assert content_hash(again) == h
        assert again["created_at"] == NOW


def test_content_hash_sees_every_content_field() -> None:
    row = merge_records(None, rec(version=1, categories=["cs.LG"], upvotes=1), NOW)
    h = content_hash(row)
    changes = {
        "version": 2,
        "title": "x",
        "abstract": "x",
        "authors": ["x"],
        "categories": ["x"],
        "primary_category": "x",
        "comment": "x",
        "journal_ref": "x",
        "doi": "x",
        "published_at": NOW,
        "updated_at": NOW,
        "code_urls": ["x"],
        "project_url": "x",
        "withdrawn": True,
        "imported_upvotes": 2,
        "vote_count": 1,
        "first_featured_at": NOW,
        "trending_score": row["trending_score"] + 1,
    }
    assert set(changes) == set(CONTENT_FIELDS)
    for key, value in changes.items():
        assert content_hash({**row, key: value}) != h, key
    # Bookkeeping columns are not content.
    assert content_hash({**row, "created_at": LATER, "modified_at": LATER}) == h


def test_merge_does_not_depend_on_now_when_the_paper_has_a_date(kaggle_line: dict[str, Any]) -> None:
    a = merge_records(None, parse_kaggle(kaggle_line), NOW)
    b = merge_records(None, parse_kaggle(kaggle_line), LATER)
    assert content_hash(a) == content_hash(b)


def test_merge_does_not_mutate_its_inputs() -> None:
    stored = _stored(merge_records(None, rec(version=1, categories=["cs.LG"], authors=["A"]), NOW))
    snapshot = json.dumps(stored, default=str, sort_keys=True)
    r = rec(version=2, categories=["cs.AI"], authors=["B"], code_urls=["https://github.com/a/b"])
    merge_records(stored, r, LATER)
    assert json.dumps(stored, default=str, sort_keys=True) == snapshot
    assert r.categories == ["cs.AI"] and r.authors == ["B"]


versions = st.none() | st.integers(min_value=1, max_value=9)
cats = st.lists(st.sampled_from(["cs.LG", "cs.AI", "cs.CL", "stat.ML", "math.OC"]), max_size=4)
upvotes = st.none() | st.integers(min_value=-3, max_value=500)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))
records = st.builds(
    rec,
    version=versions,
    title=st.sampled_from(["T1", "T2"]),
    abstract=st.sampled_from(["", "abs"]),
    categories=cats,
    upvotes=upvotes,
    withdrawn=st.booleans(),
    feed_entries=st.lists(moments.map(lambda m: (m.date(), m)), max_size=2),
)


@settings(max_examples=300)
@given(records=st.lists(records, min_size=1, max_size=5))
def test_merge_invariants(records: list[PaperRecord]) -> None:
    row: dict[str, Any] | None = None
    for r in records:
        prev = row
        row = _stored(merge_records(row, r, NOW))
        # Re-merging the same record is a fixed point.
        assert content_hash(merge_records(row, r, NOW)) == row["content_hash"]
        if prev is not None:
            assert row["imported_upvotes"] >= prev["imported_upvotes"]
            assert set(prev["categories"]) <= set(row["categories"])
            if prev["first_featured_at"] is not None:
                assert row["first_featured_at"] <= prev["first_featured_at"]
    assert row is not None
    known = [r.version for r in records if r.version is not None]
    assert row["version"] == (max(known) if known else None)
    assert row["imported_upvotes"] == max([0, *(r.upvotes or 0 for r in records)])
    assert len(row["categories"]) == len(set(row["categories"]))
    assert row["primary_category"] == (row["categories"][0] if row["categories"] else None)
    firsts = [at for r in records for _, at in r.feed_entries]
    assert row["first_featured_at"] == (min(firsts) if firsts else None)


def _day(d: int) -> datetime:
    return datetime(2026, 5, d, tzinfo=UTC)


def test_without_version_numbers_a_later_revision_day_is_newer() -> None:
    # OAI-PMH's arXiv format has no version numbers: its `updated` day decides.
    stored = _stored(
        merge_records(
            None, rec(version=2, title="v2", published_at=_day(1), updated_at=_day(3).replace(hour=17)), NOW
        )
    )
    same_day = merge_records(
        stored, rec(version=None, title="OAI v2", published_at=_day(1), updated_at=_day(3)), NOW
    )
    assert same_day["title"] == "v2"  # the same revision, only a coarser date
    later = merge_records(
        stored, rec(version=None, title="OAI v3", published_at=_day(1), updated_at=_day(20)), NOW
    )
    assert later["title"] == "OAI v3"
    assert later["version"] is None and later["updated_at"] == _day(20)


def test_an_older_numbered_version_does_not_undo_a_later_unnumbered_revision() -> None:
    stored = _stored(
        merge_records(None, rec(version=None, title="OAI v3", published_at=_day(1), updated_at=_day(20)), NOW)
    )
    older = merge_records(stored, rec(version=2, title="v2", published_at=_day(1), updated_at=_day(3)), NOW)
    assert older["title"] == "OAI v3"
    newer = merge_records(stored, rec(version=4, title="v4", published_at=_day(1), updated_at=_day(25)), NOW)
    assert newer["title"] == "v4" and newer["version"] == 4
    # A numbered record without dates (an RSS replacement) is newer than an unnumbered one.
    undated = merge_records(stored, rec(version=5, title="v5"), NOW)
    assert undated["title"] == "v5"
