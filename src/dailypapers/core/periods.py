"""Feed periods: a day (YYYY-MM-DD), an ISO week (YYYY-Www) or a month (YYYY-MM)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

PeriodKind = Literal["date", "week", "month"]

_WEEK_RE = re.compile(r"(\d{4})-W(\d{2})", re.ASCII)
_MONTH_RE = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class InvalidPeriod(ValueError):
    """A period string that does not name a real day, week or month."""


@dataclass(frozen=True, slots=True)
class Period:
    """A span of feed days [start, end], both inclusive."""

    kind: PeriodKind
    start: date
    end: date

    @property
    def key(self) -> str:
        """The URL form: 2026-06-30, 2026-W27 or 2026-06."""
        if self.kind == "date":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def label(self) -> str:
        """Human label: 'Tue, Jun 30, 2026', 'Week 27, 2026', 'June 2026'."""
        if self.kind == "date":
            return self.start.strftime("%a, %b %-d, %Y")
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"Week {week}, {year} ({self.start:%b %-d} – {self.end:%b %-d})"
        return self.start.strftime("%B %Y")


def day_period(day: date) -> Period:
    """The one-day period of `day`."""
    return Period("date", day, day)


def week_period(day: date) -> Period:
    """The ISO week (Monday to Sunday) containing `day`."""
    start = day - timedelta(days=day.weekday())
    return Period("week", start, start + timedelta(days=6))


def month_period(day: date) -> Period:
    """The calendar month containing `day`."""
    start = day.replace(day=1)
    nxt = (start + timedelta(days=32)).replace(day=1)
    return Period("month", start, nxt - timedelta(days=1))


def period_containing(kind: PeriodKind, day: date) -> Period:
    """The period of the given kind that contains `day`."""
    return {"date": day_period, "week": week_period, "month": month_period}[kind](day)


def parse_period(kind: str, text: str) -> Period:
    """Parse the URL form of a period, raising InvalidPeriod with a message saying what is wrong."""
    if kind == "date":
        if not _DATE_RE.fullmatch(text):
            raise InvalidPeriod(f"invalid date {text!r}: expected YYYY-MM-DD, e.g. 2026-06-30")
        try:
            return day_period(date.fromisoformat(text))
        except (ValueError, OverflowError) as exc:
            raise InvalidPeriod(f"invalid date {text!r}: {exc}") from None
    if kind == "week":
        m = _WEEK_RE.fullmatch(text)
        if not m:
            raise InvalidPeriod(f"invalid week {text!r}: expected YYYY-Www, e.g. 2026-W27")
        try:
            return week_period(date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1))
        except (ValueError, OverflowError) as exc:
            raise InvalidPeriod(f"invalid week {text!r}: {exc}") from None
    if kind == "month":
        m = _MONTH_RE.fullmatch(text)
        if not m:
            raise InvalidPeriod(f"invalid month {text!r}: expected YYYY-MM, e.g. 2026-06")
        try:
            return month_period(date(int(m.group(1)), int(m.group(2)), 1))
        except (ValueError, OverflowError) as exc:
            raise InvalidPeriod(f"invalid month {text!r}: {exc}") from None
    raise InvalidPeriod(f"unknown period kind {kind!r}: expected date, week or month")
