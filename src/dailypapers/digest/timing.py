"""When a subscriber's digest is due, in their own time zone (pure functions, `now` passed in).

A daily digest is due at send_hour local time every day, a weekly one at send_hour on its weekday.
The period of a send time is its local date (daily, key D2026-11-30) or ISO week (weekly, key
W2026-48). A period is due once its send time has passed and it was not composed yet (the outbox's
unique key says so); only send times after the subscription was confirmed count, so a new reader's
first digest comes at their next hour, not at once.

Local hours that a daylight-saving change skips or repeats: a send hour in the spring-forward gap
(02:00 in New York on 2026-03-08) is sent when the clocks reach the first real time after it (03:00
EDT); one in the autumn overlap is sent at its first occurrence (01:00 EDT on 2026-11-01), once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class DuePeriod:
    key: str  # unique per subscriber: D2026-11-30 or W2026-48
    send_at: datetime  # the scheduled send time (aware, the subscriber's zone)
    label: str  # for the subject line


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError for an unknown one.

    Only names that tzdata lists are looked up: ZoneInfo itself raises OSError for a folder such
    as "America" or a name too long for the file system."""
    if name not in _known_zones():
        raise ValueError(f"unknown time zone {name[:80]!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name[:80]!r}") from exc


def timezone_names() -> list[str]:
    """Every IANA zone name this system knows, sorted (what the preferences page offers)."""
    return sorted(_known_zones())


def week_label(last_day: date) -> str:
    """The seven days a weekly digest sent on `last_day` covers: '24–30 November 2026',
    '26 November – 2 December 2026', '28 December 2026 – 3 January 2027'."""
    first = last_day - timedelta(days=6)
    if first.year != last_day.year:
        return f"{first.day} {first:%B %Y} – {last_day.day} {last_day:%B %Y}"
    if first.month != last_day.month:
        return f"{first.day} {first:%B} – {last_day.day} {last_day:%B %Y}"
    return f"{first.day}–{last_day.day} {last_day:%B %Y}"


def _local_send(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """`hour` o'clock on local `day`, as a real time of the zone: an hour the clocks skip becomes the
    first time after the change (zoneinfo reads the wall time with the offset before it), and an
    hour they repeat is its first occurrence (fold=0)."""
    wall = datetime.combine(day, time(hour), tzinfo=tz)
    return wall.astimezone(UTC).astimezone(tz)


def latest_send(now: datetime, frequency: str, weekday: int, hour: int, tz_name: str) -> DuePeriod:
    """The most recent scheduled send time at or before `now` (aware) and its period."""
    tz = zone(tz_name)
    # Instants are compared in UTC: two datetimes of the same zone compare by wall time, which
    # is wrong inside the hour that a daylight-saving change repeats.
    now = now.astimezone(UTC)
    local = now.astimezone(tz)
    if frequency == "weekly":
        day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
        send = _local_send(day, hour, tz)
        if send > now:
            day -= timedelta(days=7)
            send = _local_send(day, hour, tz)
        # The key is the ISO week of the send day (ISO year: 2027-01-01 is in W2026-53); the label
        # names the days the digest covers, the week up to the send day, not the one after it.
        iso = day.isocalendar()
        return DuePeriod(f"W{iso.year}-{iso.week:02d}", send, week_label(day))
    day = local.date()
    send = _local_send(day, hour, tz)
    if send > now:
        day -= timedelta(days=1)
        send = _local_send(day, hour, tz)
    return DuePeriod(f"D{day.isoformat()}", send, f"{WEEKDAYS[day.weekday()]} {day.day} {day:%B %Y}")


def due_period(
    now: datetime, frequency: str, weekday: int, hour: int, tz_name: str, confirmed_at: datetime | None
) -> DuePeriod | None:
    """The period to compose now, or None (its send time was not after the subscription began)."""
    period = latest_send(now, frequency, weekday, hour, tz_name)
    if confirmed_at is not None and period.send_at <= confirmed_at:
        return None
    return period
