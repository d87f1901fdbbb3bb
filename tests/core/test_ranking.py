"""core.ranking: properties of the published formulas (a day's trending_score, a period's
period_trending_score)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dailypapers.core.ranking import EPOCH, period_trending_score, period_vote_multipliers, trending_score

UTC = UTC

# Realistic ranges: the age term stays precise to well below a second, the votes term to
# well below one vote, so strict inequalities are meaningful in floating point.
times = st.datetimes(min_value=datetime(1991, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
votes = st.integers(min_value=0, max_value=10_000_000)
offsets = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3650))


@settings(max_examples=300)
@given(t=times, a=votes, b=votes)
def test_more_votes_rank_higher_at_equal_age(t: datetime, a: int, b: int) -> None:
    low, high = sorted((a, b))
    if low == high:
        assert trending_score(low, t) == trending_score(high, t)
    else:
        assert trending_score(low, t) < trending_score(high, t)


@settings(max_examples=300)
@given(t=times, dt=offsets, n=votes)
def test_newer_ranks_higher_at_equal_votes(t: datetime, dt: timedelta, n: int) -> None:
    # An older reference time gives a lower score: the score decays with age.
    assert trending_score(n, t) < trending_score(n, t + dt)
    assert trending_score(n, t - dt) < trending_score(n, t)


@settings(max_examples=300)
@given(t1=times, t2=times, a=votes, b=votes)
def test_monotone_in_both_arguments(t1: datetime, t2: datetime, a: int, b: int) -> None:
    # Never lower when a paper has at least as many votes and is at least as new.
    (lo_t, hi_t), (lo_v, hi_v) = sorted((t1, t2)), sorted((a, b))
    assert trending_score(lo_v, lo_t) <= trending_score(hi_v, hi_t)


@settings(max_examples=200)
@given(t=times, n=votes)
def test_ties_give_exactly_equal_scores(t: datetime, n: int) -> None:
    # Equal inputs (however the datetime is spelled) give bit-identical floats: the order
    # between such papers is then decided by arxiv_id in queries.
    same_instant = t.astimezone(timezone(timedelta(hours=-7, minutes=-30)))
    assert trending_score(n, t) == trending_score(n, datetime.fromisoformat(t.isoformat()))
    assert trending_score(n, t) == trending_score(n, same_instant)
    assert math.isfinite(trending_score(n, t))


@settings(max_examples=200)
@given(t=times, n=votes)
def test_naive_datetimes_are_utc(t: datetime, n: int) -> None:
    naive = t.replace(tzinfo=None)
    assert trending_score(n, naive) == trending_score(n, t)


@settings(max_examples=200)
@given(t=times, n=st.integers(min_value=-10_000_000, max_value=-1))
def test_negative_votes_count_as_zero(t: datetime, n: int) -> None:
    assert trending_score(n, t) == trending_score(0, t)


def test_epoch_with_no_votes_is_zero() -> None:
    assert trending_score(0, EPOCH) == 0.0
    assert trending_score(0, EPOCH.replace(tzinfo=None)) == 0.0


def test_one_day_of_newness_is_worth_one_doubling_of_votes() -> None:
    t = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
    day = timedelta(days=1)
    assert trending_score(1, t) == pytest.approx(trending_score(0, t + day), abs=1e-9)
    assert trending_score(7, t) == pytest.approx(trending_score(3, t + day), abs=1e-9)
    assert trending_score(99, t) == pytest.approx(trending_score(49, t + day), abs=1e-9)
    # A day newer with half the votes (plus one) is exactly level; a little newer wins.
    assert trending_score(99, t) < trending_score(49, t + day + timedelta(minutes=1))


def test_a_strong_paper_from_yesterday_beats_todays_unvoted_ones_but_not_for_a_week() -> None:
    today = datetime(2026, 6, 30, tzinfo=UTC)
    assert trending_score(50, today - timedelta(days=1)) > trending_score(0, today)
    assert trending_score(50, today - timedelta(days=7)) < trending_score(0, today)


def test_exact_values() -> None:
    assert trending_score(0, datetime(2024, 1, 2, tzinfo=UTC)) == pytest.approx(1.0)
    assert trending_score(3, datetime(2024, 1, 1, 12, tzinfo=UTC)) == pytest.approx(2.5)
    assert trending_score(0, datetime(2023, 12, 31, tzinfo=UTC)) == pytest.approx(-1.0)


def test_other_timezones_are_converted_not_relabelled() -> None:
    berlin_noon = datetime(2026, 6, 30, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert trending_score(5, berlin_noon) == trending_score(5, datetime(2026, 6, 30, 10, 0, tzinfo=UTC))
    assert trending_score(5, berlin_noon) != trending_score(5, datetime(2026, 6, 30, 12, 0, tzinfo=UTC))


# --- trending inside a week or a month ------------------------------------------------------

lengths = st.sampled_from([7, 28, 29, 30, 31])


@settings(max_examples=300)
@given(n=lengths, data=st.data(), a=votes, b=votes)
def test_period_more_than_twice_the_votes_always_leads(n: int, data: st.DataObject, a: int, b: int) -> None:
    # The whole period is worth less than one doubling: the most-voted papers lead, whatever day.
    early, late = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))
    low, high = sorted((a, b))
    if 1 + high >= 2 * (1 + low):
        assert period_trending_score(high, early, n) > period_trending_score(low, late, n)


@settings(max_examples=300)
@given(n=lengths, data=st.data(), v=votes)
def test_period_newer_leads_at_equal_votes(n: int, data: st.DataObject, v: int) -> None:
    first, second = sorted(data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True)))
    assert period_trending_score(v, first, n) < period_trending_score(v, second, n)


@settings(max_examples=300)
@given(n=lengths, data=st.data(), a=votes, b=votes)
def test_period_multipliers_order_as_the_score(n: int, data: st.DataObject, a: int, b: int) -> None:
    # SQL orders by (1 + votes) * multiplier[day]: 2 ** score, so the same order.
    day_a, day_b = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))
    factors = period_vote_multipliers(n)
    assert len(factors) == n
    score_a, score_b = period_trending_score(a, day_a, n), period_trending_score(b, day_b, n)
    product_a, product_b = (1 + a) * factors[day_a], (1 + b) * factors[day_b]
    assert product_a == pytest.approx(2**score_a, rel=1e-12)
    if abs(score_a - score_b) > 1e-9:
        assert (score_a < score_b) == (product_a < product_b)


def test_period_exact_values() -> None:
    assert period_trending_score(0, 0, 7) == 0.0
    assert period_trending_score(1, 0, 7) == 1.0
    assert period_trending_score(3, 3, 30) == pytest.approx(2.1)
    # Out-of-range days (never expected) are clamped; negative votes count as zero.
    assert period_trending_score(-5, -2, 7) == 0.0 and period_trending_score(0, 9, 7) == 1.0
    assert period_vote_multipliers(7)[0] == 1.0 and period_vote_multipliers(7)[-1] < 2.0


def test_the_june_demo_example() -> None:
    # The issue: in June the papers with 163, 150 and 120 upvotes appeared only under "Upvotes".
    # Inside the month they lead an unvoted paper of the last day and a 60-vote paper of the 24th.
    june = 30
    for votes_, day in ((163, 9), (150, 15), (120, 9)):
        assert period_trending_score(votes_, day, june) > period_trending_score(60, 23, june)
        assert period_trending_score(votes_, day, june) > period_trending_score(0, 29, june)
