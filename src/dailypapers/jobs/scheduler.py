"""The one scheduler of background jobs: named jobs, each run every `interval` seconds (or sooner when
it asks, or when woken), one after another in one thread, until stopped.

A job's exception is logged and the job is retried at its next round: one broken job never stops
the others. stop() ends the loop after the job in progress, which sees `stopping` and may cut its
own work short (the sources job stops after the page in progress). wake(name) makes a job run at
the next chance, from any thread (the web app wakes the outbox job after a subscription).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, aware UTC: the scheduler's clock unless one is injected."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Job:
    """A named job. `run` does one round and may return when it wants its next round, if sooner
    than `interval` seconds from now (None: after the interval)."""

    name: str
    interval: float
    run: Callable[[Scheduler], datetime | None]


@dataclass
class _Slot:
    job: Job
    due: datetime | None = None  # None: at once
    woken: bool = False


class Scheduler:
    """Runs its jobs in list order whenever they are due; see the module docstring."""

    def __init__(
        self, jobs: Iterable[Job], *, now: Clock = utc_now, log: Callable[[str], None] = print
    ) -> None:
        self._slots = [_Slot(job) for job in jobs]
        names = [slot.job.name for slot in self._slots]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        self.now = now
        self.log = log
        self._lock = threading.Lock()  # guards the slots' due/woken: wake() comes from other threads
        self._stop = threading.Event()
        self._wakeup = threading.Event()  # set by wake() and stop(): the loop looks again at once

    @property
    def names(self) -> list[str]:
        """The jobs' names, in the order they run."""
        return [slot.job.name for slot in self._slots]

    @property
    def stopping(self) -> bool:
        """True once stop() was called: jobs end their work early."""
        return self._stop.is_set()

    def stop(self) -> None:
        """End the loop after the job in progress (thread-safe)."""
        self._stop.set()
        self._wakeup.set()

    def wake(self, name: str) -> None:
        """Run job `name` at the next chance, even if it is not due (thread-safe); KeyError for an
        unknown name."""
        slot = next((s for s in self._slots if s.job.name == name), None)
        if slot is None:
            raise KeyError(f"no job named {name!r}; jobs: {', '.join(self.names)}")
        with self._lock:
            slot.woken = True
        self._wakeup.set()

    def pause(self, seconds: float) -> bool:
        """Wait up to `seconds` inside a job (an HTTP client's interval), cut short by stop();
        True when stopping."""
        return self._stop.wait(seconds)

    def run_round(self) -> datetime:
        """Run every due (or woken) job once, in order; returns when the next job is due."""
        for slot in self._slots:
            if self.stopping:
                break
            with self._lock:
                if not (slot.woken or slot.due is None or slot.due <= self.now()):
                    continue
                slot.woken = False
            asked = self._run(slot.job)
            latest = self.now() + timedelta(seconds=slot.job.interval)
            with self._lock:
                slot.due = latest if asked is None else min(asked, latest)
        return self.next_due()

    def next_due(self) -> datetime:
        """When the next job is due (now when one is woken or never ran)."""
        now = self.now()
        with self._lock:
            dues = [now if s.woken or s.due is None else s.due for s in self._slots]
        return min(dues, default=now + timedelta(days=1))

    def run(self, once: bool = False) -> None:
        """Run rounds until stop() (or one round with `once`), sleeping until the next job is due
        or a job is woken."""
        while not self.stopping:
            self._wakeup.clear()  # before the round: a wake() during it is not lost
            next_due = self.run_round()
            if once or self.stopping:
                return
            self._wakeup.wait(max(0.0, (next_due - self.now()).total_seconds()))

    def start(self) -> threading.Thread:
        """run() in a daemon thread (the demo's jobs beside its web server); returns the thread."""
        thread = threading.Thread(target=self.run, name="jobs", daemon=True)
        thread.start()
        return thread

    def _run(self, job: Job) -> datetime | None:
        try:
            return job.run(self)
        except Exception as exc:  # noqa: BLE001 - never fatal: the job runs again at its next round
            self.log(f"{job.name}: {type(exc).__name__}: {exc}")
            return None
