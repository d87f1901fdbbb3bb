"""Source checkpoints, run bookkeeping and worker leases (table source_state)."""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from dailypapers.core.models import as_utc
from dailypapers.store.tables import source_state


def _ensure_row(conn: Connection, name: str, now: datetime) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(source_state).values(name=name, state={}, updated_at=now).on_conflict_do_nothing())


def load_state(conn: Connection, name: str) -> dict[str, Any] | None:
    """A source's stored checkpoint, None when it never ran."""
    state = conn.execute(
        sa.select(source_state.c.state).where(source_state.c.name == name)
    ).scalar_one_or_none()
    return state if state else None


def save_state(conn: Connection, name: str, state: dict[str, Any], now: datetime) -> None:
    """Store a checkpoint; call it in the transaction that stores the papers it accounts for."""
    _ensure_row(conn, name, now)
    conn.execute(
        sa.update(source_state).where(source_state.c.name == name).values(state=state, updated_at=now)
    )


def record_run(
    conn: Connection,
    name: str,
    now: datetime,
    *,
    ok: bool,
    summary: str,
    error: str | None,
    next_run_at: datetime | None = None,
) -> None:
    """Remember how the last run of a source ended (and when the worker should run it next)."""
    _ensure_row(conn, name, now)
    values: dict[str, Any] = {
        "last_run_at": now,
        "last_summary": summary,
        "last_error": error,
        "updated_at": now,
    }
    if ok:
        values["last_ok_at"] = now
    if next_run_at is not None:
        values["next_run_at"] = next_run_at
    conn.execute(sa.update(source_state).where(source_state.c.name == name).values(**values))


def get_status(conn: Connection) -> list[dict[str, Any]]:
    """Every source's row, for `dailypapers sources` and the worker."""
    return [dict(r) for r in conn.execute(sa.select(source_state).order_by(source_state.c.name)).mappings()]


def next_run_at(conn: Connection, name: str) -> datetime | None:
    """When the worker should run a source next (None: now)."""
    value = conn.execute(
        sa.select(source_state.c.next_run_at).where(source_state.c.name == name)
    ).scalar_one_or_none()
    return as_utc(value)


def lease_owner_id() -> str:
    """This process as a lease owner: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_gone(owner: str) -> bool:
    """True when `owner` is a process of this host that no longer exists (a killed worker)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed process that its parent has not reaped yet is a zombie: gone as well
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def acquire_lease(conn: Connection, name: str, owner: str, until: datetime, now: datetime) -> bool:
    """Take (or renew) the right to run a source until `until`; False when another live process
    holds it. A lease ends when it expires or when its holder, on this host, has died."""
    _ensure_row(conn, name, now)
    row = conn.execute(
        sa.select(source_state.c.lease_owner, source_state.c.lease_until)
        .where(source_state.c.name == name)
        .with_for_update()
    ).one()
    holder, held_until = row.lease_owner, as_utc(row.lease_until)
    if holder and holder != owner and held_until is not None and held_until > now and not owner_gone(holder):
        return False
    conn.execute(
        sa.update(source_state)
        .where(source_state.c.name == name)
        .values(lease_owner=owner, lease_until=until)
    )
    return True


def release_lease(conn: Connection, name: str, owner: str) -> None:
    """Give a lease back (only if `owner` still holds it)."""
    conn.execute(
        sa.update(source_state)
        .where(source_state.c.name == name, source_state.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


def schedule_next(conn: Connection, name: str, when: datetime, now: datetime) -> None:
    """Set when the worker runs a source next."""
    _ensure_row(conn, name, now)
    conn.execute(sa.update(source_state).where(source_state.c.name == name).values(next_run_at=when))
