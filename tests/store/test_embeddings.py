"""store.embeddings on both databases: the embed job's units of work (the pending papers page by
page, a batch's write, the pending count), a model's vectors read as of one transaction, and
store.papers.write_batch, the import's unit of work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dailypapers.core.models import PaperRecord
from dailypapers.store.db import Database, NestedConnection
from dailypapers.store.embeddings import (
    count_pending,
    has_column,
    pending_batch,
    read_summary,
    read_vectors,
    save_batch,
)
from dailypapers.store.papers import write_batch

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
MODEL = "test-model"
IDS = [f"2607.{n:05d}" for n in range(1, 6)]


def _vector(n: int) -> np.ndarray:
    v = np.arange(1, 5, dtype=np.float32) * (n + 1)
    return v / np.linalg.norm(v)


@pytest.fixture
def stored(db: Database) -> Database:
    counts = write_batch(db, [PaperRecord(arxiv_id=i, title=f"Paper {i}") for i in IDS], NOW)
    assert (counts.new, counts.updated) == (len(IDS), 0)
    return db


def test_pending_papers_come_page_by_page_until_their_batch_is_saved(stored: Database) -> None:
    assert count_pending(stored, MODEL) == len(IDS)
    first = pending_batch(stored, MODEL, "", 3)
    assert [p.arxiv_id for p in first] == IDS[:3] and first[0].title == f"Paper {IDS[0]}"
    assert all(p.text_hash is None for p in first)
    assert [p.arxiv_id for p in pending_batch(stored, MODEL, first[-1].arxiv_id, 3)] == IDS[3:]
    save_batch(stored, MODEL, [(i, "hash", _vector(n)) for n, i in enumerate(IDS[:3])], [], NOW)
    assert count_pending(stored, MODEL) == 2
    # A paper changed after its vector was made is pending again, with the hash of its old text ...
    later = NOW + timedelta(hours=1)
    write_batch(stored, [PaperRecord(arxiv_id=IDS[0], title=f"Paper {IDS[0]}", upvotes=3)], later)
    again = pending_batch(stored, MODEL, "", 10)
    assert [(p.arxiv_id, p.text_hash) for p in again][:1] == [(IDS[0], "hash")] and len(again) == 3
    # ... and marked current without a new vector when its text did not change.
    save_batch(stored, MODEL, [], [IDS[0]], later)
    assert [p.arxiv_id for p in pending_batch(stored, MODEL, "", 10)] == IDS[3:]


def test_vectors_are_read_after_a_change_counter_in_chunks(stored: Database) -> None:
    save_batch(stored, MODEL, [(i, "h", _vector(n)) for n, i in enumerate(IDS[:3])], [], NOW)
    with read_vectors(stored, MODEL, 0, chunk=2) as first:
        chunks = list(first.chunks)
    assert [ids for ids, _ in chunks] == [IDS[:2], IDS[2:3]]
    assert np.allclose(np.vstack([m for _, m in chunks]), [_vector(n) for n in range(3)])
    save_batch(stored, MODEL, [(IDS[4], "h", _vector(4))], [], NOW)
    with read_vectors(stored, MODEL, first.seq) as second:
        assert second.seq > first.seq
        assert [ids for ids, _ in second.chunks] == [[IDS[4]]]
    with stored.read() as conn:
        pgvector = has_column(conn)
    assert read_summary(stored, MODEL) == (pgvector, 4, 4)
    assert read_summary(stored, "another-model") == (pgvector, 0, None)


def test_a_unit_of_work_is_refused_inside_another_transaction(stored: Database) -> None:
    """Each opens its own transaction: called while the thread holds a connection, it fails at once
    instead of waiting for a second one from the pool."""
    with stored.read(), pytest.raises(NestedConnection):
        count_pending(stored, MODEL)
