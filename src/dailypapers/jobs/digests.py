"""The digest job that `dailypapers worker` and `dailypapers digest send --due` run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dailypapers.digest.compose import compose_due
from dailypapers.digest.outbox import DeliveryReport, deliver
from dailypapers.digest.tokens import Signer, site_key


def signer_for(db: Any, settings: Any) -> Signer:
    return Signer(site_key(db, settings.secret_key))


def run_digests(
    db: Any, settings: Any, now: Callable[[], datetime] | None = None, sender: Any = None
) -> tuple[int, DeliveryReport]:
    """Compose every due digest, then send what the outbox holds (confirmations too); returns the
    number of digests composed and the delivery report."""
    from dailypapers.digest.mail import SmtpSender

    clock = now or (lambda: datetime.now(UTC))
    made = compose_due(db, settings, signer_for(db, settings), clock())
    if sender is not None:
        return len(made), deliver(db, settings, sender, clock)
    with SmtpSender.from_settings(settings) as smtp:
        return len(made), deliver(db, settings, smtp, clock)
