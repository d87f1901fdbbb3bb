"""core.periods: parsing days, ISO weeks and months; labels; boundaries across year ends."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dailypapers.core.periods import (
    InvalidPeriod,
    Period,
    day_period,
    month_period,
    parse_period,
    period_containing,
    week_period,
)


def test_parse_date() -> None:
    p = parse_period("date", "2026-06-30")
    assert p == Period("date", date(2026, 6, 30), date(2026, 6, 30))
    assert p.key == "2026-06-30"
    assert p.label == "Tue, Jun 30, 2026"


def test_parse_week() -> None:
    p = parse_period("week", "2026-W27")
    assert p == Period("week", date(2026, 6, 29), date(2026, 7, 5))
    assert p.start.weekday() == 0 and p.end.weekday() == 6
    assert p.key == "2026-W27"
    assert p.label == "Week 27, 2026 (Jun 29 – Jul 5)"


def test_parse_month() -> None:
    p = parse_period("month", "2026-06")
    assert p == Period("month", date(2026, 6, 1), date(2026, 6, 30))
    assert p.key == "2026-06"
    assert p.label == "June 2026"


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),  # leap year
        ("2025-02", date(2025, 2, 1), date(2025, 2, 28)),
        ("1900-02", date(1900, 2, 1), date(1900, 2, 28)),  # not a leap year
        ("2000-02", date(2000, 2, 1), date(2000, 2, 29)),
        ("2025-12", date(2025, 12, 1), date(2025, 12, 31)),
        ("2026-01", date(2026, 1, 1), date(2026, 1, 31)),
        ("2026-04", date(2026, 4, 1), date(2026, 4, 30)),
    ],
)
def test_month_bounds(text: str, start: date, end: date) -> None:
    p = parse_period("month", text)
    assert (p.start, p.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        # ISO week 1 of 2025 starts in December 2024.
        ("2025-W01", date(2024, 12, 30), date(2025, 1, 5), "Week 1, 2025 (Dec 30 – Jan 5)"),
        # 2026 has 53 ISO weeks; its last one ends in January 2027.
        ("2026-W53", date(2026, 12, 28), date(2027, 1, 3), "Week 53, 2026 (Dec 28 – Jan 3)"),
        ("2020-W53", date(2020, 12, 28), date(2021, 1, 3), "Week 53, 2020 (Dec 28 – Jan 3)"),
        # Week 1 of 2021 starts in January (Jan 1 2021 was a Friday, in 2020-W53).
        ("2021-W01", date(2021, 1, 4), date(2021, 1, 10), "Week 1, 2021 (Jan 4 – Jan 10)"),
        ("2024-W52", date(2024, 12, 23), date(2024, 12, 29), "Week 52, 2024 (Dec 23 – Dec 29)"),
    ],
)
def test_weeks_across_year_ends(text: str, start: date, end: date, label: str) -> None:
    p = parse_period("week", text)
    assert (p.start, p.end) == (start, end)
    assert p.key == text
    assert p.label == label


@pytest.mark.parametrize(
    ("day", "key"),
    [
        (date(2024, 12, 30), "2025-W01"),
        (date(2024, 12, 29), "2024-W52"),
        (date(2027, 1, 3), "2026-W53"),
        (date(2027, 1, 4), "2027-W01"),
        (date(2021, 1, 1), "2020-W53"),
        (date(2026, 6, 30), "2026-W27"),
    ],
)
def test_week_containing_a_day_near_year_end(day: date, key: str) -> None:
    p = week_period(day)
    assert p.key == key
    assert p.start <= day <= p.end
    assert parse_period("week", key) == p


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("date", "2026-6-30", "expected YYYY-MM-DD"),
        ("date", "30.06.2026", "expected YYYY-MM-DD"),
        ("date", "2026-06-30T00:00", "expected YYYY-MM-DD"),
        ("date", "", "expected YYYY-MM-DD"),
        ("date", "2026-02-30", "invalid date '2026-02-30'"),
        ("date", "2026-13-01", "invalid date '2026-13-01'"),
        ("date", "2026-00-10", "invalid date"),
        ("date", "2026-06-30\n", "invalid date"),
        ("week", "2026-27", "expected YYYY-Www"),
        ("week", "2026-W7", "expected YYYY-Www"),
        ("week", "2026W27", "expected YYYY-Www"),
        ("week", "2026-w27", "expected YYYY-Www"),
        ("week", "2026-W00", "invalid week '2026-W00'"),
        ("week", "2025-W53", "invalid week '2025-W53'"),  # 2025 has 52 ISO weeks
        ("week", "2026-W54", "invalid week"),
        ("month", "2026-6", "expected YYYY-MM"),
        ("month", "2026-06-01", "expected YYYY-MM"),
        ("month", "June 2026", "expected YYYY-MM"),
        ("month", "2026-13", "invalid month '2026-13'"),
        ("month", "2026-00", "invalid month '2026-00'"),
        ("month", "0000-01", "invalid month"),
        ("year", "2026", "unknown period kind 'year'"),
        ("", "2026-06-30", "unknown period kind"),
    ],
)
def test_invalid_inputs(kind: str, text: str, message: str) -> None:
    with pytest.raises(InvalidPeriod, match=message.replace("(", r"\(")) as info:
        parse_period(kind, text)
    assert str(info.value)  # the message says what is wrong
    assert isinstance(info.value, ValueError)


def test_error_messages_give_an_example() -> None:
    for kind, example in [("date", "2026-06-30"), ("week", "2026-W27"), ("month", "2026-06")]:
        with pytest.raises(InvalidPeriod, match=f"e.g. {example}"):
            parse_period(kind, "nonsense")


@pytest.mark.parametrize(("kind", "text"), [("week", "2026-W27\n"), ("month", "2026-06\n")])
def test_trailing_newline_is_invalid(kind: str, text: str) -> None:
    with pytest.raises(InvalidPeriod):
        parse_period(kind, text)


@pytest.mark.parametrize(("kind", "text"), [("month", "9999-12"), ("week", "9999-W52")])
def test_last_period_of_year_9999_is_an_invalid_period_not_a_crash(kind: str, text: str) -> None:
    try:
        parse_period(kind, text)
    except InvalidPeriod:
        pass


def test_period_containing() -> None:
    day = date(2026, 6, 30)
    assert period_containing("date", day) == day_period(day)
    assert period_containing("week", day) == week_period(day) == parse_period("week", "2026-W27")
    assert period_containing("month", day) == month_period(day) == parse_period("month", "2026-06")


days = st.dates(min_value=date(1900, 1, 8), max_value=date(2999, 12, 20))


@settings(max_examples=300)
@given(days)
def test_periods_contain_their_day_and_round_trip(day: date) -> None:
    for kind in ("date", "week", "month"):
        p = period_containing(kind, day)
        assert p.kind == kind
        assert p.start <= day <= p.end
        assert parse_period(kind, p.key) == p
    w = week_period(day)
    assert w.start.weekday() == 0 and (w.end - w.start) == timedelta(days=6)
    m = month_period(day)
    assert m.start.day == 1 and (m.end + timedelta(days=1)).day == 1
    assert m.start.month == m.end.month == day.month


@settings(max_examples=200)
@given(days)
def test_consecutive_weeks_tile_the_calendar(day: date) -> None:
    this = week_period(day)
    nxt = week_period(this.end + timedelta(days=1))
    assert nxt.start == this.end + timedelta(days=1)
    assert nxt.key != this.key
