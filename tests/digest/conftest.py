"""Digest fixtures: a small feed of real-looking papers, settings pointing at a loopback SMTP server,
and the fixed clock every digest test runs at (`now`; parametrize it to run a test at another time)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest

from dailypapers.core.models import PaperRecord
from dailypapers.core.settings import Settings
from dailypapers.store.db import Database
from dailypapers.store.papers import upsert_batch

# (id, title, categories, upvotes)
PAPERS = [
    ("2611.00001", "Scaling Laws for Retrieval-Augmented Language Models", ["cs.CL"], 40),
    ("2611.00002", "Hard Negative Mining for Contrastive Sentence Embeddings", ["cs.CL", "cs.LG"], 3),
    ("2611.00003", "Diffusion Transformers for Video Generation", ["cs.CV"], 55),
    ("2611.00004", "A Benchmark of Clinical Question Answering", ["cs.CL"], 25),
    ("2611.00005", "Contrastive Pretraining for Medical Report Generation", ["cs.CL"], 2),
    ("2611.00006", "Tokenizer-Free Machine Translation with $\\alpha$-Entmax", ["cs.CL"], 12),
    ("2611.00007", "Graph Neural Networks at Scale", ["cs.LG"], 30),
]


# A Monday, 12:00 UTC: the default time of the digest tests (none of them reads the real clock).
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def feed_day(now: datetime) -> date:
    """The feed day the tests' papers are on: the UTC day before `now`."""
    return now.astimezone(UTC).date() - timedelta(days=1)


def add_papers(db: Database, papers: list[tuple[str, str, list[str], int]], day: date, now: datetime) -> None:
    featured = datetime.combine(day, time(0, 0), tzinfo=UTC)
    records = [
        PaperRecord(
            arxiv_id=i,
            title=t,
            abstract=f"We study {t.lower()}. Results improve on strong baselines.",
            authors=["Ada Lovelace", "Alan Turing"],
            categories=c,
            version=1,
            upvotes=u,
            published_at=featured - timedelta(days=1),
            feed_entries=[(day, featured)],
            source="hf-daily",
        )
        for i, t, c, u in papers
    ]
    with db.write() as conn:
        upsert_batch(conn, records, now)


@pytest.fixture
def now() -> datetime:
    """The time the test runs at (aware UTC)."""
    return NOW


@pytest.fixture
def settings(mail_settings: Callable[..., Settings]) -> Settings:
    return mail_settings(
        mail_unsubscribe_mailto="unsubscribe@example.org", digest_retry_base=60.0, digest_max_bounces=2
    )


@pytest.fixture
def feed(db: Database, now: datetime) -> Database:
    add_papers(db, PAPERS, feed_day(now), now)
    return db


@pytest.fixture
def more_papers(db: Database, now: datetime):  # type: ignore[no-untyped-def]
    """add(papers, days_after_the_feed_day): more papers on a later feed day."""

    def add(papers: list[tuple[str, str, list[str], int]], days: int = 1) -> None:
        add_papers(db, papers, feed_day(now) + timedelta(days=days), now + timedelta(days=days))

    return add
