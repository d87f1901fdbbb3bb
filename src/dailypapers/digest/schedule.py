"""When a subscriber's digest is due, in their own time zone (pure functions, `now` passed in).

A daily digest is due at send_hour local time every day, a weekly one at send_hour on its weekday.
The period of a send time is its local date (daily, key D2026-11-30) or ISO week (weekly, key
W2026-48). A period is due once its send time has passed and it was not composed yet (the outbox's
unique key says so); only send times after the subscription was confirmed count, so a new reader's
first digest comes at their next hour, not at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class DuePeriod:
    key: str  # unique per subscriber: D2026-11-30 or W2026-48
    send_at: datetime  # the scheduled send time (aware, the subscriber's zone)
    label: str  # for the subject line


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def timezone_names() -> list[str]:
    return sorted(available_timezones())


def _local_send(day: date, hour: int, tz: ZoneInfo) -> datetime:
    # A nonexistent local hour (spring forward) is normalised forward by zoneinfo's fold rules.
    return datetime.combine(day, time(hour), tzinfo=tz)


def latest_send(now: datetime, frequency: str, weekday: int, hour: int, tz_name: str) -> DuePeriod:
    """The most recent scheduled send time at or before `now` (aware) and its period."""
    tz = zone(tz_name)
    local = now.astimezone(tz)
    if frequency == "weekly":
        day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
        send = _local_send(day, hour, tz)
        if send > local:
            day -= timedelta(days=7)
            send = _local_send(day, hour, tz)
        iso = day.isocalendar()
        end = day + timedelta(days=6)
        label = f"week {iso.week}, {day.day} {day:%B} – {end.day} {end:%B %Y}"
        return DuePeriod(f"W{iso.year}-{iso.week:02d}", send, label)
    day = local.date()
    send = _local_send(day, hour, tz)
    if send > local:
        day -= timedelta(days=1)
        send = _local_send(day, hour, tz)
    return DuePeriod(f"D{day.isoformat()}", send, f"{WEEKDAYS[day.weekday()]} {day.day} {day:%B %Y}")


def due_period(now: datetime, frequency: str, weekday: int, hour: int, tz_name: str,
               confirmed_at: datetime | None) -> DuePeriod | None:  # fmt: skip
    """The period to compose now, or None (its send time came before the subscription began)."""
    period = latest_send(now, frequency, weekday, hour, tz_name)
    if confirmed_at is not None and period.send_at < confirmed_at:
        return None
    return period
