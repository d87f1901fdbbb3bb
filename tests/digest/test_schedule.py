"""When a digest is due (digest.schedule), at fixed instants: the edges of a day in UTC and in the
reader's zone, daylight-saving gaps and overlaps, and the turn of the year and of ISO weeks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dailypapers.digest.timing import due_period, latest_send, timezone_names, week_label, zone

UTC = UTC


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# (now, frequency, weekday, hour, zone) -> (key, send time in UTC) of the latest send at or before now.
LATEST = [
    ("2026-06-15T00:30+00:00", "daily", 0, 9, "UTC", "D2026-06-14", "2026-06-14T09:00+00:00"),
    ("2026-06-15T08:59:59+00:00", "daily", 0, 9, "UTC", "D2026-06-14", "2026-06-14T09:00+00:00"),
    ("2026-06-15T09:00+00:00", "daily", 0, 9, "UTC", "D2026-06-15", "2026-06-15T09:00+00:00"),
    ("2026-06-15T23:59+00:00", "daily", 0, 9, "UTC", "D2026-06-15", "2026-06-15T09:00+00:00"),
    # The same wall times in Tokyo (UTC+9): the local date decides the period.
    ("2026-06-15T00:30+09:00", "daily", 0, 9, "Asia/Tokyo", "D2026-06-14", "2026-06-14T00:00+00:00"),
    ("2026-06-15T08:59+09:00", "daily", 0, 9, "Asia/Tokyo", "D2026-06-14", "2026-06-14T00:00+00:00"),
    ("2026-06-15T09:00+09:00", "daily", 0, 9, "Asia/Tokyo", "D2026-06-15", "2026-06-15T00:00+00:00"),
    ("2026-06-15T23:59+09:00", "daily", 0, 9, "Asia/Tokyo", "D2026-06-15", "2026-06-15T00:00+00:00"),
    # Tokyo's 09:00 is UTC midnight: 23:59 UTC is a minute before the next local send.
    ("2026-06-15T23:59+00:00", "daily", 0, 9, "Asia/Tokyo", "D2026-06-15", "2026-06-15T00:00+00:00"),
    ("2026-06-16T00:00+00:00", "daily", 0, 9, "Asia/Tokyo", "D2026-06-16", "2026-06-16T00:00+00:00"),
    # New York springs forward at 02:00 on 8 March 2026: 02:00 is sent at 03:00 EDT (07:00 UTC).
    ("2026-03-08T01:59-05:00", "daily", 0, 2, "America/New_York", "D2026-03-07", "2026-03-07T07:00+00:00"),
    ("2026-03-08T03:00-04:00", "daily", 0, 2, "America/New_York", "D2026-03-08", "2026-03-08T07:00+00:00"),
    ("2026-03-08T09:00-04:00", "daily", 0, 9, "America/New_York", "D2026-03-08", "2026-03-08T13:00+00:00"),
    # New York falls back at 02:00 on 1 November 2026: 01:00 happens twice; the first one counts.
    ("2026-11-01T01:00-04:00", "daily", 0, 1, "America/New_York", "D2026-11-01", "2026-11-01T05:00+00:00"),
    ("2026-11-01T01:00-05:00", "daily", 0, 1, "America/New_York", "D2026-11-01", "2026-11-01T05:00+00:00"),
    ("2026-11-01T01:59-05:00", "daily", 0, 1, "America/New_York", "D2026-11-01", "2026-11-01T05:00+00:00"),
    ("2026-11-02T00:59-05:00", "daily", 0, 1, "America/New_York", "D2026-11-01", "2026-11-01T05:00+00:00"),
    # Berlin springs forward at 02:00 on 29 March 2026.
    ("2026-03-29T01:59+01:00", "daily", 0, 2, "Europe/Berlin", "D2026-03-28", "2026-03-28T01:00+00:00"),
    ("2026-03-29T03:00+02:00", "daily", 0, 2, "Europe/Berlin", "D2026-03-29", "2026-03-29T01:00+00:00"),
    # The turn of the year; 2026 has an ISO week 53, and 1 January 2027 (a Friday) belongs to it.
    ("2026-12-31T23:59+00:00", "daily", 0, 0, "UTC", "D2026-12-31", "2026-12-31T00:00+00:00"),
    ("2027-01-01T00:00+00:00", "daily", 0, 0, "UTC", "D2027-01-01", "2027-01-01T00:00+00:00"),
    ("2027-01-01T09:00+09:00", "daily", 0, 9, "Asia/Tokyo", "D2027-01-01", "2027-01-01T00:00+00:00"),
    ("2026-12-31T09:00+00:00", "weekly", 3, 9, "UTC", "W2026-53", "2026-12-31T09:00+00:00"),
    ("2027-01-01T09:00+09:00", "weekly", 4, 9, "Asia/Tokyo", "W2026-53", "2027-01-01T00:00+00:00"),
    ("2027-01-03T23:59+00:00", "weekly", 0, 0, "UTC", "W2026-53", "2026-12-28T00:00+00:00"),
    ("2027-01-04T00:00+00:00", "weekly", 0, 0, "UTC", "W2027-01", "2027-01-04T00:00+00:00"),
    ("2027-01-07T08:59+00:00", "weekly", 3, 9, "UTC", "W2026-53", "2026-12-31T09:00+00:00"),
    ("2027-01-07T09:00+00:00", "weekly", 3, 9, "UTC", "W2027-01", "2027-01-07T09:00+00:00"),
    # A Sunday digest at 00:30 in Tokyo is still Saturday in UTC.
    ("2027-01-02T15:30+00:00", "weekly", 6, 0, "Asia/Tokyo", "W2026-53", "2027-01-02T15:00+00:00"),
]


@pytest.mark.parametrize(("now", "frequency", "weekday", "hour", "tz", "key", "send_at"), LATEST)
def test_latest_send_at_the_edges(
    now: str, frequency: str, weekday: int, hour: int, tz: str, key: str, send_at: str
) -> None:
    period = latest_send(at(now), frequency, weekday, hour, tz)
    assert period.key == key
    assert period.send_at.astimezone(UTC) == at(send_at)
    assert period.send_at.astimezone(UTC) <= at(now)


def test_a_send_time_equal_to_the_confirmation_is_not_due() -> None:
    confirmed = at("2026-06-15T09:00+00:00")
    assert due_period(confirmed, "daily", 0, 9, "UTC", confirmed) is None
    assert (
        due_period(confirmed, "daily", 0, 9, "UTC", confirmed - timedelta(microseconds=1)).key
        == "D2026-06-15"
    )
    assert due_period(at("2026-06-16T09:00+00:00"), "daily", 0, 9, "UTC", confirmed).key == "D2026-06-16"


TRANSITIONS = [
    ("America/New_York", "2026-03-08"),
    ("America/New_York", "2026-11-01"),
    ("Europe/Berlin", "2026-03-29"),
    ("Europe/Berlin", "2026-10-25"),
    ("Australia/Lord_Howe", "2026-04-05"),
    ("America/Santiago", "2026-04-05"),
    ("America/Havana", "2026-03-08"),
    ("Asia/Tokyo", "2026-12-31"),
]


@pytest.mark.parametrize(("tz", "day"), TRANSITIONS)
@pytest.mark.parametrize("frequency", ["daily", "weekly"])
def test_every_hour_is_sent_once_a_period_across_a_clock_change(tz: str, day: str, frequency: str) -> None:
    """Minute by minute over three days around a clock change, for every send hour: the period
    changes exactly when a send time passes, each send time is the hour asked for (or the first real
    time after it, when the clocks skip it), and no period comes twice."""
    zone_info = ZoneInfo(tz)
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC) - timedelta(days=1)
    instants = [start + timedelta(minutes=m) for m in range(0, 3 * 24 * 60, 5)]
    for hour in range(24):
        seen: list[str] = []
        previous = None
        for now in instants:
            period = latest_send(now, frequency, 6, hour, tz)
            send = period.send_at.astimezone(UTC)
            assert send <= now < send + timedelta(days=7 if frequency == "weekly" else 1, hours=2)
            local = send.astimezone(zone_info)
            skipped = datetime.combine(local.date(), datetime.min.time().replace(hour=hour), zone_info)
            assert local.hour == hour or skipped.astimezone(UTC).astimezone(zone_info).hour != hour, (
                now,
                hour,
            )
            if period.key != previous:
                assert period.key not in seen, (now, hour, period.key)
                assert previous is None or send > now - timedelta(minutes=5), (
                    now,
                    hour,
                )  # changed as it passed
                seen.append(period.key)
                previous = period.key


@pytest.mark.parametrize(
    ("last_day", "label"),
    [
        (date(2026, 11, 30), "24–30 November 2026"),
        (date(2026, 12, 2), "26 November – 2 December 2026"),
        (date(2026, 12, 31), "25–31 December 2026"),
        (date(2027, 1, 1), "26 December 2026 – 1 January 2027"),
    ],
)
def test_a_weekly_digest_is_labelled_with_the_days_it_covers(last_day: date, label: str) -> None:
    assert week_label(last_day) == label
    assert (
        latest_send(
            datetime.combine(last_day, datetime.max.time(), UTC), "weekly", last_day.weekday(), 0, "UTC"
        ).label
        == label
    )


@pytest.mark.parametrize(
    "name", ["America", "Europe", "x" * 300, "../etc/passwd", "", "UTC\x00", "Asia/Tokio"]
)
def test_unknown_time_zones_are_a_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        zone(name)
    assert name not in timezone_names()


def test_every_offered_zone_is_known() -> None:
    names = timezone_names()
    assert "Asia/Tokyo" in names and "UTC" in names and names == sorted(names)
    for name in names:
        zone(name)
