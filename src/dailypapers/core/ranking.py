"""Trending: the published, time-decayed formula behind the stored, indexed `trending_score` column."""

from __future__ import annotations

import math
from datetime import UTC, datetime

# The age term is measured from a fixed epoch rather than from `now`: see trending_score.
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

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
        reference_time = reference_time.replace(tzinfo=UTC)
    age_term = (reference_time - EPOCH).total_seconds() / DOUBLING_SECONDS

    # No tie-breaking term: ties are broken by arXiv id in every query, which is stable and
    # needs no extra state.
    return votes_term + age_term


# --- trending inside a week or a month ------------------------------------------------------
#
# Inside a closed week or month the daily formula is newest-first in practice: the papers of the
# period's last day carry four (week) to thirty (month) doublings of newness, more than any vote
# count makes up, so the period's most-voted papers were only visible under "Upvotes". A period
# asks a different question than a day ("what stood out this week?"), so it gets its own score.


def period_trending_score(upvotes: int, days_into_period: int, period_days: int) -> float:
    """Score for ordering the papers of a week or month by trending: higher is hotter.

    score = log2(1 + upvotes) + days_into_period / period_days

    `days_into_period` counts from the period's first day to the paper's first feed day inside
    the period (0 for the first day); `period_days` is the period's length (7, or 28 to 31).
    """
    # Votes count logarithmically, as in the daily formula, so that the two read alike: the
    # period's most-voted papers lead, and among papers with few votes every vote still counts.
    votes_term = math.log2(1 + max(upvotes, 0))

    # Newness is measured inside the period and the whole period is worth less than one doubling
    # of votes: a paper from the last day needs more than half the votes of one from the first
    # day to rank above it. That is mild on purpose: it only settles near-ties in favour of the
    # newer paper (which had fewer days to gather votes) and orders unvoted papers newest-first,
    # as the daily feed does; it never lets a period's last day bury its most-voted papers.
    newness_term = min(max(days_into_period, 0), period_days) / period_days

    # As in the daily formula, no tie-breaking term: queries break ties by the stored
    # trending_score (the time of day a paper entered the feed), then by arXiv id.
    return votes_term + newness_term


def period_vote_multipliers(period_days: int) -> list[float]:
    """2 ** (day / period_days) for each day of a period: the newness term as a factor on 1 + upvotes.

    Ordering by (1 + upvotes) * multiplier[day] is the same as ordering by period_trending_score
    (2 ** score), and needs no logarithm in SQL: SQLite is not always built with math functions.
    """
    return [2.0 ** (day / period_days) for day in range(period_days)]
