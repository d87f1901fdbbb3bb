"""The site's secrets (table app_secrets): the signing key that every process of a site shares."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dailypapers.store.db import Database
from dailypapers.store.tables import app_secrets

STORED_KEY = sa.select(app_secrets.c.value).where(app_secrets.c.name == "signing_key")


def site_key(db: Database, configured: str | None) -> str:
    """The signing key: the setting when set, else the database's (made at first use, so every
    process of the site signs with the same key)."""
    if configured:
        return configured
    with db.read() as conn:
        value = conn.execute(STORED_KEY).scalar()
    if value:
        return value
    with db.write() as conn:  # two processes may race: the first insert wins, both read it back
        values = {"name": "signing_key", "value": secrets.token_urlsafe(48), "created_at": datetime.now(UTC)}
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(app_secrets).values(**values).on_conflict_do_nothing(index_elements=["name"])
        )
        return conn.execute(STORED_KEY).scalar_one()
