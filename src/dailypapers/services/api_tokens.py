"""Personal API tokens: a member makes them on the account page (read or write scope), the APIs take
them as `Authorization: Bearer <secret>`.

The secret ("dp_" and 40 URL-safe characters, 240 random bits) is shown once, when made; the database
keeps only its SHA-256 (so a leaked table authenticates nobody) and its first characters (the prefix,
which the account page shows so that a member can tell tokens apart). A token's last use is recorded
at most once a minute, so that an API client does not make every request a database write.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from dailypapers.core.models import as_utc
from dailypapers.core.settings import Settings
from dailypapers.services.errors import BadRequest, Forbidden, NotFound, Unauthorized
from dailypapers.services.schemas import Member
from dailypapers.store import api_tokens as store
from dailypapers.store.db import Database

Scope = Literal["read", "write"]
SECRET_PREFIX = "dp_"
SECRET_BYTES = 30  # token_urlsafe(30): 40 characters
PREFIX_CHARS = 10  # "dp_" and 7 characters: what the account page shows of a token
MAX_NAME_CHARS = 100
MAX_SECRET_CHARS = 100
MAX_ID = 2**31 - 1  # the largest id the column holds (PostgreSQL integer)
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token
SECRET_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
INVALID = "This API token is not valid: it is unknown, revoked or malformed."


class ApiToken(BaseModel):
    """A member's API token as the account page and the data export show it (never its hash)."""

    id: int
    name: str
    prefix: str  # the secret's first characters
    scope: Scope
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> ApiToken:
        """Build a token from an api_tokens row (times in UTC on both databases)."""
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            scope=row.scope,
            created_at=as_utc(row.created_at),
            last_used_at=as_utc(row.last_used_at),
            revoked_at=as_utc(row.revoked_at),
        )


class CreatedToken(BaseModel):
    """A token just made: `secret` is shown this once and kept nowhere."""

    token: ApiToken
    secret: str


def secret_hash(secret: str) -> str:
    """What the database keeps of a token's secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _name(raw: str) -> str:
    name = (raw or "").strip()
    if not name:
        raise BadRequest("Give the token a name, e.g. the script or computer that will use it.")
    if len(name) > MAX_NAME_CHARS:
        raise BadRequest(f"A token's name has at most {MAX_NAME_CHARS} characters.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise BadRequest("A token's name has only printable characters.")
    return name


def create_token(
    db: Database, settings: Settings, member: Member, name: str, scope: Scope, now: datetime
) -> CreatedToken:
    """A new token of the member (who must be able to act: confirmed, not banned; else Forbidden),
    named `name` (1 to 100 characters) and scoped read or write; BadRequest for a refused name or
    scope, or when the member has settings.api_tokens_per_member active tokens already."""
    if not member.can_act(now):
        raise Forbidden(
            "Your account is banned." if member.banned_at(now) else "Please confirm your address first."
        )
    if scope not in ("read", "write"):
        raise BadRequest("A token's scope is read or write.")
    clean = _name(name)
    secret = SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    most = settings.api_tokens_per_member
    with db.write() as conn:
        if not store.lock_member(conn, member.id):
            raise NotFound("no such member")
        if store.active_count(conn, member.id) >= most:
            raise BadRequest(f"You have {most} active tokens, the most a member may have: revoke one first.")
        row = store.insert_token(
            conn,
            user_id=member.id,
            name=clean,
            token_hash=secret_hash(secret),
            prefix=secret[:PREFIX_CHARS],
            scope=scope,
            now=now,
        )
    return CreatedToken(token=ApiToken.from_row(row), secret=secret)


def _well_formed(secret: str) -> bool:
    return (
        len(secret) <= MAX_SECRET_CHARS
        and secret.startswith(SECRET_PREFIX)
        and len(secret) > len(SECRET_PREFIX)
        and all(ch in SECRET_ALPHABET for ch in secret[len(SECRET_PREFIX) :])
    )


class TokenHolder(BaseModel):
    """An active token as the API's gate needs it: its member, id, scope and last use."""

    member: Member
    token_id: int
    scope: str
    last_used_at: datetime | None


def token_holder(db: Database, secret: str) -> TokenHolder | None:
    """The active token `secret` with its member, or None for a malformed, unknown or revoked one;
    records nothing. One read: the rate limits and the gate share it within a request."""
    if not _well_formed(secret or ""):
        return None
    with db.read() as conn:
        row = store.active_token_member(conn, secret_hash(secret))
    if row is None:
        return None
    return TokenHolder(
        member=Member.from_row(row),
        token_id=row.token_id,
        scope=row.token_scope,
        last_used_at=as_utc(row.token_last_used_at),
    )


def authorize(db: Database, holder: TokenHolder | None, scope: Scope, now: datetime) -> Member:
    """The holder's member, if the token allows `scope` (write includes read) and the member may act;
    its use recorded. Unauthorized for no active token (one message for all); Forbidden for a read
    token on a write, or a member who may not act (banned, unconfirmed)."""
    if holder is None:
        raise Unauthorized(INVALID)
    member = holder.member
    if member.banned_at(now):
        raise Forbidden(f"This token's account is banned: {member.ban_reason or 'no reason given'}.")
    if not member.email_confirmed:
        raise Forbidden("This token's account has no confirmed address.")
    if scope == "write" and holder.scope != "write":
        raise Forbidden("This token is read-only: make a write token on your account page.")
    if holder.last_used_at is None or now - holder.last_used_at >= TOUCH_EVERY:
        with db.write() as conn:
            store.touch_token(conn, holder.token_id, now)
    return member


def authenticate(db: Database, settings: Settings, secret: str, scope: Scope, now: datetime) -> Member:
    """The member of the active token `secret`, checked for `scope` and recorded as used (authorize
    after token_holder)."""
    return authorize(db, token_holder(db, secret), scope, now)


def list_tokens(db: Database, member: Member) -> list[ApiToken]:
    """The member's tokens, newest first, revoked ones too (with revoked_at)."""
    with db.read() as conn:
        return [ApiToken.from_row(r) for r in store.member_tokens(conn, member.id)]


def revoke_token(db: Database, member: Member, token_id: int, now: datetime) -> None:
    """Revoke one of the member's tokens for good (a revoked one stays so); NotFound for an unknown
    id or another member's token."""
    if not 0 < token_id <= MAX_ID:
        raise NotFound("You have no token with this id.")
    with db.write() as conn:
        if store.member_token(conn, member.id, token_id) is None:
            raise NotFound("You have no token with this id.")
        store.revoke_token(conn, member.id, token_id, now)
