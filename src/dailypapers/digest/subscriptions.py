"""Subscriptions: subscribe (double opt-in), confirm, preferences, pause, unsubscribe.

Every answer to "subscribe" is the same whatever the address's state, so the site never tells a
stranger who is subscribed; what differs is only the mail the address itself receives. Confirmation
mails go through the outbox like digests (the web request never waits on SMTP), at most one per
address every CONFIRM_THROTTLE, so the form cannot be used to flood someone's inbox.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.engine import Row

from dailypapers.core.models import as_utc
from dailypapers.core.settings import Settings
from dailypapers.digest.model import ConfirmContent
from dailypapers.digest.render import render_confirm
from dailypapers.digest.timing import zone
from dailypapers.digest.tokens import CONFIRM, MANAGE, InvalidToken, Signer
from dailypapers.store.tables import outbox, saved_searches, subscribers

CONFIRM_THROTTLE = timedelta(minutes=10)
MAX_EMAIL_CHARS = 254  # RFC 5321's limit on a forward path, less its angle brackets
MAX_SAVED_SEARCHES = 10
MAX_SEARCH_CHARS = 500
MAX_PAPERS = 50
MAX_CATEGORIES = 50  # arXiv has about 150; a reader who wants most of them wants "all" (none chosen)
MAX_CATEGORY_CHARS = 40
MAX_MIN_UPVOTES = 1_000_000  # far above any paper's count, and within PostgreSQL's 32-bit integer column
MAX_ZONE_CHARS = 64
CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")


def _one_line_text(text: str) -> str:
    # A saved search is one line of text: no control characters (PostgreSQL refuses NUL in text).
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise ValueError("a saved search cannot hold control characters")
    return text


SearchText = Annotated[str, Field(max_length=MAX_SEARCH_CHARS), AfterValidator(_one_line_text)]


class InvalidEmail(ValueError):
    """The address is not a valid email address (the message says why)."""


def normalize_email(raw: str) -> str:
    """The address in its normal form (domain lower-cased, IDNA), or InvalidEmail."""
    raw = (raw or "").strip()
    if len(raw) > MAX_EMAIL_CHARS:
        raise InvalidEmail(f"an address has at most {MAX_EMAIL_CHARS} characters")
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc


def links_domain(site_url: str) -> str:
    return urlsplit(site_url).hostname or "localhost"


def confirm_url(signer: Signer, site_url: str, sub: Row[Any]) -> str:
    token = signer.sign(CONFIRM, {"s": sub.id, "v": sub.token_version, "e": sub.email})
    return f"{site_url.rstrip('/')}/subscribe/confirm?{urlencode({'token': token})}"


def manage_token(signer: Signer, sub: Row[Any]) -> str:
    return signer.sign(MANAGE, {"s": sub.id, "v": sub.token_version})


def manage_url(signer: Signer, site_url: str, sub: Row[Any]) -> str:
    return f"{site_url.rstrip('/')}/subscription?{urlencode({'token': manage_token(signer, sub)})}"


def unsubscribe_url(signer: Signer, site_url: str, sub: Row[Any]) -> str:
    return f"{site_url.rstrip('/')}/unsubscribe?{urlencode({'token': manage_token(signer, sub)})}"


def subscribe(
    conn: sa.Connection,
    signer: Signer,
    settings: Settings,
    raw_email: str,
    now: datetime,
    user_id: int | None = None,
) -> bool:
    """Start (or restart) a subscription and queue its confirmation mail; True when a mail was
    queued (False when one went out less than CONFIRM_THROTTLE ago). InvalidEmail for a bad address."""
    email = normalize_email(raw_email)
    sub = conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).first()
    if sub is None:
        conn.execute(
            subscribers.insert().values(
                email=email, status="pending", user_id=user_id, categories=[], created_at=now, updated_at=now
            )
        )
        sub = conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).one()
    elif sub.status == "unsubscribed":
        # A new subscription: links of the old one stop working.
        conn.execute(
            subscribers.update()
            .where(subscribers.c.id == sub.id)
            .values(status="pending", token_version=sub.token_version + 1, updated_at=now)
        )
        sub = conn.execute(sa.select(subscribers).where(subscribers.c.id == sub.id)).one()
    sent_at = as_utc(sub.confirm_sent_at)
    if sent_at is not None and now - sent_at < CONFIRM_THROTTLE:
        return False
    content = ConfirmContent(
        settings.site_name,
        settings.site_url.rstrip("/"),
        email,
        confirm_url(signer, settings.site_url, sub),
        settings.digest_confirm_hours,
    )
    rendered = render_confirm(content)
    conn.execute(
        outbox.insert().values(
            subscriber_id=sub.id,
            kind="confirm",
            period_key=f"C{now:%Y%m%dT%H%M%S%f}",
            to_addr=email,
            message_id=make_msgid(domain=links_domain(settings.site_url)),
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            unsubscribe_url=None,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    conn.execute(subscribers.update().where(subscribers.c.id == sub.id).values(confirm_sent_at=now))
    return True


def subscribe_confirmed(conn: sa.Connection, email: str, user_id: int, now: datetime) -> Row[Any]:
    """Subscribe a member's confirmed address at once (no second opt-in: the account confirmed it),
    or re-activate its subscriber; the row is linked to the member. A new subscription (from
    unsubscribed) gets a new token version, so the old links stop working."""
    sub = conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).first()
    if sub is None:
        conn.execute(
            subscribers.insert().values(
                email=email,
                status="active",
                user_id=user_id,
                categories=[],
                created_at=now,
                confirmed_at=now,
                updated_at=now,
            )
        )
    elif sub.status != "active" or sub.user_id != user_id:
        version = sub.token_version + (1 if sub.status == "unsubscribed" else 0)
        conn.execute(
            subscribers.update()
            .where(subscribers.c.id == sub.id)
            .values(
                status="active",
                user_id=user_id,
                token_version=version,
                confirmed_at=sub.confirmed_at or now,
                bounces=0,
                paused_reason=None,
                unsubscribed_at=None,
                updated_at=now,
            )
        )
    return conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).one()


def confirm(conn: sa.Connection, signer: Signer, token: str, max_age_hours: int, now: datetime) -> Row[Any]:
    """Activate the subscription of a confirmation link; returns the subscriber row, or InvalidToken."""
    payload = signer.check(CONFIRM, token, max_age=max_age_hours * 3600)
    sub = conn.execute(sa.select(subscribers).where(subscribers.c.id == payload.get("s"))).first()
    if sub is None or sub.email != payload.get("e") or sub.token_version != payload.get("v"):
        raise InvalidToken("this link is no longer valid")
    if sub.status != "active":
        conn.execute(
            subscribers.update()
            .where(subscribers.c.id == sub.id)
            .values(
                status="active",
                confirmed_at=now,
                bounces=0,
                paused_reason=None,
                unsubscribed_at=None,
                updated_at=now,
            )
        )
    return conn.execute(sa.select(subscribers).where(subscribers.c.id == sub.id)).one()


def from_manage_token(conn: sa.Connection, signer: Signer, token: str) -> Row[Any]:
    """The subscriber of a preferences/unsubscribe link, or InvalidToken."""
    payload = signer.check(MANAGE, token or "")
    sub = conn.execute(sa.select(subscribers).where(subscribers.c.id == payload.get("s"))).first()
    if sub is None or sub.token_version != payload.get("v"):
        raise InvalidToken("this link is no longer valid")
    return sub


class Preferences(BaseModel):
    """A reader's digest preferences, with the bounds every way of changing them must keep."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frequency: Literal["daily", "weekly"] = "daily"
    weekday: int = Field(0, ge=0, le=6)  # 0 = Monday
    send_hour: int = Field(8, ge=0, le=23)
    timezone: str = Field("UTC", max_length=MAX_ZONE_CHARS)
    max_papers: int = Field(10, ge=1, le=MAX_PAPERS)
    categories: list[Annotated[str, Field(max_length=MAX_CATEGORY_CHARS)]] = Field(
        default_factory=list, max_length=MAX_CATEGORIES
    )
    min_upvotes: int = Field(0, ge=0, le=MAX_MIN_UPVOTES)
    paused: bool = False
    searches: list[tuple[SearchText, SearchText]] = Field(default_factory=list, max_length=MAX_SAVED_SEARCHES)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        zone(name)  # ValueError: unknown time zone 'America'
        return name

    @field_validator("categories")
    @classmethod
    def _arxiv_categories(cls, categories: list[str]) -> list[str]:
        bad = [c for c in categories if not CATEGORY.match(c)]
        if bad:
            raise ValueError(f"not an arXiv category: {', '.join(c[:MAX_CATEGORY_CHARS] for c in bad[:3])}")
        return categories


