"""The featuring policy: which ingested papers appear on a day's feed.

Sources attach feed-entry candidates to their records; this module keeps or drops them, by the
setting `feature_policy`:

- `arxiv-new`: a deployment that is "all of cs.LG today": every paper arXiv announces as new or
  cross-listed (arxiv-rss, arxiv-api) in one of the feature categories is featured on its
  announcement day. Community feeds (the Hub) still bring their upvotes, but no days.
- `community`: a curated daily list: only days that a mirrored community feed featured (the Hub's
  daily papers) — and, later, curators' submissions. arXiv sources only add and update papers.
- `all` (default): both.

Bulk harvests (arxiv-oai) never feature; `dailypapers import` keeps the days its files name.
"""

from __future__ import annotations

from collections.abc import Iterable

from dailypapers.core.models import PaperRecord
from dailypapers.ingest.sources.base import ANNOUNCEMENT, COMMUNITY

POLICIES = ("all", "arxiv-new", "community")


def apply_policy(
    records: Iterable[PaperRecord], features: str, policy: str, categories: Iterable[str] = ()
) -> list[PaperRecord]:
    """The records with the feed entries the policy allows (the records are changed in place)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown feature policy {policy!r}; choose one of {', '.join(POLICIES)}")
    wanted = set(categories)
    allowed = (features == ANNOUNCEMENT and policy in ("all", "arxiv-new")) or (
        features == COMMUNITY and policy in ("all", "community")
    )
    kept = []
    for record in records:
        if record.feed_entries:
            if not allowed:
                record.feed_entries = []
            elif features == ANNOUNCEMENT and wanted and wanted.isdisjoint(record.categories):
                record.feed_entries = []
        kept.append(record)
    return kept
