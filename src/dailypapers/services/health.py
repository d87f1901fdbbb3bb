"""Health of a process for its supervisor or load balancer: alive (the process answers) and ready (its
database answers and its schema is the one this code expects)."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from dailypapers.services.runtime import Database
from dailypapers.store.migrate import current_revision, head_revision


class Readiness(BaseModel):
    """Whether the process can serve: `database` says what is wrong in words when it cannot."""

    ready: bool
    database: str  # "ok", or what failed
    revision: str | None  # the schema's migration revision, when the database answered
    expected: str  # the revision this code needs (the history's head)


def readiness(db: Database) -> Readiness:
    """Ready when the database answers and is migrated to this code's head revision."""
    expected = head_revision()
    try:
        revision = current_revision(db.engine)
    except SQLAlchemyError as exc:  # unreachable, refused, or every pooled connection busy
        reason = type(exc).__name__
        return Readiness(ready=False, database=f"unreachable ({reason})", revision=None, expected=expected)
    if revision != expected:
        return Readiness(
            ready=False,
            database=f"migrations not current: run `dailypapers migrate` ({revision} → {expected})",
            revision=revision,
            expected=expected,
        )
    return Readiness(ready=True, database="ok", revision=revision, expected=expected)
