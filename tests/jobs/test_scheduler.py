"""The jobs' scheduler on an injected clock: order, intervals, wake, a failing job, graceful stop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from dailypapers.jobs.scheduler import Job, Scheduler

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WAIT = 30.0  # seconds a test waits for another thread; only reached when the code is broken


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def recording(name: str, interval: float, ran: list[str], asks: datetime | None = None) -> Job:
    def run(scheduler: Scheduler) -> datetime | None:
        ran.append(name)
        return asks

    return Job(name, interval, run)


def test_every_job_runs_at_start_in_list_order_then_on_its_interval() -> None:
    clock, ran = Clock(), []
    scheduler = Scheduler(
        [recording("a", 60, ran), recording("b", 300, ran), recording("c", 60, ran)], now=clock
    )
    assert scheduler.run_round() == T0 + timedelta(seconds=60)
    assert ran == ["a", "b", "c"]
    clock.advance(59)
    assert scheduler.run_round() == T0 + timedelta(seconds=60)
    assert ran == ["a", "b", "c"]  # nothing is due yet
    clock.advance(1)
    scheduler.run_round()
    assert ran == ["a", "b", "c", "a", "c"]
    clock.advance(240)
    scheduler.run_round()
    assert ran[5:] == ["a", "b", "c"]


def test_a_job_may_ask_to_run_sooner_but_never_later_than_its_interval() -> None:
    clock, ran = Clock(), []

    def soon(scheduler: Scheduler) -> datetime | None:
        ran.append("soon")
        return scheduler.now() + timedelta(seconds=10)

    def late(scheduler: Scheduler) -> datetime | None:
        ran.append("late")
        return scheduler.now() + timedelta(hours=5)

    scheduler = Scheduler([Job("soon", 60, soon), Job("late", 60, late)], now=clock)
    assert scheduler.run_round() == T0 + timedelta(seconds=10)
    clock.advance(10)
    assert scheduler.run_round() == T0 + timedelta(seconds=20)
    assert ran == ["soon", "late", "soon"]
    clock.advance(50)
    scheduler.run_round()
    assert ran[3:] == ["soon", "late"]  # late at its interval, not five hours later


def test_wake_runs_a_job_at_the_next_round_even_when_not_due() -> None:
    clock, ran = Clock(), []
    scheduler = Scheduler([recording("digests", 300, ran), recording("outbox", 300, ran)], now=clock)
    scheduler.run_round()
    clock.advance(5)
    scheduler.wake("outbox")
    assert scheduler.next_due() == clock()
    scheduler.run_round()
    assert ran == ["digests", "outbox", "outbox"]
    assert scheduler.next_due() == T0 + timedelta(seconds=300)  # digests' turn stays where it was
    with pytest.raises(KeyError, match="no job named 'mail'"):
        scheduler.wake("mail")


def test_a_wake_during_the_job_runs_it_again() -> None:
    clock, ran = Clock(), []

    def run(scheduler: Scheduler) -> datetime | None:
        ran.append("outbox")
        if len(ran) == 1:
            scheduler.wake("outbox")  # a mail queued while the outbox was being sent
        return None

    scheduler = Scheduler([Job("outbox", 300, run)], now=clock)
    scheduler.run_round()
    assert scheduler.next_due() == clock()
    scheduler.run_round()
    assert ran == ["outbox", "outbox"]
    assert scheduler.next_due() == T0 + timedelta(seconds=300)


def test_a_failing_job_is_logged_and_does_not_stop_the_others() -> None:
    clock, ran, logged = Clock(), [], []

    def broken(scheduler: Scheduler) -> datetime | None:
        ran.append("broken")
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    scheduler = Scheduler(
        [Job("broken", 60, broken), recording("after", 60, ran)], now=clock, log=logged.append
    )
    scheduler.run_round()
    assert ran == ["broken", "after"]
    assert logged == ["broken: ConnectionRefusedError: [Errno 111] Connection refused"]
    clock.advance(60)
    scheduler.run_round()  # retried at its next round
    assert ran == ["broken", "after", "broken", "after"]


def test_stop_ends_the_round_after_the_job_in_progress() -> None:
    clock, ran = Clock(), []
    seen: list[bool] = []

    def stopping(scheduler: Scheduler) -> datetime | None:
        ran.append("stops")
        scheduler.stop()  # as SIGTERM does, in the middle of a job
        seen.append(scheduler.stopping)  # what the job checks between its pages
        return None

    scheduler = Scheduler(
        [recording("first", 60, ran), Job("stops", 60, stopping), recording("last", 60, ran)], now=clock
    )
    scheduler.run()  # returns: no wait for the next round
    assert ran == ["first", "stops"] and seen == [True]
    assert scheduler.pause(3600.0) is True  # a job's own waits are cut short as well


def test_once_runs_each_job_once() -> None:
    clock, ran = Clock(), []
    scheduler = Scheduler([recording("a", 0.001, ran), recording("b", 0.001, ran)], now=clock)
    scheduler.run(once=True)
    assert ran == ["a", "b"]


def test_wake_and_stop_reach_the_loop_from_another_thread() -> None:
    clock, ran = Clock(), []
    rounds = [threading.Event(), threading.Event()]

    def outbox(scheduler: Scheduler) -> datetime | None:
        ran.append("outbox")
        rounds[len(ran) - 1].set()
        return None

    # An hour to the next turn on the clock: only wake() can make the job run again.
    scheduler = Scheduler([Job("outbox", 3600, outbox)], now=clock)
    thread = scheduler.start()
    try:
        assert rounds[0].wait(WAIT)  # the first round runs at once
        scheduler.wake("outbox")  # as a web request does
        assert rounds[1].wait(WAIT)
    finally:
        scheduler.stop()
        thread.join(WAIT)
    assert not thread.is_alive()
    assert ran == ["outbox", "outbox"]


def test_job_names_are_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        Scheduler([recording("a", 1, []), recording("a", 2, [])])
