"""arXiv's announcement calendar: on which listing day a submission appears.

arXiv announces once per weekday evening, Sunday to Thursday at 20:00 US Eastern time. A paper
submitted before the 14:00 Eastern cut-off of a weekday is announced that evening; later, or on a
weekend, it waits for the next weekday's cut-off. The listing (and the RSS feed) of an evening's
announcement is dated the following weekday: a Monday-evening announcement is "Tuesday's papers",
Thursday's is Friday's, and the Sunday-evening one is Monday's. Holidays, when arXiv skips an
announcement, are not modelled: those papers are dated one listing day early.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ARXIV_TZ = ZoneInfo("America/New_York")
CUTOFF = time(14, 0)


def _next_weekday(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def announcement_day(submitted: datetime) -> date:
    """The listing day (a weekday) on which a paper submitted at `submitted` is announced."""
    if submitted.tzinfo is None:
        submitted = submitted.replace(tzinfo=UTC)
    local = submitted.astimezone(ARXIV_TZ)
    day = local.date()
    # The weekday whose cut-off the submission makes (Friday's submissions go out on Sunday evening).
    if day.weekday() >= 5 or local.time() >= CUTOFF:
        day = _next_weekday(day)
    return _next_weekday(day)


def listing_time(day: date) -> datetime:
    """The moment a listing day's papers are out: midnight US Eastern starting that day (in UTC),
    which is how arXiv dates its announcement feeds."""
    return datetime.combine(day, time(0, 0), tzinfo=ARXIV_TZ).astimezone(UTC)