def preferences_of(conn: sa.Connection, sub: Row[Any]) -> Preferences:
    """The stored preferences of a subscriber (as stored: not validated again)."""
    searches = conn.execute(
        sa.select(saved_searches.c.include, saved_searches.c.exclude)
        .where(saved_searches.c.subscriber_id == sub.id)
        .order_by(saved_searches.c.position)
    ).all()
    return Preferences.model_construct(
        frequency=sub.frequency,
        weekday=sub.weekday,
        send_hour=sub.send_hour,
        timezone=sub.timezone,
        max_papers=sub.max_papers,
        categories=list(sub.categories or []),
        min_upvotes=sub.min_upvotes,
        paused=sub.status == "paused",
        searches=[(r.include, r.exclude) for r in searches],
    )


def save_preferences(conn: sa.Connection, sub: Row[Any], prefs: Preferences, now: datetime) -> None:
    """Store the preferences (validated by Preferences); pausing and resuming apply to an active or
    paused subscription only, and an unsubscribed address stays unsubscribed."""
    status = sub.status
    if status in ("active", "paused"):
        status = "paused" if prefs.paused else "active"
    conn.execute(
        subscribers.update()
        .where(subscribers.c.id == sub.id)
        .values(
            frequency=prefs.frequency,
            weekday=prefs.weekday,
            send_hour=prefs.send_hour,
            timezone=prefs.timezone,
            max_papers=prefs.max_papers,
            categories=sorted(set(prefs.categories)),
            min_upvotes=prefs.min_upvotes,
            status=status,
            paused_reason=("by the reader" if status == "paused" else None),
            updated_at=now,
        )
    )
    conn.execute(saved_searches.delete().where(saved_searches.c.subscriber_id == sub.id))
    for position, (include, exclude) in enumerate(s for s in prefs.searches if s[0].strip()):
        conn.execute(
            saved_searches.insert().values(
                subscriber_id=sub.id, include=include.strip(), exclude=exclude.strip(), position=position
            )
        )


def unsubscribe(conn: sa.Connection, sub: Row[Any], now: datetime) -> None:
    """End the subscription: nothing more is sent (queued digests are dropped by the sender)."""
    conn.execute(
        subscribers.update()
        .where(subscribers.c.id == sub.id)
        .values(status="unsubscribed", unsubscribed_at=now, updated_at=now)
    )
