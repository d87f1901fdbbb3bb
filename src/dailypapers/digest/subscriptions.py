"""Subscriptions: subscribe (double opt-in), confirm, preferences, pause, unsubscribe, bounces.

Every answer to "subscribe" is the same whatever the address's state, so the site never tells a
stranger who is subscribed; what differs is only the mail the address itself receives. Confirmation
mails go through the outbox like digests (the web request never waits on SMTP), at most one per
address every CONFIRM_THROTTLE, so the form cannot be used to flood someone's inbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlencode, urlsplit

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from dailypapers.core.models import as_utc
from dailypapers.digest.model import ConfirmContent
from dailypapers.digest.schedule import zone
from dailypapers.digest.tokens import CONFIRM, MANAGE, InvalidToken, Signer
from dailypapers.store.tables import outbox, saved_searches, subscribers

CONFIRM_THROTTLE = timedelta(minutes=10)
MAX_SAVED_SEARCHES = 10
MAX_PAPERS = 50
CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")


class InvalidEmail(ValueError):
    """The address is not a valid email address (the message says why)."""


class InvalidPreferences(ValueError):
    """A preference is out of range (the message says which)."""


def normalize_email(raw: str) -> str:
    """The address in its normal form (domain lower-cased, IDNA), or InvalidEmail."""
    try:
        return validate_email((raw or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc


def links_domain(site_url: str) -> str:
    return urlsplit(site_url).hostname or "localhost"


def confirm_url(signer: Signer, site_url: str, sub: Any) -> str:
    token = signer.sign(CONFIRM, {"s": sub.id, "v": sub.token_version, "e": sub.email})
    return f"{site_url.rstrip('/')}/subscribe/confirm?{urlencode({'token': token})}"


def manage_token(signer: Signer, sub: Any) -> str:
    return signer.sign(MANAGE, {"s": sub.id, "v": sub.token_version})


def manage_url(signer: Signer, site_url: str, sub: Any) -> str:
    return f"{site_url.rstrip('/')}/subscription?{urlencode({'token': manage_token(signer, sub)})}"


def unsubscribe_url(signer: Signer, site_url: str, sub: Any) -> str:
    return f"{site_url.rstrip('/')}/unsubscribe?{urlencode({'token': manage_token(signer, sub)})}"


def subscribe(conn: sa.Connection, signer: Signer, settings: Any, raw_email: str, now: datetime,
              user_id: int | None = None) -> bool:  # fmt: skip
    """Start (or restart) a subscription and queue its confirmation mail; True when a mail was
    queued (False when one went out less than CONFIRM_THROTTLE ago). InvalidEmail for a bad address."""
    email = normalize_email(raw_email)
    sub = conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).first()
    if sub is None:
        conn.execute(subscribers.insert().values(
            email=email, status="pending", user_id=user_id, categories=[], created_at=now, updated_at=now))  # fmt: skip
        sub = conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).one()
    elif sub.status == "unsubscribed":
        # A new subscription: links of the old one stop working.
        conn.execute(subscribers.update().where(subscribers.c.id == sub.id).values(
            status="pending", token_version=sub.token_version + 1, updated_at=now))  # fmt: skip
        sub = conn.execute(sa.select(subscribers).where(subscribers.c.id == sub.id)).one()
    if sub.confirm_sent_at is not None and now - as_utc(sub.confirm_sent_at) < CONFIRM_THROTTLE:
        return False
    from dailypapers.digest.render import render_confirm

    content = ConfirmContent(settings.site_name, settings.site_url.rstrip("/"), email,
                             confirm_url(signer, settings.site_url, sub), settings.digest_confirm_hours)  # fmt: skip
    rendered = render_confirm(content)
    conn.execute(outbox.insert().values(
        subscriber_id=sub.id, kind="confirm", period_key=f"C{now:%Y%m%dT%H%M%S%f}", to_addr=email,
        message_id=make_msgid(domain=links_domain(settings.site_url)), subject=rendered.subject,
        body_text=rendered.text, body_html=rendered.html, unsubscribe_url=None, status="queued",
        attempts=0, next_attempt_at=now, created_at=now))  # fmt: skip
    conn.execute(subscribers.update().where(subscribers.c.id == sub.id).values(confirm_sent_at=now))
    return True


def confirm(conn: sa.Connection, signer: Signer, token: str, max_age_hours: int, now: datetime) -> Any:
    """Activate the subscription of a confirmation link; returns the subscriber row, or InvalidToken."""
    payload = signer.check(CONFIRM, token, max_age=max_age_hours * 3600)
    sub = conn.execute(sa.select(subscribers).where(subscribers.c.id == payload.get("s"))).first()
    if sub is None or sub.email != payload.get("e") or sub.token_version != payload.get("v"):
        raise InvalidToken("this link is no longer valid")
    if sub.status != "active":
        conn.execute(subscribers.update().where(subscribers.c.id == sub.id).values(
            status="active", confirmed_at=now, bounces=0, paused_reason=None, unsubscribed_at=None,
            updated_at=now))  # fmt: skip
    return conn.execute(sa.select(subscribers).where(subscribers.c.id == sub.id)).one()


def from_manage_token(conn: sa.Connection, signer: Signer, token: str) -> Any:
    """The subscriber of a preferences/unsubscribe link, or InvalidToken."""
    payload = signer.check(MANAGE, token or "")
    sub = conn.execute(sa.select(subscribers).where(subscribers.c.id == payload.get("s"))).first()
    if sub is None or sub.token_version != payload.get("v"):
        raise InvalidToken("this link is no longer valid")
    return sub


@dataclass
class Preferences:
    frequency: str = "daily"
    weekday: int = 0
    send_hour: int = 8
    timezone: str = "UTC"
    max_papers: int = 10
    categories: list[str] = field(default_factory=list)
    min_upvotes: int = 0
    paused: bool = False
    searches: list[tuple[str, str]] = field(default_factory=list)  # (include, exclude)

    def check(self) -> None:
        if self.frequency not in ("daily", "weekly"):
            raise InvalidPreferences("frequency must be daily or weekly")
        if not 0 <= self.weekday <= 6:
            raise InvalidPreferences("weekday must be 0 (Monday) to 6 (Sunday)")
        if not 0 <= self.send_hour <= 23:
            raise InvalidPreferences("send hour must be 0 to 23")
        try:
            zone(self.timezone)
        except ValueError as exc:
            raise InvalidPreferences(str(exc)) from exc
        if not 1 <= self.max_papers <= MAX_PAPERS:
            raise InvalidPreferences(f"number of papers must be 1 to {MAX_PAPERS}")
        bad = [c for c in self.categories if not CATEGORY.match(c)]
        if bad:
            raise InvalidPreferences(f"not an arXiv category: {', '.join(bad[:3])}")
        if self.min_upvotes < 0:
            raise InvalidPreferences("minimum upvotes cannot be negative")
        if len(self.searches) > MAX_SAVED_SEARCHES:
            raise InvalidPreferences(f"at most {MAX_SAVED_SEARCHES} saved searches")
        if any(len(i) > 500 or len(e) > 500 for i, e in self.searches):
            raise InvalidPreferences("a saved search is longer than 500 characters")


def preferences_of(conn: sa.Connection, sub: Any) -> Preferences:
    searches = conn.execute(sa.select(saved_searches.c.include, saved_searches.c.exclude)
                            .where(saved_searches.c.subscriber_id == sub.id).order_by(saved_searches.c.position)).all()  # fmt: skip
    return Preferences(sub.frequency, sub.weekday, sub.send_hour, sub.timezone, sub.max_papers,
                       list(sub.categories or []), sub.min_upvotes, sub.status == "paused",
                       [(r.include, r.exclude) for r in searches])  # fmt: skip


def save_preferences(conn: sa.Connection, sub: Any, prefs: Preferences, now: datetime) -> None:
    """Store the preferences (InvalidPreferences when one is out of range); pausing and resuming
    apply to an active or paused subscription only."""
    prefs.check()
    status = sub.status
    if status in ("active", "paused"):
        status = "paused" if prefs.paused else "active"
    conn.execute(subscribers.update().where(subscribers.c.id == sub.id).values(
        frequency=prefs.frequency, weekday=prefs.weekday, send_hour=prefs.send_hour, timezone=prefs.timezone,
        max_papers=prefs.max_papers, categories=sorted(set(prefs.categories)), min_upvotes=prefs.min_upvotes,
        status=status, paused_reason=("by the reader" if status == "paused" else None), updated_at=now))  # fmt: skip
    conn.execute(saved_searches.delete().where(saved_searches.c.subscriber_id == sub.id))
    for position, (include, exclude) in enumerate(s for s in prefs.searches if s[0].strip()):
        conn.execute(saved_searches.insert().values(subscriber_id=sub.id, include=include.strip(),
                                                    exclude=exclude.strip(), position=position))  # fmt: skip


def unsubscribe(conn: sa.Connection, sub: Any, now: datetime) -> None:
    """End the subscription: nothing more is sent (queued digests are dropped by the sender)."""
    conn.execute(subscribers.update().where(subscribers.c.id == sub.id).values(
        status="unsubscribed", unsubscribed_at=now, updated_at=now))  # fmt: skip


def record_bounce(conn: sa.Connection, subscriber_id: int, max_bounces: int, now: datetime) -> None:
    """A hard bounce: count it, and pause the subscription after max_bounces of them."""
    conn.execute(subscribers.update().where(subscribers.c.id == subscriber_id).values(
        bounces=subscribers.c.bounces + 1, updated_at=now))  # fmt: skip
    conn.execute(subscribers.update().where(
        subscribers.c.id == subscriber_id, subscribers.c.bounces >= max_bounces, subscribers.c.status == "active"
    ).values(status="paused", paused_reason=f"{max_bounces} hard bounces"))  # fmt: skip
