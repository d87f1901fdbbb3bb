"""Signed tokens: the links in mails (confirm, manage, unsubscribe) and the CSRF tokens of forms.

itsdangerous signs a small payload with the site's key (setting secret_key, or a random key made once
and kept in the table app_secrets by store.secrets, so every process of a site agrees). Each purpose has its own salt:
a manage token is not a confirm token. A subscriber's links carry their token_version, so raising it
(after an unsubscribe and a new subscription, say) makes older links stop working.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from dailypapers.core.settings import Settings
from dailypapers.store.db import Database
from dailypapers.store.secrets import site_key

CONFIRM, MANAGE, CSRF = "confirm", "manage", "csrf"


class InvalidToken(ValueError):
    """A link or form token that is forged, damaged, expired or no longer valid."""


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


def site_signer(db: Database, settings: Settings) -> Signer:
    """The signer of the site's links and forms, keyed by store.secrets.site_key (which may read or
    make the key in its own transaction: call it outside one)."""
    return Signer(site_key(db, settings.secret_key))
