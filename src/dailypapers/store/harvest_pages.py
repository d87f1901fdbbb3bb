"""The transactions of a harvest (ingest/harvest.py): a source's checkpoint, each page's papers stored
in the same transaction as the checkpoint that follows them, lease renewals, and how a run ended."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from dailypapers.core.models import PaperRecord
from dailypapers.store.checkpoints import acquire_lease, load_state, record_run, save_state
from dailypapers.store.db import Database
from dailypapers.store.papers import UpsertCounts, upsert_batch


class LeaseLost(RuntimeError):
    """The run's lease on its source was taken by another process: it must stop writing."""


def load_checkpoint(db: Database, name: str) -> dict[str, Any] | None:
    """A source's stored checkpoint, None when it never ran."""
    with db.read() as conn:
        return load_state(conn, name)


def save_checkpoint(db: Database, name: str, state: dict[str, Any], now: datetime) -> None:
    """Store a checkpoint on its own (a run's start and end: no papers go with it)."""
    with db.write() as conn:
        save_state(conn, name, state, now)


def store_page(
    db: Database,
    name: str,
    records: Sequence[PaperRecord],
    state: dict[str, Any],
    now: datetime,
    lease: tuple[str, float] | None = None,
) -> UpsertCounts | None:
    """In one transaction: renew the lease (owner, seconds), store a page's papers and the checkpoint
    that follows them; the papers' counts (None: no papers). LeaseLost when another process holds
    the source now: then nothing is written."""
    with db.write() as conn:
        if lease is not None and not acquire_lease(
            conn, name, lease[0], now + timedelta(seconds=lease[1]), now
        ):
            raise LeaseLost(f"{name}: the lease was taken over by another process; stopped")
        counts = upsert_batch(conn, records, now) if records else None
        save_state(conn, name, state, now)
    return counts


def renew_lease(db: Database, name: str, owner: str, until: datetime, now: datetime) -> None:
    """Keep holding a source until `until` (before a long wait); LeaseLost when another process
    took it over."""
    with db.write() as conn:
        if not acquire_lease(conn, name, owner, until, now):
            raise LeaseLost(f"{name}: the lease was taken over by another process; stopped")


def note_run(db: Database, name: str, now: datetime, *, ok: bool, summary: str, error: str | None) -> None:
    """Remember how a run of a source ended (`dailypapers sources` shows it)."""
    with db.write() as conn:
        record_run(conn, name, now, ok=ok, summary=summary, error=error)
