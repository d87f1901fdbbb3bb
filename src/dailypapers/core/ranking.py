"""Trending: the published, time-decayed formula behind the stored, indexed `trending_score` column."""

from __future__ import annotations

import math
from datetime import datetime, timezone

# The age term is measured from a fixed epoch rather than from `now`: see trending_score.
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)

# How many seconds newer a paper must be to count as much as twice the votes.
DOUBLING_SECONDS = 86_400.0


def trending_score(upvotes: int, reference_time: datetime) -> float:
    """Score for ordering papers by trending: higher is hotter.

    score = log2(1 + upvotes) + (reference_time - EPOCH) / 1 day
    """
    # Votes count logarithmically: going from 1 to 2 votes matters as much as 50 to 100, so a
    # paper with an early burst cannot hold the top forever and a handful of votes still moves a
    # new paper up. Negative counts (never expected) are treated as zero rather than raising.
    votes_term = math.log2(1 + max(upvotes, 0))

    # Newness is a bonus that grows with the time the paper entered the feed, instead of a penalty
    # that grows with `now`: the relative order of two papers then never changes as the clock
    # moves, so the stored column stays valid without a periodic rewrite (Reddit's "hot",
    # Lobsters' hotness). One day of newness is worth one doubling of votes, which lets a strong
    # paper from yesterday stay above today's unvoted ones, but not for a week.
    if reference_time.tzinfo is None:
        reference_time = reference_time.replace(tzinfo=timezone.utc)
    age_term = (reference_time - EPOCH).total_seconds() / DOUBLING_SECONDS

    # No tie-breaking term: ties are broken by arXiv id in every query, which is stable and
    # needs no extra state.
    return votes_term + age_term
