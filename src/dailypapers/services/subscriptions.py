"""Digest subscriptions as the pages see them: subscribe, confirm, the preferences behind a signed
link, unsubscribe; and the site's signer (mail links and the CSRF tokens of forms).

Each entry point opens its own transaction; the caller passes the signer (`signer(db, settings)`,
made once per process: its key may be read from the database) and the time of the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dailypapers.core.settings import Settings
from dailypapers.digest import subscriptions as subs

# The pages' forms and CSRF tokens need these names; they reach them through this module.
from dailypapers.digest.subscriptions import MAX_CATEGORIES as MAX_CATEGORIES
from dailypapers.digest.subscriptions import MAX_CATEGORY_CHARS as MAX_CATEGORY_CHARS
from dailypapers.digest.subscriptions import MAX_EMAIL_CHARS as MAX_EMAIL_CHARS
from dailypapers.digest.subscriptions import InvalidEmail as InvalidEmail
from dailypapers.digest.subscriptions import Preferences as Preferences
from dailypapers.digest.subscriptions import normalize_email as normalize_email
from dailypapers.digest.timing import WEEKDAYS as WEEKDAYS
from dailypapers.digest.timing import timezone_names as timezone_names
from dailypapers.digest.tokens import CONFIRM, site_signer
from dailypapers.digest.tokens import CSRF as CSRF
from dailypapers.digest.tokens import InvalidToken as InvalidToken
from dailypapers.digest.tokens import Signer as Signer
from dailypapers.services.errors import Forbidden
from dailypapers.services.schemas import Member
from dailypapers.store import accounts as account_store
from dailypapers.store.db import Database


@dataclass(frozen=True)
class Subscription:
    """A subscriber as the preferences and unsubscribe pages show them."""

    email: str
    status: str  # pending, active, paused or unsubscribed
    paused_reason: str | None
    preferences: Preferences

    @property
    def unsubscribed(self) -> bool:
        return self.status == "unsubscribed"


def _view(conn: sa.Connection, sub: sa.Row[Any]) -> Subscription:
    return Subscription(sub.email, sub.status, sub.paused_reason, subs.preferences_of(conn, sub))


def signer(db: Database, settings: Settings) -> Signer:
    """The site's signer: its key is the setting secret_key, else the database's (made at first use)."""
    return site_signer(db, settings)


def subscribe(db: Database, settings: Settings, signer: Signer, address: str, now: datetime) -> bool:
    """Start (or restart) the subscription of a normalised address and queue its confirmation mail
    in the outbox; True when a mail was queued (False: one went out less than a throttle ago)."""
    with db.write() as conn:
        return subs.subscribe(conn, signer, settings, address, now)


def check_confirm_link(settings: Settings, signer: Signer, token: str) -> None:
    """InvalidToken unless `token` is a confirmation link's, signed here and not expired."""
    signer.check(CONFIRM, token, max_age=settings.digest_confirm_hours * 3600)


def confirm(db: Database, settings: Settings, signer: Signer, token: str, now: datetime) -> str:
    """Activate the subscription of a confirmation link; returns the token of its preferences link
    (InvalidToken for a forged, expired or stale link)."""
    with db.write() as conn:
        sub = subs.confirm(conn, signer, token, settings.digest_confirm_hours, now)
    return subs.manage_token(signer, sub)


def subscription(db: Database, settings: Settings, signer: Signer, token: str) -> Subscription:
    """The subscriber of a preferences/unsubscribe link (InvalidToken when it is not valid)."""
    with db.read() as conn:
        return _view(conn, subs.from_manage_token(conn, signer, token))


def save_preferences(
    db: Database, settings: Settings, signer: Signer, token: str, preferences: Preferences, now: datetime
) -> Subscription:
    """Store the preferences of a link's subscriber and return them as stored; an unsubscribed
    address gets no digest, so nothing is saved for it (the result says it is unsubscribed)."""
    with db.write() as conn:
        sub = subs.from_manage_token(conn, signer, token)
        if sub.status != "unsubscribed":
            subs.save_preferences(conn, sub, preferences, now)
            sub = subs.from_manage_token(conn, signer, token)
        return _view(conn, sub)


def unsubscribe(db: Database, settings: Settings, signer: Signer, token: str, now: datetime) -> Subscription:
    """End the subscription of a link's subscriber (InvalidToken when the link is not valid)."""
    with db.write() as conn:
        sub = subs.from_manage_token(conn, signer, token)
        subs.unsubscribe(conn, sub, now)
        return _view(conn, subs.from_manage_token(conn, signer, token))


@dataclass(frozen=True)
class MemberSubscription:
    """A member's digest subscription as the account page shows it, with the token of its
    preferences and unsubscribe links."""

    subscription: Subscription
    manage_token: str


def member_subscription(db: Database, signer: Signer, member: Member) -> MemberSubscription | None:
    """The digest subscription of a member (linked to it, else of its address), or None."""
    with db.read() as conn:
        sub = account_store.member_subscriber(conn, member.id, member.email)
        if sub is None:
            return None
        return MemberSubscription(_view(conn, sub), subs.manage_token(signer, sub))


def subscribe_member(db: Database, signer: Signer, member: Member, now: datetime) -> MemberSubscription:
    """Subscribe a member's confirmed address in one click (no second opt-in), or re-activate its
    subscription; Forbidden when the address is not confirmed (or the member is banned)."""
    if not member.can_act(now) or not member.email:
        raise Forbidden("Confirm your address first: the digest goes to a confirmed address only.")
    with db.write() as conn:
        sub = subs.subscribe_confirmed(conn, member.email, member.id, now)
        return MemberSubscription(_view(conn, sub), subs.manage_token(signer, sub))
