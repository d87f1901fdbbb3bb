"""Signed tokens: the links in mails (confirm, manage, unsubscribe) and the CSRF tokens of forms.

itsdangerous signs a small payload with the site's key (setting secret_key, or a random key made once
and kept in the table app_secrets, so every process of a site agrees). Each purpose has its own salt:
a manage token is not a confirm token. A subscriber's links carry their token_version, so raising it
(after an unsubscribe and a new subscription, say) makes older links stop working.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.dialects import postgresql, sqlite

from dailypapers.store.db import Database
from dailypapers.store.tables import app_secrets

CONFIRM, MANAGE, CSRF = "confirm", "manage", "csrf"


class InvalidToken(ValueError):
    """A link or form token that is forged, damaged, expired or no longer valid."""


def site_key(db: Database, configured: str | None) -> str:
    """The signing key: the setting when set, else the database's (made at first use)."""
    if configured:
        return configured
    with db.read() as conn:
        value = conn.execute(
            sa.select(app_secrets.c.value).where(app_secrets.c.name == "signing_key")
        ).scalar()
    if value:
        return value
    with db.write() as conn:  # two processes may race: the first insert wins, both read it back
        values = {"name": "signing_key", "value": secrets.token_urlsafe(48), "created_at": datetime.now(UTC)}
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(app_secrets).values(**values).on_conflict_do_nothing(index_elements=["name"])
        )
        return conn.execute(
            sa.select(app_secrets.c.value).where(app_secrets.c.name == "signing_key")
        ).scalar_one()


class Signer:
    """Signs and checks tokens of one site."""

    def __init__(self, key: str):
        self.key = key

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.key, salt=f"dailypapers.{purpose}")

    def sign(self, purpose: str, payload: Any) -> str:
        return self._serializer(purpose).dumps(payload)

    def check(self, purpose: str, token: str, max_age: int | None = None) -> Any:
        """The payload, or InvalidToken (saying "expired" when that is the reason)."""
        try:
            return self._serializer(purpose).loads(token, max_age=max_age)
        except SignatureExpired as exc:
            raise InvalidToken("this link has expired") from exc
        except BadSignature as exc:
            raise InvalidToken("this link is not valid") from exc
